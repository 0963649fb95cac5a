"""Benchmark suites: a TOML file that names envs, algorithms, seeds, a budget, eval settings and overrides.

Format (every key but ``envs`` and ``algos`` is optional)::

    name = "smoke"                       # default: the file's stem; the default output dir results/<name>,
                                         # so one plain folder name (no / or \\, no leading .)
    description = "what the suite is for"
    envs = ["matrix/two-step-v0", "multigrid/*"]   # ids, family names or globs over registered ids;
                                         # entry points (module:factory) need run --trust-entry-points
    algos = ["qmix", "vdn", "iql"]
    seeds = [0, 1, 2]                    # or "0-4" (seeds 0 to 4), as --seeds takes them
    protocol = "papoudakis2021"          # a named protocol (qmixbench.protocols); default: none

    [budget]
    env_steps = 20000                    # -> total_env_steps

    [eval]
    interval = 2000                      # -> eval_interval
    episodes = 32                        # -> eval_episodes

    [overrides]                          # any TrainConfig key, dotted or as nested tables
    n_envs = 4
    mixer.embed_dim = 32

    [grid]                               # config grid: every combination is a variant with its own runs
    lr = [1e-3, 5e-4]                    # (qmixbench.grid); dotted keys or nested tables, lists of values
    mixer.embed_dim = [32, 64]

    [env."matrix/climbing-v0"]           # per env: budget, eval, overrides, env kwargs, team reward
    budget = { env_steps = 50000 }
    overrides = { epsilon_anneal_steps = 20000 }
    kwargs = { }
    team_reward = "auto"

Precedence, lowest first: the algorithm preset, the env's recommended defaults, the protocol
(``--protocol`` wins over the suite's), the suite's ``[overrides]``, its ``[budget]`` and ``[eval]``,
the env's section, then the command line (``--steps``, ``--set``), then the grid's values (the suite's
``[grid]`` with ``--grid`` adding or replacing keys); a key in both ``[overrides]`` and ``[grid]`` is an
error. A malformed file or an unknown key is a :class:`SuiteError` naming the file, the key and the valid keys.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmixbench.config import ConfigError, TrainConfig, apply_overrides, flatten, to_dict
from qmixbench.errors import QmixbenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

TOP_KEYS = (
    "name",
    "description",
    "envs",
    "algos",
    "seeds",
    "protocol",
    "budget",
    "eval",
    "overrides",
    "grid",
    "env",
)
BUDGET_KEYS = {"env_steps": "total_env_steps"}
EVAL_KEYS = {"interval": "eval_interval", "episodes": "eval_episodes"}
ENV_KEYS = ("budget", "eval", "overrides", "kwargs", "team_reward")
TEAM_REWARDS = ("auto", "shared", "sum")


class SuiteError(QmixbenchError, ValueError):
    """A suite file that cannot be read; the message names the file, the key and what is valid."""


@dataclass(frozen=True)
class EnvSettings:
    """What a suite sets for one env pattern."""

    overrides: dict[str, Any] = field(default_factory=dict)
    """Flat dotted TrainConfig overrides (budget and eval already translated)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the env factory."""
    team_reward: str = "auto"
    """Team-reward rule passed to the adapter."""


@dataclass(frozen=True)
class Suite:
    """A parsed suite file."""

    name: str
    path: Path
    envs: tuple[str, ...]
    algos: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    description: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Flat dotted TrainConfig overrides for every run (budget and eval translated)."""
    protocol: str = ""
    """A named protocol (``qmixbench.protocols.PROTOCOLS``) for every run; "" for none."""
    env_settings: dict[str, EnvSettings] = field(default_factory=dict)
    """Per-env sections, keyed as written (an id, family name or glob); matched by :meth:`settings_for`."""
    grid: dict[str, list[Any]] = field(default_factory=dict)
    """Dotted TrainConfig keys -> the values to sweep (:mod:`qmixbench.grid`); {} for no grid."""

    def settings_for(self, env_id: str) -> EnvSettings:
        """Merge the sections that name ``env_id`` (exactly, by family or by glob); exact wins last."""
        import fnmatch

        from qmixbench_envs import FAMILY_DEFAULTS

        merged = EnvSettings()
        ordered = sorted(self.env_settings.items(), key=lambda kv: kv[0] == env_id)  # exact match last
        for pattern, settings in ordered:
            if pattern == env_id or FAMILY_DEFAULTS.get(pattern) == env_id or fnmatch.fnmatchcase(env_id, pattern):
                merged = EnvSettings(
                    {**merged.overrides, **settings.overrides},
                    {**merged.kwargs, **settings.kwargs},
                    settings.team_reward if settings.team_reward != "auto" else merged.team_reward,
                )
        return merged


def _check_keys(path: Path, where: str, table: Any, valid: tuple[str, ...] | list[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise SuiteError(f"{path}: {where} must be a table, got {table!r}")
    for key in table:
        if key not in valid:
            name = f"{where}.{key}" if where else key
            raise SuiteError(
                f"{path}: unknown key {name!r}; valid keys{' in ' + where if where else ''}: {', '.join(valid)}"
            )
    return table


def _section_overrides(path: Path, where: str, data: dict[str, Any]) -> dict[str, Any]:
    """Translate a section's budget/eval/overrides into flat TrainConfig overrides, checking every key."""
    flat: dict[str, Any] = {}
    prefix = f"{where}." if where else ""
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise SuiteError(f"{path}: {prefix}overrides must be a table")
    flat.update(flatten(overrides))
    for section, keymap in (("budget", BUDGET_KEYS), ("eval", EVAL_KEYS)):
        if section in data:
            table = _check_keys(path, prefix + section, data[section], list(keymap))
            flat.update({keymap[k]: v for k, v in table.items()})
    try:
        apply_overrides(TrainConfig(), flat)
    except ConfigError as exc:
        raise SuiteError(f"{path}: [{prefix}overrides] {exc}") from exc
    return flat


def _str_list(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SuiteError(f"{path}: {key} must be a non-empty list of strings, got {value!r}")
    return tuple(value)


def _seeds(path: Path, value: Any) -> tuple[int, ...]:
    """A list of seeds, or a string in ``--seeds``' syntax (``"0-4"``): the same meaning as on the command line."""
    from qmixbench.sweep import SweepError, check_seeds, parse_seeds

    if isinstance(value, int) and not isinstance(value, bool):
        # Earlier suites wrote a count here (seeds = 5: seeds 0..4), while --seeds 5 is seed 5; a bare
        # int is refused rather than read either way.
        hint = f'seeds = "0-{value - 1}" for seeds 0 to {value - 1}, or ' if value > 0 else ""
        raise SuiteError(f"{path}: seeds = {value} is ambiguous; write {hint}seeds = [{value}] for seed {value}")
    try:
        if isinstance(value, str):
            return tuple(parse_seeds(value))
        if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(check_seeds(value))
    except SweepError as exc:
        raise SuiteError(f"{path}: seeds: {exc}") from exc
    raise SuiteError(f'{path}: seeds must be a list of ints or a string such as "0-4", got {value!r}')


def load_suite(path: Path | str) -> Suite:
    """Parse and check a suite file (keys and config values; env and algo names are checked on expansion)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SuiteError(f"{path}: no such suite file") from exc
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not UTF-8 text (a suite is a TOML file)") from None
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: malformed TOML: {exc}") from exc
    _check_keys(path, "", data, TOP_KEYS)
    for key in ("envs", "algos"):
        if key not in data:
            raise SuiteError(f"{path}: missing required key {key!r}; valid keys: {', '.join(TOP_KEYS)}")
    env_settings: dict[str, EnvSettings] = {}
    sections = data.get("env", {})
    if not isinstance(sections, dict):
        raise SuiteError(f'{path}: env must be a table of per-env sections ([env."ID"]), got {sections!r}')
    for pattern, section in sections.items():
        where = f'env."{pattern}"'
        _check_keys(path, where, section, ENV_KEYS)
        kwargs = section.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise SuiteError(f"{path}: {where}.kwargs must be a table")
        team_reward = section.get("team_reward", "auto")
        if team_reward not in TEAM_REWARDS:
            raise SuiteError(
                f"{path}: {where}.team_reward must be one of {', '.join(TEAM_REWARDS)}, got {team_reward!r}"
            )
        env_settings[pattern] = EnvSettings(_section_overrides(path, where, section), dict(kwargs), team_reward)
    for key in ("name", "description", "protocol"):
        if key in data and not isinstance(data[key], str):
            raise SuiteError(f"{path}: {key} must be a string")
    name = data.get("name", path.stem)
    # The name is the default --out (results/<name>): one plain folder name, never a path out of results/.
    if not name or name in (".", "..") or any(sep in name for sep in "/\\") or name.startswith("."):
        raise SuiteError(f"{path}: name {name!r} must be a plain folder name (no / or \\, not starting with '.')")
    if data.get("protocol"):
        from qmixbench.protocols import check_protocol

        try:
            check_protocol(data["protocol"])
        except ConfigError as exc:
            raise SuiteError(f"{path}: {exc}") from exc
    overrides = _section_overrides(path, "", data)
    grid = _grid(path, data.get("grid", {}), overrides)
    return Suite(
        name=name,
        path=path,
        envs=_str_list(path, "envs", data["envs"]),
        algos=_str_list(path, "algos", data["algos"]),
        seeds=_seeds(path, data["seeds"]) if "seeds" in data else (0, 1, 2),
        description=data.get("description", ""),
        protocol=data.get("protocol", ""),
        overrides=overrides,
        env_settings=env_settings,
        grid=grid,
    )


def _grid(path: Path, table: Any, overrides: dict[str, Any]) -> dict[str, list[Any]]:
    """The ``[grid]`` table, checked: keys the config has, each value valid alone (the combinations, and
    which presets a mixer key fits, are checked when the runs are expanded)."""
    from qmixbench.grid import GridError, check_grid

    if not isinstance(table, dict):
        raise SuiteError(f"{path}: grid must be a table of KEY = [values], got {table!r}")
    try:
        grid = check_grid(flatten(table), str(path))
    except GridError as exc:
        raise SuiteError(str(exc)) from exc
    both = sorted(set(grid) & set(overrides))
    if both:
        raise SuiteError(f"{path}: {', '.join(both)} in both [overrides] and [grid]; give each key one way")
    for key, values in grid.items():
        for value in values:
            try:
                _check_value(key, value)
            except ConfigError as exc:
                raise SuiteError(f"{path}: [grid] {exc}") from exc
    return grid


def _check_value(key: str, value: Any) -> None:
    """Coerce and range-check one grid value on the config that has ``key`` (a mixer key on a mixer that has it)."""
    from qmixbench.algos import ALGORITHMS, resolve_config

    head, _, name = key.partition(".")
    if head == "mixer" and name and name != "kind":
        for algo in ALGORITHMS:
            if key in flatten(to_dict(resolve_config(algo))):
                apply_overrides(resolve_config(algo), {key: value})
                return
    apply_overrides(TrainConfig(), {key: value})

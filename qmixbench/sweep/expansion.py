"""Expansion: env names x algorithm presets x seeds (x config-grid variant) -> RunSpecs with fully resolved configs.

Correctness-critical decision made here:

* **Bad envs fail once.** Before any run starts, :func:`check_envs` builds each distinct env and its
  arguments once, so a bad argument fails the sweep once, up front, not every run.

:class:`SweepError`, the error of a sweep that cannot start, is defined here; every module of
:mod:`qmixbench.sweep` raises it.

This module imports no torch and no pandas: only the worker's ``train()`` does.
"""

from __future__ import annotations

import fnmatch
import json
import numbers
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from qmixbench.config import RunSpec, TrainConfig, flatten, to_dict
from qmixbench.errors import QmixbenchError
from qmixbench.grid import points, variant_name
from qmixbench.watchdog import Limits, run_limits


class SweepError(QmixbenchError, ValueError):
    """A sweep that cannot start (bad names, an occupied output directory, a missing extra)."""


def expand_envs(names: Iterable[str]) -> list[str]:
    """Env strings for ids, family names (``multigrid`` = its default task), globs (``multigrid/*``) and
    entry points (``module:factory`` or ``path/file.py:factory``), each optionally with ``?key=value``.

    Registered names are resolved to their ids (``multigrid?n_agents=3`` ->
    ``multigrid/empty-5x5-v0?n_agents=3``); an entry point's factory is imported now, so a typo fails
    before any run starts. Globs match registered ids only and take no arguments.

    Raises:
        qmixbench_envs.UnknownEnvError: a name that matches nothing; the message lists what is valid.
        qmixbench.entry_points.EnvSpecError: a bad entry point or argument string.
    """
    from qmixbench.entry_points import load_factory, parse_env_string
    from qmixbench_envs import ENV_SPECS, UnknownEnvError, resolve_id

    out: list[str] = []
    for text in names:
        name, _ = parse_env_string(text.strip())
        query = text.strip()[len(name) :]  # "" or "?key=value..."
        if ":" in name:  # an entry point: a factory, not a registry name
            load_factory(name)
            matched = [name + query]
        elif any(ch in name for ch in "*["):
            if query:
                raise UnknownEnvError(f"env pattern {name!r} cannot take arguments ({query!r}); name one id")
            matched = sorted(i for i in ENV_SPECS if fnmatch.fnmatchcase(i, name))
            if not matched:
                raise UnknownEnvError(
                    f"env pattern {name!r} matches no registered id; registered: {', '.join(sorted(ENV_SPECS))}"
                )
        else:
            matched = [resolve_id(name) + query]
        out += [i for i in matched if i not in out]
    return out


def algorithm_names() -> list[str]:
    """The algorithm presets (``qmixbench.algos.ALGORITHMS``)."""
    from qmixbench.algos import ALGORITHMS

    return list(ALGORITHMS)


def check_algos(names: Iterable[str]) -> list[str]:
    """The algorithm names, checked and without repeats; an empty list is refused, not defaulted."""
    valid = algorithm_names()
    out = []
    names = list(names)
    if not names:
        raise SweepError(f"no algorithm given; valid: {', '.join(valid)}")
    for name in names:
        name = name.strip()
        if name not in valid:
            raise SweepError(f"unknown algorithm {name!r}; valid: {', '.join(valid)}")
        if name not in out:
            out.append(name)
    return out


MAX_SEED = 2**32 - 1
"""Largest seed: the range every seeding API takes (numpy's legacy ``np.random.seed`` among them)."""


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """The seeds, checked: at least one, each an int in [0, MAX_SEED], none twice (a repeated seed
    would train the same run directory twice at once).

    Raises:
        SweepError: naming the bad seed and what is valid.
    """
    out: list[int] = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
            raise SweepError(f"seed {seed!r} is not valid; seeds are integers in [0, {MAX_SEED}]")
        seed = int(seed)
        if seed in out:
            raise SweepError(f"seed {seed} is given twice; each seed names one run")
        out.append(seed)
    if not out:
        raise SweepError("no seed given; give at least one integer seed")
    return out


_SEED_ITEM = re.compile(r"(-?\d+)(?:\s*-\s*(-?\d+))?")
"""One item of a seed list: a seed or an inclusive range (a sign is read, so that -1 is named as a bad seed)."""


def parse_seeds(text: str) -> list[int]:
    """Seeds written as text, the one syntax of ``--seeds`` and of a suite's ``seeds = "..."``:
    comma-separated integers and inclusive ranges, ``"0,1,2"``, ``"0-4"`` (seeds 0 to 4), ``"0-2,7"``.
    ``"5"`` is seed 5, never five seeds.

    Raises:
        SweepError: naming the item that is not a seed or a range, or a bad seed (:func:`check_seeds`).
    """
    seeds: list[int] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        match = _SEED_ITEM.fullmatch(item)
        if match is None:
            raise SweepError(f"{item!r} is neither a seed nor a range; write e.g. 0,1,2 or 0-4 (seeds 0 to 4)")
        lo = int(match[1])
        hi = int(match[2]) if match[2] is not None else lo
        if hi < lo:
            raise SweepError(f"range {item!r} runs backwards; write it low-high, e.g. 0-4")
        seeds += range(lo, hi + 1)
    if not seeds:
        raise SweepError(f"{text!r} names no seed; write e.g. 0,1,2 or 0-4 (seeds 0 to 4)")
    return check_seeds(seeds)


def default_resolve(algo: str, env: str, overrides: dict[str, Any], protocol: str | None = None) -> TrainConfig:
    """The preset for ``algo``, the env's recommended defaults, ``protocol``'s settings, then ``overrides``
    (``qmixbench.algos.resolve_config``)."""
    from qmixbench.algos import resolve_config

    return resolve_config(algo, overrides, env=env, protocol=protocol)


def expand(
    envs: Sequence[str],
    algos: Sequence[str],
    seeds: Sequence[int],
    overrides: dict[str, Any] | None = None,
    suite: Any = None,
    resolve: Callable[[str, str, dict[str, Any]], TrainConfig] | None = None,
    protocol: str | None = None,
    grid: dict[str, list[Any]] | None = None,
) -> list[RunSpec]:
    """Every env x algo x grid variant x seed as a RunSpec with its fully resolved config.

    Args:
        envs: ids, family names or globs (see :func:`expand_envs`).
        algos: algorithm preset names.
        seeds: one run per seed.
        overrides: dotted TrainConfig overrides from the command line; they win over the suite's.
        suite: a :class:`qmixbench.suite.Suite` whose overrides, per-env settings apply under ``overrides``.
        resolve: ``(algo, env, overrides) -> TrainConfig``; :func:`default_resolve` by default.
        protocol: a named protocol (``qmixbench.protocols``) applied under the overrides and recorded
            in each RunSpec; it needs the default ``resolve``.
        grid: dotted config keys -> values (:mod:`qmixbench.grid`): each point of their product is a
            variant, applied over everything else (command line included) and named after the values
            its run's resolved config holds; None (the default) or ``{}`` for no variants.

    Raises:
        UnknownEnvError, SweepError, ConfigError: with one line that lists what is valid.
    """
    if protocol and resolve is not None:
        raise SweepError("a protocol is applied by the default resolve; pass one or the other")
    resolve = resolve or (lambda a, e, o: default_resolve(a, e, o, protocol))
    seeds = check_seeds(seeds)
    algos = check_algos(algos)
    env_ids = expand_envs(envs)
    if not env_ids:
        raise SweepError("no env given; name at least one env id, family, glob or entry point")
    grid = grid or {}
    both = sorted(set(grid) & set(overrides or {}))
    if both:
        raise SweepError(f"{', '.join(both)}: set by both --set and the grid; give each key one way")
    applied: set[str] = set()  # grid keys that some run's config has (a mixer key may fit no chosen preset)
    specs = []
    for env in env_ids:
        settings = suite.settings_for(env) if suite is not None else None
        for algo in algos:
            merged = {
                **(suite.overrides if suite is not None else {}),
                **(settings.overrides if settings else {}),
                **(overrides or {}),
            }
            seen: dict[str, dict[str, Any]] = {}
            for point in points(grid):
                config = resolve(algo, env, {**merged, **point})
                flat = flatten(to_dict(config))
                used = {k: flat[k] for k in point if k in flat}  # the coerced values the run really has
                applied.update(used)
                variant = variant_name(used)
                if variant in seen:
                    if len(used) == len(point):  # not a mixer key this preset lacks: two values are one
                        raise SweepError(
                            f"grid points {seen[variant]} and {point} give {algo} the same config ({variant}); "
                            "list each value once"
                        )
                    continue  # the keys this preset lacks were all that differed: the same runs
                seen[variant] = point
                for seed in seeds:
                    specs.append(
                        RunSpec(
                            env=env,
                            algo=algo,
                            seed=seed,
                            config=config,
                            env_kwargs=dict(settings.kwargs) if settings else {},
                            team_reward=settings.team_reward if settings else "auto",
                            protocol=protocol or "",
                            variant=variant,
                        )
                    )
    unused = [k for k in grid if k not in applied]
    if unused:
        raise SweepError(
            f"grid key(s) {', '.join(unused)} fit none of the chosen algorithms ({', '.join(algos)}): "
            "no preset's mixer has them"
        )
    return specs


def check_envs(specs: Sequence[RunSpec], limits: Limits | None = None) -> None:
    """Build each distinct env of ``specs`` (with its arguments and team reward) once, in this process,
    and close it: a bad argument, an env qmixbench cannot run or an env whose construction hangs
    (``limits.step_timeout_s``) then fails the sweep once, before any run starts, not in every run.

    Raises:
        SweepError: one line naming the env, its arguments and the error.
    """
    from qmixbench.adapter import make_adapter

    construction = Limits(run_timeout_s=None, step_timeout_s=(limits or Limits()).step_timeout_s)
    seen: set[tuple[str, str, str]] = set()
    for spec in specs:
        key = (spec.env, json.dumps(spec.env_kwargs, sort_keys=True, default=repr), spec.team_reward)
        if key in seen:
            continue
        seen.add(key)
        try:
            with run_limits(construction):
                make_adapter(spec.env, spec.env_kwargs, spec.team_reward).close()
        except Exception as exc:  # whatever the env raises, the sweep stops here with one line
            where = f"env {spec.env!r}" + (f" with kwargs {spec.env_kwargs}" if spec.env_kwargs else "")
            raise SweepError(f"{where} cannot be built: {type(exc).__name__}: {exc}".splitlines()[0]) from exc

"""Frozen configs: the one source of truth for every default. TOML files and ``--set`` only override.

QMIX, VDN and IQL share :class:`TrainConfig`; their presets (``qmixbench.algos.ALGORITHMS``) differ only
in :class:`MixerConfig`, so a comparison is fair by construction.

Facts about an env (agent count, shapes, episode limit) never live here: they are in the adapter's
``EnvInfo``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypedDict

from qmixbench.errors import QmixbenchError

AgentKind = Literal["gru", "mlp"]
"""The agent network's kinds (``qmixbench.algos.networks``): a choice set, checked where it is set."""


class ConfigError(QmixbenchError, ValueError):
    """An unknown key or a value of the wrong type; the message lists what is valid."""


@dataclass(frozen=True)
class MixerConfig:
    """Base of every mixer's config: ``kind`` names the mixer (and the algorithm preset).

    Each mixer module in ``qmixbench.algos.mixers`` subclasses this with its own documented fields;
    :func:`apply_overrides` switches to the subclass that ``kind`` names, so ``mixer.kind=vdn`` and
    ``mixer.embed_dim=64`` are checked against the fields of the mixer they configure.
    """

    kind: str = "qmix"
    """A key of ``qmixbench.algos.mixers.MIXERS``: ``qmix``, ``vdn``, ``iql``, ``cw-qmix``, ``ow-qmix``, ``qplex``."""

    def check(self) -> None:
        """Range checks of the mixer's own fields (subclasses extend it); raise :class:`ConfigError`."""


def mixer_config_class(kind: str) -> type[MixerConfig]:
    """The config dataclass of the mixer ``kind`` (imports the mixer's module, and so torch)."""
    from qmixbench.algos.mixers import config_class

    return config_class(kind)


def _default_mixer() -> MixerConfig:
    return mixer_config_class("qmix")()


@dataclass(frozen=True)
class TrainConfig:
    """Everything that sets how one run trains and evaluates, shared by all algorithms."""

    # Budget and evaluation
    total_env_steps: int = 100_000
    """Env steps (summed over the parallel envs) to train for."""
    n_envs: int = 8
    """Environments stepped in lockstep in one process, with one batched network call per step."""
    vector_env: bool = True
    """Step the ``n_envs`` training envs in one vectorised call when the env offers a vector env
    (``qmixbench_envs.vector``; SMAX does) and ``n_envs`` > 1; false steps them one at a time. The
    episodes are identical either way (only speed differs), so switching it does not block ``--resume``."""
    eval_interval: int = 5_000
    """Evaluate greedily every this many env steps (and once at the end)."""
    eval_episodes: int = 32
    """Greedy episodes per evaluation (rliable recommends >= 32)."""
    checkpoint_interval: int = 5_000
    """Write a resumable checkpoint every this many env steps (at each evaluation when equal)."""
    # Agent network
    agent: AgentKind = "gru"
    """Agent network: ``gru`` (recurrent, as PyMARL) or ``mlp`` (feed-forward, EPyMARL's default)."""
    hidden_dim: int = 64
    """Hidden units H of the agent network."""
    obs_agent_id: bool = True
    """Append a one-hot agent id to each agent's observation (parameter sharing with roles)."""
    obs_last_action: bool = False
    """Append the agent's previous action (one-hot) to its observation."""
    # Learning
    lr: float = 5e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    batch_size: int = 32
    """Episodes per learner update."""
    buffer_size: int = 5_000
    """Replay capacity in episodes."""
    updates_per_episode: float = 1.0
    """Update-to-data ratio: learner updates per collected episode (PyMARL: 1)."""
    grad_clip: float = 10.0
    """Clip the global gradient norm to this value (> 0)."""
    double_q: bool = True
    """Pick target actions with the online network, evaluate them with the target network."""
    target_update_interval: int = 200
    """Hard-copy the target networks every this many learner updates (ignored when ``target_tau`` > 0)."""
    target_tau: float = 0.0
    """Polyak factor for soft target updates after every learner update; 0 = hard copies."""
    td_lambda: float = 0.0
    """TD(lambda) targets; 0 = one-step TD."""
    standardise_rewards: bool = False
    """Divide rewards by their running standard deviation before the TD target (no mean shift)."""
    # Exploration
    epsilon_start: float = 1.0
    """Initial epsilon of epsilon-greedy exploration."""
    epsilon_finish: float = 0.05
    """Final epsilon."""
    epsilon_anneal_steps: int = 50_000
    """Env steps over which epsilon anneals linearly; 0 uses ``epsilon_finish`` from the first step."""
    # Execution
    device: str = "cpu"
    """torch device for the learner (``cpu``, ``cuda``, ``cuda:1``)."""
    torch_threads: int = 1
    """torch intra-op threads per run (runs in a pool each get their own process)."""
    mixer: MixerConfig = field(default_factory=_default_mixer)
    """Mixer settings: the algorithm preset's mixer (``kind``) and its own fields."""


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready nested dict of a config dataclass."""
    return dataclasses.asdict(config)


RESULT_NEUTRAL_KEYS = ("vector_env",)
"""TrainConfig keys that change how fast a run goes, never what it computes (tested): a run may be resumed
with them changed, and a config.json written before they existed still resumes."""


def resume_key(config: dict[str, Any]) -> dict[str, Any]:
    """A :func:`to_dict` config without :data:`RESULT_NEUTRAL_KEYS`: what must match for ``--resume``
    (the sweep's check before it schedules a run and the run's own check before it loads a checkpoint)."""
    return {key: value for key, value in config.items() if key not in RESULT_NEUTRAL_KEYS}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from :func:`to_dict` output; unknown keys are an error."""
    return apply_overrides(cls(), flatten(data))


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys: ``{"mixer": {"kind": "vdn"}}`` -> ``{"mixer.kind": "vdn"}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def valid_keys(cls: type, prefix: str = "") -> list[str]:
    """Every overridable dotted key of a config dataclass, e.g. ``lr``, ``mixer.embed_dim``."""
    keys: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            keys += valid_keys(hints[f.name], f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def _either(choices: tuple[Any, ...]) -> str:
    """``('a', 'b', 'c')`` -> ``"'a', 'b' or 'c'"``."""
    names = [repr(c) for c in choices]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _coerce(key: str, value: Any, target: Any) -> Any:
    """Convert ``value`` (a string from ``--set`` or a TOML value) to the field's type."""
    if typing.get_origin(target) is Literal:  # a choice set: the value must be one of its members
        choices = typing.get_args(target)
        if (value.strip() if isinstance(value, str) else value) not in choices:
            raise ConfigError(f"{key} must be {_either(choices)}, got {value!r}")
        return value.strip() if isinstance(value, str) else value
    origin_types = typing.get_args(target) or (target,)
    if isinstance(value, str) and str not in origin_types:
        text = value.strip()
        if bool in origin_types:
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            try:  # "nan", "inf": read them, so that validate() names the value and what is valid
                value = float(text) if float in origin_types else None
            except ValueError:
                value = None
            if value is None:
                raise ConfigError(f"{key}: cannot read {text!r} as {target}") from exc
    if bool in origin_types and not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if int in origin_types and not isinstance(value, bool) and isinstance(value, float) and value.is_integer():
        value = int(value)
    if float in origin_types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    allowed = tuple(t for t in origin_types if isinstance(t, type))
    if value is not None and allowed and not isinstance(value, allowed):
        raise ConfigError(f"{key}: expected {' or '.join(t.__name__ for t in allowed)}, got {value!r}")
    return value


def apply_overrides(config: Any, overrides: dict[str, Any], _prefix: str = "") -> Any:
    """Return ``config`` with dotted-key overrides applied; an unknown key lists the valid ones.

    >>> apply_overrides(TrainConfig(), {"lr": "1e-3", "mixer.embed_dim": 16}).mixer.embed_dim
    16
    """
    cls = type(config)
    hints = typing.get_type_hints(cls)
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if head not in hints or (rest and not dataclasses.is_dataclass(hints[head])):
            valid = ", ".join(valid_keys(cls, _prefix))
            raise ConfigError(f"unknown config key {_prefix + key!r}; valid keys: {valid}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        elif dataclasses.is_dataclass(hints[head]):
            if not isinstance(value, dict):
                raise ConfigError(f"{key} is a section; set its keys as {key}.NAME")
            nested.setdefault(head, {}).update(flatten(value))
        else:
            direct[head] = _coerce(_prefix + key, value, hints[head])
    for head, sub in nested.items():
        section = getattr(config, head)
        if isinstance(section, MixerConfig) and "kind" in sub:
            section = _switch_mixer(section, sub.pop("kind"), f"{_prefix}{head}.kind")
        direct[head] = apply_overrides(section, sub, f"{_prefix}{head}.")
    new = dataclasses.replace(config, **direct)
    validate(new)
    return new


LEGACY_MIXER_KINDS = {"none": "iql"}
"""Mixer kinds of earlier config files and what they are now (IQL's kind was ``none``)."""


def _switch_mixer(current: MixerConfig, kind: Any, key: str) -> MixerConfig:
    """``current`` with ``kind`` set: the same object when the kind is unchanged, else that mixer's defaults.

    A kind change starts from the new mixer's defaults: its fields are not the old mixer's, and carrying
    values across would silently configure a different network.
    """
    if not isinstance(kind, str):
        raise ConfigError(f"{key}: expected a mixer name, got {kind!r}")
    kind = LEGACY_MIXER_KINDS.get(kind.strip(), kind.strip())
    if kind == current.kind:
        return current
    cls = mixer_config_class(kind)
    return dataclasses.replace(cls(), kind=kind)


def parse_set_args(items: list[str]) -> dict[str, str]:
    """``["lr=1e-3", "mixer.embed_dim=16"]`` -> dict; a malformed item is a ConfigError."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes key=value, got {item!r}")
        out[key.strip()] = value
    return out


POSITIVE_COUNTS = (
    "total_env_steps",
    "n_envs",
    "eval_interval",
    "eval_episodes",
    "checkpoint_interval",
    "hidden_dim",
    "batch_size",
    "buffer_size",
    "target_update_interval",
    "torch_threads",
)
"""TrainConfig integers that must be > 0."""

UNIT_INTERVAL = ("gamma", "td_lambda", "target_tau", "epsilon_start", "epsilon_finish")
"""TrainConfig floats that must lie in [0, 1]."""

POSITIVE_FLOATS = ("lr", "grad_clip", "updates_per_episode")
"""TrainConfig floats that must be finite and > 0: lr 0 learns nothing, grad_clip <= 0 would flip or
zero every gradient, and updates_per_episode <= 0 trains without a single update."""

_DEVICE = re.compile(r"[a-z][a-z0-9_]*(:\d+)?")


def _refuse(name: str, value: Any, valid: str) -> ConfigError:
    return ConfigError(f"{name} must be {valid}, got {value!r}")


def _check_train(config: TrainConfig) -> None:
    """Range-check every TrainConfig value (the mixer's are checked apart); one line per failure."""
    for f in fields(config):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise _refuse(f.name, value, "a finite number")
    for name in POSITIVE_COUNTS:
        if getattr(config, name) <= 0:
            raise _refuse(name, getattr(config, name), "an integer > 0")
    for name in POSITIVE_FLOATS:
        if not getattr(config, name) > 0:
            raise _refuse(name, getattr(config, name), "a finite number > 0")
    for name in UNIT_INTERVAL:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise _refuse(name, getattr(config, name), "in [0, 1]")
    if config.epsilon_anneal_steps < 0:
        raise _refuse(
            "epsilon_anneal_steps", config.epsilon_anneal_steps, "an integer >= 0 (0: epsilon_finish at once)"
        )
    if config.agent not in typing.get_args(AgentKind):  # a config built directly, not through overrides
        raise _refuse("agent", config.agent, _either(typing.get_args(AgentKind)))
    if not _DEVICE.fullmatch(config.device):
        raise _refuse("device", config.device, "a torch device such as 'cpu', 'cuda' or 'cuda:1'")
    if config.batch_size > config.buffer_size:
        raise ConfigError(f"batch_size ({config.batch_size}) exceeds buffer_size ({config.buffer_size})")


def validate(config: Any) -> None:
    """Range checks that a type alone cannot express."""
    if isinstance(config, TrainConfig):
        _check_train(config)
    if isinstance(config, MixerConfig):
        config.check()


@dataclass(frozen=True)
class RunSpec:
    """One job of a benchmark: train ``algo`` on ``env`` with ``seed``."""

    env: str
    """Registered env id, family name (``multigrid``) or entry point."""
    algo: str
    """Algorithm preset name (``qmix``, ``vdn``, ``iql``)."""
    seed: int
    """Seeds the env, exploration and network initialisation."""
    config: TrainConfig = field(default_factory=TrainConfig)
    """Fully resolved training config (preset + suite + ``--set`` overrides)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the env factory."""
    team_reward: str = "auto"
    """``auto`` (the env's declaration, else sum), ``shared`` or ``sum``; see ``qmixbench.adapter``."""
    protocol: str = ""
    """The named protocol (``qmixbench.protocols``) applied when ``config`` was resolved; "" for none."""
    variant: str = ""
    """The config-grid variant (``qmixbench.grid.variant_name``, e.g. ``lr=0.001``); "" outside any grid."""
    loggers: tuple[str, ...] = ()
    """Experiment trackers that also receive every metrics.csv row (``qmixbench.loggers.LOGGERS``).
    Not part of ``config``: changing them neither changes what trains nor blocks ``--resume``."""
    keep_checkpoints: bool = False
    """Keep a finished run's last ``checkpoint.pt`` (with its replay buffer); by default only
    ``agent.pt`` and the buffer-free ``final.pt`` stay."""

    def __post_init__(self) -> None:
        # The algorithm *is* the mixer (presets differ only there): a spec whose config trains another
        # mixer than its label says would record one algorithm's results under another's name.
        if self.config.mixer.kind != self.algo:
            raise ConfigError(
                f"run {self.algo!r} has config.mixer.kind {self.config.mixer.kind!r}: build its config with "
                f"qmixbench.algos.resolve_config({self.algo!r}, ...) so the config follows the algorithm"
            )


class RunRecord(TypedDict):
    """A :class:`RunSpec` minus its config, as ``job.json`` and ``config.json`` hold it under ``"run"``."""

    env: str
    env_kwargs: dict[str, Any]
    algo: str
    seed: int
    team_reward: str
    protocol: str
    variant: str
    loggers: list[str]
    keep_checkpoints: bool


class SpecRecord(TypedDict):
    """The part of ``job.json`` and ``config.json`` that identifies a run (:func:`spec_record`)."""

    run: RunRecord
    config: dict[str, Any]
    """The resolved :class:`TrainConfig` as a nested dict (:func:`to_dict`); ``--resume`` compares it."""


class JobRecord(SpecRecord):
    """``job.json``: the job as submitted (:func:`qmixbench.sweep.jobs.run_job` writes it first)."""

    pid: int
    """The process that runs the job (lets a reader tell a live run from one whose process died)."""
    host: str
    submitted_at: float
    """Unix time."""


class ConfigRecord(SpecRecord):
    """``config.json``: what ``train()`` ran, written when the run starts (not on a resume)."""

    rollout: str
    """``vectorised`` (the env's batched path) or ``one env at a time``."""
    env_defaults: dict[str, Any]
    """The env's recommended overrides (``qmixbench.algos.ENV_DEFAULTS``), as resolved into ``config``."""
    env_info: dict[str, Any]
    """What the adapter read from the env: agents, observation, state and action sizes, episode limit."""
    provenance: dict[str, Any]
    """Code commit and dirty flag, package versions, machine, device (``qmixbench.provenance``)."""


def spec_record(spec: RunSpec) -> SpecRecord:
    """The JSON-ready ``{"run": ..., "config": ...}`` part of a run's ``job.json`` and ``config.json``."""
    return SpecRecord(
        run=RunRecord(
            env=spec.env,
            env_kwargs=spec.env_kwargs,
            algo=spec.algo,
            seed=spec.seed,
            team_reward=spec.team_reward,
            protocol=spec.protocol,
            variant=spec.variant,
            loggers=list(spec.loggers),
            keep_checkpoints=spec.keep_checkpoints,
        ),
        config=to_dict(spec.config),
    )

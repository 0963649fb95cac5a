"""PettingZoo parallel env <-> fixed-shape arrays in ``possible_agents`` order, and the ``EnvInfo`` facts.

The learner sees every env as N agents with flat float32 observations (N, O), a global state (S,),
available-action masks (N, A), one team reward, and team-level terminated / truncated flags.

Correctness-critical decisions made here:

* **Agent order** is ``env.possible_agents``; index i in every array is ``possible_agents[i]``.
* **Team reward**: an env whose ``metadata["team_reward"] == "shared"`` gives every agent the team
  reward, so the team reward is the mean over the agents that reported one (equal to any one of them).
  Otherwise the team reward is the **sum** of the agents' rewards. ``team_reward="shared"|"sum"``
  overrides the env's declaration; the choice is recorded in ``EnvInfo.team_reward``.
* **Terminated vs truncated**: the episode ends when no agent is left. It is *terminated* (no
  bootstrap) only if every agent that finished on the last step was terminated; if any of them was
  truncated (a time limit), the episode is *truncated* and the learner bootstraps from the last state,
  from the truncated agents only (``info["bootstrap"]``). An agent reported terminated and truncated
  on the same step is terminated (Gymnasium's rule: the terminal state has no future value).
* **Agents that finish early** are not revived: on the step they finish they keep their real last
  observation (a truncated episode bootstraps from it); after that their observation is zeros, their
  ``alive`` flag is 0 (the learner masks them out of action selection and the loss), and their
  action is not sent to the env. SuperSuit 3.11's ``black_death_v3`` is not used: it ANDs
  terminations with truncations and so reports a real last step as not done, then adds a phantom step.
* **Action masks** are read from a dict observation's ``"action_mask"`` or ``infos[agent]["action_mask"]``;
  padded actions (heterogeneous action spaces padded with SuperSuit's ``pad_action_space_v0``) are
  masked out; a dead agent has every action "available" (its choice is ignored and masked from the loss).
* **State**: ``env.state()`` where implemented, else the concatenated (padded) observations, with one
  warning (``EnvInfo.state_source`` records which).
* Only discrete action spaces are supported; continuous ones are refused with a clear error.
* **Observations outside their dtype** are refused, never wrapped: an env whose integer observation
  space (say ``Box(0, 255, dtype=uint8)``) emits 300 or -1 stops with :class:`EnvCompatibilityError`
  naming the env, the agent and the value, since the replay buffer stores such observations in that
  dtype and would train on 44 or 255 while the agent acted on 300. Only values that do not already
  come in the space's dtype are checked, so envs that emit their declared dtype pay nothing.
  Observations outside the space's declared *bounds* but inside its dtype are used as they are;
  ``qmixbench run`` warns about them once per run (:func:`obs_bounds`).
* **Watchdog**: every env call is recorded in ``qmixbench.watchdog.ENV_CALLS``, so a hung
  ``reset()`` or ``step()`` can be stopped (see :mod:`qmixbench.watchdog`).

How an env is named (registered id, ``module:factory`` entry point, ``?key=value`` arguments): see
:mod:`qmixbench.entry_points`; :func:`build_env` builds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv

from qmixbench.entry_points import EnvSpecError, call_factory, load_factory, parse_env_string
from qmixbench.errors import QmixbenchError
from qmixbench.watchdog import CONSTRUCTION, ENV_CALLS, RESET, STEP

__all__ = [
    "EnvCompatibilityError",
    "EnvInfo",
    "EnvSpecError",
    "ParallelEnvAdapter",
    "build_env",
    "check_paddable",
    "has_state",
    "make_adapter",
    "needs_padding",
    "obs_bounds",
]

log = logging.getLogger(__name__)


class EnvCompatibilityError(QmixbenchError, ValueError):
    """The env cannot be run by qmixbench; the message says why and what would fix it."""


_WARNED_NO_STATE: set[str] = set()
"""Envs already warned about having no ``state()``: the warning is logged once per process."""


@dataclass(frozen=True)
class EnvInfo:
    """Facts about an env, read once from it; never written back into a config."""

    env_id: str
    """The id or entry point the env was built from."""
    agent_ids: tuple[str, ...]
    """``possible_agents``, in the order of every (N, ...) array."""
    obs_shape: tuple[int, ...]
    """One agent's (padded) observation shape before flattening, e.g. (7, 7, 3)."""
    obs_dim: int
    """O: flattened observation features per agent."""
    state_dim: int
    """S: flattened global-state features."""
    n_actions: int
    """A: discrete actions per agent (after padding)."""
    episode_limit: int | None
    """Longest possible episode in steps, when the env states one (``max_steps``/``max_cycles``)."""
    team_reward: str
    """``shared`` (every agent gets the team reward) or ``sum`` (team reward = sum of agents' rewards)."""
    state_source: str
    """``env`` (``env.state()``) or ``concat_obs`` (fallback: concatenated observations)."""

    @property
    def n_agents(self) -> int:
        """N: number of agents."""
        return len(self.agent_ids)


def _obs_array(space: spaces.Space) -> spaces.Space:
    """The part of an observation space that holds the observation (not an action mask)."""
    if isinstance(space, spaces.Dict) and "observation" in space.spaces:
        return space.spaces["observation"]
    return space


def _episode_limit(env: ParallelEnv) -> int | None:
    base = getattr(env, "unwrapped", env)
    for name in ("max_steps", "max_cycles", "episode_limit"):
        for obj in (env, base):
            value = getattr(obj, name, None)
            if isinstance(value, (int, np.integer)) and value > 0:
                return int(value)
    return None


def needs_padding(env: ParallelEnv) -> tuple[bool, bool]:
    """Whether the agents' (observation, action) spaces differ, so that SuperSuit must pad them."""
    agents = env.possible_agents
    obs = [_obs_array(env.observation_space(a)) for a in agents]
    act = [env.action_space(a) for a in agents]
    return any(o.shape != obs[0].shape for o in obs), any(a != act[0] for a in act)


def check_paddable(env: ParallelEnv, env_id: str = "") -> None:
    """Raise :class:`EnvCompatibilityError` unless SuperSuit can pad the agents' observation spaces."""
    name = env_id or type(env).__name__
    obs_spaces = {a: env.observation_space(a) for a in env.possible_agents}
    first = next(iter(obs_spaces.values()))
    if all(space.shape == first.shape and type(space) is type(first) for space in obs_spaces.values()):
        return
    described = ", ".join(f"{a}: {sp}" for a, sp in obs_spaces.items())
    if not all(isinstance(sp, spaces.Box) for sp in obs_spaces.values()):
        raise EnvCompatibilityError(
            f"{name}: agents have different observation spaces that are not all Box ({described}); "
            "SuperSuit can pad only Box spaces: give every agent the same space, or put action masks in "
            "infos[agent]['action_mask'] and return plain arrays"
        )
    if len({len(sp.shape) for sp in obs_spaces.values()}) > 1 or len({sp.dtype for sp in obs_spaces.values()}) > 1:
        raise EnvCompatibilityError(
            f"{name}: agents' observation spaces differ in rank or dtype ({described}); SuperSuit pads only "
            "Boxes of one rank and dtype: flatten them (supersuit.flatten_v0) or cast them (supersuit.dtype_v0)"
        )


def _inner_env(env: Any) -> Any:
    """The innermost env below PettingZoo/SuperSuit wrappers and AEC/parallel conversions."""
    for _ in range(100):
        attrs = getattr(env, "__dict__", {})
        inner = attrs.get("aec_env") or attrs.get("env")
        if not isinstance(inner, (ParallelEnv, AECEnv)):
            return env
        env = inner
    return env


def has_state(env: Any) -> bool:
    """Whether ``env`` (or the env it wraps) implements ``state()`` and declares ``state_space``."""
    base = _inner_env(env)
    overrides = getattr(type(base), "state", None) not in (None, ParallelEnv.state, AECEnv.state)
    return overrides and getattr(env, "state_space", None) is not None


class ParallelEnvAdapter:
    """Steps one PettingZoo ``ParallelEnv`` with arrays; see the module docstring for the rules."""

    def __init__(self, env: ParallelEnv, env_id: str = "", team_reward: str = "auto") -> None:
        if team_reward not in ("auto", "shared", "sum"):
            raise ValueError(f"team_reward must be 'auto', 'shared' or 'sum', got {team_reward!r}")
        self.env_id = env_id
        self._check_action_spaces(env, env_id)
        self._own_actions = {a: env.action_space(a).n for a in env.possible_agents}  # type: ignore[attr-defined]
        pad_obs, pad_act = needs_padding(env)
        if pad_obs:
            check_paddable(env, env_id)
        if pad_obs or pad_act:
            import supersuit  # heavy-ish import, only for heterogeneous envs

            if pad_obs:
                env = supersuit.pad_observations_v0(env)
            if pad_act:
                env = supersuit.pad_action_space_v0(env)
        self.env = env
        self.agents: tuple[str, ...] = tuple(env.possible_agents)
        obs_space = _obs_array(env.observation_space(self.agents[0]))
        if not isinstance(obs_space, spaces.Box):
            raise EnvCompatibilityError(
                f"{env_id or type(env).__name__}: observation space {obs_space} is not a Box; "
                "qmixbench needs array observations (wrap the env with supersuit.flatten_v0 or a Box space)"
            )
        obs_dim = int(np.prod(obs_space.shape))
        # Integer observation dtypes are checked against their range (see the module docstring).
        self._obs_dtype = np.dtype(obs_space.dtype)
        self._int_obs = self._obs_dtype.kind in "biu"
        self.team_reward = declared_team_reward(env) if team_reward == "auto" else team_reward
        n_actions = int(env.action_space(self.agents[0]).n)  # type: ignore[attr-defined]
        self._pad_mask = np.zeros((len(self.agents), n_actions), bool)
        for i, agent in enumerate(self.agents):
            self._pad_mask[i, : self._own_actions[agent]] = True
        state_source, state_dim = self._probe_state(env, obs_dim)
        self.info = EnvInfo(
            env_id=env_id,
            agent_ids=self.agents,
            obs_shape=tuple(int(d) for d in obs_space.shape),
            obs_dim=obs_dim,
            state_dim=state_dim,
            n_actions=n_actions,
            episode_limit=_episode_limit(env),
            team_reward=self.team_reward,
            state_source=state_source,
        )
        self._alive = np.ones(len(self.agents), bool)
        self._index = {agent: i for i, agent in enumerate(self.agents)}
        self._state_from_env = state_source == "env"

    @staticmethod
    def _check_action_spaces(env: ParallelEnv, env_id: str) -> None:
        for agent in env.possible_agents:
            space = env.action_space(agent)
            if not isinstance(space, spaces.Discrete):
                if isinstance(space, spaces.Box):
                    fix = "continuous actions are not supported: use the env's discrete variant (MPE: continuous_actions=False)"
                elif isinstance(space, spaces.MultiDiscrete):
                    fix = f"enumerate the {int(np.prod(space.nvec))} combinations as one Discrete space"
                else:
                    fix = "give each agent one Discrete action space"
                raise EnvCompatibilityError(
                    f"{env_id or type(env).__name__}: agent {agent!r} has action space {space}; QMIX, VDN "
                    f"and IQL need Discrete action spaces ({fix})"
                )
            if int(space.start) != 0:
                raise EnvCompatibilityError(
                    f"{env_id}: agent {agent!r} has Discrete(start={space.start}); need start=0"
                )

    def _probe_state(self, env: ParallelEnv, obs_dim: int) -> tuple[str, int]:
        if has_state(env):
            return "env", int(np.prod(env.state_space.shape))
        name = self.env_id or (getattr(env, "metadata", None) or {}).get("name", type(_inner_env(env)).__name__)
        why = "has no state()"
        if getattr(type(_inner_env(env)), "state", None) not in (None, ParallelEnv.state, AECEnv.state):
            why = "defines state() but no state_space (needed for the state's shape)"
        if name not in _WARNED_NO_STATE:  # once per env per process, not once per parallel copy
            _WARNED_NO_STATE.add(name)
            log.warning("%s %s; the mixer's global state is the concatenation of all agents' observations", name, why)
        return "concat_obs", obs_dim * len(self.agents)

    # -- arrays ---------------------------------------------------------------------------------

    def _arrays(self, obs: dict[str, Any], infos: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        obs_arr = np.zeros((len(self.agents), self.info.obs_dim), np.float32)  # (N, O)
        avail = self._pad_mask.copy()  # (N, A)
        for i, agent in enumerate(self.agents):
            value = obs.get(agent)
            if value is None:  # finished on an earlier step: nothing to observe
                avail[i] = True
                continue
            mask = None
            if isinstance(value, dict):
                mask = value.get("action_mask")
                value = value["observation"]
            info = infos.get(agent)
            if info and "action_mask" in info:
                mask = info["action_mask"]
            if self._int_obs and getattr(value, "dtype", None) != self._obs_dtype:
                self._check_obs_range(agent, value)
            obs_arr[i] = np.ravel(value)
            if mask is not None:
                avail[i, : len(mask)] &= np.asarray(mask, bool)
                if not avail[i].any():
                    raise EnvCompatibilityError(f"agent {agent!r} has an action mask with no available action")
        if self._state_from_env:
            state = np.asarray(self.env.state(), np.float32).reshape(-1)  # (S,)
        else:
            state = obs_arr.reshape(-1).copy()
        return obs_arr, state, avail

    def _check_obs_range(self, agent: str, value: Any) -> None:
        """Refuse an observation that the space's integer dtype cannot hold (it would be wrapped)."""
        arr = np.asarray(value)
        if arr.dtype.kind in "biu" and np.can_cast(arr.dtype, self._obs_dtype):
            return
        if self._obs_dtype.kind == "b":
            lo, hi = 0, 1
        else:
            lo, hi = np.iinfo(self._obs_dtype).min, np.iinfo(self._obs_dtype).max
        flat = np.ravel(arr)
        if flat.dtype.kind not in "biuf":
            return  # not numbers: the float32 conversion below raises its own error
        bad = ~((flat >= lo) & (flat <= hi))
        if flat.dtype.kind == "f":
            bad |= flat != np.round(flat)  # NaN compares unequal and lands here too
        if bad.any():
            found = flat[bad.argmax()].item()
            raise EnvCompatibilityError(
                f"{self.env_id or type(self.env).__name__}: agent {agent!r} observed {found!r}, which its "
                f"observation space's dtype {self._obs_dtype} cannot hold (integers in [{lo}, {hi}]); qmixbench "
                "refuses to wrap or round it: return observations inside the space, or declare a wider dtype"
            )

    @property
    def alive(self) -> np.ndarray:
        """(N,) bool: which agents act on the next step (all that ``reset`` returned, then those not finished)."""
        return self._alive.copy()

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reset; return obs (N, O) float32, state (S,) float32, avail (N, A) bool."""
        ENV_CALLS.begin(RESET)
        try:
            obs, infos = self.env.reset(seed=seed)
            self._alive = np.array([a in self.env.agents for a in self.agents], bool)
            return self._arrays(obs, infos)  # state() is the env's code too
        finally:
            ENV_CALLS.end()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool, bool, dict[str, Any]]:
        """Step with actions (N,) int; return obs, state, avail, team reward, terminated, truncated, info.

        ``info`` has ``alive`` (N,) bool for the next step, ``bootstrap`` (N,) bool (the agents that
        were live before this step and were not terminated on it: the value of the next observation
        counts for them) and, at the end, ``success`` when the env reported one.
        """
        env_agents = set(self.env.agents)
        live = [a for a in self.agents if a in env_agents]
        action_dict = {a: int(actions[self._index[a]]) for a in live}
        ENV_CALLS.begin(STEP)
        try:
            obs, rewards, terms, truncs, infos = self.env.step(action_dict)
            obs_arr, state, avail = self._arrays(obs, infos)  # state() is the env's code too
        finally:
            ENV_CALLS.end()
        reward = team_reward_of([float(rewards[a]) for a in live if a in rewards], self.team_reward)
        terminal = {a for a in live if terms.get(a, False)}  # terminated, truncated too or not
        finished = terminal | {a for a in live if truncs.get(a, False)}
        still = set(self.env.agents) - finished
        self._alive = np.array([a in still for a in self.agents], bool)
        done = not still
        truncated = done and bool(finished - terminal)
        terminated = done and not truncated
        live_set = set(live)
        bootstrap = np.array([a in live_set and a not in terminal for a in self.agents], bool)
        info: dict[str, Any] = {"alive": self._alive.copy(), "bootstrap": bootstrap}
        successes = [infos[a]["success"] for a in live if "success" in infos.get(a, {})]
        if successes:
            info["success"] = bool(any(successes))
        return obs_arr, state, avail, reward, terminated, truncated, info

    def close(self) -> None:
        self.env.close()


def build_env(env: str, env_kwargs: dict[str, Any] | None = None) -> ParallelEnv:
    """Build a ParallelEnv from a registered id, a family name or an entry point, each with ``?key=value``.

    ``env_kwargs`` override the string's arguments, which override a registered id's own. Raises
    ``qmixbench_envs.UnknownEnvError`` for an unknown id, :class:`EnvSpecError` for a bad entry point
    or argument, ``qmixbench_envs.external.MissingExtraError`` when an optional package is missing.
    """
    name, string_kwargs = parse_env_string(env)
    kwargs = {**string_kwargs, **(env_kwargs or {})}
    if ":" in name:
        return call_factory(load_factory(name), kwargs, name)
    from qmixbench_envs import registry

    try:
        spec = registry.ENV_SPECS[registry.resolve_id(name)]
    except registry.UnknownEnvError as exc:
        if "." in name and "/" not in name:  # looks like a module path without its factory
            raise registry.UnknownEnvError(f"{exc}; an entry point is written module:factory") from None
        raise
    return call_factory(load_factory(spec.entry_point), {**spec.kwargs, **kwargs}, name)


def declared_team_reward(env: Any) -> str:
    """The env's own team-reward declaration, ``metadata["team_reward"]``: ``shared`` or ``sum``; an env
    that declares nothing is taken as ``sum`` (individual rewards)."""
    return str((getattr(env, "metadata", None) or {}).get("team_reward", "sum"))


def team_reward_of(rewards: list[float], team_reward: str) -> float:
    """The team's reward of one step from the rewards of the agents that acted: with ``shared`` every
    agent already gets the team's, so their mean (0.0 when none acted); with ``sum``, their sum."""
    if team_reward == "shared":
        return sum(rewards) / len(rewards) if rewards else 0.0
    return float(sum(rewards))


def make_adapter(env: str, env_kwargs: dict[str, Any] | None = None, team_reward: str = "auto") -> ParallelEnvAdapter:
    """Build the env named ``env`` and wrap it in a :class:`ParallelEnvAdapter`."""
    with ENV_CALLS.watch(CONSTRUCTION):
        built = build_env(env, env_kwargs)
    return ParallelEnvAdapter(built, env_id=env, team_reward=team_reward)


def obs_bounds(adapter: ParallelEnvAdapter) -> tuple[np.ndarray, np.ndarray] | None:
    """The declared observation bounds as (N, O) float32 arrays (low, high), in the adapter's agent order;
    None when no observation can leave them (unbounded, or bounds that are the dtype's own range)."""
    lows, highs = [], []
    for agent in adapter.agents:
        space = _obs_array(adapter.env.observation_space(agent))
        if not isinstance(space, spaces.Box):
            return None
        lows.append(np.broadcast_to(np.asarray(space.low, np.float64), space.shape).ravel())
        highs.append(np.broadcast_to(np.asarray(space.high, np.float64), space.shape).ravel())
    low, high = np.stack(lows), np.stack(highs)  # (N, O)
    dtype = adapter._obs_dtype
    if dtype.kind in "iu":
        floor, ceil = float(np.iinfo(dtype).min), float(np.iinfo(dtype).max)
    elif dtype.kind == "b":
        floor, ceil = 0.0, 1.0
    else:
        floor, ceil = -np.inf, np.inf
    if np.all(low <= floor) and np.all(high >= ceil):
        return None
    return low.astype(np.float32), high.astype(np.float32)

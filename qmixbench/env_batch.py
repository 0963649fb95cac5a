"""The K training envs as one object with arrays in and out: one at a time, or one vectorised call.

The rollout steps its K envs through an :class:`EnvBatch`, which reports the adapter's view of each
env (``qmixbench.adapter``) with a leading K axis. Two kinds:

* :class:`AdapterBatch`: K :class:`ParallelEnvAdapter` objects stepped one after the other (every env).
* :class:`VectorBatch`: one ``qmixbench_envs.vector.VectorEnv`` (a family that offers one, e.g. SMAX),
  stepped in one call; it applies the adapter's rules (see below) to the vector env's arrays.

:func:`make_env_batch` picks the vectorised kind when the env offers it, ``n_envs`` > 1 and the config
allows it (``TrainConfig.vector_env``). Both kinds give the same arrays for the same env, seeds and
actions (``tests/test_env_batch.py`` proves it episode for episode on envs with agents finishing early),
so the choice changes speed, never results. With a single env there is nothing to batch: the one env
is stepped through its PettingZoo API.

The adapter's rules, applied by :class:`VectorBatch` exactly as :class:`ParallelEnvAdapter` applies
them to dicts (its docstring gives the reasons):

* An agent acts on a step if it was active after the previous step (``live``). Only live agents'
  rewards, end flags and observations count; the others observe zeros with every action "available".
* Team reward: mean (``shared``) or sum of the live agents' rewards, in Python floats in agent order,
  as the adapter adds them, so the two kinds agree to the bit.
* An agent flagged terminated (truncated too or not) is terminal; the episode ends when no agent is
  left; it is *truncated* if any agent that finished on the last step was only truncated, else
  *terminated*; ``bootstrap`` = live and not terminal.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, NamedTuple, Protocol

import numpy as np

from qmixbench.adapter import EnvCompatibilityError, EnvInfo, ParallelEnvAdapter, make_adapter
from qmixbench.entry_points import EnvSpecError, load_factory, parse_env_string
from qmixbench.watchdog import CONSTRUCTION, ENV_CALLS, RESET, STEP
from qmixbench_envs.vector import VectorEnv

__all__ = ["AdapterBatch", "BatchFrame", "BatchStep", "EnvBatch", "VectorBatch", "make_env_batch"]


class BatchFrame(NamedTuple):
    """The K envs' current observations, as the adapter reports them."""

    obs: np.ndarray
    """(K, N, O) float32; zeros for agents that are not alive."""
    state: np.ndarray
    """(K, S) float32."""
    avail: np.ndarray
    """(K, N, A) bool; all True for agents that are not alive."""
    alive: np.ndarray
    """(K, N) bool: the agents that act on the next step."""


class BatchStep(NamedTuple):
    """One lockstep step of the K envs."""

    frame: BatchFrame
    """After the step (an ended env keeps its last frame until it is reset)."""
    reward: np.ndarray
    """(K,) float64 team rewards."""
    terminated: np.ndarray
    """(K,) bool: the episode ended in a terminal state (no bootstrap)."""
    truncated: np.ndarray
    """(K,) bool: the episode was cut (bootstrap from ``bootstrap``'s agents)."""
    bootstrap: np.ndarray
    """(K, N) bool: agents live before the step and not terminal on it (their next value counts)."""
    success: np.ndarray
    """(K,) float64: 1.0 / 0.0 where the env reported success on this step, else NaN."""


class EnvBatch(Protocol):
    """K envs of one env id in lockstep; see the module docstring."""

    info: EnvInfo
    """The env's facts (one env's)."""
    probe: ParallelEnvAdapter
    """One adapter of the same env, for its spaces (observation bounds, storage dtype)."""
    num_envs: int
    """K."""
    vectorised: bool
    """True when one call steps all K envs."""

    def reset(self, seeds: list[int] | None, mask: np.ndarray) -> BatchFrame:
        """Reset the envs where ``mask`` (K,), env k with ``seeds[k]`` (None: continue its own random
        stream); return every env's current frame."""
        ...

    def step(self, actions: np.ndarray) -> BatchStep:
        """Step every env with ``actions`` (K, N); ended envs must have been reset."""
        ...

    def close(self) -> None:
        """Close the envs."""
        ...


class AdapterBatch:
    """K :class:`ParallelEnvAdapter` objects stepped one at a time."""

    vectorised = False

    def __init__(self, adapters: list[ParallelEnvAdapter]) -> None:
        if not adapters:
            raise ValueError("an env batch needs at least one env")
        self.adapters = adapters
        self.probe = adapters[0]
        self.info = adapters[0].info
        self.num_envs = len(adapters)
        k, n, a = self.num_envs, self.info.n_agents, self.info.n_actions
        self._frame = BatchFrame(
            np.zeros((k, n, self.info.obs_dim), np.float32),
            np.zeros((k, self.info.state_dim), np.float32),
            np.ones((k, n, a), bool),
            np.zeros((k, n), bool),
        )

    def reset(self, seeds: list[int] | None, mask: np.ndarray) -> BatchFrame:
        obs, state, avail, alive = (x.copy() for x in self._frame)
        for k in np.flatnonzero(mask):
            adapter = self.adapters[k]
            obs[k], state[k], avail[k] = adapter.reset(seed=None if seeds is None else int(seeds[k]))
            alive[k] = adapter.alive
        self._frame = BatchFrame(obs, state, avail, alive)
        return self._frame

    def step(self, actions: np.ndarray) -> BatchStep:
        obs, state, avail, alive = (np.empty_like(x) for x in self._frame)
        k_envs, n = self.num_envs, self.info.n_agents
        reward = np.zeros(k_envs)
        terminated, truncated = np.zeros(k_envs, bool), np.zeros(k_envs, bool)
        bootstrap = np.zeros((k_envs, n), bool)
        success = np.full(k_envs, math.nan)
        for k, adapter in enumerate(self.adapters):
            obs[k], state[k], avail[k], reward[k], terminated[k], truncated[k], info = adapter.step(actions[k])
            alive[k], bootstrap[k] = info["alive"], info["bootstrap"]
            if "success" in info:
                success[k] = float(info["success"])
        self._frame = BatchFrame(obs, state, avail, alive)
        return BatchStep(self._frame, reward, terminated, truncated, bootstrap, success)

    def close(self) -> None:
        for adapter in self.adapters:
            adapter.close()


class VectorBatch:
    """One ``qmixbench_envs.vector.VectorEnv`` of K envs, read with the adapter's rules (module docstring)."""

    vectorised = True

    def __init__(self, vec: VectorEnv, probe: ParallelEnvAdapter) -> None:
        """Wrap ``vec``, checking it against ``probe``, an adapter of one env of the same id and kwargs.

        Raises:
            EnvCompatibilityError: The vector env's agents differ from the env's.
        """
        self.vec, self.probe, self.info = vec, probe, probe.info
        self.num_envs = int(vec.num_envs)
        if tuple(vec.possible_agents) != self.info.agent_ids:
            raise EnvCompatibilityError(
                f"{self.info.env_id}: the vector env's agents {list(vec.possible_agents)} differ from the env's "
                f"{list(self.info.agent_ids)}; a vector env must list possible_agents in the env's order"
            )
        self._shared = self.info.team_reward == "shared"
        k, n = self.num_envs, self.info.n_agents
        self._alive = np.zeros((k, n), bool)  # (K, N): agents that act on the next step
        self._frame: BatchFrame | None = None

    def _read(self, frame: Any, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The frame's obs, state, avail as the adapter gives them; ``present`` (K, N): whose rows count."""
        info, k, n = self.info, self.num_envs, self.info.n_agents
        obs = np.asarray(frame.obs, np.float32).reshape(k, n, -1)
        avail = np.asarray(frame.avail).astype(bool, copy=True)
        if obs.shape[2] != info.obs_dim or avail.shape != (k, n, info.n_actions):
            raise EnvCompatibilityError(
                f"{info.env_id}: the vector env gave obs {obs.shape} and avail {avail.shape}; the env's are "
                f"({k}, {n}, {info.obs_dim}) and ({k}, {n}, {info.n_actions})"
            )
        obs = np.where(present[..., None], obs, np.float32(0.0))  # finished agents observe nothing
        avail[~present] = True  # their choice is ignored (and masked out of the loss)
        if not avail.any(axis=2).all():
            k_bad, i_bad = np.argwhere(~avail.any(axis=2))[0]
            raise EnvCompatibilityError(
                f"agent {info.agent_ids[i_bad]!r} of vector env {k_bad} has an action mask with no available action"
            )
        if info.state_source == "env":
            if frame.state is None:
                raise EnvCompatibilityError(f"{info.env_id}: the env has a state() but its vector env gave none")
            state = np.asarray(frame.state, np.float32).reshape(k, -1)
            if state.shape[1] != info.state_dim:
                raise EnvCompatibilityError(
                    f"{info.env_id}: the vector env's state has {state.shape[1]} features; the env's has {info.state_dim}"
                )
        else:
            state = obs.reshape(k, -1).copy()  # the adapter's fallback: concatenated observations
        return obs, state, avail

    def reset(self, seeds: list[int] | None, mask: np.ndarray) -> BatchFrame:
        mask = np.asarray(mask, bool)
        ENV_CALLS.begin(RESET)
        try:
            frame = self.vec.reset(seeds, mask)
        finally:
            ENV_CALLS.end()
        active = np.asarray(frame.active, bool)
        alive = np.where(mask[:, None], active, self._alive)
        obs, state, avail = self._read(frame, alive)
        if self._frame is not None:  # envs outside the mask keep the frame the adapter read at their step
            keep = ~mask
            obs[keep], state[keep], avail[keep] = (
                self._frame.obs[keep],
                self._frame.state[keep],
                self._frame.avail[keep],
            )
        self._alive = alive
        self._frame = BatchFrame(obs, state, avail, alive.copy())
        return self._frame

    def step(self, actions: np.ndarray) -> BatchStep:
        live = self._alive  # (K, N): the agents that act on this step
        ENV_CALLS.begin(STEP)
        try:
            out = self.vec.step(np.asarray(actions))
        finally:
            ENV_CALLS.end()
        obs, state, avail = self._read(out.frame, live)  # an agent finishing now keeps its real last observation
        terminal = live & np.asarray(out.terminations, bool)  # terminated, truncated too or not
        finished = terminal | (live & np.asarray(out.truncations, bool))
        still = np.asarray(out.frame.active, bool) & ~finished
        done = ~still.any(axis=1)
        truncated = done & (finished & ~terminal).any(axis=1)
        terminated = done & ~truncated
        bootstrap = live & ~terminal
        rewards = np.asarray(out.rewards)
        reward = np.zeros(self.num_envs)
        for k in range(self.num_envs):
            got = rewards[k][live[k]].tolist()  # Python floats, summed in agent order as the adapter does
            reward[k] = (sum(got) / len(got) if got else 0.0) if self._shared else float(sum(got))
        success = np.full(self.num_envs, math.nan)
        if out.success is not None:
            success = np.where(done, np.asarray(out.success, bool).astype(np.float64), math.nan)
        self._alive = still
        self._frame = BatchFrame(obs, state, avail, still.copy())
        return BatchStep(self._frame, reward, terminated, truncated, bootstrap, success)

    def close(self) -> None:
        self.vec.close()


def build_vector_env(env: str, env_kwargs: dict[str, Any] | None, num_envs: int) -> VectorEnv | None:
    """The vector env of a registered id (``?key=value`` arguments and ``env_kwargs`` applied), or None.

    None for entry points (``module:factory``) and for ids whose family offers no vector env; nothing of
    the env's code is imported then (JAX stays out unless an ``smax`` env is used).
    """
    name, string_kwargs = parse_env_string(env)
    if ":" in name:
        return None
    from qmixbench_envs import registry

    spec = registry.ENV_SPECS[registry.resolve_id(name)]
    if not spec.vector_entry_point:
        return None
    kwargs = {**spec.kwargs, **string_kwargs, **(env_kwargs or {}), "num_envs": num_envs}
    factory = load_factory(spec.vector_entry_point)
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        raise EnvSpecError(
            f"env {name!r}: {exc}; its vector env's parameters are {inspect.signature(factory)}"
        ) from None
    with ENV_CALLS.watch(CONSTRUCTION):
        vec = factory(**kwargs)
    if not isinstance(vec, VectorEnv):
        raise EnvCompatibilityError(
            f"{name}: {spec.vector_entry_point} returned a {type(vec).__name__}, not a qmixbench_envs.vector.VectorEnv "
            "(num_envs, possible_agents, reset, step, close)"
        )
    if vec.num_envs != num_envs:
        raise EnvCompatibilityError(f"{name}: asked its vector env for {num_envs} envs, got {vec.num_envs}")
    return vec


VECTOR_MIN_ENVS = 2
"""The fewest envs stepped through a vector env: one env has nothing to batch, and stepped alone SMAX's
vmapped step of one battle is slower than its own (``benchmarks/bench_smax.md``). The benchmark lowers
it to measure K = 1."""


def make_env_batch(
    env: str, env_kwargs: dict[str, Any] | None, team_reward: str, n_envs: int, *, vectorise: bool
) -> EnvBatch:
    """The K = ``n_envs`` training envs: a :class:`VectorBatch` when ``vectorise``, ``n_envs`` >=
    :data:`VECTOR_MIN_ENVS` and the env offers a vector env, else an :class:`AdapterBatch`."""
    if vectorise and n_envs >= VECTOR_MIN_ENVS:
        vec = build_vector_env(env, env_kwargs, n_envs)
        if vec is not None:
            return VectorBatch(vec, make_adapter(env, env_kwargs, team_reward))
    return AdapterBatch([make_adapter(env, env_kwargs, team_reward) for _ in range(n_envs)])

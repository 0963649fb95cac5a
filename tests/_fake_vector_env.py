"""A test-only vector env: K ParallelEnvs stepped one after the other behind the VectorEnv protocol.

Pure numpy (no JAX), so the batched rollout path is tested in the default suite. It turns PettingZoo's
dicts into the protocol's (K, N, ...) arrays literally, leaving every rule (team reward, end flags,
bootstrap mask, finished agents) to qmixbench's ``VectorBatch``, which the tests compare with the
one-env-at-a-time ``AdapterBatch``. Rows of agents absent from a dict are filled with junk on purpose
(observation 7, no available action, reward 100, both end flags): the protocol says they are ignored,
so any of it reaching an episode fails the comparison.

``toy_vector`` is registered under a test id by the tests (``EnvSpec.vector_entry_point``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from qmixbench_envs.vector import VectorFrame, VectorStep

JUNK_OBS, JUNK_REWARD = 7.0, 100.0
"""What the fake sends in the rows of absent agents (see the module docstring)."""


class FakeVectorEnv:
    """``envs`` (same id and kwargs) as one vector env; see the module docstring."""

    def __init__(self, envs: list[ParallelEnv]) -> None:
        self.envs = envs
        self.num_envs = len(envs)
        self.possible_agents = list(envs[0].possible_agents)
        first = envs[0]
        self._obs_dim = max(int(np.prod(self._box(first.observation_space(a)).shape)) for a in self.possible_agents)
        self._n_actions = max(int(first.action_space(a).n) for a in self.possible_agents)
        self._has_state = getattr(first, "state_space", None) is not None
        k, n = self.num_envs, len(self.possible_agents)
        self._frame = VectorFrame(
            np.zeros((k, n, self._obs_dim)),
            np.zeros((k, int(np.prod(first.state_space.shape)))) if self._has_state else None,
            np.ones((k, n, self._n_actions), bool),
            np.zeros((k, n), bool),
        )
        self.steps = 0  # vectorised calls made (each steps all K envs)

    @staticmethod
    def _box(space: Any) -> Any:
        return space["observation"] if hasattr(space, "spaces") and "observation" in space.spaces else space

    def _row(self, k: int, obs: dict, infos: dict) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
        env, n = self.envs[k], len(self.possible_agents)
        obs_arr = np.full((n, self._obs_dim), JUNK_OBS)
        avail = np.zeros((n, self._n_actions), bool)
        for i, agent in enumerate(self.possible_agents):
            value = obs.get(agent)
            if value is None:
                continue
            obs_arr[i] = 0.0
            avail[i, : int(env.action_space(agent).n)] = True  # the rest are padded actions
            if isinstance(value, dict):
                avail[i, : len(value["action_mask"])] &= np.asarray(value["action_mask"], bool)
                value = value["observation"]
            if "action_mask" in infos.get(agent, {}):
                avail[i, : len(infos[agent]["action_mask"])] &= np.asarray(infos[agent]["action_mask"], bool)
            flat = np.ravel(value)
            obs_arr[i, : flat.size] = flat
        state = np.asarray(env.state(), np.float64).ravel() if self._has_state else None
        active = np.array([a in env.agents for a in self.possible_agents], bool)
        return obs_arr, state, avail, active

    def _set(self, frame: VectorFrame, k: int, row: tuple) -> None:
        obs, state, avail, active = row
        frame.obs[k], frame.avail[k], frame.active[k] = obs, avail, active
        if frame.state is not None:
            frame.state[k] = state

    def reset(self, seeds: Sequence[int] | None = None, mask: np.ndarray | None = None) -> VectorFrame:
        mask = np.ones(self.num_envs, bool) if mask is None else np.asarray(mask, bool)
        frame = VectorFrame(*(None if x is None else x.copy() for x in self._frame))
        for k in np.flatnonzero(mask):
            obs, infos = self.envs[k].reset(seed=None if seeds is None else int(seeds[k]))
            self._set(frame, k, self._row(k, obs, infos))
        self._frame = frame
        return frame

    def step(self, actions: np.ndarray) -> VectorStep:
        k_envs, n = self.num_envs, len(self.possible_agents)
        frame = VectorFrame(*(None if x is None else x.copy() for x in self._frame))
        rewards, terms, truncs = np.zeros((k_envs, n)), np.zeros((k_envs, n), bool), np.zeros((k_envs, n), bool)
        success = np.zeros(k_envs, bool)
        reports_success = False
        for k, env in enumerate(self.envs):
            if not env.agents:
                raise RuntimeError(f"env {k} has ended; reset it first")
            live = list(env.agents)
            obs, rew, term, trunc, infos = env.step({a: int(actions[k, self.possible_agents.index(a)]) for a in live})
            for i, agent in enumerate(self.possible_agents):
                rewards[k, i] = rew.get(agent, JUNK_REWARD)
                terms[k, i], truncs[k, i] = term.get(agent, True), trunc.get(agent, True)
            flags = [infos[a]["success"] for a in live if "success" in infos.get(a, {})]
            reports_success |= bool(flags)
            success[k] = any(flags)
            self._set(frame, k, self._row(k, obs, infos))
        self._frame = frame
        self.steps += 1
        return VectorStep(frame, rewards, terms, truncs, success if reports_success else None)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def vector_of(factory: Callable[[], ParallelEnv], num_envs: int) -> FakeVectorEnv:
    """``num_envs`` envs from ``factory`` as one :class:`FakeVectorEnv`."""
    return FakeVectorEnv([factory() for _ in range(num_envs)])


def toy_vector(num_envs: int, **kwargs: Any) -> FakeVectorEnv:
    """The vector env of ``test_adapter.ToyEnvWithState(**kwargs)``: a registry ``vector_entry_point``."""
    from test_adapter import ToyEnvWithState

    return vector_of(lambda: ToyEnvWithState(**kwargs), num_envs)

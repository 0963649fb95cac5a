"""MPE (``mpe2``) scenarios as native PettingZoo ParallelEnvs: simple_spread, simple_speaker_listener,
simple_reference. Needs ``pip install 'qmixbench[mpe]'``.

The scenario, physics, observations and rewards are mpe2's own (``raw_env``); :class:`MPEParallelEnv`
only replaces mpe2's AEC stepping by one call of its world step per joint action, which gives the same
observations, rewards and flags as ``mpe2.<scenario>.parallel_env()`` (tested step for step).

Registered ids (kwargs in ``qmixbench_envs.registry``):

* ``mpe/simple-spread-v3``: N=3 agents cover 3 landmarks, 25 steps. Actions ``Discrete(5)`` (no-op,
  left, right, down, up); observation (18,): own velocity and position, landmarks' and other agents'
  relative positions, communication. ``local_ratio=0``: every agent gets only the global reward, minus
  the summed distance of each landmark to its closest agent (mpe2 weighs its per-agent collision
  penalty by ``local_ratio``, so there is none), so the team reward is **shared**. State: mpe2's
  concatenated observations (54,).
* ``mpe/simple-speaker-listener-v4``: a speaker (observes the goal colour (3,), ``Discrete(3)``
  messages) and a listener (observes velocity, landmark positions and the message (11,),
  ``Discrete(5)`` moves). Heterogeneous: qmixbench's adapter pads them to (11,) and ``Discrete(5)``
  and masks the speaker's padded actions. Both get minus the listener's squared distance to the goal:
  **shared**. State (14,).
* ``mpe/simple-reference-v3``: two agents that each must guide the other to a landmark by talking;
  ``Discrete(50)`` (5 moves x 10 words), observation (21,). ``local_ratio=0``: both get the mean
  of the two distances, **shared**. State (42,).

``local_ratio`` > 0 makes rewards individual; the factories then declare ``team_reward = "sum"``.

Episodes end by truncation at ``max_cycles`` (25). Continuous actions are not offered: QMIX, VDN and
IQL need discrete actions.

Version history: ids follow mpe2's versions (simple_spread_v3, simple_speaker_listener_v4,
simple_reference_v3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qmixbench_envs.external import import_optional


class MPEParallelEnv(ParallelEnv):
    """Step an mpe2 ``raw_env`` (a ``SimpleEnv``) once per joint action.

    Args:
        raw: the unwrapped mpe2 AEC env, e.g. ``mpe2.simple_spread_v3.raw_env(N=3)``.
        team_reward: ``"shared"`` if every agent gets the team reward, else ``"sum"``.
    """

    def __init__(self, raw: Any, team_reward: str) -> None:
        if raw.continuous_actions:
            raise ValueError("continuous_actions=True is not supported: QMIX, VDN and IQL need discrete actions")
        self._raw = raw
        # Our own dict: mpe2 writes its env name into the metadata dict its classes share.
        self.metadata = {
            "name": raw.metadata.get("name", type(raw).__module__),
            "render_modes": ["human", "rgb_array"],
            "render_fps": raw.metadata.get("render_fps", 10),
            "is_parallelizable": True,
            "team_reward": team_reward,
        }
        self.render_mode = raw.render_mode
        self.possible_agents = list(raw.possible_agents)
        self.agents: list[str] = []
        self.state_space: spaces.Box = raw.state_space
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._n_actions = {agent: int(raw.action_spaces[agent].n) for agent in self.possible_agents}
        # mpe2's state() is every agent's observation concatenated: computed once per step with the
        # observations (it would otherwise recompute them all, ~30% of a step).
        self._state_is_observations = type(raw).state is _simple_env_state(raw)
        self._last_obs: dict[str, np.ndarray] = {}

    @property
    def max_cycles(self) -> int:
        """Episode length in steps (PettingZoo's ``parallel_api_test`` sets it)."""
        return int(self._raw.max_cycles)

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        self._raw.max_cycles = value

    def observation_space(self, agent: str) -> spaces.Space:
        return self._raw.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._raw.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self._raw.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        obs = self._last_obs = {agent: self._raw.observe(agent) for agent in self.agents}
        return dict(obs), {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        raw = self._raw
        for agent in self.agents:
            action = int(actions[agent])
            if not 0 <= action < self._n_actions[agent]:
                raise ValueError(f"action {actions[agent]!r} of {agent} is outside {raw.action_spaces[agent]}")
            raw.current_actions[self._index[agent]] = action
        raw._execute_world_step()
        raw.steps += 1
        # mpe2's rule: the last allowed step is a truncation, even when the scenario is terminal on it.
        truncated = raw.steps >= raw.max_cycles
        terminated = not truncated and bool(raw.scenario.is_terminal(raw.world))
        agents = self.agents
        obs = self._last_obs = {agent: raw.observe(agent) for agent in self.possible_agents}
        rewards = {agent: float(raw.rewards[agent]) for agent in agents}
        terms = dict.fromkeys(agents, terminated)
        truncs = dict.fromkeys(agents, truncated)
        infos = {agent: dict(raw.infos.get(agent, {})) for agent in agents}
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            raw.render()
        return {agent: obs[agent] for agent in agents}, rewards, terms, truncs, infos

    def state(self) -> np.ndarray:
        if self._state_is_observations and self._last_obs:
            return np.concatenate([self._last_obs[agent] for agent in self.possible_agents], axis=None)
        return self._raw.state()

    def render(self) -> Any:
        return self._raw.render()

    def close(self) -> None:
        self._raw.close()


def _simple_env_state(raw: Any) -> Any:
    """mpe2's ``SimpleEnv.state`` (the concatenated observations), looked up on ``raw``'s own classes."""
    for cls in type(raw).__mro__:
        if cls.__name__ == "SimpleEnv":
            return cls.__dict__.get("state")
    return None


def _raw_env(module: str, **kwargs: Any) -> Any:
    mod = import_optional(f"mpe2.{module}", extra="mpe", package="mpe2")
    if kwargs.get("continuous_actions"):
        raise ValueError("continuous_actions=True is not supported: QMIX, VDN and IQL need discrete actions")
    return mod.raw_env(**kwargs)


def simple_spread(
    N: int = 3, local_ratio: float = 0.0, max_cycles: int = 25, render_mode: str | None = None, **kwargs: Any
) -> MPEParallelEnv:
    """mpe2 ``simple_spread_v3`` with a fully shared reward by default (``local_ratio=0``).

    Other keyword arguments (``terminate_on_success``, ``num_agent_neighbors``, ...) go to mpe2.
    """
    raw = _raw_env(
        "simple_spread_v3", N=N, local_ratio=local_ratio, max_cycles=max_cycles, render_mode=render_mode, **kwargs
    )
    return MPEParallelEnv(raw, team_reward="shared" if local_ratio == 0 else "sum")


def simple_speaker_listener(max_cycles: int = 25, render_mode: str | None = None, **kwargs: Any) -> MPEParallelEnv:
    """mpe2 ``simple_speaker_listener_v4``; both agents get the same reward."""
    raw = _raw_env("simple_speaker_listener_v4", max_cycles=max_cycles, render_mode=render_mode, **kwargs)
    return MPEParallelEnv(raw, team_reward="shared")


def simple_reference(
    local_ratio: float = 0.0, max_cycles: int = 25, render_mode: str | None = None, **kwargs: Any
) -> MPEParallelEnv:
    """mpe2 ``simple_reference_v3`` with a fully shared reward by default (``local_ratio=0``)."""
    raw = _raw_env(
        "simple_reference_v3", local_ratio=local_ratio, max_cycles=max_cycles, render_mode=render_mode, **kwargs
    )
    return MPEParallelEnv(raw, team_reward="shared" if local_ratio == 0 else "sum")

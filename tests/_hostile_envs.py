"""Envs that misbehave on purpose, named by entry point in tests (``_hostile_envs:HangingStep``).

:class:`Tiny` is a well-behaved two-agent env (3 steps, then truncated; observation ``[t, 0]`` in a
``Box(0, 10)``); each subclass breaks one rule. ``size`` must be >= 1 (a bad argument fails in
``__init__``, as real envs do).
"""

from __future__ import annotations

import time

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


class Tiny(ParallelEnv):
    metadata = {"name": "tiny", "render_modes": []}
    render_mode = None
    possible_agents = ["x", "y"]
    obs_dtype: type = np.float32

    def __init__(self, size: int = 1, value: float = 0.0) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.value = value  # what observe() reports at step 2 (subclasses)
        self.agents: list[str] = []
        self._obs = {a: spaces.Box(0, 10, (2,), self.obs_dtype) for a in self.possible_agents}
        self._act = {a: spaces.Discrete(2) for a in self.possible_agents}
        self.t = 0
        self.max_steps = 3

    def observation_space(self, agent):
        return self._obs[agent]

    def action_space(self, agent):
        return self._act[agent]

    def observe(self):
        return np.array([self.t, 0], self.obs_dtype)

    def reset(self, seed=None, options=None):
        self.t, self.agents = 0, list(self.possible_agents)
        return {a: self.observe() for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        done = self.t >= self.max_steps
        live = list(self.agents)
        self.agents = [] if done else live
        obs = {a: self.observe() for a in live}
        return obs, dict.fromkeys(live, 1.0), dict.fromkeys(live, False), dict.fromkeys(live, done), {}


class HangingStep(Tiny):
    """step() never returns."""

    def step(self, actions):
        time.sleep(3600)
        return super().step(actions)


class HangingReset(Tiny):
    """reset() never returns."""

    def reset(self, seed=None, options=None):
        time.sleep(3600)
        return super().reset(seed, options)


class HangingInit(Tiny):
    """The constructor never returns."""

    def __init__(self, **kwargs) -> None:
        time.sleep(3600)


class WideObs(Tiny):
    """A uint8 Box whose observation at step 2 is ``value`` (300, -1 or 2.5 leave uint8), sent as int64
    or float64 arrays, the way numpy arithmetic produces them."""

    obs_dtype = np.uint8

    def observe(self):
        first = self.value if self.t == 2 else self.t
        return np.array([first, 0], np.float64 if isinstance(first, float) else np.int64)


class OutOfBounds(Tiny):
    """A float Box(0, 10) whose observation at step 2 is ``value`` (e.g. 50: inside float32, outside the bounds)."""

    def observe(self):
        return np.array([self.value if self.t == 2 else self.t, 0], np.float32)

"""A tiny cooperative PettingZoo ParallelEnv to benchmark with qmixbench (see docs/own-env.md).

Two agents on a line of ``size`` cells must meet: each moves left, stays or moves right. The team
gets +1 when both stand on the same cell (the episode terminates) and -0.01 a step otherwise; after
``max_steps`` steps the episode is truncated. Both agents get the same (team) reward, declared with
``metadata["team_reward"] = "shared"``. Observation: own and other position, scaled to [0, 1].
State: both positions and the time, for the QMIX mixer.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv


class MeetEnv(ParallelEnv):
    metadata = {"name": "meet_v0", "render_modes": [], "team_reward": "shared"}

    def __init__(self, size: int = 5, max_steps: int = 20) -> None:
        self.size, self.max_steps = size, max_steps
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self.render_mode = None
        # Build spaces once: PettingZoo's tests want the same object on every call.
        self._obs_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self._act_space = spaces.Discrete(3)  # 0 left, 1 stay, 2 right
        self.state_space = spaces.Box(0.0, 1.0, (3,), np.float32)
        self._rng, _ = seeding.np_random(None)
        self._pos = np.zeros(2, np.int64)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_space

    def _obs(self) -> dict[str, np.ndarray]:
        p = self._pos / (self.size - 1)
        return {"agent_0": p.astype(np.float32), "agent_1": p[::-1].astype(np.float32)}

    def state(self) -> np.ndarray:
        return np.array([*(self._pos / (self.size - 1)), self._t / self.max_steps], np.float32)

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)  # all randomness from this generator
        self._pos = self._rng.choice(self.size, size=2, replace=False)
        self._t = 0
        self.agents = list(self.possible_agents)
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]):
        moves = np.array([actions["agent_0"], actions["agent_1"]]) - 1
        self._pos = np.clip(self._pos + moves, 0, self.size - 1)
        self._t += 1
        met = bool(self._pos[0] == self._pos[1])
        reward = 1.0 if met else -0.01
        truncated = not met and self._t >= self.max_steps
        agents, obs = self.agents, self._obs()
        if met or truncated:
            self.agents = []
        return (
            obs,
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, met),  # terminated: no bootstrap past a meeting
            dict.fromkeys(agents, truncated),  # truncated: the learner bootstraps
            {a: {"success": met} if met or truncated else {} for a in agents},
        )

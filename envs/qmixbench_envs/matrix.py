"""Cooperative matrix games as PettingZoo ParallelEnvs.

Two agents (``agent_0``, ``agent_1``), ``Discrete(n_actions)`` each, fully cooperative.

``TwoStepEnv`` (id ``matrix/two-step-v0``): the two-step game of the QMIX paper (Rashid et al. 2018,
Section 5). In the first step agent_0's action picks the second game (action 0 -> state 2A, action 1
-> state 2B); agent_1's first action does not matter and the reward is 0. In 2A every joint action
pays 7; in 2B the payoff is [[0, 1], [1, 8]]. The optimum is 8 (go to 2B, then both play 1); VDN's
additive value cannot represent 2B's payoff and settles for 7.

``MatrixGameEnv`` (ids ``matrix/climbing-v0``, ``matrix/penalty-v0``, ``matrix/wqmix-one-step-v0``):
one payoff matrix played ``episode_limit`` times (25 by default, 1 for the Weighted QMIX game).

* climbing  [[11, -30, 0], [-30, 7, 0], [0, 6, 5]]: optimum 11/step (275 over 25 steps); the safe
  equilibria give 7 or 5.
* penalty   [[-k, 0, 10], [0, 2, 0], [10, 0, -k]] with ``k`` an argument (100 by default): optimum
  10/step (250), the safe joint action (1, 1) gives 2/step (50).
* wqmix     [[8, -12, -12], [-12, 0, 0], [-12, 0, 0]] (Rashid et al. 2020, Weighted QMIX): optimum 8;
  QMIX's and VDN's monotone fits both miss it.

Observation (float32, both agents the same, fully observed): two-step: one-hot of the state
(1, 2A, 2B), shape (3,); repeated games: ``[1, t / episode_limit]``, shape (2,).
State: the observation followed by the normalised step count, shape (4,) / (3,).

Reward: shared. Every agent's reward entry is the team payoff of the joint action
(``metadata["team_reward"] == "shared"``).

Termination/truncation: the two-step game terminates after its second step. A repeated game's
fixed length is part of the game, not a time limit, so its last step is a termination too (no
bootstrap past the end of the game). Nothing here truncates.

``infos[agent]["success"]`` on the last step: the team's episode return equals the game's optimum.

Version history: v0, initial release.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

PAYOFFS: dict[str, np.ndarray] = {
    "climbing": np.array([[11, -30, 0], [-30, 7, 0], [0, 6, 5]], dtype=np.float64),
    "penalty": np.array([[-1, 0, 10], [0, 2, 0], [10, 0, -1]], dtype=np.float64),  # -1 scaled by k
    "wqmix": np.array([[8, -12, -12], [-12, 0, 0], [-12, 0, 0]], dtype=np.float64),
}
TWO_STEP_2B = np.array([[0.0, 1.0], [1.0, 8.0]])
TWO_STEP_2A_PAYOFF = 7.0


class _TwoAgentGame(ParallelEnv):
    """Shared plumbing: agents, cached spaces, seeding, state."""

    possible_agents = ["agent_0", "agent_1"]

    def __init__(self, obs_dim: int, n_actions: int, render_mode: str | None) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode {render_mode!r} is not supported; valid: None, 'ansi'")
        self.render_mode = render_mode
        obs_space = spaces.Box(0.0, 1.0, (obs_dim,), np.float32)
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {a: spaces.Discrete(n_actions) for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, 1.0, (obs_dim + 1,), np.float32)
        self.agents: list[str] = []
        self._obs = np.zeros(obs_dim, np.float32)
        self._t = 0

    @property
    def max_steps(self) -> int:
        """Episode length (read by qmixbench's adapter to size its replay buffer)."""
        return self._length

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_spaces[agent]

    def state(self) -> np.ndarray:
        return np.append(self._obs, np.float32(self._t / self._length)).astype(np.float32)

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self._obs.copy() for a in self.agents}

    def _finish_step(self, reward: float, done: bool, info: dict[str, Any]):
        agents = list(self.agents)
        rewards = {a: float(reward) for a in agents}
        terminations = {a: done for a in agents}
        truncations = {a: False for a in agents}
        infos = {a: dict(info) for a in agents}
        obs = {a: self._obs.copy() for a in agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _joint(self, actions: dict[str, Any]) -> tuple[int, int]:
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"step() needs an action for every live agent; missing {missing}")
        return int(actions["agent_0"]), int(actions["agent_1"])

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return f"t={self._t} obs={self._obs.tolist()}"


class TwoStepEnv(_TwoAgentGame):
    """The QMIX paper's two-step game; see the module docstring."""

    metadata = {"name": "two_step_v0", "render_modes": ["ansi"], "is_parallelizable": True, "team_reward": "shared"}
    _length = 2
    optimum = 8.0

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(obs_dim=3, n_actions=2, render_mode=render_mode)

    def reset(self, seed: int | None = None, options: dict | None = None):
        # Deterministic game: the seed is accepted for API compatibility and has nothing to drive.
        self.agents = list(self.possible_agents)
        self._t = 0
        self._obs = np.array([1, 0, 0], np.float32)
        self._branch = -1
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        a0, a1 = self._joint(actions)
        self._t += 1
        if self._t == 1:
            self._branch = a0
            self._obs = np.array([0, 1, 0] if a0 == 0 else [0, 0, 1], np.float32)
            return self._finish_step(0.0, False, {})
        reward = TWO_STEP_2A_PAYOFF if self._branch == 0 else float(TWO_STEP_2B[a0, a1])
        return self._finish_step(reward, True, {"success": reward == self.optimum})


class MatrixGameEnv(_TwoAgentGame):
    """A payoff matrix repeated ``episode_limit`` times; see the module docstring."""

    metadata = {"name": "matrix_game_v0", "render_modes": ["ansi"], "is_parallelizable": True, "team_reward": "shared"}

    def __init__(
        self,
        game: str = "climbing",
        k: float = 100.0,
        episode_limit: int = 25,
        payoff: np.ndarray | list | None = None,
        render_mode: str | None = None,
    ) -> None:
        if payoff is not None:
            matrix = np.asarray(payoff, dtype=np.float64)
        elif game in PAYOFFS:
            matrix = PAYOFFS[game] * (np.where(PAYOFFS[game] < 0, k, 1.0) if game == "penalty" else 1.0)
        else:
            raise ValueError(f"unknown matrix game {game!r}; valid: {', '.join(PAYOFFS)} (or pass payoff=)")
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"payoff must be a square 2-D matrix, got shape {matrix.shape}")
        if episode_limit < 1:
            raise ValueError(f"episode_limit must be >= 1, got {episode_limit}")
        super().__init__(obs_dim=2, n_actions=matrix.shape[0], render_mode=render_mode)
        self.payoff = matrix
        self._length = episode_limit
        self.optimum = float(matrix.max()) * episode_limit
        self._return = 0.0

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = list(self.possible_agents)
        self._t = 0
        self._return = 0.0
        self._obs = np.array([1.0, 0.0], np.float32)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        a0, a1 = self._joint(actions)
        reward = float(self.payoff[a0, a1])
        self._t += 1
        self._return += reward
        self._obs = np.array([1.0, self._t / self._length], np.float32)
        done = self._t >= self._length
        info = {"success": self._return == self.optimum} if done else {}
        return self._finish_step(reward, done, info)

"""SISL pursuit (``pettingzoo.sisl`` pursuit_v5) as a native PettingZoo ParallelEnv.

Needs ``pip install 'qmixbench[sisl]'`` (pursuit imports scipy and pygame).

Registered id ``sisl/pursuit-v5`` (PettingZoo's defaults): 8 pursuers chase 30 randomly moving evaders
on a 16x16 grid with an obstacle. Actions ``Discrete(5)`` (moves and stay). Each pursuer observes a
7x7x3 egocentric window (walls, pursuer counts, evader counts), float32 in [0, 30]. An evader is
removed when surrounded on all four sides; pursuers get 5 per catch (with ``n_catch`` of them
around it), 0.01 for touching an evader and -0.1 a step (``urgency_reward``). ``shared_reward=True``
(the default): every pursuer gets the mean of the pursuers' rewards, so the team reward is
**shared**. State: the whole map with the same three channels, (16, 16, 3).

Terminated when every evader is caught; truncated at ``max_cycles`` (500) steps.
``infos[agent]["success"]`` on the last step: every evader was caught.

:class:`PursuitParallelEnv` drives PettingZoo's own game object (``pursuit_base.Pursuit``) the way
the AEC env does, one pursuer move after another with the evaders moving after the last, and its
rewards equal ``pursuit_v5.parallel_env()``'s: the sum, over the pursuers' sub-steps, of the game's
reward vector after each one (tested step for step), and so do its end flags: the last allowed step
is a truncation even when the last evader is caught on it, as upstream.

Version history: the id follows PettingZoo's pursuit_v5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qmixbench_envs.external import import_optional


class PursuitParallelEnv(ParallelEnv):
    """PettingZoo's pursuit game stepped once per joint action. Keyword arguments are pursuit's own."""

    metadata = {
        "name": "pursuit_v5",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 5,
        "is_parallelizable": True,
        "team_reward": "shared",
    }

    def __init__(self, **kwargs: Any) -> None:
        base = import_optional("pettingzoo.sisl.pursuit.pursuit_base", extra="sisl", package="pettingzoo[sisl]")
        self._game = base.Pursuit(**kwargs)
        if not self._game.shared_reward:
            self.metadata = {**self.metadata, "team_reward": "sum"}
        self.render_mode = kwargs.get("render_mode")
        self.possible_agents = [f"pursuer_{i}" for i in range(self._game.num_agents)]
        self.agents: list[str] = []
        self._obs_spaces = dict(zip(self.possible_agents, self._game.observation_space))
        self._act_spaces = dict(zip(self.possible_agents, self._game.action_space))
        self.state_space: spaces.Box = self._game.state_space

    @property
    def max_cycles(self) -> int:
        """Episode length in steps (PettingZoo's ``parallel_api_test`` sets it)."""
        return int(self._game.max_cycles)

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        self._game.max_cycles = value

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def _observe(self, i: int) -> np.ndarray:
        return np.swapaxes(self._game.safely_observe(i), 2, 0)  # as pursuit's AEC observe()

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self._game._seed(seed=seed)
        self._game.reset()
        self.agents = list(self.possible_agents)
        obs = {agent: self._observe(i) for i, agent in enumerate(self.possible_agents)}
        return obs, {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        game = self._game
        n = len(self.possible_agents)
        rewards = np.zeros(n)
        for i, agent in enumerate(self.possible_agents):
            action = actions[agent]
            if not self._act_spaces[agent].contains(action):
                raise ValueError(f"action {action!r} of {agent} is outside {self._act_spaces[agent]}")
            game.step(int(action), i, i == n - 1)
            rewards += game.latest_reward_state
        # Upstream's rule: the last allowed step is a truncation even when every evader was just caught.
        caught = bool(game.is_terminal)
        truncated = game.frames >= game.max_cycles
        terminated = caught and not truncated
        agents = self.agents
        obs = {agent: self._observe(i) for i, agent in enumerate(agents)}
        reward_dict = {agent: float(rewards[i]) for i, agent in enumerate(agents)}
        infos: dict[str, dict[str, Any]] = {agent: {} for agent in agents}
        if terminated or truncated:
            self.agents = []
            for info in infos.values():
                info["success"] = caught
        return obs, reward_dict, dict.fromkeys(agents, terminated), dict.fromkeys(agents, truncated), infos

    def state(self) -> np.ndarray:
        return self._game.state()

    def render(self) -> Any:
        return self._game.render()

    def close(self) -> None:
        self._game.close()


def pursuit(**kwargs: Any) -> PursuitParallelEnv:
    """Build sisl pursuit with PettingZoo's defaults; keyword arguments are pursuit_v5's."""
    return PursuitParallelEnv(**kwargs)

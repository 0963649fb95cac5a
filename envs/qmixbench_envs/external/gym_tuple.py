"""Multi-agent gymnasium envs with Tuple spaces and list rewards (lbforaging, rware) as ParallelEnvs.

Such an env takes a list of actions, one per agent, and returns a tuple of observations, a list of
rewards and one ``terminated`` flag for the team. :class:`TupleGymParallelEnv` names the agents
``agent_0`` ... ``agent_{N-1}`` in tuple order and lets a subclass say what an episode end means
(:meth:`TupleGymParallelEnv.end_kind`): both packages report their time limit as a termination.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


class TupleGymParallelEnv(ParallelEnv):
    """A gymnasium env with ``Tuple`` observation and action spaces, as a ParallelEnv.

    Args:
        env: the multi-agent gymnasium env (built directly, not through ``gymnasium.make``, so no
            ``TimeLimit`` or checker wrapper sits in between).
        name: ``metadata["name"]``.
        team_reward: ``"shared"`` if every agent's reward is the team reward, else ``"sum"``.
    """

    def __init__(self, env: gymnasium.Env, name: str, team_reward: str) -> None:
        if not isinstance(env.observation_space, spaces.Tuple) or not isinstance(env.action_space, spaces.Tuple):
            raise TypeError(f"{name}: expected Tuple observation and action spaces, got {env.observation_space}")
        self._gym: Any = env  # attributes differ per package (field, grid_size, ...)
        self.metadata = {
            "name": name,
            "render_modes": list(getattr(env, "metadata", {}).get("render_modes", [])),
            "is_parallelizable": True,
            "team_reward": team_reward,
        }
        self.render_mode = getattr(env, "render_mode", None)
        self.possible_agents = [f"agent_{i}" for i in range(len(env.action_space.spaces))]
        self.agents: list[str] = []
        self._obs_spaces: dict[str, Any] = dict(zip(self.possible_agents, env.observation_space.spaces))
        self._act_spaces = dict(zip(self.possible_agents, env.action_space.spaces))
        self._last_obs: tuple[np.ndarray, ...] = ()

    @property
    def unwrapped_gym(self) -> gymnasium.Env:
        """The wrapped gymnasium env."""
        return self._gym

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def end_kind(self, done: bool, truncated: bool) -> tuple[bool, bool]:
        """Return (terminated, truncated) for the step just taken; ``done`` is the env's ``terminated``."""
        return done, truncated

    def infos(self) -> dict[str, dict[str, Any]]:
        """Per-agent info dicts for the current step (e.g. action masks)."""
        return {agent: {} for agent in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, _ = self._gym.reset(seed=seed, options=options)
        self._last_obs = tuple(obs)
        self.agents = list(self.possible_agents)
        return dict(zip(self.possible_agents, obs)), self.infos()

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        action_list = []
        for agent in self.possible_agents:
            action = actions[agent]
            if not self._act_spaces[agent].contains(action):
                raise ValueError(f"action {action!r} of {agent} is outside {self._act_spaces[agent]}")
            action_list.append(int(action))
        obs, rewards, done, truncated, _ = self._gym.step(action_list)  # obs: tuple, rewards: list
        self._last_obs = tuple(obs)
        terminated, truncated = self.end_kind(bool(done), bool(truncated))
        agents = self.agents
        infos = self.infos()
        if terminated or truncated:
            self.agents = []
        return (
            dict(zip(agents, obs)),
            {agent: float(r) for agent, r in zip(agents, rewards)},
            dict.fromkeys(agents, terminated),
            dict.fromkeys(agents, truncated),
            infos,
        )

    def render(self) -> Any:
        return self._gym.render()

    def close(self) -> None:
        self._gym.close()


def concat_box(boxes: list[spaces.Box]) -> spaces.Box:
    """One flat Box holding every agent's observation (the state of envs that have no global view)."""
    low = np.concatenate([np.asarray(b.low, np.float32).reshape(-1) for b in boxes])
    high = np.concatenate([np.asarray(b.high, np.float32).reshape(-1) for b in boxes])
    return spaces.Box(low, high, dtype=np.float32)

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
  truncated (a time limit), the episode is *truncated* and the learner bootstraps from the last state.
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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

log = logging.getLogger(__name__)


class EnvCompatibilityError(ValueError):
    """The env cannot be run by qmixbench; the message says why and what would fix it."""


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


def _needs_padding(env: ParallelEnv) -> tuple[bool, bool]:
    agents = env.possible_agents
    obs = [_obs_array(env.observation_space(a)) for a in agents]
    act = [env.action_space(a) for a in agents]
    return any(o.shape != obs[0].shape for o in obs), any(a.n != act[0].n for a in act)  # type: ignore[attr-defined]


class ParallelEnvAdapter:
    """Steps one PettingZoo ``ParallelEnv`` with arrays; see the module docstring for the rules."""

    def __init__(self, env: ParallelEnv, env_id: str = "", team_reward: str = "auto") -> None:
        if team_reward not in ("auto", "shared", "sum"):
            raise ValueError(f"team_reward must be 'auto', 'shared' or 'sum', got {team_reward!r}")
        self._check_action_spaces(env, env_id)
        self._own_actions = {a: env.action_space(a).n for a in env.possible_agents}  # type: ignore[attr-defined]
        pad_obs, pad_act = _needs_padding(env)
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
        declared = (getattr(env, "metadata", None) or {}).get("team_reward", "sum")
        self.team_reward = declared if team_reward == "auto" else team_reward
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

    @staticmethod
    def _check_action_spaces(env: ParallelEnv, env_id: str) -> None:
        for agent in env.possible_agents:
            space = env.action_space(agent)
            if not isinstance(space, spaces.Discrete):
                raise EnvCompatibilityError(
                    f"{env_id or type(env).__name__}: agent {agent!r} has action space {space}; QMIX, VDN "
                    "and IQL need Discrete action spaces (for MPE pass continuous_actions=False)"
                )
            if int(space.start) != 0:
                raise EnvCompatibilityError(f"{env_id}: agent {agent!r} has Discrete(start={space.start}); need start=0")

    def _probe_state(self, env: ParallelEnv, obs_dim: int) -> tuple[str, int]:
        state_space = getattr(env, "state_space", None)
        if state_space is not None and type(env).state is not ParallelEnv.state:
            return "env", int(np.prod(state_space.shape))
        log.warning(
            "%s has no state(); the mixer's global state is the concatenation of all agents' observations",
            getattr(env, "metadata", {}).get("name", type(env).__name__),
        )
        return "concat_obs", obs_dim * len(self.agents)

    # -- arrays ---------------------------------------------------------------------------------

    def _arrays(self, obs: dict[str, Any], infos: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, o = len(self.agents), self.info.obs_dim
        obs_arr = np.zeros((n, o), np.float32)  # (N, O)
        avail = self._pad_mask.copy()  # (N, A)
        for i, agent in enumerate(self.agents):
            if agent not in obs:  # finished on an earlier step: nothing to observe
                avail[i] = True
                continue
            value = obs[agent]
            mask = None
            if isinstance(value, dict):
                mask = value.get("action_mask")
                value = value["observation"]
            mask = infos.get(agent, {}).get("action_mask", mask)
            obs_arr[i] = np.asarray(value, np.float32).reshape(-1)
            if mask is not None:
                avail[i, : len(mask)] &= np.asarray(mask, bool)
                if not avail[i].any():
                    raise EnvCompatibilityError(f"agent {agent!r} has an action mask with no available action")
        if self.info.state_source == "env":
            state = np.asarray(self.env.state(), np.float32).reshape(-1)  # (S,)
        else:
            state = obs_arr.reshape(-1).copy()
        return obs_arr, state, avail

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reset; return obs (N, O) float32, state (S,) float32, avail (N, A) bool."""
        obs, infos = self.env.reset(seed=seed)
        self._alive = np.array([a in self.env.agents for a in self.agents], bool)
        return self._arrays(obs, infos)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool, bool, dict[str, Any]]:
        """Step with actions (N,) int; return obs, state, avail, team reward, terminated, truncated, info.

        ``info`` has ``alive`` (N,) bool for the next step and, at the end, ``success`` when the env
        reported one.
        """
        live = [a for a in self.agents if a in self.env.agents]
        action_dict = {a: int(actions[self.agents.index(a)]) for a in live}
        obs, rewards, terms, truncs, infos = self.env.step(action_dict)
        got = [float(rewards[a]) for a in live if a in rewards]
        if self.team_reward == "shared":
            reward = float(np.mean(got)) if got else 0.0
        else:
            reward = float(np.sum(got))
        finished = [a for a in live if terms.get(a, False) or truncs.get(a, False)]
        self._alive = np.array([a in self.env.agents and a not in finished for a in self.agents], bool)
        done = not self._alive.any()
        truncated = done and any(truncs.get(a, False) for a in finished)
        terminated = done and not truncated
        info: dict[str, Any] = {"alive": self._alive.copy()}
        successes = [infos[a]["success"] for a in live if "success" in infos.get(a, {})]
        if successes:
            info["success"] = bool(any(successes))
        obs_arr, state, avail = self._arrays(obs, infos)
        return obs_arr, state, avail, reward, terminated, truncated, info

    def close(self) -> None:
        self.env.close()


def build_env(env: str, env_kwargs: dict[str, Any] | None = None) -> ParallelEnv:
    """Build a ParallelEnv from a registered id (or family name)."""
    import qmixbench_envs

    return qmixbench_envs.make(env, **(env_kwargs or {}))


def make_adapter(env: str, env_kwargs: dict[str, Any] | None = None, team_reward: str = "auto") -> ParallelEnvAdapter:
    """Build the env named ``env`` and wrap it in a :class:`ParallelEnvAdapter`."""
    return ParallelEnvAdapter(build_env(env, env_kwargs), env_id=env, team_reward=team_reward)

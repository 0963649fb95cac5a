"""Level-Based Foraging (``lbforaging`` 2.0) as a PettingZoo ParallelEnv. Needs ``pip install 'qmixbench[lbf]'``.

Agents with levels collect food items on a grid; a food item is collected when the agents loading it
from adjacent cells have levels summing to at least its level. ``force_coop`` ("-coop" ids) gives every
food the sum of all agents' levels, so it takes all agents together.

* Agents: ``agent_0`` ... in lbforaging's player order. Actions ``Discrete(6)``: none, north, south,
  west, east, load. Invalid actions become "none" (lbforaging's rule); ``action_masks=True`` also
  reports lbforaging's valid actions as ``infos[agent]["action_mask"]`` (off by default, as in
  lbforaging and EPyMARL).
* Observation: lbforaging's vector, float32, (3 * food + 3 * players,): (row, col, level) of each
  food then of each player, the observer first; (-1, -1, 0) for food that is gone or out of ``sight``.
* State: every agent's observation concatenated (lbforaging has no global state).
* Reward: individual: a collecting agent gets ``level * food_level`` normalised so that the episode's
  total over all agents is 1 when all food is collected. Team reward = the **sum** (``team_reward:
  "sum"``); a team return of 1 means all food collected.
* Terminated when all food is collected (``env.field.sum() == 0`` after the step). lbforaging also
  ends the episode at ``max_episode_steps`` (50) but reports that as ``terminated``, not ``truncated``;
  this wrapper reports an end with food left as a **truncation**.
* ``infos[agent]["success"]`` on the last step: all food collected.

Registered ids (lbforaging's v3 ids, fully observed, 50 steps): ``lbf/8x8-2p-2f-coop-v3``,
``lbf/8x8-2p-3f-v3``, ``lbf/10x10-3p-3f-v3``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qmixbench_envs.external import import_optional
from qmixbench_envs.external.gym_tuple import TupleGymParallelEnv, concat_box


class LBFParallelEnv(TupleGymParallelEnv):
    """lbforaging's ``ForagingEnv`` with truncation at the time limit and concatenated observations as state."""

    def __init__(self, env: Any, name: str, action_masks: bool = False) -> None:
        super().__init__(env, name=name, team_reward="sum")
        self._action_masks = action_masks
        self.state_space = concat_box([self._obs_spaces[a] for a in self.possible_agents])
        self.max_steps = int(env._max_episode_steps)

    def end_kind(self, done: bool, truncated: bool) -> tuple[bool, bool]:
        all_food_collected = int(self._gym.field.sum()) == 0
        return done and all_food_collected, (done and not all_food_collected) or truncated

    def infos(self) -> dict[str, dict[str, Any]]:
        env = self._gym
        out: dict[str, dict[str, Any]] = {agent: {} for agent in self.agents}
        if self._action_masks:
            for agent, player in zip(self.possible_agents, env.players):
                mask = np.zeros(6, np.int8)
                mask[[action.value for action in env._valid_actions[player]]] = 1
                out[agent]["action_mask"] = mask
        if env.game_over:
            for info in out.values():
                info["success"] = int(env.field.sum()) == 0
        return out

    def state(self) -> np.ndarray:
        return np.concatenate([np.asarray(o, np.float32).reshape(-1) for o in self._last_obs])


def foraging(
    players: int = 2,
    field_size: int = 8,
    max_num_food: int = 2,
    coop: bool = False,
    sight: int | None = None,
    max_episode_steps: int = 50,
    min_player_level: int = 1,
    max_player_level: int = 2,
    min_food_level: int = 1,
    max_food_level: int | None = None,
    penalty: float = 0.0,
    normalize_reward: bool = True,
    action_masks: bool = False,
    render_mode: str | None = None,
) -> LBFParallelEnv:
    """Build LBF with the arguments of lbforaging's registered ids (``sight=None`` = the whole field).

    ``Foraging-8x8-2p-2f-coop-v3`` is ``foraging(players=2, field_size=8, max_num_food=2, coop=True)``.
    """
    module = import_optional("lbforaging.foraging.environment", extra="lbf", package="lbforaging")
    env = module.ForagingEnv(
        players=players,
        min_player_level=min_player_level,
        max_player_level=max_player_level,
        min_food_level=min_food_level,
        max_food_level=max_food_level,
        field_size=(field_size, field_size),
        max_num_food=max_num_food,
        sight=field_size if sight is None else sight,
        max_episode_steps=max_episode_steps,
        force_coop=coop,
        normalize_reward=normalize_reward,
        grid_observation=False,
        penalty=penalty,
        render_mode=render_mode,
    )
    name = f"lbf-{field_size}x{field_size}-{players}p-{max_num_food}f{'-coop' if coop else ''}"
    return LBFParallelEnv(env, name=name, action_masks=action_masks)

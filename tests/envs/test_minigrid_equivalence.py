"""A single agent's view equals minigrid's ``gen_obs()["image"]`` cell for cell, and teammates show up."""

from __future__ import annotations

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest

from qmixbench_envs.multigrid.base import MultiGridEnv
from qmixbench_envs.multigrid.core import CODE_SCALE, MaskBank

MINIGRID_IDS = [
    "MiniGrid-Empty-8x8-v0",
    "MiniGrid-DoorKey-8x8-v0",
    "MiniGrid-FourRooms-v0",
    "MiniGrid-BlockedUnlockPickup-v0",
]


class MirrorEnv(MultiGridEnv):
    """One agent in a copy of a minigrid env's current grid; never ends by itself."""

    def __init__(self, source, see_through_walls: bool) -> None:
        self.source = source
        super().__init__(source.width, source.height, n_agents=1, max_steps=10**9, see_through_walls=see_through_walls)

    def _gen_grid(self) -> None:
        self.grid = self.source.grid.copy()
        self.agent_pos[0] = tuple(int(v) for v in self.source.agent_pos)
        self.agent_dir[0] = int(self.source.agent_dir)

    def _outcome(self):
        return 0.0, False, False


# Occlusion masks are cached (MaskBank); a tiny cache, which starts over every few steps, is checked too.
@pytest.mark.parametrize(("see_through_walls", "mask_bank_capacity"), [(True, None), (False, None), (False, 3)])
@pytest.mark.parametrize("env_id", MINIGRID_IDS)
def test_single_agent_view_matches_minigrid(env_id: str, see_through_walls: bool, mask_bank_capacity) -> None:
    ref = gym.make(env_id).unwrapped
    ref.see_through_walls = see_through_walls
    rng = np.random.default_rng(0)
    ref_obs, _ = ref.reset(seed=0)
    mirror = MirrorEnv(ref, see_through_walls)
    if mask_bank_capacity is not None:
        mirror._mask_bank = MaskBank(mask_bank_capacity)
    obs, _ = mirror.reset()
    directions, unseen = set(), 0
    for t in range(1500):
        np.testing.assert_array_equal(obs["agent_0"], ref_obs["image"], err_msg=f"{env_id} step {t}")
        assert mirror.agent_pos[0] == tuple(ref.agent_pos) and mirror.agent_dir[0] == ref.agent_dir
        directions.add(ref.agent_dir)
        unseen += int((ref_obs["image"][..., 0] == 0).any())
        action = int(rng.integers(7))
        ref_obs, _, terminated, truncated, _ = ref.step(action)
        obs = mirror.step({"agent_0": action})[0]
        if terminated or truncated:
            ref_obs, _ = ref.reset(seed=int(rng.integers(2**31)))
            obs, _ = mirror.reset()
    assert directions == {0, 1, 2, 3}
    assert (unseen > 0) == (not see_through_walls)  # occlusion was exercised exactly when it applies


class TwoAgentRoom(MultiGridEnv):
    """agent_0 at (2, 2) facing right, agent_1 right in front of it facing down."""

    def __init__(self) -> None:
        super().__init__(6, 6, n_agents=2, max_steps=10)

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, 6, 6)
        self.agent_pos[:] = [(2, 2), (3, 2)]
        self.agent_dir[:] = [0, 1]


def test_teammate_appears_as_agent_with_colour_and_direction() -> None:
    env = TwoAgentRoom()
    obs, _ = env.reset(seed=0)
    # The cell ahead of an agent is view cell (3, 5); its own cell (3, 6) shows what it carries (nothing).
    assert tuple(obs["agent_0"][3, 5]) == (10, 2, 1)  # agent, blue, facing down
    assert tuple(obs["agent_0"][3, 6]) == (1, 0, 0)
    # agent_1 faces down, so agent_0 (west of it) is on its right-hand side: view cell (4, 6).
    assert tuple(obs["agent_1"][4, 6]) == (10, 0, 0)  # agent, red, facing right
    state = env.state()  # grid codes scaled to [0, 1], then x, y, dir and carried code per agent
    np.testing.assert_allclose(state[(2 * 6 + 2) * 3 : (2 * 6 + 2) * 3 + 3] * CODE_SCALE, [10, 0, 0])
    np.testing.assert_allclose(state[-12:-6], [2 / 5, 2 / 5, 0, 1 / 10, 0, 0])
    assert state.dtype == np.float32 and env.state_space.contains(state)

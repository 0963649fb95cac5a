"""The multigrid rules on hand-made layouts: move conflicts, the tasks' win and loss conditions, rendering."""

from __future__ import annotations

import numpy as np
import pytest
from minigrid.core.world_object import Ball, Box, Door, Floor, Key

from qmixbench_envs import ENV_SPECS, make
from qmixbench_envs.multigrid import (
    CollectEnv,
    EmptyEnv,
    HeavyBoxEnv,
    KeyDoorEnv,
    MultiGridEnv,
    RedBlueDoorsEnv,
    TwoStepVaultEnv,
)
from qmixbench_envs.multigrid.base import DONE, DROP, FORWARD, LEFT, PICKUP, RIGHT, TOGGLE
from qmixbench_envs.multigrid.core import CODE_SCALE
from qmixbench_envs.multigrid.tasks.heavy_box import HeavyBox

MULTIGRID_IDS = sorted(i for i in ENV_SPECS if i.startswith("multigrid/"))


class Room(MultiGridEnv):
    """A walled 7x7 room with agents exactly where a test puts them."""

    def __init__(self, placements: list[tuple[tuple[int, int], int]], **kwargs) -> None:
        self.placements = placements
        super().__init__(7, 7, n_agents=len(placements), max_steps=kwargs.pop("max_steps", 50), **kwargs)

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, 7, 7)
        for i, (pos, d) in enumerate(self.placements):
            self.agent_pos[i], self.agent_dir[i] = pos, d


def _outcomes(make_env, actions: dict[str, int], seeds=range(200)) -> list:
    results = []
    for seed in seeds:
        env = make_env()
        env.reset(seed=seed)
        env.step(actions)
        results.append(tuple(env.agent_pos))
    return results


def test_two_agents_moving_into_one_cell_one_wins_by_seeded_random_priority() -> None:
    def make_env():
        return Room([((1, 3), 0), ((3, 3), 2)])  # both face (2, 3)

    outcomes = _outcomes(make_env, {"agent_0": FORWARD, "agent_1": FORWARD})
    assert set(outcomes) == {((2, 3), (3, 3)), ((1, 3), (2, 3))}  # exactly one moves, never both
    assert 0.35 < outcomes.count(((2, 3), (3, 3))) / len(outcomes) < 0.65  # each wins about half the time
    assert outcomes == _outcomes(make_env, {"agent_0": FORWARD, "agent_1": FORWARD})  # a function of the seed


def test_agents_facing_each_other_cannot_swap_and_a_follower_depends_on_the_order() -> None:
    facing = _outcomes(lambda: Room([((2, 3), 0), ((3, 3), 2)]), {"agent_0": FORWARD, "agent_1": FORWARD}, range(20))
    assert set(facing) == {((2, 3), (3, 3))}
    follow = _outcomes(lambda: Room([((2, 3), 0), ((3, 3), 0)]), {"agent_0": FORWARD, "agent_1": FORWARD}, range(50))
    assert set(follow) == {((3, 3), (4, 3)), ((2, 3), (4, 3))}  # the follower moves only if the leader went first


def test_two_agents_picking_up_one_ball_one_gets_it() -> None:
    winners = set()
    for seed in range(40):
        env = Room([((2, 3), 0), ((4, 3), 2)])
        env.reset(seed=seed)
        env._set_cell(3, 3, Ball("blue"))
        env.step({"agent_0": PICKUP, "agent_1": PICKUP})
        carried = [c is not None for c in env.carrying]
        assert sum(carried) == 1 and env.grid.get(3, 3) is None
        last_agent_carries = env.state()[-3:] * CODE_SCALE
        assert np.allclose(last_agent_carries, [6, 2, 0]) or np.allclose(last_agent_carries, [1, 0, 0])
        winners.add(carried.index(True))
    assert winners == {0, 1}


def test_truncation_at_step_limit_is_not_termination() -> None:
    env = EmptyEnv(size=8, n_agents=2, max_steps=3)
    env.reset(seed=0)
    for _ in range(3):
        _, rewards, terms, truncs, infos = env.step({a: LEFT for a in env.agents})
    assert truncs == {"agent_0": True, "agent_1": True} and terms == {"agent_0": False, "agent_1": False}
    assert infos["agent_0"] == {"success": False} and rewards["agent_0"] == 0.0
    assert env.agents == []


def test_empty_room_goal_terminates_with_minigrid_reward() -> None:
    env = EmptyEnv(size=5, n_agents=2, max_steps=20)
    env.reset(seed=0)
    env.agent_pos[:] = [(3, 2), (1, 1)]
    env.agent_dir[:] = [1, 0]
    _, rewards, terms, truncs, infos = env.step({"agent_0": FORWARD, "agent_1": DONE})
    assert terms["agent_1"] and not truncs["agent_1"] and infos["agent_1"]["success"] is True
    assert rewards == {"agent_0": pytest.approx(1 - 0.9 / 20), "agent_1": pytest.approx(1 - 0.9 / 20)}


class FixedBox(HeavyBoxEnv):
    def __init__(self, placements, **kwargs) -> None:
        self.placements = placements
        super().__init__(size=7, n_agents=len(placements), **kwargs)

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, 7, 7)
        self.box_pos, self.target_pos = (3, 3), (5, 3)
        self._put_obj(HeavyBox("purple"), 3, 3)
        self._put_obj(Floor("green"), 5, 3)
        for i, (pos, d) in enumerate(self.placements):
            self.agent_pos[i], self.agent_dir[i] = pos, d


def test_heavy_box_moves_only_when_two_agents_push_together() -> None:
    env = FixedBox([((2, 3), 0), ((1, 3), 0)])
    env.reset(seed=0)
    for alone in ({"agent_0": FORWARD, "agent_1": DONE}, {"agent_0": DONE, "agent_1": FORWARD}):
        env.step(alone)
        assert env.box_pos == (3, 3) and env.agent_pos == [(2, 3), (1, 3)]
    env.step({"agent_0": PICKUP, "agent_1": DONE})
    env.step({"agent_0": TOGGLE, "agent_1": DONE})
    assert env.carrying[0] is None and isinstance(env.grid.get(3, 3), Box)
    _, rewards, terms, _, _ = env.step({"agent_0": FORWARD, "agent_1": FORWARD})
    assert env.box_pos == (4, 3) and env.agent_pos == [(3, 3), (2, 3)] and not terms["agent_0"]
    _, rewards, terms, truncs, infos = env.step({"agent_0": FORWARD, "agent_1": FORWARD})
    assert env.box_pos == (5, 3) and terms["agent_0"] and not truncs["agent_0"] and infos["agent_0"]["success"]
    assert rewards["agent_0"] == pytest.approx(1 - 0.9 * 6 / env.max_steps)
    box_code = env.state()[(5 * 7 + 3) * 3 : (5 * 7 + 3) * 3 + 3] * CODE_SCALE
    np.testing.assert_allclose(box_code, [7, 3, 0])  # the box, on the target


def test_heavy_box_opposing_pushes_cancel() -> None:
    env = FixedBox([((2, 3), 0), ((1, 3), 0), ((4, 3), 2), ((5, 3), 2)])
    env.reset(seed=0)
    env.step(dict.fromkeys(env.agents, FORWARD))
    assert env.box_pos == (3, 3) and env.agent_pos == [(2, 3), (1, 3), (4, 3), (5, 3)]


class FixedDoors(RedBlueDoorsEnv):
    """agent_0 faces the red door at (3, 2), agent_1 the blue door at (8, 2)."""

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, 12, 6)
        self.grid.wall_rect(3, 0, 6, 6)
        self.red_door, self.blue_door = Door("red"), Door("blue")
        self._put_obj(self.red_door, 3, 2)
        self._put_obj(self.blue_door, 8, 2)
        self.agent_pos[:] = [(4, 2), (7, 2)]
        self.agent_dir[:] = [2, 0]
        self._blue_opened_after_red = None


def test_red_blue_doors_order() -> None:
    env = FixedDoors(size=6)
    env.reset(seed=0)
    _, rewards, terms, _, infos = env.step({"agent_0": DONE, "agent_1": TOGGLE})
    assert terms["agent_0"] and infos["agent_0"]["success"] is False and rewards["agent_0"] == 0.0
    env.reset(seed=0)
    _, _, terms, _, _ = env.step({"agent_0": TOGGLE, "agent_1": DONE})
    assert not terms["agent_0"] and env.red_door.is_open
    _, rewards, terms, _, infos = env.step({"agent_0": DONE, "agent_1": TOGGLE})
    assert terms["agent_0"] and infos["agent_0"]["success"] is True and rewards["agent_0"] > 0
    same_step = set()
    for seed in range(30):  # both on one step: it depends on who acts first in the step's order
        env.reset(seed=seed)
        same_step.add(env.step({"agent_0": TOGGLE, "agent_1": TOGGLE})[4]["agent_0"]["success"])
    assert same_step == {True, False}


class FixedKeyDoor(KeyDoorEnv):
    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, 6, 6)
        self.split = 3
        self.grid.vert_wall(3, 0)
        self.door = Door("yellow", is_locked=True)
        self._put_obj(self.door, 3, 2)
        self._put_obj(Key("yellow"), 1, 1)
        self.agent_pos[:] = [(2, 2), (1, 2)]
        self.agent_dir[:] = [0, 3]


def test_key_door_needs_the_key_and_everyone_through() -> None:
    env = FixedKeyDoor(size=6, n_agents=2)
    env.reset(seed=0)
    obs, *_ = env.step({"agent_0": TOGGLE, "agent_1": PICKUP})  # whatever the order, agent_0 has no key
    assert env.door.is_locked and tuple(obs["agent_1"][3, 6]) == (5, 4, 0)  # the key shows in its own cell
    env.agent_pos[:] = [(1, 2), (2, 2)]  # hand the doorway to the key holder
    env.agent_dir[:] = [0, 0]
    env.step({"agent_0": DONE, "agent_1": TOGGLE})
    assert env.door.is_open and not env.door.is_locked
    for action in (FORWARD, FORWARD, RIGHT, FORWARD):  # agent_1 goes through and out of the way
        _, _, terms, _, _ = env.step({"agent_0": DONE, "agent_1": action})
    assert env.agent_pos[1] == (4, 3) and not terms["agent_0"]
    for _ in range(3):
        _, rewards, terms, truncs, infos = env.step({"agent_0": FORWARD, "agent_1": DONE})
    assert env.agent_pos[0] == (4, 2) and terms["agent_0"] and not truncs["agent_0"]
    assert infos["agent_0"]["success"] is True and rewards["agent_0"] == pytest.approx(1 - 0.9 * 9 / env.max_steps)


class FixedCollect(CollectEnv):
    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, self.width, self.height)
        self._put_obj(Ball("blue"), 3, 3)
        self._put_obj(Ball("blue"), 1, 1)
        self.agent_pos[:] = [(2, 3), (1, 2)]
        self.agent_dir[:] = [0, 3]
        self._left, self._collected_now = 2, 0


def test_collect_rewards_each_ball_and_ends_when_all_are_gathered() -> None:
    env = FixedCollect(size=6, n_agents=2, n_balls=2)
    env.reset(seed=0)
    _, rewards, terms, _, infos = env.step({"agent_0": PICKUP, "agent_1": PICKUP})
    assert rewards["agent_0"] == 1.0 and terms["agent_0"] and infos["agent_1"]["success"] is True
    assert env.carrying == [None, None]


OTHERS = (LEFT, RIGHT, FORWARD, DROP, TOGGLE, DONE)  # every action but pickup


def _vault_episode(first: tuple[int, int], second: tuple[int, int] | None, seed: int = 0):
    """Play the two-step vault from reset; return each step's (reward, terminated, truncated, info) of agent_0."""
    env = TwoStepVaultEnv()
    env.reset(seed=seed)
    steps = []
    for a0, a1 in (first,) if second is None else (first, second):
        _, rewards, terms, truncs, infos = env.step({"agent_0": a0, "agent_1": a1})
        steps.append((rewards["agent_0"], terms["agent_0"], truncs["agent_0"], infos["agent_0"]))
    return env, steps


@pytest.mark.parametrize("a1", range(7))
def test_two_step_vault_calling_off_pays_7_at_once_whatever_agent_1_does(a1: int) -> None:
    env, [(reward, term, trunc, info)] = _vault_episode((DONE, a1), None)
    assert (reward, term, trunc, info) == (7.0, True, False, {"success": False}) and env.agents == []
    assert env.door.is_locked and env.carrying == [None, None]  # agent_1's pickup lifted nothing


@pytest.mark.parametrize("seed", range(3))
def test_two_step_vault_raid_pays_the_two_step_games_table(seed: int) -> None:
    """Every cell of the raid's payoff, hand-computed: 8 both lift, 1 one lifts, 0 neither."""
    for a0_first in (LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE):  # any first action but done goes on
        for a1_first in range(7):
            for a0, a1, expected in (
                (PICKUP, PICKUP, 8.0),
                (PICKUP, DONE, 1.0),
                (TOGGLE, PICKUP, 1.0),
                (DONE, LEFT, 0.0),
            ):
                env, steps = _vault_episode((a0_first, a1_first), (a0, a1), seed)
                assert steps[0] == (0.0, False, False, {}) and env.door.is_open
                assert steps[1] == (expected, True, False, {"success": expected == 8.0})
    for a0 in OTHERS:
        for a1 in OTHERS:
            assert _vault_episode((FORWARD, FORWARD), (a0, a1))[1][1][0] == 0.0


def test_two_step_vault_bars_lift_in_every_direction_and_the_door_marks_the_step() -> None:
    env = TwoStepVaultEnv()
    env.reset(seed=0)
    door = (4 * 5 + 2) * 3  # the door's cell (4, 2) in the state's [x, y, channel] layout (H = 5)
    assert env.state().shape == (147,) == env.state_space.shape
    np.testing.assert_allclose(env.state()[door : door + 3] * CODE_SCALE, [4, 4, 2])  # locked, yellow
    env.agent_dir[:] = [0, 2]  # facing the locked door, which hides each from the other
    assert not any((view[..., 0] == 10).any() for view in env._observations().values())
    env.agent_dir[:] = [3, 3]
    obs, *_ = env.step({"agent_0": RIGHT, "agent_1": LEFT})  # each turns to face the door
    np.testing.assert_allclose(env.state()[door : door + 3] * CODE_SCALE, [4, 4, 0])  # open
    assert (obs["agent_0"][..., 0] == 10).sum() == 1  # agent_1, through the open door (its own cell shows no agent)
    _, rewards, *_ = env.step({"agent_0": PICKUP, "agent_1": PICKUP})  # both face a bar to the side
    assert rewards["agent_0"] == 8.0 and env.grid.get(3, 2) is None and env.grid.get(5, 2) is None
    np.testing.assert_allclose(env.state()[-3:] * CODE_SCALE, [6, 4, 0])  # agent_1 carries a yellow ball


def test_two_step_vault_only_agent_0_decides_and_only_on_step_1() -> None:
    env, steps = _vault_episode((PICKUP, DONE), (DONE, PICKUP))  # agent_1's done decides nothing
    assert [s[0] for s in steps] == [0.0, 1.0]  # agent_0's done on step 2 is no lift, not a call-off


@pytest.mark.parametrize("n_agents", [1, 3, 4])
@pytest.mark.parametrize("env_id", MULTIGRID_IDS)
def test_agent_counts(env_id: str, n_agents: int) -> None:
    if (env_id.startswith("multigrid/heavy-box") and n_agents == 1) or env_id.startswith("multigrid/two-step-vault"):
        with pytest.raises(ValueError, match="n_agents"):
            make(env_id, n_agents=n_agents)
        return
    env = make(env_id, n_agents=n_agents)
    obs, _ = env.reset(seed=n_agents)
    assert len(obs) == n_agents == len(set(env.agent_pos))
    rng = np.random.default_rng(0)
    for _ in range(100):
        if not env.agents:
            env.reset()
        obs, *_ = env.step({a: int(rng.integers(7)) for a in env.agents})
        assert len(set(env.agent_pos)) == n_agents  # agents never share a cell
        assert all(env.observation_space(a).contains(o) for a, o in obs.items())


def test_bad_arguments_and_actions_are_errors() -> None:
    with pytest.raises(ValueError, match="n_agents"):
        make("multigrid/empty-8x8-v0", n_agents=5)
    env = make("multigrid/empty-8x8-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="0..6"):
        env.step({"agent_0": 7, "agent_1": 0})
    with pytest.raises(ValueError, match="agent_1"):
        env.step({"agent_0": 0})
    assert env.step_count == 0


def test_rgb_array_render_draws_the_grid_and_coloured_agents() -> None:
    env = Room([((1, 1), 0), ((5, 5), 3)], render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.shape == (7 * 32, 7 * 32, 3) and img.dtype == np.uint8
    centre = img[1 * 32 + 16, 1 * 32 + 12]  # inside agent_0's triangle
    assert tuple(centre) == (255, 0, 0)
    assert tuple(img[5 * 32 + 16, 5 * 32 + 16]) == (0, 0, 255)  # agent_1 is blue
    assert EmptyEnv().render() is None


def test_empty_room_starts_like_minigrid_unless_random_start() -> None:
    env = EmptyEnv(size=5, n_agents=3)
    env.reset(seed=1)
    assert env.agent_pos == [(1, 1), (1, 2), (1, 3)] and env.agent_dir == [0, 0, 0]
    layouts = set()
    for seed in range(10):
        env = EmptyEnv(size=5, n_agents=2, random_start=True)
        env.reset(seed=seed)
        layouts.add((tuple(env.agent_pos), tuple(env.agent_dir)))
    assert len(layouts) > 5

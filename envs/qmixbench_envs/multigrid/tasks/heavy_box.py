"""Heavy box: two agents must push a box together, on the same step, onto a target (joint action).

Description:
    A ``size`` x ``size`` room with a heavy purple box and a green target tile in the same row, to
    the box's right. The box cannot be picked up, opened, or moved by one agent. It moves one cell in
    direction d when, on the same step, an agent directly behind it (on the cell before the box,
    facing d) and a second agent directly behind that one (facing d) both choose forward, and the
    cell beyond the box is free (empty or the target, no agent): the box and both pushers then move
    one cell. With several agents, the roles are a pusher at the box and a helper behind it; a third
    or fourth agent must keep out of the way. Two opposing pushes on one step cancel (nothing moves).
    Pushes are resolved before the other agents' actions (``MultiGridEnv._joint_actions``).

Agents:
    ``agent_0`` .. ``agent_{n-1}``, ``n_agents`` in 2..4 (default 2; one agent cannot solve it).

Actions:
    ``Discrete(7)``, minigrid's: 0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle, 6 done.
    Only 0-2 matter here.

Observation:
    ``Box(0, 255, (7, 7, 3), uint8)`` egocentric view (box ``7, 3, 0``, target floor ``3, 1, 0``,
    teammates as type 10); ``see_through_walls=True`` by default (nothing here blocks sight but the
    outer walls).

State:
    ``Box(0, 1, (size*size*3 + 6*n_agents,), float32)``: grid encoding with agents, then
    ``x, y, dir, carried type, colour, state`` per agent, all scaled to [0, 1] (see
    ``MultiGridEnv``). 7x7 with 2 agents: 159.

Reward:
    Shared: ``1 - 0.9 * step_count / max_steps`` when the box reaches the target, 0 otherwise.

Termination / truncation:
    Terminated (``success=True``) when the box is on the target; a box pushed into a corner or past
    the target cannot reach it any more, and the episode runs on to truncation at ``max_steps``
    (default ``10 * size``).

Arguments:
    ``size=7`` (>= 6), ``n_agents=2``, ``max_steps=None``, ``see_through_walls=True``, ``render_mode=None``.

Registered ids:
    ``multigrid/heavy-box-7x7-v0``.

Version history:
    v0: initial release.
"""

from __future__ import annotations

from minigrid.core.world_object import Box, Floor

from qmixbench_envs.multigrid.base import DONE, FORWARD, MultiGridEnv
from qmixbench_envs.multigrid.core import DIR_VECS


class HeavyBox(Box):
    """A box too heavy to pick up or open; encoded and drawn as minigrid's Box."""

    def can_pickup(self) -> bool:
        return False

    def toggle(self, env, pos) -> bool:
        return False


class HeavyBoxEnv(MultiGridEnv):
    """Push a heavy box onto the target with two agents in a row pushing together."""

    metadata = {**MultiGridEnv.metadata, "name": "multigrid_heavy_box_v0"}

    def __init__(
        self,
        size: int = 7,
        n_agents: int = 2,
        max_steps: int | None = None,
        see_through_walls: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if size < 6:
            raise ValueError(f"size must be >= 6, got {size}")
        if n_agents < 2:
            raise ValueError("heavy-box needs n_agents >= 2: one agent cannot move the box")
        super().__init__(
            size,
            size,
            n_agents=n_agents,
            max_steps=10 * size if max_steps is None else max_steps,
            see_through_walls=see_through_walls,
            render_mode=render_mode,
        )

    def _gen_grid(self) -> None:
        s = self.width
        self.grid.wall_rect(0, 0, s, s)
        # Two pushers fit left of the box (x - 2 >= 1) and the target lies right of it.
        y = self._rand_int(1, s - 1)
        self.box_pos = (self._rand_int(3, s - 2), y)
        self.target_pos = (self._rand_int(self.box_pos[0] + 1, s - 1), y)
        self._put_obj(HeavyBox("purple"), *self.box_pos)
        self._put_obj(Floor("green"), *self.target_pos)
        for i in range(self.n_agents):
            self._place_agent(i)

    def _joint_actions(self, acts: list[int]) -> list[int]:
        pushes = [push for d in range(4) if (push := self._push_team(d, acts)) is not None]
        if len(pushes) != 1:
            return acts
        d, front, rear = pushes[0]
        (bx, by), (vx, vy) = self.box_pos, DIR_VECS[d]
        box = self.grid.get(bx, by)
        assert box is not None
        self._set_cell(bx, by, None)
        self.box_pos = (bx + vx, by + vy)
        self._set_cell(*self.box_pos, box)
        box.cur_pos = self.box_pos
        self.agent_pos[front] = (bx, by)
        self.agent_pos[rear] = (bx - vx, by - vy)
        acts = list(acts)
        acts[front] = acts[rear] = DONE
        return acts

    def _push_team(self, d: int, acts: list[int]) -> tuple[int, int, int] | None:
        """Return ``(d, front agent, rear agent)`` if two agents push the box in direction ``d`` now."""
        (bx, by), (vx, vy) = self.box_pos, DIR_VECS[d]
        dest = (bx + vx, by + vy)
        cell = self.grid.get(*dest)
        if dest in self.agent_pos or not (cell is None or dest == self.target_pos):
            return None
        pushers = []
        for k in (1, 2):
            behind = (bx - k * vx, by - k * vy)
            if behind not in self.agent_pos:
                return None
            i = self.agent_pos.index(behind)
            if self.agent_dir[i] != d or acts[i] != FORWARD:
                return None
            pushers.append(i)
        return d, pushers[0], pushers[1]

    def _outcome(self) -> tuple[float, bool, bool]:
        if self.box_pos == self.target_pos:
            return self._success_reward(), True, True
        return 0.0, False, False

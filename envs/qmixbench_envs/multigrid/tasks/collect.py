"""Collection: the team gathers every ball in the room (division of labour).

Description:
    A ``size`` x ``size`` room with ``n_balls`` blue balls on random cells and the agents on random
    cells. An agent facing a ball collects it with pickup: the ball disappears (it is not carried, so
    an agent can collect any number). The team succeeds when all balls are collected; splitting the
    room between agents is faster than following each other.

Agents:
    ``agent_0`` .. ``agent_{n-1}``, ``n_agents`` in 1..4 (default 2).

Actions:
    ``Discrete(7)``, minigrid's: 0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle, 6 done.
    Only 0-3 matter here. Two agents picking up the same ball on one step: the earlier one in the
    step's random order collects it.

Observation:
    ``Box(0, 255, (7, 7, 3), uint8)`` egocentric view (balls ``6, 2, 0``, teammates as type 10);
    ``see_through_walls=True`` by default.

State:
    ``Box(0, 1, (size*size*3 + 6*n_agents,), float32)``: grid encoding with agents (the remaining
    balls), then ``x, y, dir, carried type, colour, state`` per agent, all scaled to [0, 1] (see
    ``MultiGridEnv``). 8x8 with 2 agents: 204.

Reward:
    Shared: ``1 / n_balls`` for each ball collected (summed when several go on one step), so a
    complete episode returns 1. Not discounted by time: speed matters through ``max_steps``.

Termination / truncation:
    Terminated (``success=True``) on the step the last ball is collected; truncated at ``max_steps``
    (default ``2 * size**2``).

Arguments:
    ``size=8``, ``n_agents=2``, ``n_balls=4``, ``max_steps=None``, ``see_through_walls=True``,
    ``render_mode=None``.

Registered ids:
    ``multigrid/collect-8x8-v0``.

Version history:
    v0: initial release.
"""

from __future__ import annotations

from minigrid.core.world_object import Ball

from qmixbench_envs.multigrid.base import MultiGridEnv


class CollectEnv(MultiGridEnv):
    """Balls scattered in a room; picking one up collects it for the team."""

    metadata = {**MultiGridEnv.metadata, "name": "multigrid_collect_v0"}

    def __init__(
        self,
        size: int = 8,
        n_agents: int = 2,
        n_balls: int = 4,
        max_steps: int | None = None,
        see_through_walls: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if size < 4:
            raise ValueError(f"size must be >= 4, got {size}")
        if not 1 <= n_balls <= (size - 2) ** 2 - n_agents:
            raise ValueError(f"n_balls must be in 1..{(size - 2) ** 2 - n_agents} for a {size}x{size} room")
        self.n_balls = n_balls
        super().__init__(
            size,
            size,
            n_agents=n_agents,
            max_steps=2 * size * size if max_steps is None else max_steps,
            see_through_walls=see_through_walls,
            render_mode=render_mode,
        )

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, self.width, self.height)
        for i in range(self.n_agents):
            self._place_agent(i)
        for _ in range(self.n_balls):
            self._place_obj(Ball("blue"))
        self._left = self.n_balls
        self._collected_now = 0

    def _pickup(self, i: int) -> None:
        fx, fy = self._front(i)
        if isinstance(self.grid.get(fx, fy), Ball):
            self._set_cell(fx, fy, None)
            self._collected_now += 1

    def _outcome(self) -> tuple[float, bool, bool]:
        if not self._collected_now:
            return 0.0, False, False
        collected, self._collected_now = self._collected_now, 0
        self._left -= collected
        return collected / self.n_balls, self._left == 0, self._left == 0

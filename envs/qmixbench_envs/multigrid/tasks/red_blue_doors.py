"""Red-blue doors: the team must open the red door first, then the blue one (ordering).

Description:
    minigrid's ``MiniGrid-RedBlueDoors`` for a team. A ``size`` x ``size`` room sits in the middle of
    a ``2*size`` x ``size`` grid, a red door at a random height in its left wall and a blue door at a
    random height in its right wall; all agents start inside the room. Opening the blue door while the
    red door is open wins; opening the blue door while the red door is closed loses. Any agent may open
    either door, so the team must agree on the order (and not close the red door again before the blue
    one is opened).

Agents:
    ``agent_0`` .. ``agent_{n-1}``, ``n_agents`` in 1..4 (default 2).

Actions:
    ``Discrete(7)``, minigrid's: 0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle, 6 done.
    Toggle opens and closes a door (not while an agent stands in it).

Observation:
    ``Box(0, 255, (7, 7, 3), uint8)`` egocentric view (minigrid encoding, teammates as type 10);
    ``see_through_walls=False`` by default, as minigrid's RedBlueDoors: closed doors block sight.

State:
    ``Box(0, 1, (2*size*size*3 + 6*n_agents,), float32)``: grid encoding with agents (door states
    included), then ``x, y, dir, carried type, colour, state`` per agent, all scaled to [0, 1] (see
    ``MultiGridEnv``). 6x6 room, 2 agents: 228.

Reward:
    Shared: ``1 - 0.9 * step_count / max_steps`` on success, 0 otherwise (also on failure).

Termination / truncation:
    Terminated when the blue door is opened: ``success=True`` if the red door was open at that
    moment (agents act one at a time in the step's random order, so "at that moment" is exact),
    ``success=False`` otherwise. Truncated at ``max_steps`` (default ``20 * size``).

Arguments:
    ``size=6``, ``n_agents=2``, ``max_steps=None`` (``20 * size``), ``see_through_walls=False``,
    ``render_mode=None``.

Registered ids:
    ``multigrid/red-blue-doors-6x6-v0``, ``multigrid/red-blue-doors-8x8-v0``.

Version history:
    v0: initial release.
"""

from __future__ import annotations

from minigrid.core.world_object import Door

from qmixbench_envs.multigrid.base import MultiGridEnv


class RedBlueDoorsEnv(MultiGridEnv):
    """A room with a red and a blue door; open red, then blue."""

    metadata = {**MultiGridEnv.metadata, "name": "multigrid_red_blue_doors_v0"}

    def __init__(
        self,
        size: int = 6,
        n_agents: int = 2,
        max_steps: int | None = None,
        see_through_walls: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if size < 4:
            raise ValueError(f"size must be >= 4, got {size}")
        self.size = size
        super().__init__(
            2 * size,
            size,
            n_agents=n_agents,
            max_steps=20 * size if max_steps is None else max_steps,
            see_through_walls=see_through_walls,
            render_mode=render_mode,
        )

    def _gen_grid(self) -> None:
        size, left = self.size, self.size // 2
        self.grid.wall_rect(0, 0, self.width, self.height)
        self.grid.wall_rect(left, 0, size, size)
        for i in range(self.n_agents):
            self._place_agent(i, top=(left, 0), size=(size, size))
        self.red_door = Door("red")
        self._put_obj(self.red_door, left, self._rand_int(1, size - 1))
        self.blue_door = Door("blue")
        self._put_obj(self.blue_door, left + size - 1, self._rand_int(1, size - 1))
        self._blue_opened_after_red: bool | None = None

    def _toggle(self, i: int) -> None:
        blue_was_open = self.blue_door.is_open
        super()._toggle(i)
        if self.blue_door.is_open and not blue_was_open and self._blue_opened_after_red is None:
            self._blue_opened_after_red = self.red_door.is_open

    def _outcome(self) -> tuple[float, bool, bool]:
        if self._blue_opened_after_red is None:
            return 0.0, False, False
        if self._blue_opened_after_red:
            return self._success_reward(), True, True
        return 0.0, True, False

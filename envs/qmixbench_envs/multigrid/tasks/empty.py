"""Empty room: the team reaches the green goal square (navigation sanity check).

Description:
    A ``size`` x ``size`` room (walls included) with a goal square in the bottom-right corner, as in
    minigrid's ``MiniGrid-Empty-*``. Agents start on random free cells facing random directions
    (minigrid's Empty starts its one agent at (1, 1); random starts make the seed drive the layout).
    The episode ends in success as soon as any agent steps onto the goal. No coordination is needed
    beyond not blocking each other: this is the sanity check, and ``multigrid/empty-5x5-v0`` with two
    agents is the family default (``--env multigrid``) because random exploration finds the goal
    often (about a quarter of uniformly random episodes at 5x5 with 2 agents and 20 steps) and QMIX
    should solve it within a few CPU minutes.

Agents:
    ``agent_0`` .. ``agent_{n-1}``, ``n_agents`` in 1..4 (default 2).

Actions:
    ``Discrete(7)``, minigrid's: 0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle, 6 done.
    Only 0-2 matter here.

Observation:
    ``Box(0, 255, (7, 7, 3), uint8)``: the egocentric view, minigrid's ``gen_obs()["image"]``
    encoding ``(type, colour, state)`` per cell; teammates as type 10 (agent), their colour, their
    direction. ``see_through_walls=True`` by default, as minigrid's Empty.

State:
    ``Box(0, 255, (size*size*3 + 6*n_agents,), uint8)``: the grid encoding with agents drawn in, then
    ``x, y, dir, carried type, colour, state`` per agent (see ``MultiGridEnv``). 5x5 with 2 agents: 87.

Reward:
    Shared: ``1 - 0.9 * step_count / max_steps`` to every agent on the step an agent reaches the
    goal, 0 otherwise.

Termination / truncation:
    Terminated (``success=True``) when an agent enters the goal; truncated at ``max_steps``
    (default ``4 * size``: 20 for 5x5, 32 for 8x8; shorter than minigrid's ``4 * size**2`` so that
    episodes are short and random exploration still succeeds in small rooms).

Arguments:
    ``size=8``, ``n_agents=2``, ``max_steps=None`` (``4 * size``), ``see_through_walls=True``,
    ``render_mode=None`` (``"rgb_array"`` or ``"human"``).

Registered ids:
    ``multigrid/empty-5x5-v0``, ``multigrid/empty-6x6-v0``, ``multigrid/empty-8x8-v0``,
    ``multigrid/empty-16x16-v0``.

Version history:
    v0: initial release.
"""

from __future__ import annotations

from minigrid.core.world_object import Goal

from qmixbench_envs.multigrid.base import MultiGridEnv


class EmptyEnv(MultiGridEnv):
    """An empty room with a goal in the bottom-right corner; any agent reaching it wins for the team."""

    metadata = {**MultiGridEnv.metadata, "name": "multigrid_empty_v0"}

    def __init__(
        self,
        size: int = 8,
        n_agents: int = 2,
        max_steps: int | None = None,
        see_through_walls: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if size < 4:
            raise ValueError(f"size must be >= 4, got {size}")
        if n_agents > (size - 2) ** 2 - 1:
            raise ValueError(f"a {size}x{size} room holds at most {(size - 2) ** 2 - 1} agents")
        self.goal_pos = (size - 2, size - 2)
        super().__init__(
            size,
            size,
            n_agents=n_agents,
            max_steps=4 * size if max_steps is None else max_steps,
            see_through_walls=see_through_walls,
            render_mode=render_mode,
        )

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, self.width, self.height)
        self._put_obj(Goal(), *self.goal_pos)
        for i in range(self.n_agents):
            self._place_agent(i)

    def _outcome(self) -> tuple[float, bool, bool]:
        if self.goal_pos in self.agent_pos:
            return self._success_reward(), True, True
        return 0.0, False, False

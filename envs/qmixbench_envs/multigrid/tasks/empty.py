"""Empty room: the team reaches the green goal square (navigation sanity check).

Description:
    A ``size`` x ``size`` room (walls included) with a goal square in the bottom-right corner, as in
    minigrid's ``MiniGrid-Empty-*``. As there, agents start in the top-left corner facing right:
    agent i on the i-th free cell of the room in column-major order ((1, 1), (1, 2), ...); with
    ``random_start=True`` (minigrid's ``Empty-Random-*``) they start on random free cells facing
    random directions. The episode ends in success as soon as any agent steps onto the goal. No
    coordination is needed beyond not blocking each other: this is the sanity check.

    ``multigrid/empty-5x5-v0`` with two agents is the smallest: fixed starts, a 25-step limit, and
    uniformly random play succeeds in about one episode in seven, so a learner sees successes from the
    start. Random starts are markedly harder for memoryless or
    briefly trained agents than they look: a 7x7 egocentric view ends at the agent's own row, so an
    agent facing a wall sees one row, and corners look alike (e.g. (1, 1) facing left and (3, 1)
    facing up in 5x5); a greedy policy without memory can turn in place forever.

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
    ``Box(0, 1, (size*size*3 + 6*n_agents,), float32)``: the grid encoding with agents drawn in, then
    ``x, y, dir, carried type, colour, state`` per agent, all scaled to [0, 1] (see
    ``MultiGridEnv``). 5x5 with 2 agents: 87.

Reward:
    Shared: ``1 - 0.9 * step_count / max_steps`` to every agent on the step an agent reaches the
    goal, 0 otherwise.

Termination / truncation:
    Terminated (``success=True``) when an agent enters the goal; truncated at ``max_steps``
    (default ``size**2``: 25 for 5x5, 64 for 8x8; a quarter of minigrid's ``4 * size**2``, so that
    episodes are short and random exploration still succeeds in small rooms: uniformly random
    play with 2 agents succeeds in 14% of episodes at 5x5, 6% at 6x6, 1.5% at 8x8, 31% and 29%
    with random starts at 5x5 and 6x6).

Arguments:
    ``size=8``, ``n_agents=2``, ``random_start=False``, ``max_steps=None`` (``size**2``),
    ``see_through_walls=True``, ``render_mode=None`` (``"rgb_array"`` or ``"human"``).

Registered ids:
    ``multigrid/empty-5x5-v0``, ``multigrid/empty-6x6-v0``, ``multigrid/empty-8x8-v0``,
    ``multigrid/empty-16x16-v0``; random starts: ``multigrid/empty-random-5x5-v0``,
    ``multigrid/empty-random-6x6-v0``.

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
        random_start: bool = False,
        max_steps: int | None = None,
        see_through_walls: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if size < 4:
            raise ValueError(f"size must be >= 4, got {size}")
        if n_agents > (size - 2) ** 2 - 1:
            raise ValueError(f"a {size}x{size} room holds at most {(size - 2) ** 2 - 1} agents")
        self.goal_pos = (size - 2, size - 2)
        self.random_start = random_start
        super().__init__(
            size,
            size,
            n_agents=n_agents,
            max_steps=size * size if max_steps is None else max_steps,
            see_through_walls=see_through_walls,
            render_mode=render_mode,
        )

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, self.width, self.height)
        self._put_obj(Goal(), *self.goal_pos)
        if self.random_start:
            for i in range(self.n_agents):
                self._place_agent(i)
            return
        inside = range(1, self.width - 1)
        starts = [(x, y) for x in inside for y in inside if (x, y) != self.goal_pos]
        for i in range(self.n_agents):
            self.agent_pos[i], self.agent_dir[i] = starts[i], 0

    def _outcome(self) -> tuple[float, bool, bool]:
        if self.goal_pos in self.agent_pos:
            return self._success_reward(), True, True
        return 0.0, False, False

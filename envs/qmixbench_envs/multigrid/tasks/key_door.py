"""Key-door: one agent fetches the key and unlocks the door that the whole team must pass (tool use).

Description:
    minigrid's ``MiniGrid-DoorKey`` for a team. A wall at a random column splits a ``size`` x ``size``
    room; it holds a locked yellow door at a random height. The yellow key and all agents start on
    the left. An agent carrying the key unlocks the door with toggle (the door then stays open unless
    someone closes it). The team succeeds when every agent is in the right-hand part (the door cell
    itself does not count), so one agent's tool use opens the way for all, and the key carrier must
    not block the doorway for the others.

Agents:
    ``agent_0`` .. ``agent_{n-1}``, ``n_agents`` in 1..4 (default 2).

Actions:
    ``Discrete(7)``, minigrid's: 0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle, 6 done.
    Pickup takes the key (one object per agent); drop puts it on the free cell ahead.

Observation:
    ``Box(0, 255, (7, 7, 3), uint8)`` egocentric view (minigrid encoding, teammates as type 10; the
    carried key shows in the agent's own cell); ``see_through_walls=False`` by default.

State:
    ``Box(0, 1, (size*size*3 + 6*n_agents,), float32)``: grid encoding with agents (the door's
    locked/closed/open state included), then ``x, y, dir, carried type, colour, state`` per agent
    (the key's holder carries ``5, 4, 0`` / ``10, 5, 3``), all scaled to [0, 1] (see ``MultiGridEnv``). 8x8 with 2 agents: 204.

Reward:
    Shared: ``1 - 0.9 * step_count / max_steps`` on success, 0 otherwise.

Termination / truncation:
    Terminated (``success=True``) when all agents are right of the wall; truncated at ``max_steps``
    (default ``4 * size**2``; minigrid's DoorKey uses ``10 * size**2``).

Arguments:
    ``size=8`` (>= 5), ``n_agents=2``, ``max_steps=None``, ``see_through_walls=False``, ``render_mode=None``.

Registered ids:
    ``multigrid/key-door-6x6-v0``, ``multigrid/key-door-8x8-v0``.

Version history:
    v0: initial release.
"""

from __future__ import annotations

from minigrid.core.world_object import Door, Key

from qmixbench_envs.multigrid.base import MultiGridEnv


class KeyDoorEnv(MultiGridEnv):
    """A room split by a wall with a locked door; the key is on the agents' side."""

    metadata = {**MultiGridEnv.metadata, "name": "multigrid_key_door_v0"}

    def __init__(
        self,
        size: int = 8,
        n_agents: int = 2,
        max_steps: int | None = None,
        see_through_walls: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if size < 5:
            raise ValueError(f"size must be >= 5, got {size}")
        super().__init__(
            size,
            size,
            n_agents=n_agents,
            max_steps=4 * size * size if max_steps is None else max_steps,
            see_through_walls=see_through_walls,
            render_mode=render_mode,
        )

    def _gen_grid(self) -> None:
        w, h = self.width, self.height
        self.grid.wall_rect(0, 0, w, h)
        # Leave the left part room for the key and up to four agents: (split - 1) * (h - 2) >= 5.
        self.split = self._rand_int(2, w - 2)
        while (self.split - 1) * (h - 2) < self.n_agents + 1:
            self.split = self._rand_int(2, w - 2)
        self.grid.vert_wall(self.split, 0)
        self._put_obj(Door("yellow", is_locked=True), self.split, self._rand_int(1, h - 2))
        for i in range(self.n_agents):
            self._place_agent(i, size=(self.split, h))
        self._place_obj(Key("yellow"), top=(0, 0), size=(self.split, h))

    def _outcome(self) -> tuple[float, bool, bool]:
        if all(x > self.split for x, _ in self.agent_pos):
            return self._success_reward(), True, True
        return 0.0, False, False

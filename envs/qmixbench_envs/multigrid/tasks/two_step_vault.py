"""Two-step vault: the QMIX paper's two-step game in the grid (a state whose value is not additive).

Description:
    Two vault chambers side by side, joined by a locked yellow door; each agent stands in its own
    chamber, boxed in by four yellow balls (gold bars) on its four sides, so it cannot move and faces a
    bar whichever way it turns. The episode is two steps:

    1. The decision. ``agent_0`` may call the raid off with ``done`` (minigrid's action 6, "done
       completing the task"): the episode ends with the safe reward 7. Any other action of
       ``agent_0`` lets the raid go on; ``agent_1``'s action does not matter (the bars are bolted while
       the door is locked, so pickup lifts nothing; it cannot move; every side is a bar). Reward 0.
    2. The raid. The door opens and the bars are released: an agent lifts a bar with ``pickup``. The
       team is paid 8 if both agents lift a bar on this step, 1 if exactly one does, 0 if neither.

    This is the two-step game of Rashid et al. (2018, Section 5), state 2A being "called off" and 2B
    "the raid", with minigrid's 7 actions instead of 2. Payoff of the raid (rows ``agent_0``, columns
    ``agent_1``):

        =============  ======  =============
        raid           pickup  other (6 of 7)
        =============  ======  =============
        pickup         **8**   1
        other          1       0
        =============  ======  =============

    Why it separates QMIX from VDN and IQL under uniform exploration (epsilon 1 throughout, as the
    paper's experiment; ``ENV_DEFAULTS`` sets it): each agent lifts with probability p = 1/7, so the
    least-squares additive fit of the raid's payoff (what VDN's ``Q_1 + Q_2`` converges to) is
    ``8 - 6 (1 - p)^2`` = 3.6 at its best joint action, far below the 7 of calling off (the paper's
    2-action game: 6.5 < 7). VDN therefore calls the raid off and earns 7. IQL's ``agent_0`` values the
    raid at ``E[r | it lifts]`` = ``8 p + (1 - p)`` = 2 and calls it off too. QMIX's mixing weights are
    functions of the state, and the raid's payoff is monotone in each agent's choice, so QMIX can
    represent it exactly and values the raid at ``0.99 * 8`` = 7.92 > 7: it goes on and lifts (8).
    With annealed exploration the effect can vanish: once the greedy joint action in the raid is
    (pickup, pickup), the raid's data are mostly that cell, VDN's fit there tends to 8 and VDN may go on.

    Uniform play: the raid goes on in 6/7 of the episodes and both lift in 1/49 of those: 1.7% succeed.
    With ``ENV_DEFAULTS`` (20k env steps, epsilon 1), seeds 0 and 1: QMIX's greedy return was 8 and VDN's
    7 at every evaluation from 2k env steps on (``qmixbench run --env multigrid/two-step-vault-v0
    --algos qmix,vdn --seeds 0,1``).

Agents:
    ``agent_0`` (decides, left chamber, red) and ``agent_1`` (right chamber, blue); ``n_agents`` must be 2.

Actions:
    ``Discrete(7)``, minigrid's: 0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle, 6 done.
    ``done`` of ``agent_0`` on step 1 calls the raid off; pickup lifts a bar on step 2 only; the rest
    change at most the agent's direction.

Observation:
    ``Box(0, 255, (7, 7, 3), uint8)`` egocentric view (bars ``6, 4, 0``, the door ``4, 4, 2`` locked or
    ``4, 4, 0`` open, teammate as type 10); ``see_through_walls=False`` by default: on step 1 the locked
    door hides each agent from the other; on step 2 an agent facing the open door sees its teammate
    through it. Neither needs the other's view: the step number is the only fact to know.

State:
    ``Box(0, 1, (9*5*3 + 6*2,), float32)`` = ``(147,)``: grid encoding with agents (the door's state marks
    the step, and a lifted bar leaves its cell), then ``x, y, dir, carried type, colour, state`` per
    agent, all scaled to [0, 1] (see ``MultiGridEnv``).

Reward:
    Shared: 7 when the raid is called off (step 1); on step 2, 8 / 1 / 0 as in the table. The optimum
    return is 8 (go on, both lift); the safe return 7; the undiscounted returns are the two-step game's.

Termination / truncation:
    Terminated on step 1 when called off (``success=False``), else on step 2 (``success=True`` iff both
    lifted, the optimum). Never truncated: the two steps are the game, not a time limit (as the matrix
    two-step game; no bootstrap past its end).

Arguments:
    ``n_agents=2``, ``see_through_walls=False``, ``render_mode=None``. The layout is fixed (both agents
    face up at the start); the env's seeded generator only draws the order agents act in, which cannot
    change an outcome here (no two agents reach for one object).

Registered ids:
    ``multigrid/two-step-vault-v0``.

Version history:
    v0: initial release.
"""

from __future__ import annotations

from minigrid.core.world_object import Ball, Door

from qmixbench_envs.multigrid.base import DONE, MultiGridEnv

SAFE_REWARD = 7.0
RAID_REWARD = {0: 0.0, 1: 1.0, 2: 8.0}
"""Raid payoff by the number of agents that lift a bar on step 2."""
STARTS = ((2, 2), (6, 2))
DOOR = (4, 2)


class TwoStepVaultEnv(MultiGridEnv):
    """Two chambers of gold; agent_0 calls the raid off (7) or both lift together (8)."""

    metadata = {**MultiGridEnv.metadata, "name": "multigrid_two_step_vault_v0"}

    def __init__(self, n_agents: int = 2, see_through_walls: bool = False, render_mode: str | None = None) -> None:
        if n_agents != 2:
            raise ValueError(f"n_agents must be 2 for the two-step vault (one decides, both lift), got {n_agents}")
        super().__init__(9, 5, n_agents=2, max_steps=2, see_through_walls=see_through_walls, render_mode=render_mode)

    def _gen_grid(self) -> None:
        self.grid.wall_rect(0, 0, self.width, self.height)
        self.grid.vert_wall(DOOR[0], 0)
        self.door = Door("yellow", is_locked=True)
        self._put_obj(self.door, *DOOR)
        for i, (x, y) in enumerate(STARTS):
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                self._put_obj(Ball("yellow"), x + dx, y + dy)
            self.agent_pos[i], self.agent_dir[i] = (x, y), 3  # facing up
        self._called_off = False
        self._lifted = 0

    def _act(self, i: int, action: int) -> None:
        if i == 0 and action == DONE and self.step_count == 1:
            self._called_off = True
        super()._act(i, action)

    def _pickup(self, i: int) -> None:
        if self.door.is_locked:  # step 1: the bars are bolted until the raid starts
            return
        had = self.carrying[i]
        super()._pickup(i)
        self._lifted += had is None and self.carrying[i] is not None

    def _outcome(self) -> tuple[float, bool, bool]:
        if self.step_count == 1:
            if self._called_off:
                return SAFE_REWARD, True, False
            # The raid goes on: open the door (it marks step 2 in the views and the state).
            self.door.is_locked, self.door.is_open = False, True
            self._refresh_cell(*DOOR)
            return 0.0, False, False
        return RAID_REWARD[self._lifted], True, self._lifted == 2

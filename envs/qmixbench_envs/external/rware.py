"""Multi-Robot Warehouse (``rware`` 2.0) as a PettingZoo ParallelEnv. Needs ``pip install 'qmixbench[rware]'``.

Robots fetch requested shelves, bring them to the goal cells at the bottom and return them to an empty
shelf cell. ``request_queue_size`` shelves are requested at any time; a delivery replaces the delivered
request with a new random one.

* Agents: ``agent_0`` ... Actions ``Discrete(5)``: no-op, forward, turn left, turn right, load/unload
  (no message bits: QMIX, VDN and IQL need one discrete action).
* Observation: rware's flattened local view (``sensor_range`` 1): own position, direction, load and
  the 3x3 cells around (agents, their directions, shelves, requests), float32 (71,).
* State: rware's global image ``get_global_image()`` with layers shelves, requested shelves, agents
  and goals, plus two layers computed here, each agent's direction (1-4, rware's ``Direction`` + 1)
  and whether it carries a shelf; float32 (6, H, W) (tiny: (6, 11, 10)). rware's own
  ``AGENT_DIRECTION``/``AGENT_LOAD`` layers are not used: they index the image as [x, y] while the
  other layers use [y, x], which misplaces them and raises IndexError on non-square warehouses.
* Reward: ``reward_type="individual"`` (rware's default): +1 to the agent that delivers a requested
  shelf; team reward = the **sum**. ``"global"``: every agent gets +1 per delivery, **shared**.
  ``"two_stage"``: 0.5 for the delivery and 0.5 for returning the shelf, summed.
* Never terminated: a warehouse has no terminal state. rware 2.0 ends the episode at ``max_steps``
  (500) or after ``max_inactivity_steps`` steps without a delivery and reports it as
  ``terminated``; both are time limits, so this wrapper reports every end as a **truncation**.

Registered ids (rware's v2 ids): ``rware/tiny-2ag-v2``, ``rware/tiny-4ag-v2``, ``rware/small-4ag-v2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from qmixbench_envs.external import import_optional
from qmixbench_envs.external.gym_tuple import TupleGymParallelEnv

SIZES: dict[str, tuple[int, int]] = {"tiny": (1, 3), "small": (2, 3), "medium": (2, 5), "large": (3, 5)}
"""rware's warehouse sizes: (shelf_rows, shelf_columns)."""
DIFFICULTY: dict[str, float] = {"easy": 2.0, "normal": 1.0, "hard": 0.5}
"""rware's difficulties: requested shelves per agent."""


class RWAREParallelEnv(TupleGymParallelEnv):
    """rware's ``Warehouse`` with every end reported as truncation and the global image as state."""

    def __init__(self, env: Any, name: str, team_reward: str) -> None:
        super().__init__(env, name=name, team_reward=team_reward)
        self._layers = self._image_layers()
        height, width = env.grid_size
        self.state_space = spaces.Box(0.0, 4.0, (len(self._layers) + 2, height, width), np.float32)
        self.max_steps = env.max_steps

    def _image_layers(self) -> list[Any]:
        layer = import_optional("rware.warehouse", extra="rware", package="rware").ImageLayer
        return [layer.SHELVES, layer.REQUESTS, layer.AGENTS, layer.GOALS]

    def end_kind(self, done: bool, truncated: bool) -> tuple[bool, bool]:
        return False, done or truncated

    def state(self) -> np.ndarray:
        env = self._gym
        image = env.get_global_image(image_layers=self._layers, recompute=True)
        extra = np.zeros((2, *env.grid_size), np.float32)
        for agent in env.agents:
            extra[0, agent.y, agent.x] = agent.dir.value + 1
            extra[1, agent.y, agent.x] = float(agent.carrying_shelf is not None)
        return np.concatenate([image.astype(np.float32), extra])


def warehouse(
    size: str = "tiny",
    n_agents: int = 2,
    difficulty: str = "normal",
    max_steps: int = 500,
    max_inactivity_steps: int | None = None,
    reward_type: str = "individual",
    sensor_range: int = 1,
    column_height: int = 8,
    render_mode: str | None = None,
) -> RWAREParallelEnv:
    """Build RWARE with the arguments of rware's registered ids.

    ``rware-tiny-2ag-v2`` is ``warehouse(size="tiny", n_agents=2)``; ``rware-small-4ag-hard-v2`` is
    ``warehouse(size="small", n_agents=4, difficulty="hard")``.
    """
    module = import_optional("rware.warehouse", extra="rware", package="rware")
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if difficulty not in DIFFICULTY:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTY)}, got {difficulty!r}")
    reward_types = {
        "individual": module.RewardType.INDIVIDUAL,
        "global": module.RewardType.GLOBAL,
        "two_stage": module.RewardType.TWO_STAGE,
    }
    if reward_type not in reward_types:
        raise ValueError(f"reward_type must be one of {', '.join(reward_types)}, got {reward_type!r}")
    shelf_rows, shelf_columns = SIZES[size]
    env = module.Warehouse(
        shelf_columns=shelf_columns,
        column_height=column_height,
        shelf_rows=shelf_rows,
        n_agents=n_agents,
        msg_bits=0,
        sensor_range=sensor_range,
        request_queue_size=int(n_agents * DIFFICULTY[difficulty]),
        max_inactivity_steps=max_inactivity_steps,
        max_steps=max_steps,
        reward_type=reward_types[reward_type],
        render_mode=render_mode,
    )
    suffix = "" if difficulty == "normal" else f"-{difficulty}"
    return RWAREParallelEnv(
        env, name=f"rware-{size}-{n_agents}ag{suffix}", team_reward="shared" if reward_type == "global" else "sum"
    )

"""``MultiGridEnv``: minigrid's world with N agents, as a PettingZoo ``ParallelEnv``.

A task subclasses it and writes ``_gen_grid`` (build ``self.grid`` with minigrid's ``Grid`` and world
objects, place the agents) and ``_outcome`` (reward and end of episode); it may override one action
(``_forward``, ``_pickup``, ``_drop``, ``_toggle``) or ``_joint_actions`` for moves that need several
agents. Any change to a grid cell during an episode goes through ``_set_cell`` (or ``_refresh_cell``
after mutating an object in place) so that the numpy mirror of the encoding stays exact.

Decisions every task inherits:

* **Actions** are minigrid's 7 (``Discrete(7)``): 0 left, 1 right, 2 forward, 3 pickup, 4 drop,
  5 toggle, 6 done (no-op). Each works as in minigrid, for the agent that takes it.
* **Simultaneous actions** are executed one agent at a time, in a priority order drawn uniformly
  from all N! orders on every step from the env's seeded generator. An agent cannot enter, drop
  onto, or close a door on a cell that holds another agent at the moment it acts; so when two agents
  move into one cell, the one earlier in the order gets it and the other stays put, and when two
  agents pick up the same object, the earlier one gets it. Two agents never swap places (each is
  blocked by the other). ``_joint_actions`` runs before this pass (the heavy box's two-agent push).
* **Observations**: each agent's 7x7x3 uint8 egocentric view, identical to minigrid's
  ``gen_obs()["image"]`` for the same grid; teammates appear as ``(10 "agent", colour, direction)``
  (``AGENT_COLORS[i]``: red, blue, purple, yellow). Agents do not block sight.
* **State** (``state()``, ``state_space``): flat float32 vector of ``W*H*3 + 6*N`` in [0, 1]: the
  full grid encoding with agents drawn in (``[x, y, channel]`` order, as ``Grid.encode``), then for
  each agent ``x, y, direction, carried type, carried colour, carried state`` (``1, 0, 0`` when
  empty-handed), scaled to [0, 1]: type / 10, colour / 5, state / 3 (door state 0-2, an agent's
  direction 0-3), x / (W - 1), y / (H - 1), direction / 3. Scaled because QMIX's hypernetworks read
  the state raw: with the uint8 codes (up to 10) QMIX's first TD losses were ~1000x IQL's and it
  never solved the default task; scaled, it did (same learner, same seed).
* **Reward** is the team's and identical for every agent (``metadata["team_reward"] == "shared"``).
* **terminations** only for success or failure (then the episode stops, no bootstrap);
  **truncations** only at ``max_steps`` when the episode did not terminate on that step.
  ``infos[agent]["success"]`` (bool) is present on the last step only.
* All randomness (layout and action order) comes from ``self.np_random``, seeded by
  ``reset(seed=...)``; the same seed reproduces the layout and the whole episode.
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from minigrid.core.constants import COLOR_TO_IDX
from minigrid.core.grid import Grid
from minigrid.core.world_object import Door, WorldObj
from pettingzoo import ParallelEnv

from qmixbench_envs.multigrid import core
from qmixbench_envs.multigrid.rendering import render_grid

LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)
UNPLACED = (-1, -1)
_ORDER_BATCH = 256


class MultiGridEnv(ParallelEnv):
    """Base class of the multigrid tasks; see the module docstring for the shared rules."""

    metadata: dict[str, Any] = {
        "name": "multigrid_v0",
        "render_modes": ["rgb_array", "human"],
        "render_fps": 10,
        "is_parallelizable": True,
        "team_reward": "shared",
    }

    def __init__(
        self,
        width: int,
        height: int,
        n_agents: int = 2,
        max_steps: int = 100,
        see_through_walls: bool = False,
        render_mode: str | None = None,
        tile_size: int = 32,
        max_agents: int = 4,
    ) -> None:
        if not 1 <= n_agents <= max_agents:
            raise ValueError(f"n_agents must be in 1..{max_agents} for {type(self).__name__}, got {n_agents}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode {render_mode!r} is not supported; valid: None, 'rgb_array', 'human'")
        self.width, self.height = width, height
        self.n_agents = n_agents
        self.max_steps = max_steps
        self.see_through_walls = see_through_walls
        self.render_mode = render_mode
        self.tile_size = tile_size
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        obs_space = spaces.Box(0, 255, (core.VIEW, core.VIEW, 3), np.uint8)
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {a: spaces.Discrete(7) for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, 1.0, (width * height * 3 + 6 * n_agents,), np.float32)
        self._agent_scale = np.array([max(width - 1, 1), max(height - 1, 1), 3, *core.CODE_SCALE], np.float32)
        self._view_table = core.view_index_table(width, height, n_agents)
        self._mask_bank = core.MaskBank()
        self._orders = list(itertools.permutations(range(n_agents)))
        self._agent_colors = [COLOR_TO_IDX[c] for c in core.AGENT_COLORS[:n_agents]]
        self.np_random, _ = seeding.np_random(None)
        self._window: Any = None
        self.grid = Grid(width, height)
        self._pad = np.empty((width + 2 * core.PAD, height + 2 * core.PAD, 3), np.uint8)
        # Gather source of the views: the mirror with agents drawn in, then each agent's carried object.
        self._src = np.empty((self._pad.shape[0] * self._pad.shape[1] + n_agents, 3), np.uint8)
        # see_behind() of each src row, for occlusion; the own-cell rows stay True (agents stand on
        # cells that can be seen through, and so do the keys and balls they carry).
        self._transparent = np.ones(len(self._src), bool)
        self._clear_episode()

    # ----------------------------------------------------------------- PettingZoo API

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self._clear_episode()
        self.grid = Grid(self.width, self.height)
        self._gen_grid()
        if UNPLACED in self.agent_pos:
            raise RuntimeError(f"{type(self).__name__}._gen_grid must place all {self.n_agents} agents")
        self._encode_grid()
        self.agents = list(self.possible_agents)
        if self.render_mode == "human":
            self.render()
        obs = self._observations()
        return obs, {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        try:
            acts = [int(actions[a]) for a in self.agents]
        except KeyError as err:
            raise ValueError(f"step() needs an action for every live agent; missing {err.args[0]!r}") from None
        if min(acts) < 0 or max(acts) > DONE:
            raise ValueError(f"actions must be in 0..{DONE} (minigrid's Actions), got {acts}")
        self.step_count += 1
        acts = self._joint_actions(acts)
        for i in self._draw_order():
            self._act(i, acts[i])
        reward, terminated, success = self._outcome()
        truncated = not terminated and self.step_count >= self.max_steps
        agents = self.agents
        obs = self._observations()
        rewards = {a: reward for a in agents}
        terminations = {a: terminated for a in agents}
        truncations = {a: truncated for a in agents}
        if terminated or truncated:
            infos = {a: {"success": bool(success)} for a in agents}
            self.agents = []
        else:
            infos = {a: {} for a in agents}
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        grid = self._grid_with_agents()[core.PAD : core.PAD + self.width, core.PAD : core.PAD + self.height]
        per_agent = np.empty((self.n_agents, 6), np.float32)
        for i, ((x, y), d, obj) in enumerate(zip(self.agent_pos, self.agent_dir, self.carrying)):
            per_agent[i] = (x, y, d, *core.encode_obj(obj))
        grid = grid / core.CODE_SCALE
        return np.concatenate([grid.ravel(), (per_agent / self._agent_scale).ravel()]).astype(np.float32)

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        agents = [(p, d, c) for p, d, c in zip(self.agent_pos, self.agent_dir, core.AGENT_COLORS)]
        img = render_grid(self.grid, agents, self.tile_size)
        if self.render_mode == "rgb_array":
            return img
        self._show(img)
        return None

    def close(self) -> None:
        if self._window is not None:
            import pygame  # only the "human" render mode needs pygame

            pygame.display.quit()
            self._window = None

    # ----------------------------------------------------------------- for tasks

    def _gen_grid(self) -> None:
        """Build ``self.grid`` (a fresh ``Grid(width, height)``) and place every agent."""
        raise NotImplementedError

    def _outcome(self) -> tuple[float, bool, bool]:
        """Return ``(team reward, terminated, success)`` after all agents acted this step."""
        if self._failed:
            return 0.0, True, False
        return 0.0, False, False

    def _joint_actions(self, acts: list[int]) -> list[int]:
        """Execute actions that need several agents; return the actions still to execute one by one."""
        return acts

    def _success_reward(self) -> float:
        """minigrid's success reward: ``1 - 0.9 * step_count / max_steps``."""
        return 1.0 - 0.9 * (self.step_count / self.max_steps)

    def _rand_int(self, low: int, high: int) -> int:
        """Return an int in ``[low, high)`` from the env's seeded generator."""
        return int(self.np_random.integers(low, high))

    def _place_obj(self, obj: WorldObj | None, top=(0, 0), size=None, reject_fn=None, max_tries=math.inf):
        """Put ``obj`` on a random free cell of the rectangle (minigrid's ``place_obj``); return the cell."""
        top = (max(top[0], 0), max(top[1], 0))
        size = size or (self.width, self.height)
        tries = 0
        while True:
            tries += 1
            if tries > max_tries:
                raise RecursionError("rejection sampling failed in _place_obj")
            pos = (
                self._rand_int(top[0], min(top[0] + size[0], self.width)),
                self._rand_int(top[1], min(top[1] + size[1], self.height)),
            )
            if self.grid.get(*pos) is not None or pos in self.agent_pos:
                continue
            if reject_fn is not None and reject_fn(self, pos):
                continue
            break
        if obj is not None:
            self._put_obj(obj, *pos)
        return pos

    def _put_obj(self, obj: WorldObj, x: int, y: int) -> None:
        """Put ``obj`` at ``(x, y)`` while building the grid (minigrid's ``put_obj``)."""
        self.grid.set(x, y, obj)
        obj.init_pos = obj.cur_pos = (x, y)

    def _place_agent(self, i: int, top=(0, 0), size=None, direction: int | None = None) -> tuple[int, int]:
        """Put agent ``i`` on a random free cell of the rectangle, facing ``direction`` (random if None)."""
        pos = self._place_obj(None, top, size)
        self.agent_pos[i] = pos
        self.agent_dir[i] = self._rand_int(0, 4) if direction is None else direction
        return pos

    def _set_cell(self, x: int, y: int, obj: WorldObj | None) -> None:
        """Change a cell during an episode, keeping the encoding mirror exact."""
        self.grid.grid[y * self.width + x] = obj
        self._write_code(x, y, core.encode_obj(obj))

    def _refresh_cell(self, x: int, y: int) -> None:
        """Re-encode a cell whose object changed in place (a door opened, a box replaced)."""
        self._write_code(x, y, core.encode_obj(self.grid.grid[y * self.width + x]))

    def _write_code(self, x: int, y: int, code: tuple[int, int, int]) -> None:
        self._pad[x + core.PAD, y + core.PAD] = code
        self._transparent[(x + core.PAD) * self._pad.shape[1] + y + core.PAD] = core.is_transparent(np.asarray(code))

    def _front(self, i: int) -> tuple[int, int]:
        dx, dy = core.DIR_VECS[self.agent_dir[i]]
        x, y = self.agent_pos[i]
        return x + dx, y + dy

    # ----------------------------------------------------------------- actions

    def _act(self, i: int, action: int) -> None:
        if action == FORWARD:
            self._forward(i)
        elif action == LEFT:
            self.agent_dir[i] = (self.agent_dir[i] - 1) % 4
        elif action == RIGHT:
            self.agent_dir[i] = (self.agent_dir[i] + 1) % 4
        elif action == PICKUP:
            self._pickup(i)
        elif action == DROP:
            self._drop(i)
        elif action == TOGGLE:
            self._toggle(i)

    def _forward(self, i: int) -> None:
        fx, fy = pos = self._front(i)
        if pos in self.agent_pos:
            return
        cell = self.grid.grid[fy * self.width + fx]
        if cell is None or cell.can_overlap():
            self.agent_pos[i] = pos
            if cell is not None and cell.type == "lava":
                self._failed = True

    def _pickup(self, i: int) -> None:
        fx, fy = self._front(i)
        cell = self.grid.grid[fy * self.width + fx]
        if cell is not None and cell.can_pickup() and self.carrying[i] is None:
            self.carrying[i] = cell
            cell.cur_pos = UNPLACED
            self._set_cell(fx, fy, None)

    def _drop(self, i: int) -> None:
        fx, fy = pos = self._front(i)
        obj = self.carrying[i]
        if obj is not None and self.grid.grid[fy * self.width + fx] is None and pos not in self.agent_pos:
            self._set_cell(fx, fy, obj)
            obj.cur_pos = pos
            self.carrying[i] = None

    def _toggle(self, i: int) -> None:
        fx, fy = pos = self._front(i)
        cell = self.grid.grid[fy * self.width + fx]
        if cell is None or (isinstance(cell, Door) and pos in self.agent_pos):
            return
        # minigrid's toggle() reads env.carrying and env.grid: hand it this agent's view of both.
        cell.toggle(cast(Any, SimpleNamespace(carrying=self.carrying[i], grid=self.grid)), pos)
        self._refresh_cell(fx, fy)

    # ----------------------------------------------------------------- internals

    def _clear_episode(self) -> None:
        self.agent_pos: list[tuple[int, int]] = [UNPLACED] * self.n_agents
        self.agent_dir: list[int] = [0] * self.n_agents
        self.carrying: list[WorldObj | None] = [None] * self.n_agents
        self.step_count = 0
        self._failed = False
        self._order_buffer: list[int] = []

    def _draw_order(self) -> tuple[int, ...]:
        if self.n_agents == 1:
            return self._orders[0]
        if not self._order_buffer:
            # Drawn in batches for speed; the stream is still a pure function of the seed.
            self._order_buffer = self.np_random.integers(0, len(self._orders), _ORDER_BATCH).tolist()[::-1]
        return self._orders[self._order_buffer.pop()]

    def _encode_grid(self) -> None:
        self._pad[:] = core.WALL_CODE
        inner = np.array([core.encode_obj(obj) for obj in self.grid.grid], np.uint8)
        self._pad[core.PAD : core.PAD + self.width, core.PAD : core.PAD + self.height] = inner.reshape(
            self.height, self.width, 3
        ).transpose(1, 0, 2)
        self._transparent[: self._pad.shape[0] * self._pad.shape[1]] = core.is_transparent(self._pad).ravel()

    def _grid_with_agents(self) -> np.ndarray:
        src = self._pad.copy()
        for (x, y), d, color in zip(self.agent_pos, self.agent_dir, self._agent_colors):
            src[x + core.PAD, y + core.PAD] = (core.AGENT_TYPE, color, d)
        return src

    def _observations(self) -> dict[str, np.ndarray]:
        src, hp, n_cells = self._src, self._pad.shape[1], self._pad.shape[0] * self._pad.shape[1]
        src[:n_cells] = self._pad.reshape(-1, 3)
        keys = []
        for i, ((x, y), d, color, obj) in enumerate(
            zip(self.agent_pos, self.agent_dir, self._agent_colors, self.carrying)
        ):
            src[(x + core.PAD) * hp + y + core.PAD] = (core.AGENT_TYPE, color, d)
            src[n_cells + i] = core.EMPTY_CODE if obj is None else obj.encode()
            keys.append(((i * self.width + x) * self.height + y) * 4 + d)
        cells = self._view_table.take(keys, axis=0)  # (N, VIEW*VIEW) flat indices into src
        views = src.take(cells, axis=0).reshape(self.n_agents, core.VIEW, core.VIEW, 3)
        if not self.see_through_walls:
            views *= self._mask_bank.masks(self._transparent.take(cells))
        return dict(zip(self.possible_agents, views))

    def _show(self, img: np.ndarray) -> None:
        import pygame  # only the "human" render mode needs pygame

        if self._window is None:
            pygame.display.init()
            self._window = pygame.display.set_mode(img.shape[1::-1])
            pygame.display.set_caption(self.metadata["name"])
        self._window.blit(pygame.surfarray.make_surface(img.transpose(1, 0, 2)), (0, 0))
        pygame.event.pump()
        pygame.display.flip()

"""Whole-grid RGB rendering with minigrid's tile renderer, agents drawn as triangles in their colours.

minigrid's ``Grid.render_tile`` always draws its one agent red; this adds the agent's colour to the
tile (and to the tile cache key). Tiles are cached, so after the first frames a render is a copy of
``W * H`` small arrays.
"""

from __future__ import annotations

import math

import numpy as np
from minigrid.core.constants import COLORS
from minigrid.core.grid import Grid
from minigrid.utils.rendering import downsample, fill_coords, point_in_rect, point_in_triangle, rotate_fn

_TILE_CACHE: dict[tuple, np.ndarray] = {}
_SUBDIVS = 3


def render_tile(obj, agent: tuple[int, str] | None, tile_size: int) -> np.ndarray:
    """Return one ``(tile_size, tile_size, 3)`` tile: ``obj`` with an optional ``(direction, colour)`` agent."""
    key = (obj.encode() if obj is not None else None, agent, tile_size)
    tile = _TILE_CACHE.get(key)
    if tile is not None:
        return tile
    img = np.zeros((tile_size * _SUBDIVS, tile_size * _SUBDIVS, 3), np.uint8)
    fill_coords(img, point_in_rect(0, 0.031, 0, 1), (100, 100, 100))
    fill_coords(img, point_in_rect(0, 1, 0, 0.031), (100, 100, 100))
    if obj is not None:
        obj.render(img)
    if agent is not None:
        direction, color = agent
        triangle = point_in_triangle((0.12, 0.19), (0.87, 0.50), (0.12, 0.81))
        triangle = rotate_fn(triangle, cx=0.5, cy=0.5, theta=0.5 * math.pi * direction)
        fill_coords(img, triangle, COLORS[color])
    tile = downsample(img, _SUBDIVS).astype(np.uint8)
    _TILE_CACHE[key] = tile
    return tile


def render_grid(grid: Grid, agents: list[tuple[tuple[int, int], int, str]], tile_size: int) -> np.ndarray:
    """Render the whole grid, ``(H * tile_size, W * tile_size, 3)`` uint8, with ``(pos, dir, colour)`` agents."""
    at = {pos: (d, color) for pos, d, color in agents}
    img = np.zeros((grid.height * tile_size, grid.width * tile_size, 3), np.uint8)
    for y in range(grid.height):
        for x in range(grid.width):
            tile = render_tile(grid.get(x, y), at.get((x, y)), tile_size)
            img[y * tile_size : (y + 1) * tile_size, x * tile_size : (x + 1) * tile_size] = tile
    return img

"""The numpy side of the multi-agent MiniGrid port: encodings, view index tables, visibility.

minigrid builds every observation cell by cell in Python (``Grid.slice`` -> ``rotate_left`` ->
``encode``, then ``process_vis``): ~100-230 µs a view. Here the env keeps a padded numpy mirror of
``Grid.encode()`` (updated whenever a cell changes), and a view is one gather through a precomputed
index table plus, without see-through walls, a bit-parallel port of ``process_vis``. The result is
identical, cell for cell, to minigrid's ``gen_obs()["image"]`` (``tests/envs/test_minigrid_equivalence.py``).

Coordinates follow minigrid: arrays are indexed ``[x, y]`` (column, row); directions 0 right, 1 down,
2 left, 3 up; the agent sits at view cell ``(VIEW // 2, VIEW - 1)``.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

VIEW = 7
"""Side of an agent's square egocentric view (minigrid's default ``agent_view_size``)."""
PAD = VIEW
"""Wall padding around the mirror, so that every view window lies inside it."""
OWN_CELL = (VIEW // 2) * VIEW + VIEW - 1
"""Flat index of the agent's own cell ``(VIEW // 2, VIEW - 1)`` in a row-major ``(VIEW, VIEW)`` view."""

EMPTY_CODE = (OBJECT_TO_IDX["empty"], 0, 0)
WALL_CODE = (OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0)
AGENT_TYPE = OBJECT_TO_IDX["agent"]
WALL_TYPE = OBJECT_TO_IDX["wall"]
DOOR_TYPE = OBJECT_TO_IDX["door"]
DOOR_OPEN = STATE_TO_IDX["open"]

AGENT_COLORS = ("red", "blue", "purple", "yellow")
"""Colour of agent i (its encoding's colour channel and its triangle when rendered)."""

DIR_VECS = tuple((int(v[0]), int(v[1])) for v in DIR_TO_VEC)

# minigrid's get_view_exts: top-left corner of the view window relative to the agent, by direction.
_VIEW_TOP_LEFT = ((0, -(VIEW // 2)), (-(VIEW // 2), 0), (-(VIEW - 1), -(VIEW // 2)), (-(VIEW // 2), -(VIEW - 1)))


def encode_obj(obj) -> tuple[int, int, int]:
    """Return minigrid's encoding of a cell's content (``None`` is the empty cell)."""
    return EMPTY_CODE if obj is None else obj.encode()


def view_offsets(padded_height: int) -> np.ndarray:
    """Return flat offsets ``(4, VIEW * VIEW)`` from an agent's padded cell to its view cells, by direction.

    View cell ``[i, j]`` of an agent facing ``d`` at ``(x, y)`` is padded cell
    ``flat(x, y) + offsets[d, i * VIEW + j]``, where ``flat(x, y) = (x + PAD) * padded_height + y + PAD``.
    minigrid cuts the window at ``get_view_exts`` and rotates it left ``d + 1`` times; ``Grid.rotate_left``
    on ``[x, y]`` arrays is ``np.rot90(k=-1)``.
    """
    a, b = np.meshgrid(np.arange(VIEW), np.arange(VIEW), indexing="ij")
    offsets = []
    for d, (tx, ty) in enumerate(_VIEW_TOP_LEFT):
        ox = np.rot90(tx + a, k=-(d + 1))
        oy = np.rot90(ty + b, k=-(d + 1))
        offsets.append((ox * padded_height + oy).ravel())
    return np.stack(offsets).astype(np.intp)


def view_index_table(width: int, height: int) -> np.ndarray:
    """Return ``(width * height * 4, VIEW * VIEW)`` flat indices into the padded mirror.

    Row ``(x * height + y) * 4 + d`` lists the padded cells an agent at ``(x, y)`` facing ``d`` sees.
    """
    hp = height + 2 * PAD
    xs, ys = np.meshgrid(np.arange(width), np.arange(height), indexing="ij")
    base = ((xs + PAD) * hp + ys + PAD).reshape(-1, 1, 1)  # (W*H, 1, 1)
    return (base + view_offsets(hp)[None]).reshape(width * height * 4, VIEW * VIEW)


@cache
def _row_reach(seeds: int, transparent: int) -> int:
    """Cells of one view row that minigrid's two sweeps mark, as a bit set (bit i = column i).

    ``process_vis`` sweeps right then left; a marked cell marks its neighbour only if it can be seen
    through. That is: the right-closure of the seeds through transparent cells, then its left-closure.
    """
    full = (1 << VIEW) - 1
    marked = seeds
    while True:
        grown = marked | (((marked & transparent) << 1) & full)
        if grown == marked:
            break
        marked = grown
    while True:
        grown = marked | ((marked & transparent) >> 1)
        if grown == marked:
            return marked
        marked = grown


def is_transparent(codes: np.ndarray) -> np.ndarray:
    """Whether encoded cells ``(..., 3)`` can be seen through: all but walls and doors that are not open."""
    kind = codes[..., 0]
    return ~((kind == WALL_TYPE) | ((kind == DOOR_TYPE) & (codes[..., 2] != DOOR_OPEN)))


@lru_cache(maxsize=1 << 16)
def _view_mask(row_codes: bytes) -> np.ndarray:
    """Visibility ``(VIEW, VIEW, 1)`` uint8 of a view whose row j's transparent cells are bit set ``row_codes[j]``.

    minigrid processes the view from the agent's row (``VIEW - 1``) upwards: a row's marked cells are
    ``_row_reach`` of its seeds, and a transparent marked cell seeds its three neighbours in the next
    row up. Cached: the same transparency pattern recurs at the same place and direction.
    """
    full = (1 << VIEW) - 1
    mask = np.zeros((VIEW, VIEW, 1), np.uint8)
    seeds = 1 << (VIEW // 2)
    for j in range(VIEW - 1, -1, -1):
        marked = _row_reach(seeds, row_codes[j])
        mask[:, j, 0] = [(marked >> i) & 1 for i in range(VIEW)]
        spread = marked & row_codes[j]
        seeds = (spread | (spread << 1) | (spread >> 1)) & full
    mask.flags.writeable = False
    return mask


def visibility(transparent: np.ndarray) -> np.ndarray:
    """Port of minigrid's ``Grid.process_vis`` for a batch of views: ``(N, VIEW*VIEW)`` bool -> ``(N, VIEW, VIEW, 1)`` uint8.

    ``transparent`` says which view cells can be seen through (``WorldObj.see_behind``: all but walls
    and doors that are not open; agents do not block sight). 1 marks a visible cell.
    """
    n = transparent.shape[0]
    # bit i of byte [k * VIEW + j] is view cell (i, j) of agent k
    packed = np.packbits(transparent.reshape(n, VIEW, VIEW), axis=1, bitorder="little").tobytes()
    return np.stack([_view_mask(packed[k * VIEW : (k + 1) * VIEW]) for k in range(n)])

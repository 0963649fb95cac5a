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

from functools import cache

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

CODE_SCALE = np.array([OBJECT_TO_IDX["agent"], COLOR_TO_IDX["grey"], 3], np.float32)
"""Largest type, colour and state in an encoding (state: door 0-2, an agent's direction 0-3); scales the state."""

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


def view_index_table(width: int, height: int, n_agents: int) -> np.ndarray:
    """Return ``(n_agents * width * height * 4, VIEW * VIEW)`` flat indices into a gather source.

    Row ``((i * width + x) * height + y) * 4 + d`` lists the padded cells that agent ``i`` at ``(x, y)``
    facing ``d`` sees, except its own cell, which points at row ``P + i`` of the source (``P`` the
    padded mirror's size): the env writes agent i's carried object there, as minigrid shows it.
    """
    wp, hp = width + 2 * PAD, height + 2 * PAD
    xs, ys = np.meshgrid(np.arange(width), np.arange(height), indexing="ij")
    base = ((xs + PAD) * hp + ys + PAD).reshape(-1, 1, 1)  # (W*H, 1, 1)
    table = (base + view_offsets(hp)[None]).reshape(1, width * height * 4, VIEW * VIEW)
    table = np.repeat(table, n_agents, axis=0)
    table[:, :, OWN_CELL] = wp * hp + np.arange(n_agents)[:, None]
    return table.reshape(n_agents * width * height * 4, VIEW * VIEW)


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


def _view_mask(transparent: bytes) -> np.ndarray:
    """Visibility ``(VIEW, VIEW, 3)`` uint8 (1 visible, 0 not) of a view; ``transparent`` holds its cells' bools.

    minigrid processes the view from the agent's row (``VIEW - 1``) upwards: a row's marked cells are
    ``_row_reach`` of its seeds, and a transparent marked cell seeds its three neighbours in the next
    row up.
    """
    cells = np.frombuffer(transparent, dtype=bool).reshape(VIEW, VIEW)  # [i, j]
    row_codes = [int(cells[:, j] @ (1 << np.arange(VIEW))) for j in range(VIEW)]
    full = (1 << VIEW) - 1
    mask = np.zeros((VIEW, VIEW, 3), np.uint8)
    seeds = 1 << (VIEW // 2)
    for j in range(VIEW - 1, -1, -1):
        marked = _row_reach(seeds, row_codes[j])
        mask[:, j] = [[(marked >> i) & 1] for i in range(VIEW)]
        spread = marked & row_codes[j]
        seeds = (spread | (spread << 1) | (spread >> 1)) & full
    return mask


class MaskBank:
    """Port of minigrid's ``Grid.process_vis`` with a cache: masks keyed by the view's transparency.

    The same pattern recurs at the same place and direction, so after the first episodes a view's
    occlusion costs a dict lookup, and the batch's masks come out in one gather. Bounded: when
    ``capacity`` patterns are stored, it starts over.
    """

    def __init__(self, capacity: int = 1 << 12) -> None:
        self.capacity = capacity
        self._bank = np.empty((capacity, VIEW, VIEW, 3), np.uint8)
        self._index: dict[bytes, int] = {}

    def masks(self, transparent: np.ndarray) -> np.ndarray:
        """Return visibility ``(N, VIEW, VIEW, 3)`` uint8 for ``(N, VIEW*VIEW)`` bool see-through cells.

        ``transparent`` follows ``WorldObj.see_behind``: all but walls and doors that are not open;
        agents do not block sight.
        """
        raw, size = transparent.tobytes(), VIEW * VIEW
        rows = []
        for k in range(0, len(raw), size):
            key = raw[k : k + size]
            row = self._index.get(key)
            if row is None:
                if len(self._index) == self.capacity:
                    self._index.clear()
                row = self._index[key] = len(self._index)
                self._bank[row] = _view_mask(key)
            rows.append(row)
        return self._bank.take(rows, axis=0)

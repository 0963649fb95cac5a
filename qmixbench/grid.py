"""Config grids: the product of several config keys' values, one *variant* per point.

A grid comes from ``qmixbench run --grid lr=1e-3,5e-4 --grid mixer.embed_dim=32,64`` or from a
suite's ``[grid]`` table; :func:`qmixbench.sweep.expand` turns each point into runs whose config
has those values, named by :func:`variant_name` (``lr=0.001,mixer.embed_dim=64``) and kept in their
own run directories (:func:`qmixbench.recorder.run_dir`).

Correctness-critical decisions made here and in ``expand``:

* **The name is read from the resolved config**, not from the text the user typed, so ``1e-3`` and
  ``0.001`` name the same variant and a resumed sweep finds the runs it wrote.
* **A variant names only the keys its run has.** ``mixer.*`` keys apply to the presets whose mixer
  has them (``qmixbench.algos._for_mixer``): under ``--grid mixer.embed_dim=32,64`` QMIX gets two
  variants and VDN one (``""`` when no other key is gridded), never two identical runs under two names.
* **No grid, no variant.** The variant ``""`` keeps the run directory ``OUT/<env>/<algo>/seed_<k>``,
  so results written before grids existed, and their ``--resume``, are unchanged.

This module imports neither torch nor pandas.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from qmixbench.errors import QmixbenchError


class GridError(QmixbenchError, ValueError):
    """A malformed grid: the message names the key and what is valid."""


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes, so ``[3,4]`` stays one value."""
    items, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += ch
    items.append(current)
    return [t.strip() for t in items]


def parse_grid_args(items: Sequence[str]) -> dict[str, list[str]]:
    """``["lr=1e-3,5e-4", "mixer.embed_dim=32,64"]`` -> ``{"lr": ["1e-3", "5e-4"], ...}``, in the order given.

    Values stay text here; ``expand`` coerces and range-checks them through the config.

    Raises:
        GridError: an item without ``=``, an empty value, a key given twice, or a value given twice.
    """
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GridError(f"--grid takes KEY=V1,V2,..., got {item!r}")
        if key in grid:
            raise GridError(f"--grid {key} is given twice; list all its values in one --grid {key}=V1,V2")
        values = split_values(text)
        if any(v == "" for v in values):
            raise GridError(f"--grid {key} has an empty value ({text!r}); give comma-separated values")
        grid[key] = _distinct(key, values)
    return grid


def check_grid(grid: Mapping[str, Any], where: str) -> dict[str, list[Any]]:
    """A suite's ``[grid]`` (dotted keys -> non-empty lists of values), checked.

    Raises:
        GridError: naming ``where`` and the key.
    """
    out: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{where}: grid {key} must be a non-empty list of values, got {values!r}")
        out[key] = _distinct(key, values)
    return out


def _distinct(key: str, values: Sequence[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if any(type(value) is type(s) and value == s for s in seen):
            raise GridError(f"grid {key}: value {value!r} is given twice; each value names one variant")
        seen.append(value)
    return seen


def points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every point of the grid's product, keys in the grid's order (the last key varies fastest).

    An empty grid has one point, ``{}``: the runs without a variant.
    """
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def format_value(value: Any) -> str:
    """How a config value reads in a variant name: ``0.001``, ``64``, ``true``, ``gru``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float: 0.001, 1e-05, 1.0
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def variant_name(values: Mapping[str, Any]) -> str:
    """``{"lr": 0.001, "mixer.embed_dim": 64}`` -> ``"lr=0.001,mixer.embed_dim=64"``; ``{}`` -> ``""``."""
    return ",".join(f"{key}={format_value(value)}" for key, value in values.items())


def arm_label(algo: str, variant: str) -> str:
    """How one (algorithm, variant) pair is shown in tables and plots: ``qmix`` or ``qmix[lr=0.001]``."""
    return f"{algo}[{variant}]" if variant else algo

"""Per-task reference points that turn returns into normalised scores, read from a small CSV file.

A normalised score is ``(return - random_return) / (best_return - random_return)``: 0 is a uniformly
random policy, 1 the best return (the task's optimum where it is known, else the best known), so
scores of different tasks can be pooled (rliable's aggregates, performance profiles).

The file (``benchmarks/reference-scores.csv`` in the source tree) has the columns :data:`COLUMNS`:

* ``env``            the env string exactly as runs record it (a registered id, or an id with
  ``?key=value`` arguments when the points hold for those arguments only);
* ``random_return``  the expected return of a uniformly random joint policy (computed where the game
  is small enough, else measured, and the ``source`` says which);
* ``best_return``    the optimum or best-known return; ``best_kind`` says which (:data:`BEST_KINDS`);
* ``source``         how both numbers were obtained.

Correctness-critical decision made here: an env with no row is **not** normalised by a guess (the best
return seen in the results, say, which moves with every sweep); the report leaves it out of the
cross-task aggregates and says so.

Imports neither torch nor pandas.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qmixbench.errors import QmixbenchError

COLUMNS = ("env", "random_return", "best_return", "best_kind", "source")
BEST_KINDS = ("optimum", "best-known")
DEFAULT_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "reference-scores.csv"
"""The reference points shipped in the source tree (absent from a wheel install: pass ``--references``)."""


class ReferenceError(QmixbenchError, ValueError):
    """A reference-points file that cannot be used; the message names the file, the line and what is valid."""


@dataclass(frozen=True)
class ReferencePoint:
    """The two returns that anchor one task's normalised score."""

    env: str
    """The env string the points hold for."""
    random_return: float
    """Expected return of a uniformly random policy: normalised score 0."""
    best_return: float
    """Optimum or best-known return: normalised score 1."""
    best_kind: str
    """``optimum`` (provably the best return) or ``best-known``."""
    source: str
    """How the numbers were obtained."""

    def normalise(self, returns: np.ndarray | float) -> np.ndarray:
        """Returns -> normalised scores (0 random, 1 best); any shape."""
        return (np.asarray(returns, np.float64) - self.random_return) / (self.best_return - self.random_return)


def load_references(path: Path | str) -> dict[str, ReferencePoint]:
    """Read and check a reference-points file: env -> :class:`ReferencePoint`.

    Raises:
        ReferenceError: a missing file, other columns, a value that is not a finite number, a best
            return not above the random one, an unknown ``best_kind`` or an env listed twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReferenceError(f"{path}: no such reference-points file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceError(f"{path}: cannot read ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ReferenceError(f"{path}: columns must be {', '.join(COLUMNS)}; got {', '.join(reader.fieldnames or [])}")
    points: dict[str, ReferencePoint] = {}
    for line, row in enumerate(reader, start=2):
        where = f"{path}:{line}"
        env = (row["env"] or "").strip()
        if not env:
            raise ReferenceError(f"{where}: env is empty")
        if env in points:
            raise ReferenceError(f"{where}: {env} is listed twice")
        numbers = {}
        for key in ("random_return", "best_return"):
            try:
                numbers[key] = float(row[key])
            except (TypeError, ValueError):
                raise ReferenceError(f"{where}: {key} {row[key]!r} is not a number") from None
            if not math.isfinite(numbers[key]):
                raise ReferenceError(f"{where}: {key} {row[key]!r} is not a finite number")
        if not numbers["best_return"] > numbers["random_return"]:
            raise ReferenceError(f"{where}: best_return must be above random_return (the scale from 0 to 1)")
        if row["best_kind"] not in BEST_KINDS:
            raise ReferenceError(f"{where}: best_kind {row['best_kind']!r} is not one of {', '.join(BEST_KINDS)}")
        points[env] = ReferencePoint(
            env, numbers["random_return"], numbers["best_return"], row["best_kind"], row["source"] or ""
        )
    return points

"""What one run leaves on disk, written so that an interruption never leaves a half-written file.

Layout of a run directory (``run_dir(out, env, algo, seed)`` = ``OUT/<env-slug>/<algo>/seed_<k>/``; a run
of a config grid's variant (:mod:`qmixbench.grid`) is one level deeper, ``OUT/<env-slug>/<algo>/<variant-slug>/seed_<k>/``):

* ``config.json``   ``{"run": {env, env_kwargs, algo, seed, variant}, "config": TrainConfig as a dict,
  "env_info": EnvInfo as a dict, "provenance": {...}}``; written once at the start.
* ``metrics.csv``   one row per evaluation, columns :data:`METRIC_COLUMNS`; rewritten whole
  (atomically) at each evaluation, so it is always complete up to the last evaluation.
* ``status.json``   ``{"status": "running"|"done"|"failed"|"interrupted", "env_steps", "error", "traceback",
  "started_at", "finished_at"}``.
* ``agent.pt``      the trained agent network (the only network needed to act).
* ``checkpoint.pt`` everything needed to resume (replay buffer included); deleted when the run is
  done, unless it was started with ``--keep-checkpoints``.
* ``final.pt``      a done run's learner (agent, mixer, targets, optimiser), counters and RNG states,
  without the replay buffer (what ``qmixbench explain`` reads the mixer from).
* ``tensorboard/``, ``wandb/`` what ``--logger`` trackers write, when named.

Every file is written to a temporary file in the same directory and moved into place with
``os.replace``, which is atomic on POSIX and Windows.

This module never imports torch: the report code reads run directories through it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args

if TYPE_CHECKING:
    from qmixbench.config import ConfigRecord

METRIC_COLUMNS: tuple[str, ...] = (
    "env_steps",
    "episodes",
    "updates",
    "eval_return_mean",
    "eval_return_std",
    "eval_success_rate",
    "eval_episode_len_mean",
    "train_return_mean",
    "td_loss",
    "epsilon",
    "wall_time_s",
    "env_steps_per_s",
)
"""Columns of ``metrics.csv``, documented with units in results/README.md."""

RunStatus = Literal["running", "done", "failed", "interrupted"]
"""A run's state. ``interrupted``: stopped by Ctrl-C or SIGTERM (KeyboardInterrupt); ``--resume`` continues it."""
STATUSES: tuple[str, ...] = get_args(RunStatus)


class StatusRecord(TypedDict):
    """``status.json``, as :meth:`RunRecorder.set_status` writes it."""

    status: RunStatus
    env_steps: int
    """Env steps trained when it was written."""
    error: str | None
    """One line: why the run failed (None unless ``failed``)."""
    traceback: str | None
    """The failure's traceback (None unless ``failed``)."""
    started_at: float | None
    """Unix time the run (or its latest resume) started; None only in a failure recorded for a run
    whose ``train()`` never wrote a status (:func:`qmixbench.sweep.jobs.run_job` records it)."""
    finished_at: float | None
    """Unix time it stopped (None while ``running``)."""


RUN_FILES = ("status.json", "config.json", "job.json", "metrics.csv", "checkpoint.pt", "agent.pt", "final.pt")
"""Every file a run directory holds (``job.json`` is written by :mod:`qmixbench.sweep.jobs`)."""

TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
"""What :func:`atomic_write_bytes`' temporary files are called: ``.<name>.<8 random chars>.tmp`` (mkstemp)."""


def slug(text: str) -> str:
    """A file-system-safe name for an env id or entry point: ``multigrid/empty-8x8-v0`` -> ``multigrid__empty-8x8-v0``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("/", "__")).strip("_") or "env"


MAX_VARIANT_DIR = 100
"""Longest variant directory name; a longer one is cut and ends in a hash of the whole name (file systems
allow 255 bytes a name, and paths on some systems 260 characters in all)."""


def variant_slug(variant: str) -> str:
    """A file-system-safe directory name for a grid variant: ``lr=0.001,mixer.embed_dim=64`` stays as it is.

    ``=`` and ``,`` are safe on POSIX and Windows, and no env slug, algorithm name or ``seed_<k>``
    contains ``=``, so a variant directory is never mistaken for another level of the layout.
    """
    text = re.sub(r"[^A-Za-z0-9._=,+-]+", "_", variant).strip("_.") or "_"
    if text == variant and len(text) <= MAX_VARIANT_DIR:
        return text
    # Cleaned or cut: a hash of the whole name keeps apart two variants whose short names coincide.
    digest = hashlib.sha1(variant.encode("utf-8")).hexdigest()[:8]
    return f"{text[: MAX_VARIANT_DIR - 9]}~{digest}"


def run_dir(out: Path | str, env: str, algo: str, seed: int, variant: str = "") -> Path:
    """The directory of one run inside a results directory (``variant`` "" for a run outside any grid)."""
    base = Path(out) / slug(env) / algo
    return (base / variant_slug(variant) if variant else base) / f"seed_{seed}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        # mkstemp makes the file owner-only (0600); results are shared (Ray clusters, teams), so give
        # it the mode a plain open() would: 0666 less the umask.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def atomic_write_json(path: Path | str, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default, allow_nan=True) + "\n")


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class RunRecorder:
    """Writes one run's files; holds the metric rows so each write is a whole, valid CSV."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self.started_at = time.time()

    def load_metrics(self) -> list[dict[str, str]]:
        """Reload rows from an existing ``metrics.csv`` (used when resuming)."""
        path = self.dir / "metrics.csv"
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as fh:
            self.rows = list(csv.DictReader(fh))
        return self.rows

    def write_config(self, data: ConfigRecord) -> None:
        atomic_write_json(self.dir / "config.json", data)

    def log_eval(self, row: dict[str, Any]) -> None:
        unknown = set(row) - set(METRIC_COLUMNS)
        if unknown:
            raise KeyError(f"unknown metric columns {sorted(unknown)}; valid: {', '.join(METRIC_COLUMNS)}")
        self.rows.append(row)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(METRIC_COLUMNS)
        for r in self.rows:
            writer.writerow([_cell(r.get(c)) for c in METRIC_COLUMNS])
        atomic_write_text(self.dir / "metrics.csv", buf.getvalue())

    def truncate_metrics(self, max_env_steps: int) -> None:
        """Drop rows past ``max_env_steps`` (rows logged after the checkpoint a resumed run restarts from)."""
        self.rows = [r for r in self.rows if int(float(r["env_steps"])) <= max_env_steps]

    def set_status(
        self, status: RunStatus, env_steps: int = 0, error: str | None = None, traceback: str | None = None
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        record: StatusRecord = {
            "status": status,
            "env_steps": int(env_steps),
            "error": error,
            "traceback": traceback,
            "started_at": self.started_at,
            "finished_at": None if status == "running" else time.time(),
        }
        atomic_write_json(self.dir / "status.json", record)


def remove_stale_temp_files(root: Path | str) -> int:
    """Delete the temporary files of atomic writes that never finished (a writer killed mid-write),
    anywhere under ``root``; returns how many.

    Only safe while no writer is live under ``root`` (the caller holds its results lock): a live
    writer's temporary file looks the same.
    """
    removed = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if _TEMP_NAME.match(name):
                Path(folder, name).unlink(missing_ok=True)
                removed += 1
    return removed


def read_status(directory: Path | str) -> StatusRecord | None:
    """The run's ``status.json``, or None if it never started (a file from outside qmixbench is not
    checked here: :func:`qmixbench.run_files.read_run` checks what it reads)."""
    path = Path(directory) / "status.json"
    return read_json(path) if path.exists() else None

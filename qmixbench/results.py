"""Load run directories into tidy pandas DataFrames with a checked schema. Never imports torch.

Two tables, both built from the files described in :mod:`qmixbench.recorder` (and ``job.json``,
written by :mod:`qmixbench.sweep.jobs` before a run starts):

* :func:`load` — **the** results table, tidy: one row per evaluation of one run. Columns
  :data:`SCHEMA` (run identity (env, algo, config-grid variant, seed) + every ``metrics.csv`` column) then one ``config.<key>`` column per
  :class:`~qmixbench.config.TrainConfig` key (dotted, e.g. ``config.mixer.kind``), so any config
  key can be a group-by column and the report can show which keys differ between algorithms.
* :func:`runs` — one row per run (also runs that failed before their first evaluation): what
  ``qmixbench list runs`` shows and where failures are read from.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from qmixbench import run_files
from qmixbench.config import TrainConfig, flatten, valid_keys
from qmixbench.errors import QmixbenchError
from qmixbench.recorder import METRIC_COLUMNS
from qmixbench.run_files import CONFIG_FILE, RECORD_FILES, DamagedRunError, RunFiles, read_record, read_run

log = logging.getLogger(__name__)

JOB_FILE = run_files.JOB_FILE
"""Written by :mod:`qmixbench.sweep.jobs` before ``train()`` starts: ``{"run", "config", "pid", "host", "submitted_at"}``."""

CONFIG_PREFIX = "config."
CONFIG_COLUMNS: tuple[str, ...] = tuple(CONFIG_PREFIX + k for k in valid_keys(TrainConfig))
"""The config columns every run has; a mixer's own fields (``config.mixer.embed_dim``, ...) follow them,
for the runs whose mixer has them (empty for the others)."""

_COUNT_COLUMNS = ("episodes", "updates")
SCHEMA: dict[str, str] = {
    "env": "object",
    "algo": "object",
    "variant": "object",
    "seed": "int64",
    "status": "object",
    "run_dir": "object",
    "env_kwargs": "object",
    **{c: ("int64" if c == "env_steps" else "Int64" if c in _COUNT_COLUMNS else "float64") for c in METRIC_COLUMNS},
}
"""Column -> dtype of :func:`load`'s table (the ``config.*`` columns follow, dtype object)."""

RUN_SCHEMA: dict[str, str] = {
    "env": "object",
    "algo": "object",
    "variant": "object",
    "seed": "int64",
    "status": "object",
    "env_steps": "int64",
    "total_env_steps": "Int64",
    "evaluations": "int64",
    "final_return": "float64",
    "error": "object",
    "run_dir": "object",
}
"""Column -> dtype of :func:`runs`' table."""

REQUIRED_METRICS = run_files.REQUIRED_METRICS
STATUSES = ("done", "failed", "running", "interrupted", "pending")


class SchemaError(QmixbenchError, ValueError):
    """A results table or file that does not have the documented columns and types."""


def find_run_dirs(paths: Iterable[Path | str]) -> list[Path]:
    """Every run directory at or below ``paths`` (a directory holding status.json, config.json or job.json)."""
    found: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or directory")
        for name in RECORD_FILES:
            if (root / name).exists():
                found.add(root)
            found.update(p.parent for p in root.rglob(name))
    return sorted(found)


def _identity(files: RunFiles) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run identity {env, algo, variant, seed, env_kwargs}, flat TrainConfig dict) from config.json, else
    job.json, else the path.

    ``variant`` is "" for a run outside any config grid (and every run written before grids existed);
    ``env_kwargs`` is the env factory's keyword arguments as sorted JSON text, "" when there are none.
    """
    if files.record is not None:  # read_run checked its "run" object
        info = files.record["run"]
        kwargs = info.get("env_kwargs") or {}
        return {
            "env": info["env"],
            "algo": info["algo"],
            "variant": info.get("variant", ""),
            "seed": info["seed"],
            "env_kwargs": json.dumps(kwargs, sort_keys=True, default=repr) if kwargs else "",
        }, flatten(files.config)
    # Layout fallback: OUT/<env-slug>/<algo>/seed_<k>, or OUT/<env-slug>/<algo>/<variant-slug>/seed_<k>
    # (only a variant directory's name holds "=": recorder.variant_slug).
    run = files.directory
    try:
        seed = int(run.name.removeprefix("seed_"))
    except ValueError:
        raise DamagedRunError(
            f"{run}: no config.json or {JOB_FILE}, and the path is not .../<env>/<algo>/seed_<k>"
        ) from None
    variant = run.parent.name if "=" in run.parent.name else ""
    algo_dir = run.parent.parent if variant else run.parent
    return {
        "env": algo_dir.parent.name.replace("__", "/"),
        "algo": algo_dir.name,
        "variant": variant,
        "seed": seed,
        "env_kwargs": "",
    }, {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by whoever inherited it) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _state(files: RunFiles) -> str:
    if files.status is None:
        return "pending"
    state = str(files.status.get("status"))
    job = files.job or {}
    if state == "running" and job.get("host") == socket.gethostname():
        pid = job.get("pid")
        if isinstance(pid, int) and not _pid_alive(pid):
            return "interrupted"
    return state


def run_status(run: Path | str) -> str:
    """``done``, ``failed``, ``running``, ``interrupted`` (status says running but its process on this
    host is gone, or a run stopped by Ctrl-C) or ``pending`` (submitted, never started).

    Raises:
        qmixbench.run_files.DamagedRunError: a file of the run cannot be read.
    """
    return _state(read_run(run))


def _metrics_frame(files: RunFiles) -> pd.DataFrame:
    if files.metrics_header is None or not files.metrics_rows:
        return pd.DataFrame(columns=list(METRIC_COLUMNS))
    frame = pd.read_csv(io.StringIO(files.metrics_text))
    for column in METRIC_COLUMNS:
        if column not in frame:
            frame[column] = float("nan")
    return frame[list(METRIC_COLUMNS)]


def _read_runs(
    paths: Iterable[Path | str], damaged: dict[str, str] | None
) -> list[tuple[RunFiles, dict[str, Any], dict[str, Any], pd.DataFrame]]:
    """(files, identity, flat config, metrics) of every readable run; damaged ones are set aside.

    Each damaged run's reason goes into ``damaged`` (run directory -> one line), or is logged as a
    warning when ``damaged`` is None.
    """
    out = []
    for run in find_run_dirs(paths):
        try:
            files = read_run(run)
            ident, config = _identity(files)
            metrics = _metrics_frame(files)
        except (DamagedRunError, ValueError) as exc:  # ValueError: a CSV that pandas cannot parse
            reason = str(exc) if isinstance(exc, DamagedRunError) else f"{run}/metrics.csv: {exc}"
            if damaged is None:
                log.warning("skipped a damaged run: %s", reason)
            else:
                damaged[str(run)] = reason
            continue
        out.append((files, ident, config, metrics))
    return out


def _apply_dtypes(frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    for column, dtype in schema.items():
        if dtype == "object":
            frame[column] = frame[column].astype(object)
        elif dtype == "Int64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(dtype)
    return frame


def load(paths: Iterable[Path | str], damaged: dict[str, str] | None = None) -> pd.DataFrame:
    """All evaluations of all runs under ``paths``: one row per (run, evaluation); schema :data:`SCHEMA`.

    Runs without a metrics.csv contribute no rows (see :func:`runs` for them). A damaged run (see
    :mod:`qmixbench.run_files`) contributes none either: its directory and the reason go into
    ``damaged``, or into a logged warning when ``damaged`` is None.
    """
    frames = []
    for files, ident, config, metrics in _read_runs(paths, damaged):
        if metrics.empty:
            continue
        for key, value in ident.items():
            metrics[key] = value
        metrics["status"] = _state(files)
        metrics["run_dir"] = str(files.directory)
        # The shared keys always; a mixer's own keys (mixer.alpha, ...) for the runs that have them.
        keys = list(CONFIG_COLUMNS) + [CONFIG_PREFIX + k for k in config if CONFIG_PREFIX + k not in CONFIG_COLUMNS]
        for column in keys:
            value = config.get(column.removeprefix(CONFIG_PREFIX))
            metrics[column] = pd.Series([value] * len(metrics), index=metrics.index, dtype=object)
        frames.append(metrics)
    extra = sorted({c for f in frames for c in f.columns if c.startswith(CONFIG_PREFIX)} - set(CONFIG_COLUMNS))
    columns = list(SCHEMA) + list(CONFIG_COLUMNS) + extra
    table = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    table = _apply_dtypes(table, SCHEMA)
    if not table.empty and table["env_steps"].isna().any():
        raise SchemaError("metrics.csv rows without env_steps")
    table = table.sort_values(["env", "algo", "variant", "seed", "env_steps"], kind="stable", ignore_index=True)
    check_schema(table)
    return table


def runs(paths: Iterable[Path | str], damaged: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per run under ``paths``: schema :data:`RUN_SCHEMA`; damaged runs are set aside as in :func:`load`."""
    rows = []
    for files, ident, config, metrics in _read_runs(paths, damaged):
        status = files.status or {}
        last = metrics.sort_values("env_steps").iloc[-1] if not metrics.empty else None
        steps = status.get("env_steps") or (last["env_steps"] if last is not None else 0)
        rows.append(
            {
                **{k: v for k, v in ident.items() if k in RUN_SCHEMA},
                "status": _state(files),
                "env_steps": int(steps),
                "total_env_steps": config.get("total_env_steps"),
                "evaluations": len(metrics),
                "final_return": float(last["eval_return_mean"]) if last is not None else float("nan"),
                "error": status.get("error"),
                "run_dir": str(files.directory),
            }
        )
    table = pd.DataFrame(rows, columns=list(RUN_SCHEMA))
    table = _apply_dtypes(table, RUN_SCHEMA).sort_values(
        ["env", "algo", "variant", "seed"], kind="stable", ignore_index=True
    )
    check_schema(table, RUN_SCHEMA)
    return table


def _dtype_ok(actual: Any, expected: str) -> bool:
    if expected == "object":  # text: pandas < 3 stores it as object, pandas 3 as its str dtype
        return str(actual) in ("object", "str", "string")
    return str(actual) == expected


def check_schema(table: pd.DataFrame, schema: dict[str, str] = SCHEMA) -> None:
    """Raise :class:`SchemaError` unless ``table`` has every column of ``schema`` with its dtype."""
    missing = [c for c in schema if c not in table.columns]
    if missing:
        raise SchemaError(f"missing column(s): {', '.join(missing)}")
    wrong = [f"{c} is {table[c].dtype}, expected {d}" for c, d in schema.items() if not _dtype_ok(table[c].dtype, d)]
    if wrong:
        raise SchemaError("; ".join(wrong))
    if "status" in schema:
        bad = sorted(set(table["status"]) - set(STATUSES))
        if bad:
            raise SchemaError(f"unknown status value(s) {bad}; valid: {', '.join(STATUSES)}")


def scored_runs(table: pd.DataFrame, include_incomplete: bool = False) -> pd.DataFrame:
    """The rows of the runs that statistics score: runs whose status is ``done``, or every run with
    ``include_incomplete`` (their last evaluation then counts). The one rule every report section uses,
    so a crashed or half-finished run never enters a mean silently."""
    return table if include_incomplete else table[table["status"] == "done"]


def final_evaluations(table: pd.DataFrame) -> pd.DataFrame:
    """The last evaluation (largest env_steps) of each run: one row per run."""
    if table.empty:
        return table
    idx = table.groupby("run_dir", sort=False)["env_steps"].idxmax()
    return table.loc[idx].reset_index(drop=True)


def provenance(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """The distinct provenance records (commit, dirty, machine, ...) of the runs under ``paths``."""
    seen: dict[str, dict[str, Any]] = {}
    for run in find_run_dirs(paths):
        try:
            record = read_record(run / CONFIG_FILE)
        except DamagedRunError:
            continue  # load() and runs() report it
        prov = (record or {}).get("provenance") or {}
        if record is not None and isinstance(prov, dict):
            key = repr(sorted((k, str(v)) for k, v in prov.items() if k not in ("created_at", "packages")))
            seen.setdefault(key, prov)
    return list(seen.values())

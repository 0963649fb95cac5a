"""Load run directories into tidy pandas DataFrames with a checked schema. Never imports torch.

Two tables, both built from the files described in :mod:`qmixbench.recorder` (and ``job.json``,
written by :mod:`qmixbench.benchmark` before a run starts):

* :func:`load` — **the** results table, tidy: one row per evaluation of one run. Columns
  :data:`SCHEMA` (run identity + every ``metrics.csv`` column) then one ``config.<key>`` column per
  :class:`~qmixbench.config.TrainConfig` key (dotted, e.g. ``config.mixer.kind``), so any config
  key can be a group-by column and the report can show which keys differ between algorithms.
* :func:`runs` — one row per run (also runs that failed before their first evaluation): what
  ``qmixbench list runs`` shows and where failures are read from.
"""

from __future__ import annotations

import csv
import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from qmixbench.config import TrainConfig, flatten, valid_keys
from qmixbench.recorder import METRIC_COLUMNS, read_json, read_status

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
"""Written by the benchmark executor before ``train()`` starts: ``{"run", "config", "pid", "host", "submitted_at"}``."""

CONFIG_PREFIX = "config."
CONFIG_COLUMNS: tuple[str, ...] = tuple(CONFIG_PREFIX + k for k in valid_keys(TrainConfig))
"""The config columns every run has; a mixer's own fields (``config.mixer.embed_dim``, ...) follow them,
for the runs whose mixer has them (empty for the others)."""

_COUNT_COLUMNS = ("episodes", "updates")
SCHEMA: dict[str, str] = {
    "env": "object",
    "algo": "object",
    "seed": "int64",
    "status": "object",
    "run_dir": "object",
    **{c: ("int64" if c == "env_steps" else "Int64" if c in _COUNT_COLUMNS else "float64") for c in METRIC_COLUMNS},
}
"""Column -> dtype of :func:`load`'s table (the ``config.*`` columns follow, dtype object)."""

RUN_SCHEMA: dict[str, str] = {
    "env": "object",
    "algo": "object",
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

REQUIRED_METRICS = ("env_steps", "eval_return_mean")
STATUSES = ("done", "failed", "running", "interrupted", "pending")


class SchemaError(ValueError):
    """A results table or file that does not have the documented columns and types."""


def find_run_dirs(paths: Iterable[Path | str]) -> list[Path]:
    """Every run directory at or below ``paths`` (a directory holding status.json, config.json or job.json)."""
    found: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or directory")
        for name in ("status.json", "config.json", JOB_FILE):
            if (root / name).exists():
                found.add(root)
            found.update(p.parent for p in root.rglob(name))
    return sorted(found)


def _identity(run: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run identity {env, algo, seed}, flat TrainConfig dict) from config.json, else job.json, else the path."""
    for name in ("config.json", JOB_FILE):
        path = run / name
        if path.exists():
            try:
                data = read_json(path)
                info = data["run"]
                return {"env": str(info["env"]), "algo": str(info["algo"]), "seed": int(info["seed"])}, flatten(
                    data.get("config", {})
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise SchemaError(f"{path}: cannot read the run's env/algo/seed ({exc})") from exc
    # Layout fallback: OUT/<env-slug>/<algo>/seed_<k>
    try:
        seed = int(run.name.removeprefix("seed_"))
    except ValueError as exc:
        raise SchemaError(
            f"{run}: no config.json or {JOB_FILE}, and the path is not .../<env>/<algo>/seed_<k>"
        ) from exc
    return {"env": run.parent.parent.name.replace("__", "/"), "algo": run.parent.name, "seed": seed}, {}


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


def run_status(run: Path | str) -> str:
    """``done``, ``failed``, ``running``, ``interrupted`` (status says running but its process on this
    host is gone) or ``pending`` (submitted, never started)."""
    run = Path(run)
    status = read_status(run)
    if status is None:
        return "pending"
    state = str(status.get("status"))
    if state == "running" and (run / JOB_FILE).exists():
        job = read_json(run / JOB_FILE)
        if job.get("host") == socket.gethostname() and isinstance(job.get("pid"), int) and not _pid_alive(job["pid"]):
            return "interrupted"
    return state


def _read_metrics(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=list(METRIC_COLUMNS))
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    missing = [c for c in REQUIRED_METRICS if c not in header]
    if missing:
        raise SchemaError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(METRIC_COLUMNS)}")
    frame = pd.read_csv(path)
    for column in METRIC_COLUMNS:
        if column not in frame:
            frame[column] = float("nan")
    return frame[list(METRIC_COLUMNS)]


def _apply_dtypes(frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    for column, dtype in schema.items():
        if dtype == "object":
            frame[column] = frame[column].astype(object)
        elif dtype == "Int64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(dtype)
    return frame


def load(paths: Iterable[Path | str]) -> pd.DataFrame:
    """All evaluations of all runs under ``paths``: one row per (run, evaluation); schema :data:`SCHEMA`.

    Runs without a metrics.csv contribute no rows (see :func:`runs` for them).
    """
    frames = []
    for run in find_run_dirs(paths):
        ident, config = _identity(run)
        metrics = _read_metrics(run / "metrics.csv")
        if metrics.empty:
            continue
        for key, value in ident.items():
            metrics[key] = value
        metrics["status"] = run_status(run)
        metrics["run_dir"] = str(run)
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
    table = table.sort_values(["env", "algo", "seed", "env_steps"], kind="stable", ignore_index=True)
    check_schema(table)
    return table


def runs(paths: Iterable[Path | str]) -> pd.DataFrame:
    """One row per run under ``paths``: schema :data:`RUN_SCHEMA`."""
    rows = []
    for run in find_run_dirs(paths):
        ident, config = _identity(run)
        status = read_status(run) or {}
        metrics = _read_metrics(run / "metrics.csv")
        last = metrics.sort_values("env_steps").iloc[-1] if not metrics.empty else None
        steps = status.get("env_steps") or (last["env_steps"] if last is not None else 0)
        rows.append(
            {
                **ident,
                "status": run_status(run),
                "env_steps": int(steps),
                "total_env_steps": config.get("total_env_steps"),
                "evaluations": len(metrics),
                "final_return": float(last["eval_return_mean"]) if last is not None else float("nan"),
                "error": status.get("error"),
                "run_dir": str(run),
            }
        )
    table = pd.DataFrame(rows, columns=list(RUN_SCHEMA))
    table = _apply_dtypes(table, RUN_SCHEMA).sort_values(["env", "algo", "seed"], kind="stable", ignore_index=True)
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
        path = run / "config.json"
        if path.exists():
            prov = read_json(path).get("provenance") or {}
            key = repr(sorted((k, str(v)) for k, v in prov.items() if k not in ("created_at", "packages")))
            seen.setdefault(key, prov)
    return list(seen.values())

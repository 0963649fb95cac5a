"""Read one run directory's files, checked: JSON records that parse and a metrics.csv that is whole.

qmixbench's own writes are atomic (:mod:`qmixbench.recorder`), but run directories are copied,
synced, edited and sent around. ``report``, ``list runs`` and ``run --resume`` read them through
:func:`read_run`, which raises :class:`DamagedRunError` naming the file and what is wrong with it,
so the caller can set that one run aside (report, list) or run it again (resume) and go on with
the others.

Correctness-critical decisions made here:

* **A truncated metrics.csv is damage, not an early end.** The training loop evaluates whenever
  ``env_steps`` has passed the next multiple of ``eval_interval``, stepping ``n_envs`` env steps at a
  time, and once more at the end; so the first row and every later row lie at most
  ``eval_interval + n_envs - 1`` env steps after the one before, and a run whose status is ``done``
  has a last row at or past ``total_env_steps``. A file that breaks either rule, that ends in a
  partial line, or whose last row lies further than that before the ``env_steps`` that status.json
  reports, has lost rows; scoring its last row as the run's result would be wrong.
* **Shapes, not only syntax.** A record that parses but is not an object (``[]``, ``3``), or a
  ``run`` without a string env and algo and an int seed, is as unusable as garbage.

This module imports neither torch nor pandas (the sweep's jobs, :mod:`qmixbench.sweep.jobs`, read run directories through it).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmixbench.errors import QmixbenchError
from qmixbench.recorder import STATUSES

STATUS_FILE = "status.json"
CONFIG_FILE = "config.json"
JOB_FILE = "job.json"
METRICS_FILE = "metrics.csv"
RECORD_FILES = (STATUS_FILE, CONFIG_FILE, JOB_FILE)
"""Files whose presence makes a directory a run directory."""

REQUIRED_METRICS = ("env_steps", "eval_return_mean")


class DamagedRunError(QmixbenchError, ValueError):
    """A run directory whose files cannot be read or contradict each other; the message starts with the file."""


@dataclass(frozen=True)
class RunFiles:
    """One run directory's files, read and checked by :func:`read_run` (None: the file is absent)."""

    directory: Path
    status: dict[str, Any] | None = None
    """status.json."""
    config_record: dict[str, Any] | None = None
    """config.json: ``{"run", "config", "env_info", "provenance", ...}``."""
    job: dict[str, Any] | None = None
    """job.json: ``{"run", "config", "pid", "host", "submitted_at"}``."""
    metrics_header: list[str] | None = None
    """metrics.csv's column names."""
    metrics_rows: list[list[str]] = field(default_factory=list)
    """metrics.csv's rows, each as long as the header."""

    @property
    def record(self) -> dict[str, Any] | None:
        """What identifies the run: config.json, else job.json."""
        return self.config_record if self.config_record is not None else self.job

    @property
    def config(self) -> dict[str, Any]:
        """The run's resolved TrainConfig as a nested dict ({} when neither record holds one)."""
        return dict((self.record or {}).get("config") or {})

    @property
    def metrics_text(self) -> str:
        """metrics.csv as CSV text (header and rows), for a CSV parser."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if self.metrics_header is not None:
            writer.writerow(self.metrics_header)
            writer.writerows(self.metrics_rows)
        return buf.getvalue()


def read_record(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None if it does not exist.

    Raises:
        DamagedRunError: unreadable, not UTF-8, not JSON, or not a JSON object.
    """
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DamagedRunError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DamagedRunError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise DamagedRunError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise DamagedRunError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def check_run_record(path: Path, data: dict[str, Any]) -> None:
    """Raise :class:`DamagedRunError` unless ``data`` (config.json or job.json) identifies a run."""
    run = data.get("run")
    ok = (
        isinstance(run, dict)
        and isinstance(run.get("env"), str)
        and isinstance(run.get("algo"), str)
        and isinstance(run.get("seed"), int)
        and not isinstance(run.get("seed"), bool)
    )
    if not ok:
        raise DamagedRunError(f'{path}: no "run" object with a string env and algo and an integer seed')
    if isinstance(run, dict) and not isinstance(
        run.get("variant", ""), str
    ):  # absent in runs written before config grids
        raise DamagedRunError(f'{path}: "run"."variant" is not a string')
    if not isinstance(data.get("config", {}), dict):
        raise DamagedRunError(f'{path}: "config" is not an object')


def _check_status(path: Path, data: dict[str, Any]) -> None:
    if data.get("status") not in STATUSES:
        raise DamagedRunError(f"{path}: status {data.get('status')!r} is not one of {', '.join(STATUSES)}")
    steps = data.get("env_steps")
    if steps is not None and (_int(steps) is None or steps < 0):
        raise DamagedRunError(f"{path}: env_steps {steps!r} is not a count of steps")


def _read_metrics(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, rows, env_steps per row) of a metrics.csv whose lines are whole and env_steps increase."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DamagedRunError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DamagedRunError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not text:
        raise DamagedRunError(f"{path}: empty file (not even a header)")
    if not text.endswith("\n"):  # every write ends its last row with a newline
        raise DamagedRunError(f"{path}: the last line is partial (no newline at the end): the file was cut")
    try:
        header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DamagedRunError(f"{path}: not CSV ({exc})") from None
    missing = [c for c in REQUIRED_METRICS if c not in header]
    if missing:
        raise DamagedRunError(f"{path}: missing column(s) {', '.join(missing)}")
    col = header.index("env_steps")
    steps: list[int] = []
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DamagedRunError(f"{path}: line {line} has {len(row)} fields, the header {len(header)}")
        try:
            value = float(row[col])
        except ValueError:
            raise DamagedRunError(f"{path}: line {line}: env_steps {row[col]!r} is not a number") from None
        if not math.isfinite(value) or value != int(value) or value < 0:
            raise DamagedRunError(f"{path}: line {line}: env_steps {row[col]!r} is not a count of steps")
        if steps and value <= steps[-1]:
            raise DamagedRunError(f"{path}: line {line}: env_steps {int(value)} does not increase")
        steps.append(int(value))
    return header, rows, steps


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_complete(path: Path, steps: list[int], status: dict[str, Any] | None, config: dict[str, Any]) -> None:
    """Raise if ``steps`` (metrics.csv's env_steps) have lost rows; see the module docstring."""
    interval, n_envs, total = (
        _int(config.get("eval_interval")),
        _int(config.get("n_envs")),
        _int(config.get("total_env_steps")),
    )
    state = (status or {}).get("status")
    if interval is not None and interval > 0:
        slack = interval + max(n_envs or 1, 1) - 1
        previous = 0
        for step in steps:
            if step - previous > slack:
                raise DamagedRunError(
                    f"{path}: rows are missing: env_steps jumps from {previous} to {step}, more than "
                    f"eval_interval + n_envs - 1 = {slack}"
                )
            previous = step
        reported = _int((status or {}).get("env_steps"))
        if reported is not None and reported - previous > slack:
            raise DamagedRunError(
                f"{path}: rows are missing: the file ends at env step {previous}, status.json says {reported}"
            )
    if state == "done" and total is not None and (not steps or steps[-1] < total):
        end = steps[-1] if steps else 0
        raise DamagedRunError(
            f"{path}: rows are missing: the run is done but the file ends at env step {end} of {total}"
        )


def read_run(directory: Path | str) -> RunFiles:
    """Read and check a run directory's status.json, config.json, job.json and metrics.csv.

    Raises:
        DamagedRunError: the first file found unreadable, malformed or truncated (named in the message).
    """
    directory = Path(directory)
    status = read_record(directory / STATUS_FILE)
    config_record = read_record(directory / CONFIG_FILE)
    job = read_record(directory / JOB_FILE)
    if status is not None:
        _check_status(directory / STATUS_FILE, status)
    for name, data in ((CONFIG_FILE, config_record), (JOB_FILE, job)):
        if data is not None:
            check_run_record(directory / name, data)
    files = RunFiles(directory, status, config_record, job)
    metrics = directory / METRICS_FILE
    if not metrics.exists():
        if (status or {}).get("status") == "done":
            raise DamagedRunError(f"{metrics}: missing, and the run is done")
        _check_complete(metrics, [], status, files.config)
        return files
    header, rows, steps = _read_metrics(metrics)
    _check_complete(metrics, steps, status, files.config)
    return RunFiles(directory, status, config_record, job, header, rows)


def run_problem(directory: Path | str) -> str | None:
    """Why a run directory cannot be trusted (one line naming the file), or None if it reads whole."""
    try:
        read_run(directory)
    except DamagedRunError as exc:
        return str(exc)
    return None

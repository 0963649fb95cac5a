"""One job: run one RunSpec through ``train()`` into its own run directory and record how it ended; and
:func:`plan`, which splits a sweep into the runs still to do and those already done.

Correctness-critical decisions made here:

* **Crash isolation.** A job's exception (env error, NaN loss) is caught in the job, recorded in
  ``status.json`` with its traceback, and returned as a failed :class:`RunOutcome`; the other jobs go
  on. (A worker process that dies outright: :mod:`qmixbench.sweep.executors`.)
* **Resume.** ``resume=True`` skips runs whose status is ``done`` and calls ``train(resume=True)`` for
  the others, which continues from the last checkpoint. Without it, an output directory that
  already holds one of the runs is refused rather than overwritten. A run directory is only reused
  for the same config (``job.json`` records it). A run whose files are damaged
  (:mod:`qmixbench.run_files`) is run again from the start, and temporary files left by killed
  writes are removed.
* **Config grids.** Each grid point is a variant (:mod:`qmixbench.grid`) whose runs have their own
  directories (``run_dir(..., variant)``), so a resumed grid sweep skips exactly the finished variant
  runs; a run's identity is (env, algo, variant, seed).

This module imports no torch and no pandas: only the worker's ``train()`` does.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmixbench.config import JobRecord, RunSpec, resume_key, spec_record, to_dict
from qmixbench.recorder import RUN_FILES, StatusRecord, atomic_write_json, read_status, run_dir
from qmixbench.run_files import JOB_FILE, RECORD_FILES, DamagedRunError, read_record, read_run, run_problem
from qmixbench.sweep.expansion import SweepError
from qmixbench.watchdog import Limits, run_limits

log = logging.getLogger(__name__)

DEFAULT_TRAIN = "qmixbench.train:train"


@dataclass(frozen=True)
class RunOutcome:
    """What became of one job."""

    env: str
    algo: str
    seed: int
    status: str
    """``done``, ``failed`` or ``skipped`` (already done, with resume)."""
    run_dir: str
    error: str | None = None
    """One line: the exception type and message."""
    traceback: str | None = None
    wall_time_s: float = 0.0
    variant: str = ""
    """The config-grid variant (:mod:`qmixbench.grid`); "" outside any grid."""


def load_function(path: str) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function (a string, so jobs pickle for pools and Ray)."""
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"train function must be 'module:function', got {path!r}")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _mark_failed(directory: Path, error: str, tb: str) -> None:
    """Record a failure unless ``train()`` already did (or recorded a Ctrl-C), keeping its start time and steps."""
    try:
        old = read_record(directory / "status.json") or {}
    except DamagedRunError:
        old = {}
    if (old.get("status") == "failed" and old.get("traceback")) or old.get("status") == "interrupted":
        return
    record = StatusRecord(
        status="failed",
        env_steps=int(old.get("env_steps") or 0),
        error=error,
        traceback=tb,
        started_at=old.get("started_at"),
        finished_at=time.time(),
    )
    atomic_write_json(directory / "status.json", record)


def _failed(spec: RunSpec, out: Path | str, error: str, tb: str, wall_time_s: float | None = None) -> dict[str, Any]:
    """Record a failed run (see :func:`_mark_failed`) and return its :class:`RunOutcome` as a dict."""
    directory = run_dir(out, spec.env, spec.algo, spec.seed, spec.variant)
    _mark_failed(directory, error, tb)
    outcome: dict[str, Any] = {
        "env": spec.env,
        "algo": spec.algo,
        "seed": spec.seed,
        "variant": spec.variant,
        "run_dir": str(directory),
        "status": "failed",
        "error": error,
        "traceback": tb or None,
    }
    if wall_time_s is not None:
        outcome["wall_time_s"] = wall_time_s
    return outcome


def start_mode(directory: Path, resume: bool) -> tuple[str | None, bool]:
    """How :func:`run_job` starts a run that is not done: ``(problem, from_checkpoint)``.

    ``problem`` is why the run's files cannot be believed (:func:`qmixbench.run_files.run_problem`), or
    None: a damaged run starts again from the start, because a checkpoint may not match its metrics.
    ``from_checkpoint`` is True when ``resume`` is on, the files are intact and a checkpoint exists to
    continue from; otherwise the run trains from env step 0. ``run --dry-run`` predicts with this too.
    """
    problem = run_problem(directory) if resume else None
    return problem, resume and problem is None and (directory / "checkpoint.pt").exists()


def run_job(
    spec: RunSpec,
    out: str,
    train_fn: str = DEFAULT_TRAIN,
    resume: bool = False,
    progress: bool = False,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Run one spec through ``train_fn`` and return a :class:`RunOutcome` as a dict; never raises on a
    failed run (only on KeyboardInterrupt). ``limits`` are enforced in this process (best effort, see
    :mod:`qmixbench.watchdog`); the process pool enforces them from the parent instead."""
    directory = run_dir(out, spec.env, spec.algo, spec.seed, spec.variant)
    directory.mkdir(parents=True, exist_ok=True)
    problem, resume = start_mode(directory, resume)
    if problem is not None:
        log.warning("running a damaged run again from the start: %s", problem)
        for name in RUN_FILES:
            (directory / name).unlink(missing_ok=True)
    job = JobRecord(**spec_record(spec), pid=os.getpid(), host=socket.gethostname(), submitted_at=time.time())
    atomic_write_json(directory / JOB_FILE, job)
    start = time.perf_counter()
    outcome = {
        "env": spec.env,
        "algo": spec.algo,
        "seed": spec.seed,
        "variant": spec.variant,
        "run_dir": str(directory),
    }
    try:
        with run_limits(limits):
            load_function(train_fn)(spec, out, resume=resume, progress=progress)
    except Exception as exc:  # crash isolation: any failure of one run is recorded, never propagated
        tb = traceback.format_exc()
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return _failed(spec, out, error, tb, time.perf_counter() - start)
    status = read_status(directory)
    state = status.get("status") if status is not None else None  # a stand-in train() may write anything
    if state != "done":
        error = f"train() returned but status.json says {state!r}"
        return _failed(spec, out, error, "", time.perf_counter() - start)
    return {**outcome, "status": "done", "wall_time_s": time.perf_counter() - start}


def plan(specs: Sequence[RunSpec], out: Path | str, resume: bool) -> tuple[list[RunSpec], list[RunSpec]]:
    """Split specs into (to run, already done); refuse to overwrite runs unless resuming.

    Raises:
        SweepError: ``out`` already holds one of the runs and ``resume`` is off, or a run directory
            holds a run with a different config.
    """
    todo: list[RunSpec] = []
    done: list[RunSpec] = []
    for spec in specs:
        directory = run_dir(out, spec.env, spec.algo, spec.seed, spec.variant)
        existing = [n for n in RECORD_FILES if (directory / n).exists()]
        if not existing:
            todo.append(spec)
            continue
        if not resume:
            raise SweepError(
                f"{out} already holds runs (e.g. {directory}); pass --resume to continue them, or another --out"
            )
        try:
            files = read_run(directory)
        except DamagedRunError:
            todo.append(spec)  # run_job runs it again from the start
            continue
        recorded = files.job if files.job is not None else files.config_record
        if recorded is not None:
            # Keys that only change speed (config.RESULT_NEUTRAL_KEYS) may differ, or be missing from a
            # config written before they existed: the run still computes the same thing.
            old = recorded.get("config")
            new = resume_key(to_dict(spec.config))
            old = resume_key(old) if old is not None else new
            if old != new:
                keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                raise SweepError(
                    f"{directory} holds a run with a different config (keys: {', '.join(keys)}); use another --out"
                )
        (done if (files.status or {}).get("status") == "done" else todo).append(spec)
    return todo, done

"""Executors: run a sweep's jobs serially, in a local process pool (one process per run) or on Ray, and
:func:`execute`, the one entry point, which holds the output directory's lock while they run.

Correctness-critical decisions made here:

* **Crash isolation.** In the process pool each run has its own process, so a hard crash (segfault, OOM
  kill) fails that run only (status ``failed``, "worker process died with exit code N"). (A job's
  exception: :mod:`qmixbench.sweep.jobs`.)
* **No orphans.** A worker process exits when its parent dies (it watches its parent pid), so a
  ``kill -9`` of the sweep stops its runs at once; each has lost at most what it did since its last
  checkpoint, and atomic writes mean no file is half-written.
* **One command per directory.** :func:`execute` holds a :class:`~qmixbench.lock.ResultsLock` on
  the output directory (``qmixbench run`` takes it before planning), so a second sweep, or a
  ``--resume`` of a live one, is refused at once instead of training into the same run directories.
* **Hangs.** A run longer than ``Limits.run_timeout_s`` or an env call (construction, ``reset()``,
  ``step()``) longer than ``Limits.step_timeout_s`` fails with that reason; in the process pool the
  worker is killed, whatever the env does (see :mod:`qmixbench.watchdog` for what each executor
  guarantees). (Each distinct env is built once before any run starts:
  :func:`qmixbench.sweep.expansion.check_envs`.)
* **Threads.** Pool and Ray workers set ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` to 1 before torch
  loads, and ``train()`` sets ``torch.set_num_threads(config.torch_threads)`` (1 by default), so K
  workers use K cores.

This module imports no torch and no pandas: only the worker's ``train()`` does.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import multiprocessing.connection
import os
import threading
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from qmixbench.config import RunSpec
from qmixbench.grid import arm_label
from qmixbench.interrupts import interrupt_on_sigterm
from qmixbench.lock import ResultsLock
from qmixbench.recorder import remove_stale_temp_files, run_dir
from qmixbench.sweep.expansion import SweepError
from qmixbench.sweep.jobs import DEFAULT_TRAIN, RunOutcome, _failed, plan, run_job
from qmixbench.watchdog import ENV_CALLS, Limits, env_call_in

log = logging.getLogger(__name__)

Executor = Literal["process", "serial", "ray"]
"""The executors :func:`execute` offers."""
EXECUTORS: tuple[str, ...] = typing.get_args(Executor)
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(70)  # parent died (e.g. kill -9): stop rather than run on as an orphan


def _child_main(
    conn: Any,
    parent: int,
    log_level: int,
    spec: RunSpec,
    out: str,
    train_fn: str,
    resume: bool,
    progress: bool,
    env_calls: Any,
) -> None:
    os.environ.update(THREAD_ENV)
    ENV_CALLS.share(env_calls)  # the parent's watchdog reads this worker's env calls
    logging.basicConfig(
        level=log_level,
        format=f"%(levelname)s [{arm_label(spec.algo, spec.variant)} {spec.env} seed {spec.seed}] %(message)s",
    )
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        # The pool stops its workers with SIGTERM: their runs end "interrupted", not "running".
        with interrupt_on_sigterm():
            conn.send(run_job(spec, out, train_fn, resume, progress))
    finally:
        conn.close()


def _run_processes(
    jobs: list[RunSpec],
    out: str,
    train_fn: str,
    resume: bool,
    workers: int,
    report: Callable[[dict[str, Any]], None],
    limits: Limits,
) -> None:
    ctx = mp.get_context("spawn")  # fresh interpreters: no forked torch/OpenMP state, same on every OS
    pending = list(reversed(jobs))
    # sentinel -> (process, conn, spec, start (time.monotonic), the worker's env-call record)
    active: dict[Any, tuple[Any, Any, RunSpec, float, Any]] = {}
    results: dict[Any, dict[str, Any]] = {}
    progress = workers == 1  # one bar at a time is readable; K interleaved bars are not
    try:
        while pending or active:
            while pending and len(active) < workers:
                spec = pending.pop()
                recv, send = ctx.Pipe(duplex=False)
                env_calls = ctx.RawArray("d", 2)
                proc = ctx.Process(
                    target=_child_main,
                    args=(
                        send,
                        os.getpid(),
                        logging.getLogger().getEffectiveLevel(),
                        spec,
                        out,
                        train_fn,
                        resume,
                        progress,
                        env_calls,
                    ),
                    daemon=False,
                )
                proc.start()
                send.close()
                active[proc.sentinel] = (proc, recv, spec, time.monotonic(), env_calls)
            waitables = list(active) + [entry[1] for entry in active.values()]
            for ready in multiprocessing.connection.wait(waitables, timeout=min(5.0, limits.poll_period())):
                for sentinel, (proc, recv, spec, start, _) in list(active.items()):
                    if ready is recv:
                        try:
                            results[sentinel] = recv.recv()
                        except EOFError:
                            pass
                    elif ready == sentinel:
                        if sentinel not in results and recv.poll():
                            try:
                                results[sentinel] = recv.recv()
                            except EOFError:
                                pass
                        proc.join()
                        recv.close()
                        del active[sentinel]
                        outcome = results.pop(sentinel, None)
                        if outcome is None:
                            error = f"worker process died with exit code {proc.exitcode}"
                            outcome = _failed(spec, out, error, "", time.monotonic() - start)
                        report(outcome)
            _kill_overruns(active, results, out, limits, report)
    finally:
        for proc, _recv, _, _, _ in active.values():
            proc.terminate()
        for proc, recv, _, _, _ in active.values():
            proc.join(10)
            recv.close()


def _kill_overruns(
    active: dict[Any, tuple[Any, Any, RunSpec, float, Any]],
    results: dict[Any, dict[str, Any]],
    out: str,
    limits: Limits,
    report: Callable[[dict[str, Any]], None],
) -> None:
    """Kill the workers whose run or env call overran its limit and record their runs as failed."""
    now = time.monotonic()
    for sentinel, (proc, recv, spec, start, env_calls) in list(active.items()):
        reason = limits.overrun(start, env_call_in(env_calls), now)
        if reason is None or sentinel in results:  # a worker that has just reported keeps its outcome
            continue
        proc.kill()  # SIGKILL: a hung env may ignore SIGTERM or hold the GIL
        proc.join()
        recv.close()
        del active[sentinel]
        report(_failed(spec, out, f"{reason}; the worker was killed", "", now - start))


def _run_ray(
    jobs: list[RunSpec],
    out: str,
    train_fn: str,
    resume: bool,
    workers: int | None,
    address: str | None,
    report: Callable[[dict[str, Any]], None],
    limits: Limits,
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise SweepError("--executor ray needs Ray, the optional extra: pip install 'qmixbench[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        init: dict[str, Any] = {
            "address": address,
            "runtime_env": {"env_vars": dict(THREAD_ENV)},
            "log_to_driver": False,
        }
        if address is None and workers:
            init["num_cpus"] = workers
        try:
            ray.init(**init)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SweepError(
                f"cannot start or reach Ray (address {address or 'local'}): {exc}".splitlines()[0]
            ) from exc
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_job)
        refs = {task.remote(spec, out, train_fn, resume, False, limits): spec for spec in jobs}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            spec = refs.pop(ready[0])
            try:
                outcome = ray.get(ready[0])
            except Exception as exc:  # the task's worker died (OOM kill, segfault, node lost)
                error = f"ray task failed: {type(exc).__name__}: {exc}".splitlines()[0]
                outcome = _failed(spec, out, error, str(exc))
            report(outcome)
    finally:
        if started_here:
            ray.shutdown()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def execute(
    specs: Sequence[RunSpec],
    out: Path | str,
    executor: Executor = "process",
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    train_fn: str = DEFAULT_TRAIN,
    limits: Limits | None = None,
    lock: ResultsLock | None = None,
) -> list[RunOutcome]:
    """Run every spec (see this module's and :mod:`qmixbench.sweep.jobs`' docstrings for crash isolation and
    resume) and return the outcomes, in the order of ``specs``.

    Args:
        specs: from :func:`expand`.
        out: the results directory.
        executor: ``process`` (a local pool of ``workers`` processes, one run per process), ``serial``
            (in this process, one after another, with progress bars) or ``ray``.
        workers: parallel runs; default one per available core (capped at the number of runs).
        address: Ray cluster address (``auto``, ``ray://host:10001``); None starts a local instance.
        resume: skip done runs and continue the others from their last checkpoint.
        train_fn: ``"module:function"`` with train()'s signature (tests inject a fake).
        limits: the per-run wall-clock limit and the per-env-call watchdog (``Limits()``'s generous
            defaults when None); see :mod:`qmixbench.watchdog` for what each executor guarantees.
        lock: the caller's held :class:`~qmixbench.lock.ResultsLock` on ``out``; None takes one for
            this call.

    Raises:
        qmixbench.lock.ResultsDirError: ``out`` is held by another live command, or cannot be written.
    """
    limits = limits or Limits()
    if lock is None:
        with ResultsLock(out) as held:
            return execute(specs, out, executor, workers, address, resume, train_fn, limits=limits, lock=held)
    if executor not in EXECUTORS:
        raise SweepError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise SweepError(f"--workers must be >= 1, got {workers}")
    todo, done = plan(specs, out, resume)
    outcomes: dict[tuple[str, str, str, int], RunOutcome] = {}  # (env, algo, variant, seed)
    for spec in done:
        directory = run_dir(out, spec.env, spec.algo, spec.seed, spec.variant)
        outcomes[(spec.env, spec.algo, spec.variant, spec.seed)] = RunOutcome(
            spec.env, spec.algo, spec.seed, "skipped", str(directory), variant=spec.variant
        )
    if done:
        log.info("resume: %d of %d runs already done, skipped", len(done), len(specs))
    if resume:  # no writer is live (we hold the lock), so any temporary file is a killed write's leftover
        removed = remove_stale_temp_files(out)
        if removed:
            log.info("resume: removed %d temporary file(s) left by interrupted writes", removed)
    n_workers = max(1, min(workers or available_cores(), len(todo) or 1))

    def report(result: dict[str, Any]) -> None:
        fields: dict[str, Any] = {k: result[k] for k in RunOutcome.__dataclass_fields__ if k in result}
        outcome = RunOutcome(**fields)
        outcomes[(outcome.env, outcome.algo, outcome.variant, outcome.seed)] = outcome
        finished = sum(o.status != "skipped" for o in outcomes.values())
        log.info(
            "[%d/%d] %s %s seed %d: %s in %.1fs%s",
            finished,
            len(todo),
            outcome.env,
            arm_label(outcome.algo, outcome.variant),
            outcome.seed,
            outcome.status,
            outcome.wall_time_s,
            f" ({outcome.error})" if outcome.error else "",
        )

    out = str(out)
    Path(out).mkdir(parents=True, exist_ok=True)
    if todo:
        if executor == "serial":
            for spec in todo:
                report(run_job(spec, out, train_fn, resume, progress=True, limits=limits))
        elif executor == "process":
            _run_processes(todo, out, train_fn, resume, n_workers, report, limits)
        else:
            _run_ray(todo, out, train_fn, resume, workers, address, report, limits)
    return [outcomes[(s.env, s.algo, s.variant, s.seed)] for s in specs]

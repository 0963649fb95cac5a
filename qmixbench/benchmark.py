"""Expand env x algo x seed (x config-grid variant) into RunSpecs and run them: serially, in a local process pool, or on Ray.

Each run is an independent job that writes its own run directory (:func:`qmixbench.recorder.run_dir`)
through ``train(spec, out_dir, resume, progress)``; the executor only schedules jobs and reads back
their status, so every executor leaves the same layout.

Correctness-critical decisions made here:

* **Crash isolation.** A job's exception (env error, NaN loss) is caught in the job, recorded in
  ``status.json`` with its traceback, and returned as a failed :class:`RunOutcome`; the other jobs go
  on. In the process pool each run has its own process, so a hard crash (segfault, OOM kill) fails
  that run only (status ``failed``, "worker process died with exit code N").
* **No orphans.** A worker process exits when its parent dies (it watches its parent pid), so a
  ``kill -9`` of the sweep stops its runs at once; each has lost at most what it did since its last
  checkpoint, and atomic writes mean no file is half-written.
* **One command per directory.** :func:`execute` holds a :class:`~qmixbench.lock.ResultsLock` on
  the output directory (``qmixbench run`` takes it before planning), so a second sweep, or a
  ``--resume`` of a live one, is refused at once instead of training into the same run directories.
* **Resume.** ``resume=True`` skips runs whose status is ``done`` and calls ``train(resume=True)`` for
  the others, which continues from the last checkpoint. Without it, an output directory that
  already holds one of the runs is refused rather than overwritten. A run directory is only reused
  for the same config (``job.json`` records it). A run whose files are damaged
  (:mod:`qmixbench.run_files`) is run again from the start, and temporary files left by killed
  writes are removed.
* **Config grids.** Each grid point is a variant (:mod:`qmixbench.grid`) whose runs have their own
  directories (``run_dir(..., variant)``), so a resumed grid sweep skips exactly the finished variant
  runs; a run's identity is (env, algo, variant, seed).
* **Hangs.** A run longer than ``Limits.run_timeout_s`` or an env call (construction, ``reset()``,
  ``step()``) longer than ``Limits.step_timeout_s`` fails with that reason; in the process pool the
  worker is killed, whatever the env does (see :mod:`qmixbench.watchdog` for what each executor
  guarantees). Before any run starts, :func:`check_envs` builds each distinct env and its arguments
  once, so a bad argument fails the sweep once, up front, not every run.
* **Threads.** Pool and Ray workers set ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` to 1 before torch
  loads, and ``train()`` sets ``torch.set_num_threads(config.torch_threads)`` (1 by default), so K
  workers use K cores.

This module imports no torch and no pandas: only the worker's ``train()`` does.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import logging
import multiprocessing as mp
import multiprocessing.connection
import numbers
import os
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qmixbench.config import RunSpec, TrainConfig, flatten, resume_key, spec_record, to_dict
from qmixbench.errors import QmixbenchError
from qmixbench.grid import arm_label, points, variant_name
from qmixbench.interrupts import interrupt_on_sigterm
from qmixbench.lock import ResultsLock
from qmixbench.recorder import RUN_FILES, atomic_write_json, read_status, remove_stale_temp_files, run_dir
from qmixbench.run_files import DamagedRunError, read_record, read_run, run_problem
from qmixbench.watchdog import ENV_CALLS, Limits, env_call_in, run_limits

log = logging.getLogger(__name__)

DEFAULT_TRAIN = "qmixbench.train:train"
JOB_FILE = "job.json"  # the same name qmixbench.results reads (kept here so workers never import pandas)
EXECUTORS = ("process", "serial", "ray")
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class BenchmarkError(QmixbenchError, ValueError):
    """A sweep that cannot start (bad names, an occupied output directory, a missing extra)."""


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


# -- expansion ---------------------------------------------------------------------------------


def expand_envs(names: Iterable[str]) -> list[str]:
    """Env strings for ids, family names (``multigrid`` = its default task), globs (``multigrid/*``) and
    entry points (``module:factory`` or ``path/file.py:factory``), each optionally with ``?key=value``.

    Registered names are resolved to their ids (``multigrid?n_agents=3`` ->
    ``multigrid/empty-5x5-v0?n_agents=3``); an entry point's factory is imported now, so a typo fails
    before any run starts. Globs match registered ids only and take no arguments.

    Raises:
        qmixbench_envs.UnknownEnvError: a name that matches nothing; the message lists what is valid.
        qmixbench.entry_points.EnvSpecError: a bad entry point or argument string.
    """
    from qmixbench.entry_points import load_factory, parse_env_string
    from qmixbench_envs import ENV_SPECS, UnknownEnvError, resolve_id

    out: list[str] = []
    for text in names:
        name, _ = parse_env_string(text.strip())
        query = text.strip()[len(name) :]  # "" or "?key=value..."
        if ":" in name:  # an entry point: a factory, not a registry name
            load_factory(name)
            matched = [name + query]
        elif any(ch in name for ch in "*["):
            if query:
                raise UnknownEnvError(f"env pattern {name!r} cannot take arguments ({query!r}); name one id")
            matched = sorted(i for i in ENV_SPECS if fnmatch.fnmatchcase(i, name))
            if not matched:
                raise UnknownEnvError(
                    f"env pattern {name!r} matches no registered id; registered: {', '.join(sorted(ENV_SPECS))}"
                )
        else:
            matched = [resolve_id(name) + query]
        out += [i for i in matched if i not in out]
    return out


def algorithm_names() -> list[str]:
    """The algorithm presets (``qmixbench.algos.ALGORITHMS``)."""
    from qmixbench.algos import ALGORITHMS

    return list(ALGORITHMS)


def check_algos(names: Iterable[str]) -> list[str]:
    """The algorithm names, checked and without repeats; an empty list is refused, not defaulted."""
    valid = algorithm_names()
    out = []
    names = list(names)
    if not names:
        raise BenchmarkError(f"no algorithm given; valid: {', '.join(valid)}")
    for name in names:
        name = name.strip()
        if name not in valid:
            raise BenchmarkError(f"unknown algorithm {name!r}; valid: {', '.join(valid)}")
        if name not in out:
            out.append(name)
    return out


MAX_SEED = 2**32 - 1
"""Largest seed: the range every seeding API takes (numpy's legacy ``np.random.seed`` among them)."""


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """The seeds, checked: at least one, each an int in [0, MAX_SEED], none twice (a repeated seed
    would train the same run directory twice at once).

    Raises:
        BenchmarkError: naming the bad seed and what is valid.
    """
    out: list[int] = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
            raise BenchmarkError(f"seed {seed!r} is not valid; seeds are integers in [0, {MAX_SEED}]")
        seed = int(seed)
        if seed in out:
            raise BenchmarkError(f"seed {seed} is given twice; each seed names one run")
        out.append(seed)
    if not out:
        raise BenchmarkError("no seed given; give at least one integer seed")
    return out


_SEED_ITEM = re.compile(r"(-?\d+)(?:\s*-\s*(-?\d+))?")
"""One item of a seed list: a seed or an inclusive range (a sign is read, so that -1 is named as a bad seed)."""


def parse_seeds(text: str) -> list[int]:
    """Seeds written as text, the one syntax of ``--seeds`` and of a suite's ``seeds = "..."``:
    comma-separated integers and inclusive ranges, ``"0,1,2"``, ``"0-4"`` (seeds 0 to 4), ``"0-2,7"``.
    ``"5"`` is seed 5, never five seeds.

    Raises:
        BenchmarkError: naming the item that is not a seed or a range, or a bad seed (:func:`check_seeds`).
    """
    seeds: list[int] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        match = _SEED_ITEM.fullmatch(item)
        if match is None:
            raise BenchmarkError(f"{item!r} is neither a seed nor a range; write e.g. 0,1,2 or 0-4 (seeds 0 to 4)")
        lo = int(match[1])
        hi = int(match[2]) if match[2] is not None else lo
        if hi < lo:
            raise BenchmarkError(f"range {item!r} runs backwards; write it low-high, e.g. 0-4")
        seeds += range(lo, hi + 1)
    if not seeds:
        raise BenchmarkError(f"{text!r} names no seed; write e.g. 0,1,2 or 0-4 (seeds 0 to 4)")
    return check_seeds(seeds)


def default_resolve(algo: str, env: str, overrides: dict[str, Any], protocol: str | None = None) -> TrainConfig:
    """The preset for ``algo``, the env's recommended defaults, ``protocol``'s settings, then ``overrides``
    (``qmixbench.algos.resolve_config``)."""
    from qmixbench.algos import resolve_config

    return resolve_config(algo, overrides, env=env, protocol=protocol)


def expand(
    envs: Sequence[str],
    algos: Sequence[str],
    seeds: Sequence[int],
    overrides: dict[str, Any] | None = None,
    suite: Any = None,
    resolve: Callable[[str, str, dict[str, Any]], TrainConfig] | None = None,
    protocol: str | None = None,
    grid: dict[str, list[Any]] | None = None,
) -> list[RunSpec]:
    """Every env x algo x grid variant x seed as a RunSpec with its fully resolved config.

    Args:
        envs: ids, family names or globs (see :func:`expand_envs`).
        algos: algorithm preset names.
        seeds: one run per seed.
        overrides: dotted TrainConfig overrides from the command line; they win over the suite's.
        suite: a :class:`qmixbench.suite.Suite` whose overrides, per-env settings apply under ``overrides``.
        resolve: ``(algo, env, overrides) -> TrainConfig``; :func:`default_resolve` by default.
        protocol: a named protocol (``qmixbench.protocols``) applied under the overrides and recorded
            in each RunSpec; it needs the default ``resolve``.
        grid: dotted config keys -> values (:mod:`qmixbench.grid`): each point of their product is a
            variant, applied over everything else (command line included) and named after the values
            its run's resolved config holds; None (the default) or ``{}`` for no variants.

    Raises:
        UnknownEnvError, BenchmarkError, ConfigError: with one line that lists what is valid.
    """
    if protocol and resolve is not None:
        raise BenchmarkError("a protocol is applied by the default resolve; pass one or the other")
    resolve = resolve or (lambda a, e, o: default_resolve(a, e, o, protocol))
    seeds = check_seeds(seeds)
    algos = check_algos(algos)
    env_ids = expand_envs(envs)
    if not env_ids:
        raise BenchmarkError("no env given; name at least one env id, family, glob or entry point")
    grid = grid or {}
    both = sorted(set(grid) & set(overrides or {}))
    if both:
        raise BenchmarkError(f"{', '.join(both)}: set by both --set and the grid; give each key one way")
    applied: set[str] = set()  # grid keys that some run's config has (a mixer key may fit no chosen preset)
    specs = []
    for env in env_ids:
        settings = suite.settings_for(env) if suite is not None else None
        for algo in algos:
            merged = {
                **(suite.overrides if suite is not None else {}),
                **(settings.overrides if settings else {}),
                **(overrides or {}),
            }
            seen: dict[str, dict[str, Any]] = {}
            for point in points(grid):
                config = resolve(algo, env, {**merged, **point})
                flat = flatten(to_dict(config))
                used = {k: flat[k] for k in point if k in flat}  # the coerced values the run really has
                applied.update(used)
                variant = variant_name(used)
                if variant in seen:
                    if len(used) == len(point):  # not a mixer key this preset lacks: two values are one
                        raise BenchmarkError(
                            f"grid points {seen[variant]} and {point} give {algo} the same config ({variant}); "
                            "list each value once"
                        )
                    continue  # the keys this preset lacks were all that differed: the same runs
                seen[variant] = point
                for seed in seeds:
                    specs.append(
                        RunSpec(
                            env=env,
                            algo=algo,
                            seed=seed,
                            config=config,
                            env_kwargs=dict(settings.kwargs) if settings else {},
                            team_reward=settings.team_reward if settings else "auto",
                            protocol=protocol or "",
                            variant=variant,
                        )
                    )
    unused = [k for k in grid if k not in applied]
    if unused:
        raise BenchmarkError(
            f"grid key(s) {', '.join(unused)} fit none of the chosen algorithms ({', '.join(algos)}): "
            "no preset's mixer has them"
        )
    return specs


def check_envs(specs: Sequence[RunSpec], limits: Limits | None = None) -> None:
    """Build each distinct env of ``specs`` (with its arguments and team reward) once, in this process,
    and close it: a bad argument, an env qmixbench cannot run or an env whose construction hangs
    (``limits.step_timeout_s``) then fails the sweep once, before any run starts, not in every run.

    Raises:
        BenchmarkError: one line naming the env, its arguments and the error.
    """
    from qmixbench.adapter import make_adapter

    construction = Limits(run_timeout_s=None, step_timeout_s=(limits or Limits()).step_timeout_s)
    seen: set[tuple[str, str, str]] = set()
    for spec in specs:
        key = (spec.env, json.dumps(spec.env_kwargs, sort_keys=True, default=repr), spec.team_reward)
        if key in seen:
            continue
        seen.add(key)
        try:
            with run_limits(construction):
                make_adapter(spec.env, spec.env_kwargs, spec.team_reward).close()
        except Exception as exc:  # whatever the env raises, the sweep stops here with one line
            where = f"env {spec.env!r}" + (f" with kwargs {spec.env_kwargs}" if spec.env_kwargs else "")
            raise BenchmarkError(f"{where} cannot be built: {type(exc).__name__}: {exc}".splitlines()[0]) from exc


# -- one job -----------------------------------------------------------------------------------


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
    atomic_write_json(
        directory / "status.json",
        {
            "status": "failed",
            "env_steps": int(old.get("env_steps") or 0),
            "error": error,
            "traceback": tb,
            "started_at": old.get("started_at"),
            "finished_at": time.time(),
        },
    )


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
    problem = run_problem(directory) if resume else None
    if problem is not None:
        # Its files cannot be believed (a checkpoint may not match the metrics), so it starts afresh.
        log.warning("running a damaged run again from the start: %s", problem)
        for name in RUN_FILES:
            (directory / name).unlink(missing_ok=True)
    resume = resume and (directory / "checkpoint.pt").exists()  # nothing to continue from: start afresh
    atomic_write_json(
        directory / JOB_FILE,
        {**spec_record(spec), "pid": os.getpid(), "host": socket.gethostname(), "submitted_at": time.time()},
    )
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
    status = read_status(directory) or {}
    if status.get("status") != "done":
        error = f"train() returned but status.json says {status.get('status')!r}"
        return _failed(spec, out, error, "", time.perf_counter() - start)
    return {**outcome, "status": "done", "wall_time_s": time.perf_counter() - start}


# -- executors ---------------------------------------------------------------------------------


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
        raise BenchmarkError("--executor ray needs Ray, the optional extra: pip install 'qmixbench[ray]'") from exc
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
            raise BenchmarkError(
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


def plan(specs: Sequence[RunSpec], out: Path | str, resume: bool) -> tuple[list[RunSpec], list[RunSpec]]:
    """Split specs into (to run, already done); refuse to overwrite runs unless resuming.

    Raises:
        BenchmarkError: ``out`` already holds one of the runs and ``resume`` is off, or a run directory
            holds a run with a different config.
    """
    todo: list[RunSpec] = []
    done: list[RunSpec] = []
    for spec in specs:
        directory = run_dir(out, spec.env, spec.algo, spec.seed, spec.variant)
        existing = [n for n in ("status.json", "config.json", JOB_FILE) if (directory / n).exists()]
        if not existing:
            todo.append(spec)
            continue
        if not resume:
            raise BenchmarkError(
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
                raise BenchmarkError(
                    f"{directory} holds a run with a different config (keys: {', '.join(keys)}); use another --out"
                )
        (done if (files.status or {}).get("status") == "done" else todo).append(spec)
    return todo, done


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def execute(
    specs: Sequence[RunSpec],
    out: Path | str,
    executor: str = "process",
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    train_fn: str = DEFAULT_TRAIN,
    limits: Limits | None = None,
    lock: ResultsLock | None = None,
) -> list[RunOutcome]:
    """Run every spec (see the module docstring for crash isolation and resume) and return the outcomes,
    in the order of ``specs``.

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
        raise BenchmarkError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise BenchmarkError(f"--workers must be >= 1, got {workers}")
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


def outcome_dicts(outcomes: Iterable[RunOutcome]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outcomes]

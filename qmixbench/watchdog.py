"""Turn a hang into a failure: a per-run wall-clock limit and a per-env-call watchdog.

What is watched, and what is guaranteed:

* **Env calls.** Every env call qmixbench makes goes through :mod:`qmixbench.adapter`, which records
  in :data:`ENV_CALLS` which call is in progress (construction, ``reset()``, ``step()`` with
  ``state()``) and since when: two numbers written per call, cheap enough for the rollout's hot path,
  and readable from another process when they live in shared memory. A call older than
  ``Limits.step_timeout_s`` is a hang.
* **Runs.** A run older than ``Limits.run_timeout_s`` (its own wall time in this process, so a
  ``--resume`` starts the clock again) is stopped too.
* **Process executor: guaranteed.** The sweep's parent reads each worker's record; on a hang it kills
  the worker (SIGKILL: a hung env may ignore anything gentler, even hold the GIL for ever) and
  records the run as failed with the reason; the other runs go on. Processes the env itself started
  are not killed with it.
* **Serial executor, Ray and ``qmixbench check``: best effort.** There is no second process to do
  the killing, so a watchdog thread interrupts the main thread with SIGALRM, whose handler raises
  :class:`HangError` there; the run is recorded as failed with the traceback of where it hung. This
  stops an env hung in Python code or in a blocking system call (sleep, lock, socket), but not one
  stuck in C code that holds the GIL; it needs POSIX signals and the main thread, and is skipped
  (with a debug message) where either is missing. It interrupts once: code that swallows the
  exception keeps running.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from qmixbench.errors import QmixbenchError

log = logging.getLogger(__name__)

DEFAULT_RUN_TIMEOUT_S = 86_400.0
"""One day: far beyond any run of the shipped suites, still finite."""
DEFAULT_STEP_TIMEOUT_S = 600.0
"""Ten minutes for one env construction, ``reset()`` or ``step()``: no working env comes near it."""

DEFAULT_CHECK_TIMEOUT_S = 300.0
"""Five minutes for one check of ``qmixbench check``: PettingZoo's tests on the shipped envs take seconds."""

CONSTRUCTION, RESET, STEP = 1.0, 2.0, 3.0
CALL_NAMES = {CONSTRUCTION: "env construction", RESET: "env reset", STEP: "env step"}


class HangError(QmixbenchError, RuntimeError):
    """A run or an env call overran its time limit (raised in the main thread by the watchdog)."""


class EnvCalls:
    """Which env call is in progress in this process, and since when (``time.monotonic()``).

    ``cell[0]`` is the start time (0: no call in progress), ``cell[1]`` the kind (:data:`STEP`, ...).
    ``time.monotonic`` is one clock for every process of a machine (CLOCK_MONOTONIC on Linux), so a
    parent can compare a worker's start time with its own clock.
    """

    def __init__(self) -> None:
        self.cell: Any = (ctypes.c_double * 2)()

    def share(self, cell: Any) -> None:
        """Record into ``cell`` (a ``multiprocessing`` ``RawArray("d", 2)`` the parent reads)."""
        self.cell = cell

    def begin(self, kind: float) -> None:
        self.cell[1] = kind  # the kind first: a reader never pairs a fresh start with a stale kind for long
        self.cell[0] = time.monotonic()

    def end(self) -> None:
        self.cell[0] = 0.0

    @contextlib.contextmanager
    def watch(self, kind: float) -> Iterator[None]:
        """Record the enclosed block as one env call (the adapter's hot path inlines begin/end)."""
        self.begin(kind)
        try:
            yield
        finally:
            self.end()


ENV_CALLS = EnvCalls()
"""This process's record. Process-wide on purpose: env calls happen deep inside ``train()`` (rollout,
evaluation), whose signature every train function shares, and the watchdog lives outside it."""


def env_call_in(cell: Any) -> tuple[float, float]:
    """(start time, kind) of the env call recorded in ``cell``; start 0 when none is in progress."""
    return float(cell[0]), float(cell[1])


@dataclass(frozen=True)
class Limits:
    """Time limits of a run; None switches one off."""

    run_timeout_s: float | None = DEFAULT_RUN_TIMEOUT_S
    """Wall-clock seconds one run may take in one process (``qmixbench run --run-timeout``)."""
    step_timeout_s: float | None = DEFAULT_STEP_TIMEOUT_S
    """Seconds one env construction, ``reset()`` or ``step()`` may take (``--step-timeout``)."""

    def __post_init__(self) -> None:
        for name in ("run_timeout_s", "step_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 seconds or None (no limit), got {value!r}")

    def overrun(self, run_started: float, env_call: tuple[float, float], now: float) -> str | None:
        """Why a run that started at ``run_started`` must stop at ``now``, or None while it may go on.

        Args:
            run_started: ``time.monotonic()`` when the run started.
            env_call: (start, kind) of the env call in progress (:func:`env_call_in`).
            now: ``time.monotonic()``.
        """
        call_started, kind = env_call
        if self.step_timeout_s is not None and call_started > 0 and now - call_started > self.step_timeout_s:
            name = CALL_NAMES.get(kind, "env call")
            return f"{name} did not return within {self.step_timeout_s:g} s (the --step-timeout limit)"
        if self.run_timeout_s is not None and now - run_started > self.run_timeout_s:
            return f"run did not finish within {self.run_timeout_s:g} s (the --run-timeout limit)"
        return None

    def poll_period(self) -> float:
        """How often to look: a tenth of the shortest limit, between 0.01 and 1 second."""
        limits = [t for t in (self.run_timeout_s, self.step_timeout_s) if t is not None]
        return max(0.01, min([1.0, *(t / 10 for t in limits)]))


@contextlib.contextmanager
def interrupt_on_overrun(overrun: Callable[[], str | None], period: float) -> Iterator[None]:
    """Raise :class:`HangError` in the main thread once ``overrun()`` returns a reason (checked every
    ``period`` seconds by a daemon thread); see the module docstring for what this can interrupt."""
    if not hasattr(signal, "pthread_kill") or threading.current_thread() is not threading.main_thread():
        log.debug("time limits not enforced here: they need POSIX signals and the main thread")
        yield
        return
    reason: list[str] = []
    stop = threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def handler(signum: int, frame: Any) -> None:
        if reason:
            raise HangError(reason[0])

    def watch() -> None:
        while not stop.wait(period):
            found = overrun()
            if found:
                reason.append(found)
                signal.pthread_kill(main, signal.SIGALRM)
                return  # once: a second interrupt could land in the failure's own bookkeeping

    previous = signal.signal(signal.SIGALRM, handler)
    thread = threading.Thread(target=watch, name="qmixbench-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        try:
            thread.join()
        finally:
            signal.signal(signal.SIGALRM, previous)


def run_limits(limits: Limits | None) -> contextlib.AbstractContextManager[None]:
    """Enforce ``limits`` on the block (one run) in this process: :func:`interrupt_on_overrun` on the
    run's start time and :data:`ENV_CALLS`; a no-op for None."""
    if limits is None:
        return contextlib.nullcontext()
    started = time.monotonic()
    return interrupt_on_overrun(
        lambda: limits.overrun(started, env_call_in(ENV_CALLS.cell), time.monotonic()), limits.poll_period()
    )

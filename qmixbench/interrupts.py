"""SIGTERM stops a sweep the way Ctrl-C does: its runs end ``interrupted`` and ``--resume`` continues them.

A sweep started in the background (``nohup qmixbench run ... &``, a batch scheduler, ``timeout``) is
stopped with SIGTERM, not SIGINT: a non-interactive shell starts background commands with SIGINT
ignored, and schedulers send SIGTERM before SIGKILL. Python's default for SIGTERM is to die on the
spot, leaving every running run's status at ``running``. Raising :class:`KeyboardInterrupt` instead
reuses the Ctrl-C path: ``train`` writes ``interrupted`` to the run's status, the process pool sends
SIGTERM to its workers (which do the same) and waits for them, and the CLI exits 130.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread; the old handler comes back after.

    Off the main thread (where signal handlers cannot be set) it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["interrupt_on_sigterm"]

"""One live command per results directory: an OS-level lock on a file inside it.

``qmixbench run`` (and :func:`qmixbench.sweep.execute`) hold :class:`ResultsLock` on ``--out``
for as long as they write into it, so two sweeps never train into the same run directories and
``--resume`` of a sweep that is still running stops at once.

Correctness-critical decisions made here:

* **Liveness from the OS, not from the file.** The lock is ``fcntl.flock`` on ``OUT/.qmixbench.lock``.
  The kernel drops it when the holding process ends, however it ends (``kill -9`` included), so a
  lock left behind by a dead command never blocks; the file's text (pid, host, command, start time)
  is only read to name the holder in the message. The file is never deleted: deleting it would let
  a third command lock a fresh file while a second still holds the old, unlinked one.
* **Not inherited.** Python opens the file non-inheritable, so worker processes never hold the lock
  and a ``kill -9`` of the sweep frees the directory even while its workers are shutting down.
* **Advisory, and POSIX only.** Only qmixbench commands take the lock; ``flock`` works on local file
  systems and on NFS where the server supports locks. Where ``fcntl`` is missing (Windows) there
  is no lock and a warning says so.

This module imports neither torch nor pandas.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from qmixbench.errors import QmixbenchError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_FILE = ".qmixbench.lock"


class ResultsDirError(QmixbenchError, ValueError):
    """A results directory that cannot be used: held by a live command, not a directory, or not writable."""


def _describe(holder: dict[str, Any]) -> str:
    started = holder.get("started_at")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {when}: {holder.get('command', '?')}"


def _holder(fh: IO[str]) -> str:
    """The live holder named from the lock file open as ``fh`` (its line of pid, host, command, start)."""
    fh.seek(0)
    try:
        return _describe(json.loads(fh.read()))
    except ValueError:  # the holder has locked but not yet written its line
        return _describe({})


class ResultsLock:
    """An exclusive lock on a results directory, held from :meth:`acquire` to :meth:`release`.

    Use as a context manager::

        with ResultsLock(out):
            ...  # nothing else writes runs into out meanwhile
    """

    def __init__(self, directory: Path | str, command: str | None = None) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.command = command if command is not None else " ".join(["qmixbench", *sys.argv[1:]])
        self._fh: IO[str] | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fh is not None

    def acquire(self) -> ResultsLock:
        """Create the directory if needed and take the lock, or fail at once (never waits).

        Raises:
            ResultsDirError: ``directory`` is a file, cannot be created or written, or another live
                process holds the lock (the message names it).
        """
        if self._fh is not None:
            return self
        out = self.directory
        if out.exists() and not out.is_dir():
            raise ResultsDirError(f"{out} is a file, not a results directory; choose another --out")
        try:
            out.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=out).close()  # writable? (the lock file may exist and be writable alone)
            # "a+" neither truncates the holder's text before the lock is ours nor fails if it exists.
            fh = open(self.path, "a+", encoding="utf-8")  # held open until release()
        except OSError as exc:
            raise ResultsDirError(f"cannot write to results directory {out}: {exc.strerror or exc}") from exc
        if fcntl is None:  # pragma: no cover - Windows
            log.warning("no file locking on this platform: nothing stops a second command writing into %s", out)
        else:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fh)
                fh.close()
                raise ResultsDirError(
                    f"{out} is in use by another qmixbench command ({holder}); "
                    "wait for it to end or stop it, or choose another --out"
                ) from None
        fh.seek(0)
        fh.truncate()
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "started_at": time.time()}
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        """Give the lock back (closing the file releases it); the file stays, emptied."""
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        try:
            fh.seek(0)
            fh.truncate()
        finally:
            fh.close()

    def __enter__(self) -> ResultsLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def live_holder(directory: Path | str) -> str | None:
    """Who holds ``directory``'s lock now (as the refusal message names them), or None; creates
    nothing and never takes the lock for longer than the probe (``run --dry-run`` reads it)."""
    path = Path(directory) / LOCK_FILE
    if fcntl is None or not path.is_file():  # pragma: no cover - Windows
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)  # released when the file closes
            except BlockingIOError:
                return _holder(fh)
    except OSError:
        return None
    return None

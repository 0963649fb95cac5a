"""One live command per results directory (``qmixbench.lock``), in-process and across real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qmixbench.lock import LOCK_FILE, ResultsDirError, ResultsLock

TESTS = Path(__file__).resolve().parent


def test_a_second_lock_is_refused_with_the_holder_until_released(tmp_path):
    first = ResultsLock(tmp_path / "out", command="qmixbench run --env matrix").acquire()
    # flock belongs to the open file, so a second open in the same process conflicts like another process
    with pytest.raises(ResultsDirError) as info:
        ResultsLock(tmp_path / "out").acquire()
    message = str(info.value)
    assert f"pid {os.getpid()} on " in message and "qmixbench run --env matrix" in message
    first.release()
    with ResultsLock(tmp_path / "out") as again:
        assert again.held
    assert (tmp_path / "out" / LOCK_FILE).read_text() == ""  # released: no holder recorded


def test_out_that_is_a_file_or_under_a_file_is_one_clear_error(tmp_path):
    path = tmp_path / "afile"
    path.write_text("x")
    with pytest.raises(ResultsDirError, match="is a file, not a results directory"):
        ResultsLock(path).acquire()
    with pytest.raises(ResultsDirError, match="cannot write to results directory .*afile/sub"):
        ResultsLock(path / "sub").acquire()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_one_clear_error(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(ResultsDirError, match="cannot write to results directory"):
            ResultsLock(out).acquire()
    finally:
        out.chmod(0o755)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "qmixbench.cli", *args]


def test_second_command_on_a_live_out_stops_and_a_killed_holder_never_blocks(tmp_path):
    """Two real processes: the second (a new sweep, or --resume) stops at once naming the first; after
    kill -9 of the first, --resume takes the directory over."""
    suite = tmp_path / "s.toml"
    suite.write_text(
        'envs = ["matrix/two-step-v0"]\nalgos = ["qmix"]\nseeds = [0]\n'
        # 300 evaluations of 0.2 s: the holder outlives both other commands' start-up on a loaded machine
        # (it is killed at the end of the test).
        "[budget]\nenv_steps = 30000\n[eval]\ninterval = 100\n"
        '[env."matrix/two-step-v0"]\nkwargs = { mode = "slow", delay = 0.2 }\n'
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    common = ["--suite", str(suite), "--out", str(out), "--train-fn", "_fake_train:train"]
    first = subprocess.Popen(
        _cli("run", *common, "--executor", "serial"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        status = out / "matrix__two-step-v0" / "qmix" / "seed_0" / "status.json"
        deadline = time.time() + 60
        while not status.exists():
            assert first.poll() is None and time.time() < deadline, "the first sweep never started"
            time.sleep(0.1)
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == first.pid
        for extra in ([], ["--resume"]):
            second = subprocess.run(_cli("run", *common, *extra), env=env, capture_output=True, text=True, timeout=60)
            err = second.stderr.strip().splitlines()
            assert second.returncode == 2 and len(err) == 1, second.stderr
            assert (
                err[0].startswith("qmixbench run: error: ")
                and f"in use by another qmixbench command (pid {first.pid} " in err[0]
            )
        assert first.poll() is None  # the holder was not disturbed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == first.pid  # its record is left behind...
    with ResultsLock(out) as lock:  # ...but the lock died with it
        assert lock.held

"""Leftovers, overwrites and one-line errors of the README's reliability promises, each reproduced first.

(The lock, damaged run directories and the entry-point trust boundary have their own test files:
test_lock.py, test_run_files.py, test_trust.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from qmixbench import results, sweep
from qmixbench.cli import main
from qmixbench.recorder import read_status, run_dir

FAKE = ["--train-fn", "_fake_train:train"]
SMALL = ["--steps", "400", "--set", "eval_interval=100", "--seeds", "0"]
TESTS = Path(__file__).resolve().parent
ENV = "matrix/two-step-v0"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def _killed_mid_write(path: Path) -> None:
    """Leave what a kill -9 during ``atomic_write_bytes(path, ...)`` leaves: the process dies after the
    data is written and before the rename."""
    code = (
        "import os, sys; from qmixbench import recorder; "
        "os.fsync = lambda fd: os._exit(9); recorder.atomic_write_bytes(sys.argv[1], b'x' * 4096)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], timeout=60)
    assert proc.returncode == 9


def test_resume_removes_temporary_files_of_killed_writes(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--env", ENV, "--algos", "qmix", "--out", str(out), *SMALL, *FAKE]
    assert main(argv) == 0
    run = run_dir(out, ENV, "qmix", 0)
    _killed_mid_write(run / "checkpoint.pt")
    _killed_mid_write(out / "summary.csv")
    left = sorted(p.name for p in [*run.glob(".*.tmp"), *out.glob(".*.tmp")])
    assert len(left) == 2 and left[0].startswith(".checkpoint.pt.") and left[1].startswith(".summary.csv.")
    (run / "my.notes.tmp").write_text("not ours")  # not an atomic write's name: kept
    assert main([*argv, "--resume"]) == 0
    assert not [*run.glob(".*.tmp"), *out.glob(".*.tmp")] and (run / "my.notes.tmp").exists()


def test_summary_merges_by_env_and_algo_and_a_foreign_one_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    base = ["run", "--algos", "qmix", "--out", str(out), *SMALL, *FAKE]
    assert main([*base, "--env", ENV]) == 0
    assert main([*base, "--env", "matrix/climbing-v0"]) == 0  # same --out, other runs
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["env"]) == ["matrix/climbing-v0", ENV]  # the first command's row survives
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "summary.csv").write_text("name,score\nmine,1\n")
    capsys.readouterr()
    assert main([*base, "--env", ENV, "--out", str(foreign)]) == 2
    assert "summary.csv is not a summary written by qmixbench run" in one_line_error(capsys)
    assert (foreign / "summary.csv").read_text() == "name,score\nmine,1\n"
    assert not (foreign / "matrix__two-step-v0").exists()  # refused before any run


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'envs = ["matrix"]\nalgos = ["qmix"]\n# \xff\xfe\n', "not UTF-8 text"),
        (b'envs = ["matrix"]\nalgos = ["qmix"]\nenv = 3\n', "env must be a table of per-env sections"),
        (b'name = "../../x"\nenvs = ["matrix"]\nalgos = ["qmix"]\n', "name '../../x' must be a plain folder name"),
        (b'name = ".."\nenvs = ["matrix"]\nalgos = ["qmix"]\n', "name '..' must be a plain folder name"),
    ],
)
def test_bad_suites_are_one_line_and_cannot_escape_results(tmp_path, monkeypatch, capsys, content, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    suite = tmp_path / "a" / "s.toml"
    suite.write_bytes(content)
    assert main(["run", "--suite", str(suite), *FAKE]) == 2
    line = one_line_error(capsys)
    assert line.startswith("qmixbench run: error: ") and message in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # nothing written, inside results/ or out of it


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    for out, message in (
        (tmp_path / "afile", "is a file, not a results directory"),
        (tmp_path / "afile" / "x", "Not a directory"),
    ):
        assert main(["run", "--env", ENV, "--algos", "qmix", "--out", str(out), *SMALL, *FAKE]) == 2
        assert message in one_line_error(capsys)


def test_report_reps_zero_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--env", ENV, "--algos", "qmix", "--out", str(out), *SMALL, *FAKE]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--reps", "0"]) == 2
    assert "--reps must be >= 1" in one_line_error(capsys)


@pytest.mark.parametrize("command", ["eval", "explain"])
def test_a_corrupt_agent_file_is_one_line(tmp_path, capsys, command):
    pytest.importorskip("torch")
    run = tmp_path / "run"
    run.mkdir()
    config = {"eval_episodes": 2, "gamma": 0.99, "mixer": {"kind": "qmix"}}
    run_record = {"env": ENV, "env_kwargs": {}, "algo": "qmix", "seed": 0}
    (run / "config.json").write_text(json.dumps({"run": run_record, "config": config}))
    (run / "agent.pt").write_bytes(b"PK\x03\x04 truncated zip")
    (run / "checkpoint.pt").write_bytes(b"")
    assert main([command, str(run)]) == 2
    assert f"{run / 'agent.pt'}: not a readable qmixbench agent file" in one_line_error(capsys)


def _interrupting_env(tmp_path: Path) -> str:
    """An entry point: the two-step game whose 7th step raises KeyboardInterrupt, as Ctrl-C would."""
    path = tmp_path / "ctrl_c_env.py"
    path.write_text(
        "from qmixbench_envs.matrix import TwoStepEnv\n\n\n"
        "class CtrlCEnv(TwoStepEnv):\n"
        "    calls = 0\n\n"
        "    def step(self, actions):\n"
        "        CtrlCEnv.calls += 1\n"
        "        if CtrlCEnv.calls == 7:\n"
        "            raise KeyboardInterrupt\n"
        "        return super().step(actions)\n"
    )
    return f"{path}:CtrlCEnv"


def test_ctrl_c_under_the_serial_executor_is_recorded_as_interrupted(tmp_path):
    """The real train(): a KeyboardInterrupt inside the run marks it interrupted (not failed); --resume finishes it."""
    from qmixbench.algos import resolve_config
    from qmixbench.config import RunSpec

    cfg = resolve_config("qmix", {"total_env_steps": 20, "eval_interval": 10, "n_envs": 1, "batch_size": 2})
    spec = RunSpec(_interrupting_env(tmp_path), "qmix", 0, cfg)
    with pytest.raises(KeyboardInterrupt):
        sweep.execute([spec], tmp_path / "out", executor="serial")
    directory = run_dir(tmp_path / "out", spec.env, "qmix", 0)
    assert read_status(directory)["status"] == "interrupted"
    assert results.runs([tmp_path / "out"])["status"].tolist() == ["interrupted"]
    (outcome,) = sweep.execute([spec], tmp_path / "out", executor="serial", resume=True)
    assert outcome.status == "done" and read_status(directory)["status"] == "done"


def test_sigint_to_a_serial_sweep_exits_130_and_records_interrupted(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'envs = ["{ENV}"]\nalgos = ["qmix"]\nseeds = [0]\n[budget]\nenv_steps = 3000\n[eval]\ninterval = 100\n'
        f'[env."{ENV}"]\nkwargs = {{ mode = "slow", delay = 0.2 }}\n'
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "qmixbench.cli", "run", "--suite", str(suite), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--executor", "serial", *FAKE],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C reaches a sweep run in the foreground; a test session started in the background
        # (`cmd &` in a script) would hand its ignored SIGINT down, so set the foreground's default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    metrics = run_dir(out, ENV, "qmix", 0) / "metrics.csv"
    deadline = time.time() + 60
    while not metrics.exists():
        assert proc.poll() is None and time.time() < deadline, "the sweep never got going"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted"
    assert read_status(metrics.parent)["status"] == "interrupted"


def test_sigterm_to_a_background_pool_sweep_records_interrupted_and_resumes(tmp_path):
    """`kill` (SIGTERM) of a sweep started in the background, where SIGINT is ignored: every running run
    ends "interrupted" in its own status.json (written by its worker, not inferred from a dead pid),
    the sweep exits 130, and --resume finishes both runs."""
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'envs = ["{ENV}"]\nalgos = ["qmix", "vdn"]\nseeds = [0]\n[budget]\nenv_steps = 800\n[eval]\ninterval = 100\n'
        f'[env."{ENV}"]\nkwargs = {{ mode = "slow", delay = 0.2 }}\n'
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "qmixbench.cli", "run", "--suite", str(suite), "--out", str(out), *FAKE]
    background = signal.SIG_IGN  # as a non-interactive shell starts `cmd &`: SIGINT ignored
    proc = subprocess.Popen(
        [*cmd, "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, background),
    )
    metrics = [run_dir(out, ENV, algo, 0) / "metrics.csv" for algo in ("qmix", "vdn")]
    deadline = time.time() + 90
    while not all(m.exists() for m in metrics):
        assert proc.poll() is None and time.time() < deadline, "the sweep never got going"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # ignored, as in the background
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted"
    assert [read_status(m.parent)["status"] for m in metrics] == ["interrupted", "interrupted"]
    resumed = subprocess.run([*cmd, "--workers", "2", "--resume"], env=env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert [read_status(m.parent)["status"] for m in metrics] == ["done", "done"]

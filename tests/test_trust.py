"""The trust boundary: an entry point named by a run directory or a suite is imported only when the user
asks (``--trust-entry-points``, or the same env named with ``--env``); registered ids need nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmixbench.cli import main

FAKE = ["--train-fn", "_fake_train:train"]
HOSTILE_ENV = {"env": "subprocess:getoutput", "env_kwargs": {"cmd": "touch pwned"}, "algo": "qmix", "seed": 0}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def hostile_run(tmp_path, monkeypatch) -> Path:
    """A run directory someone sent: its config.json names subprocess:getoutput with a shell command."""
    monkeypatch.chdir(tmp_path)  # where "touch pwned" would land
    run = tmp_path / "sent" / "seed_0"
    run.mkdir(parents=True)
    config = {"eval_episodes": 2, "gamma": 0.99, "mixer": {"kind": "qmix"}}
    (run / "config.json").write_text(json.dumps({"run": HOSTILE_ENV, "config": config}))
    (run / "agent.pt").write_bytes(b"not an agent")
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    return run


@pytest.mark.parametrize(
    "command", ["eval", pytest.param("explain", marks=pytest.mark.torch)]
)  # explain loads torch first
def test_an_entry_point_in_a_run_directory_is_not_executed(hostile_run, capsys, command):
    assert main([command, str(hostile_run)]) == 2
    line = one_line_error(capsys)
    assert "refusing to import entry point 'subprocess:getoutput'" in line
    assert "--trust-entry-points" in line and "--env subprocess:getoutput" in line
    assert main([command, str(hostile_run), "--env", "matrix/two-step-v0"]) == 2
    assert "is not this run's env" in one_line_error(capsys)
    assert not (hostile_run.parents[1] / "pwned").exists()


def test_an_entry_point_in_a_suite_is_not_executed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "sent.toml"
    suite.write_text(
        'envs = ["subprocess:getoutput"]\nalgos = ["qmix"]\nseeds = [0]\n'
        '[env."subprocess:getoutput"]\nkwargs = { cmd = "touch pwned" }\n'
    )
    assert main(["run", "--suite", str(suite), "--out", str(tmp_path / "o"), *FAKE]) == 2
    line = one_line_error(capsys)
    assert f"named in suite {suite}" in line and "pass --trust-entry-points" in line
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "o").exists()


def test_trusted_entry_points_still_work(tmp_path, capsys):
    """The same env as an entry point: refused by default, built with the flag or with --env."""
    from qmixbench.algos import resolve_config
    from qmixbench.config import RunSpec
    from qmixbench.train import train

    env = "qmixbench_envs.matrix:TwoStepEnv"
    cfg = resolve_config("qmix", {"total_env_steps": 40, "eval_interval": 40, "batch_size": 2, "eval_episodes": 2})
    run = Path(train(RunSpec(env, "qmix", 0, cfg), tmp_path, progress=False)["run_dir"])
    assert main(["eval", str(run), "--episodes", "2"]) == 2
    assert "--trust-entry-points" in one_line_error(capsys)
    assert main(["eval", str(run), "--episodes", "2", "--trust-entry-points"]) == 0
    assert main(["eval", str(run), "--episodes", "2", "--env", env]) == 0
    assert main(["explain", str(run), "--env", env]) == 0
    assert "learned Q_tot (qmix)" in capsys.readouterr().out
    suite = tmp_path / "s.toml"
    suite.write_text(f'envs = ["{env}"]\nalgos = ["qmix"]\nseeds = [0]\n[budget]\nenv_steps = 200\n')
    argv = ["run", "--suite", str(suite), "--out", str(tmp_path / "o"), "--set", "eval_interval=100", *FAKE]
    assert main([*argv, "--trust-entry-points"]) == 0

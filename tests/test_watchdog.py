"""Hangs become failed runs: the per-env-call watchdog and the per-run wall-clock limit, under the
process executor (the worker is killed, the other runs go on), the serial one, and ``qmixbench check``."""

from __future__ import annotations

import time

import pytest
from _fake_train import spec

from qmixbench import sweep
from qmixbench.check import FAIL, SKIP, check_env
from qmixbench.recorder import read_status, run_dir
from qmixbench.watchdog import ENV_CALLS, STEP, HangError, Limits, env_call_in, interrupt_on_overrun

FAKE = "_fake_train:train"


def test_limits_name_what_overran():
    limits = Limits(run_timeout_s=100.0, step_timeout_s=2.0)
    assert limits.overrun(run_started=0.0, env_call=(0.0, STEP), now=50.0) is None  # no env call in progress
    assert limits.overrun(0.0, (49.0, STEP), 50.0) is None  # a call 1 s old
    assert limits.overrun(0.0, (47.0, STEP), 50.0) == "env step did not return within 2 s (the --step-timeout limit)"
    assert "run did not finish within 100 s" in limits.overrun(0.0, (0.0, STEP), 101.0)
    assert Limits(None, None).overrun(0.0, (1.0, STEP), 1e9) is None
    with pytest.raises(ValueError, match="step_timeout_s must be > 0"):
        Limits(step_timeout_s=0)


def test_the_adapter_records_its_env_calls():
    from qmixbench.adapter import make_adapter

    adapter = make_adapter("_hostile_envs:Tiny")
    adapter.reset(seed=0)
    assert env_call_in(ENV_CALLS.cell)[0] == 0.0, "no call in progress once reset() has returned"
    seen = []
    adapter.env.step = lambda actions: seen.append(env_call_in(ENV_CALLS.cell)) or ({}, {}, {}, {}, {})
    adapter.step([0, 0])
    assert seen[0][1] == STEP and abs(seen[0][0] - time.monotonic()) < 5.0


def test_interrupt_raises_in_the_main_thread_and_restores_the_handler():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    with pytest.raises(HangError, match="too slow"), interrupt_on_overrun(lambda: "too slow", 0.05):
        time.sleep(30)
    assert time.monotonic() - start < 10
    assert signal.getsignal(signal.SIGALRM) is before


def test_process_executor_kills_a_hung_env_step_and_goes_on(tmp_path):
    specs = [spec(seed=0, mode="hang"), spec(seed=1)]
    start = time.monotonic()
    # 3 s, not less: the healthy run's steps must not overrun it on a loaded 2-core machine.
    outcomes = sweep.execute(specs, tmp_path, workers=2, train_fn=FAKE, limits=Limits(step_timeout_s=3.0))
    assert time.monotonic() - start < 60
    assert [o.status for o in outcomes] == ["failed", "done"], [o.error for o in outcomes]
    expected = "env step did not return within 3 s (the --step-timeout limit); the worker was killed"
    assert outcomes[0].error == expected
    assert read_status(run_dir(tmp_path, "matrix/two-step-v0", "qmix", 0))["error"] == expected


def test_process_executor_enforces_the_run_wall_clock_limit(tmp_path):
    slow = spec(seed=0, mode="slow", total=30_000)  # 300 evaluations of 0.2 s: 60 s
    # 15 s: the healthy run (worker start-up and torch import included) must finish inside it even on
    # a 2-core machine running other jobs (6 s was not enough there).
    outcomes = sweep.execute([slow, spec(seed=1)], tmp_path, workers=2, train_fn=FAKE, limits=Limits(15.0, None))
    assert [o.status for o in outcomes] == ["failed", "done"], [o.error for o in outcomes]
    assert outcomes[0].error.startswith("run did not finish within 15 s (the --run-timeout limit)")
    assert outcomes[0].wall_time_s < 40  # killed at the limit, far short of the run's 60 s


@pytest.mark.parametrize(("env", "call"), [("HangingStep", "env step"), ("HangingReset", "env reset")])
def test_serial_executor_fails_a_hung_env_call_of_the_real_train(tmp_path, env, call):
    from qmixbench.algos import resolve_config
    from qmixbench.config import RunSpec

    config = resolve_config("iql", {"total_env_steps": 12, "n_envs": 2, "eval_episodes": 2, "batch_size": 2})
    hung = RunSpec(env=f"_hostile_envs:{env}", algo="iql", seed=0, config=config)
    start = time.monotonic()
    (outcome,) = sweep.execute([hung], tmp_path, executor="serial", limits=Limits(step_timeout_s=0.5))
    assert time.monotonic() - start < 60
    assert outcome.status == "failed"
    assert outcome.error == f"HangError: {call} did not return within 0.5 s (the --step-timeout limit)"
    status = read_status(run_dir(tmp_path, hung.env, "iql", 0))
    assert status["status"] == "failed" and "_hostile_envs.py" in status["traceback"]  # where it hung


def test_serial_executor_enforces_the_run_wall_clock_limit(tmp_path):
    slow = spec(seed=0, mode="slow", total=10_000)
    outcomes = sweep.execute([slow, spec(seed=1)], tmp_path, executor="serial", train_fn=FAKE, limits=Limits(1.0, None))
    assert [o.status for o in outcomes] == ["failed", "done"]
    assert "run did not finish within 1 s" in outcomes[0].error


@pytest.mark.parametrize(("env", "stuck"), [("HangingStep", "adapter episodes"), ("HangingReset", "adapter episodes")])
def test_check_times_out_and_skips_the_rest(env, stuck):
    start = time.monotonic()
    results = {r.name: r for r in check_env(f"_hostile_envs:{env}", num_cycles=5, timeout_s=0.5)}
    assert time.monotonic() - start < 30
    assert results[stuck].status == FAIL
    assert f"check '{stuck}' did not finish within 0.5 s" in results[stuck].detail
    assert "stuck at _hostile_envs.py" in results[stuck].detail and "--timeout" in results[stuck].fix
    assert results["parallel_api_test"].status == SKIP


def test_check_command_has_a_timeout(capsys):
    from qmixbench.cli import main

    assert main(["check", "--env", "_hostile_envs:HangingInit", "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "check 'env builds' did not finish within 0.5 s" in out
    assert main(["check", "--env", "matrix", "--timeout", "-1"]) == 2


def test_run_refuses_an_env_whose_construction_hangs_before_any_run(tmp_path, capsys):
    from qmixbench.cli import main

    argv = ["run", "--env", "_hostile_envs:HangingInit", "--algos", "iql", "--seeds", "0", "--out", str(tmp_path)]
    assert main([*argv, "--step-timeout", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "env construction did not return within 0.5 s" in err[0]
    assert not any(tmp_path.iterdir()), "no run was started"


def test_run_command_reports_the_hang_and_finishes_the_other_runs(tmp_path, capsys):
    from qmixbench.cli import main

    suite = tmp_path / "s.toml"
    suite.write_text(
        'envs = ["matrix/two-step-v0", "matrix/climbing-v0"]\nalgos = ["qmix"]\nseeds = [0]\n'
        '[budget]\nenv_steps = 400\n[eval]\ninterval = 100\n[env."matrix/climbing-v0"]\nkwargs = { mode = "hang" }\n'
    )
    argv = ["run", "--suite", str(suite), "--out", str(tmp_path / "o"), "--workers", "2", "--train-fn", FAKE]
    assert main([*argv, "--step-timeout", "0.5"]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 runs failed" in captured.err and "env step did not return within 0.5 s" in captured.err
    assert "matrix/two-step-v0" in captured.out  # the other run finished and is summarised

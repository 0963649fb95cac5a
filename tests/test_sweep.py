"""Sweeps: expansion, executors (serial, process pool, Ray), crash isolation, resume, kill -9."""

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
from _fake_train import spec

from qmixbench import results, sweep
from qmixbench.recorder import read_status, run_dir
from qmixbench_envs import UnknownEnvError

FAKE = "_fake_train:train"
TESTS = Path(__file__).resolve().parent


def test_expand_is_the_env_x_algo_x_seed_product():
    specs = sweep.expand(["matrix", "matrix/climbing-v0"], ["qmix", "iql"], [0, 1, 2])
    assert [(s.env, s.algo, s.seed) for s in specs[:4]] == [
        ("matrix/two-step-v0", "qmix", 0),
        ("matrix/two-step-v0", "qmix", 1),
        ("matrix/two-step-v0", "qmix", 2),
        ("matrix/two-step-v0", "iql", 0),
    ]
    assert len(specs) == 2 * 2 * 3
    assert {s.config.mixer.kind for s in specs} == {"qmix", "iql"}
    # env defaults of the learner apply (whatever they are), the command line wins over them
    from qmixbench.algos import env_defaults

    expected = env_defaults("matrix/two-step-v0").get("total_env_steps", 100_000)
    assert {s.config.total_env_steps for s in specs if s.env == "matrix/two-step-v0"} == {expected}
    cli = sweep.expand(["matrix"], ["qmix"], [0], {"total_env_steps": 123})
    assert cli[0].config.total_env_steps == 123


def test_expand_globs_dedupes_and_reports_unknown_names():
    assert sweep.expand_envs(["matrix/*", "matrix"]) == [
        "matrix/climbing-v0",
        "matrix/penalty-v0",
        "matrix/two-step-v0",
        "matrix/wqmix-one-step-v0",
    ]
    with pytest.raises(UnknownEnvError, match="unknown env id 'matrix/two-stp-v0'; did you mean matrix/two-step-v0"):
        sweep.expand_envs(["matrix/two-stp-v0"])
    with pytest.raises(UnknownEnvError, match="matches no registered id"):
        sweep.expand_envs(["nothing/*"])
    with pytest.raises(sweep.SweepError, match="unknown algorithm 'qmixx'; valid: qmix, vdn, iql"):
        sweep.check_algos(["qmixx"])


def test_serial_executor_writes_the_layout(tmp_path):
    specs = [spec(algo="qmix", seed=0), spec(algo="vdn", seed=0)]
    outcomes = sweep.execute(specs, tmp_path, executor="serial", train_fn=FAKE)
    assert [o.status for o in outcomes] == ["done", "done"]
    for s in specs:
        directory = run_dir(tmp_path, s.env, s.algo, s.seed)
        assert {"config.json", "metrics.csv", "status.json", "job.json"} <= {p.name for p in directory.iterdir()}
        assert json.loads((directory / "job.json").read_text())["config"]["mixer"]["kind"] == s.config.mixer.kind


def test_process_pool_isolates_crashes(tmp_path):
    specs = [
        spec(seed=0),
        spec(seed=1, mode="raise"),  # exception after the first evaluation
        spec(seed=2, mode="nan"),  # NaN loss at once
        spec(seed=3, mode="die"),  # the worker process exits hard
        spec(seed=4),
    ]
    outcomes = sweep.execute(specs, tmp_path, workers=2, train_fn=FAKE)
    assert [o.status for o in outcomes] == ["done", "failed", "failed", "failed", "done"]
    assert outcomes[1].error == "RuntimeError: env exploded" and "Traceback" in outcomes[1].traceback
    assert outcomes[2].error == "FloatingPointError: NaN in TD loss"
    assert outcomes[3].error == "worker process died with exit code 3"
    for o, s in zip(outcomes, specs):
        status = read_status(run_dir(tmp_path, s.env, s.algo, s.seed))
        assert status["status"] == o.status
        if o.status == "failed":
            assert status["error"] == o.error
    assert "RuntimeError: env exploded" in read_status(run_dir(tmp_path, specs[1].env, "qmix", 1))["traceback"]
    # each worker ran with one OpenMP thread
    worker = json.loads((run_dir(tmp_path, specs[0].env, "qmix", 0) / "worker.json").read_text())
    assert worker["omp"] == "1" and worker["pid"] != os.getpid()


def test_refuses_to_overwrite_and_checks_config_on_resume(tmp_path):
    sweep.execute([spec()], tmp_path, executor="serial", train_fn=FAKE)
    with pytest.raises(sweep.SweepError, match="already holds runs .* pass --resume"):
        sweep.execute([spec()], tmp_path, executor="serial", train_fn=FAKE)
    with pytest.raises(sweep.SweepError, match=r"different config \(keys: lr\)"):
        sweep.execute([spec(lr=0.1)], tmp_path, executor="serial", train_fn=FAKE, resume=True)
    with pytest.raises(sweep.SweepError, match="unknown executor 'threads'; valid: process, serial, ray"):
        sweep.execute([spec()], tmp_path, executor="threads", train_fn=FAKE)


def test_resume_skips_done_runs_and_continues_interrupted_ones(tmp_path):
    first = sweep.execute([spec(seed=0), spec(seed=1, mode="raise")], tmp_path, workers=2, train_fn=FAKE)
    assert [o.status for o in first] == ["done", "failed"]
    done_status = (run_dir(tmp_path, "matrix/two-step-v0", "qmix", 0) / "status.json").read_text()
    again = sweep.execute([spec(seed=0), spec(seed=1)], tmp_path, workers=2, train_fn=FAKE, resume=True)
    assert [o.status for o in again] == ["skipped", "done"]
    assert (run_dir(tmp_path, "matrix/two-step-v0", "qmix", 0) / "status.json").read_text() == done_status
    table = results.load([tmp_path])
    resumed = table[table.seed == 1]
    assert resumed["env_steps"].tolist() == [
        100,
        200,
        300,
        400,
    ]  # continued from the checkpoint at 100, no duplicate rows


def test_ray_executor_on_a_local_instance(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    specs = [spec(seed=0), spec(seed=1, mode="raise"), spec(seed=2, mode="die")]
    outcomes = sweep.execute(specs, tmp_path, executor="ray", workers=2, train_fn=FAKE)
    assert [o.status for o in outcomes] == ["done", "failed", "failed"]
    assert outcomes[1].error == "RuntimeError: env exploded"
    assert outcomes[2].error.startswith("ray task failed")
    assert read_status(run_dir(tmp_path, "matrix/two-step-v0", "qmix", 2))["status"] == "failed"
    assert results.load([tmp_path])["seed"].unique().tolist() == [0, 1, 2]


def test_ray_missing_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(sweep.SweepError, match=r"pip install 'qmixbench\[ray\]'"):
        sweep.execute([spec()], tmp_path, executor="ray", train_fn=FAKE)


@pytest.mark.slow
def test_kill_9_of_a_sweep_loses_little_and_resumes(tmp_path):
    """kill -9 the sweep mid-run: workers stop, no file is half-written, --resume finishes every run."""
    suite = tmp_path / "s.toml"
    suite.write_text(
        'envs = ["matrix/two-step-v0"]\nalgos = ["qmix", "vdn"]\nseeds = [0]\n'
        "[budget]\nenv_steps = 2000\n[eval]\ninterval = 100\n"
        '[env."matrix/two-step-v0"]\nkwargs = { mode = "slow", delay = 0.3 }\n'
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    cmd = [
        sys.executable,
        "-m",
        "qmixbench.cli",
        "run",
        "--suite",
        str(suite),
        "--out",
        str(out),
        "--workers",
        "2",
        "--train-fn",
        FAKE,
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = [run_dir(out, "matrix/two-step-v0", a, 0) / "metrics.csv" for a in ("qmix", "vdn")]
    deadline = time.time() + 60
    while not all(m.exists() and len(m.read_text().splitlines()) >= 4 for m in metrics):
        assert time.time() < deadline, "the sweep never got going"
        time.sleep(0.1)
    workers = [json.loads((m.parent / "worker.json").read_text())["pid"] for m in metrics]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while any(results._pid_alive(pid) for pid in workers):
        assert time.time() < deadline, "worker processes outlived the killed sweep"
        time.sleep(0.1)
    for m in metrics:
        rows = pd.read_csv(m)
        assert rows["env_steps"].tolist() == list(range(100, 100 * (len(rows) + 1), 100))  # whole rows only
        for name in ("status.json", "config.json", "job.json", "checkpoint.pt"):
            json.loads((m.parent / name).read_text())  # every file complete
    assert set(results.runs([out])["status"]) == {"interrupted"}
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    table = results.load([out])
    for _, rows in table.groupby("algo"):
        assert rows["env_steps"].tolist() == list(range(100, 2001, 100))
    assert set(results.runs([out])["status"]) == {"done"}


def test_resume_ignores_speed_only_keys_even_in_a_config_written_before_they_existed(tmp_path):
    sweep.execute([spec()], tmp_path, executor="serial", train_fn=FAKE)
    directory = run_dir(tmp_path, spec().env, spec().algo, spec().seed)
    edited = 0
    for name in ("job.json", "config.json"):
        path = directory / name
        if path.exists():
            record = json.loads(path.read_text())
            if "vector_env" in record.get("config", {}):
                del record["config"]["vector_env"]  # as a run made before the key existed wrote it
                path.write_text(json.dumps(record))
                edited += 1
    assert edited >= 1
    outcomes = sweep.execute([spec(vector_env=False)], tmp_path, executor="serial", train_fn=FAKE, resume=True)
    assert [o.status for o in outcomes] == ["skipped"]  # the finished run counts as done, not rerun
    # a key that changes what a run computes still blocks the resume, named in the error
    with pytest.raises(sweep.SweepError, match=r"different config \(keys: lr\)"):
        sweep.execute([spec(lr=0.1)], tmp_path, executor="serial", train_fn=FAKE, resume=True)

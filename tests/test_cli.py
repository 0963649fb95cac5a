"""`qmixbench run`, `report` and `list` through ``qmixbench.cli.main(argv)``.

Sweeps use the fake train (``--train-fn _fake_train:train``) so they take seconds; the slow tests
run the real train() end to end.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from qmixbench import report, results
from qmixbench.cli import main

FAKE = ["--train-fn", "_fake_train:train"]
SMALL = ["--steps", "400", "--set", "eval_interval=100"]
ROOT = Path(__file__).resolve().parents[1]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_run_prints_and_writes_the_summary(tmp_path, capsys):
    out = tmp_path / "out"
    argv = [
        "run",
        "--env",
        "matrix/two-step-v0",
        "--algos",
        "qmix,vdn",
        "--seeds",
        "0,1",
        "--out",
        str(out),
        *SMALL,
        *FAKE,
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == list(report.RUN_SUMMARY_COLUMNS)
    qmix = summary.set_index("algo").loc["qmix"]
    assert (qmix["seeds"], qmix["return_mean"], qmix["success_rate"]) == (2, pytest.approx(8.05), 1.0)
    assert qmix["return_std"] == pytest.approx(0.0707107, rel=1e-5)
    assert "8.05 ± 0.071" in printed and "env_steps_per_s" in printed
    assert len(results.runs([out])) == 4


def test_run_default_out_dir_is_timestamped(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--env", "matrix", "--algos", "qmix", "--seeds", "0", *SMALL, *FAKE]) == 0
    (stamp,) = (tmp_path / "results").iterdir()
    assert (stamp / "summary.csv").exists() and stamp.name[:2] == "20"


def test_run_failures_exit_nonzero_with_a_table(tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'envs = ["matrix/two-step-v0", "matrix/climbing-v0"]\nalgos = ["qmix"]\nseeds = [0]\n'
        '[budget]\nenv_steps = 400\n[eval]\ninterval = 100\n[env."matrix/climbing-v0"]\nkwargs = { mode = "raise" }\n'
    )
    assert main(["run", "--suite", str(suite), "--out", str(tmp_path / "o"), "--workers", "2", *FAKE]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 runs failed" in captured.err and "RuntimeError: env exploded" in captured.err
    assert "matrix/two-step-v0" in captured.out  # the successful run is summarised


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "matrix/two-stp-v0"], "unknown env id 'matrix/two-stp-v0'; did you mean matrix/two-step-v0"),
        (["--env", "matrix", "--algos", "qmix,coma"], "unknown algorithm 'coma'; valid: qmix, vdn, iql"),
        (["--env", "matrix", "--set", "lrr=1"], "unknown config key 'lrr'; valid keys: total_env_steps, n_envs"),
        (["--env", "matrix", "--set", "lr"], "--set takes key=value, got 'lr'"),
        (["--env", "matrix", "--set", "gamma=2"], "gamma must be in [0, 1]"),
        (
            ["--env", "matrix", "--seeds", "a,b"],
            "--seeds a,b: 'a' is neither a seed nor a range; write e.g. 0,1,2 or 0-4",
        ),
        (["--env", "matrix", "--set", "grad_clip=-1"], "grad_clip must be a finite number > 0, got -1.0"),
        (["--env", "matrix", "--set", "lr=nan"], "lr must be a finite number, got nan"),
        (["--env", "matrix", "--seeds", ""], "--seeds : '' names no seed"),
        (["--env", "matrix", "--seeds", ","], "--seeds ,: ',' names no seed"),
        (["--env", "matrix", "--seeds", "0-2,1"], "seed 1 is given twice"),
        (
            ["--env", "matrix", "--logger", "tensorbored"],
            "unknown logger 'tensorbored'; valid: tensorboard, wandb, mlflow",
        ),
        (["--env", "matrix", "--device", "gpu 0"], "device must be a torch device such as 'cpu', 'cuda' or 'cuda:1'"),
        (["--env", "matrix", "--seeds=-1,0"], "seed -1 is not valid; seeds are integers in [0, 4294967295]"),
        (["--env", "matrix", "--seeds", "0,1,0"], "seed 0 is given twice"),
        (["--env", "matrix", "--algos", ""], "--algos is empty"),
        (["--env", "", "--algos", "qmix"], "--env is empty"),
        (["--env", "matrix", "--run-timeout", "-1"], "--run-timeout must be a number of seconds >= 0"),
        (["--env", "matrix", "--step-timeout", "nan"], "--step-timeout must be a number of seconds >= 0"),
        (["--suite", "missing.toml"], "missing.toml: no such suite file"),
    ],
)
def test_run_usage_errors_are_one_line(tmp_path, capsys, args, message):
    assert main(["run", *args, "--out", str(tmp_path / "o"), *FAKE]) == 2
    line = one_line_error(capsys)
    assert line.startswith("qmixbench run: error: ") and message in line


@pytest.mark.parametrize(
    ("seeds", "message"),
    [("[0, -2]", "seed -2 is not valid"), ("[1, 1]", "seed 1 is given twice"), ("[]", "seeds must be")],
)
def test_run_refuses_bad_suite_seeds_before_any_run(tmp_path, capsys, seeds, message):
    suite = tmp_path / "s.toml"
    suite.write_text(f'envs = ["matrix"]\nalgos = ["qmix"]\nseeds = {seeds}\n')
    assert main(["run", "--suite", str(suite), "--out", str(tmp_path / "o"), *FAKE]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            ["--env", "_hostile_envs:Tiny?size=-1"],
            "env '_hostile_envs:Tiny?size=-1' cannot be built: ValueError: size must be >= 1, got -1",
        ),
        (
            ["--suite", "SUITE"],
            "env 'matrix/two-step-v0' with kwargs {'episode_limt': 3} cannot be built: EnvSpecError:",
        ),
    ],
)
def test_run_refuses_bad_env_kwargs_once_before_any_run(tmp_path, capsys, monkeypatch, where, message):
    from qmixbench import adapter

    suite = tmp_path / "s.toml"
    suite.write_text('envs = ["matrix"]\nalgos = ["qmix"]\n[env.matrix]\nkwargs = { episode_limt = 3 }\n')
    built = []
    real = adapter.build_env
    monkeypatch.setattr(adapter, "build_env", lambda *a, **k: built.append(a) or real(*a, **k))
    where = [str(suite) if w == "SUITE" else w for w in where]
    out = tmp_path / "o"
    assert main(["run", *where, "--algos", "qmix,vdn", "--seeds", "0,1,2", "--out", str(out)]) == 2
    assert message in one_line_error(capsys)
    assert len(built) == 1, "the env is built once for the 6 runs, not once a run"
    assert not out.exists(), "no run was started"


def test_run_refuses_to_overwrite_then_resumes(tmp_path, capsys):
    argv = ["run", "--env", "matrix", "--algos", "qmix", "--seeds", "0", "--out", str(tmp_path), *SMALL, *FAKE]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --resume" in one_line_error(capsys)
    assert main([*argv, "--resume"]) == 0


def test_report_command(tmp_path, capsys):
    from _fake_train import make_results

    make_results(tmp_path / "runs", algos=("qmix", "vdn", "iql"), seeds=(0, 1, 2))
    csv, md = tmp_path / "t.csv", tmp_path / "md" / "r.md"
    argv = [
        "report",
        str(tmp_path / "runs"),
        "--sort=-return_iqm",
        "--columns",
        "seeds,return_iqm,iqm_ci_low,iqm_ci_high",
    ]
    assert main([*argv, "--csv", str(csv), "--md", str(md), "--reps", "200"]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(csv)
    assert list(table.columns) == ["env", "algo", "seeds", "return_iqm", "iqm_ci_low", "iqm_ci_high"]
    assert table["algo"].tolist() == ["qmix", "vdn", "iql"]  # sorted by IQM, descending
    assert (tmp_path / "t_improvement.csv").exists()
    assert (md.parent / "curves" / "matrix__two-step-v0.png").exists() and "![" in md.read_text()
    assert "Probability of improvement" in printed and "mixer.kind" in printed
    # defaults: report.csv / report.md inside the first PATH
    assert main(["report", str(tmp_path / "runs"), "--reps", "50"]) == 0
    assert (tmp_path / "runs" / "report.csv").exists() and (tmp_path / "runs" / "report.md").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sort", "nope"], "unknown --sort column 'nope'; valid: env, algo, seeds"),
        (["--columns", "seeds,nope"], "unknown --columns nope; valid: env, algo, seeds"),
        (
            ["--group-by", "env,nope"],
            "unknown group-by column(s) nope; valid: env, algo, variant, seed, status, config.",
        ),
    ],
)
def test_report_usage_errors(tmp_path, capsys, args, message):
    from _fake_train import make_results

    make_results(tmp_path, algos=("qmix",), seeds=(0,))
    assert main(["report", str(tmp_path), *args]) == 2
    assert message in one_line_error(capsys)


def test_report_of_nothing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no runs found" in one_line_error(capsys)
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in one_line_error(capsys)


def test_list_envs_shows_every_id_with_shapes(capsys):
    from qmixbench_envs import ENV_SPECS

    assert main(["list", "envs"]) == 0
    out = capsys.readouterr().out
    for env_id in ENV_SPECS:
        assert env_id in out
    line = next(line for line in out.splitlines() if line.strip().startswith("matrix/two-step-v0"))
    assert line.split()[1:5] == ["2", "(3,)", "(4,)", "2"]  # agents, obs, state, actions


def test_list_algos(capsys):
    assert main(["list", "algos"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("qmix", "vdn", "iql")) and "mixer.kind" in out


def test_list_runs(tmp_path, capsys):
    from _fake_train import make_results, spec, train

    make_results(tmp_path, algos=("qmix",), seeds=(0, 1))
    with pytest.raises(FloatingPointError):
        train(spec(algo="vdn", mode="nan"), tmp_path)
    assert main(["list", "runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "400/400" in out and "FloatingPointError: NaN in TD loss" in out and "3 runs: 2 done, 1 failed" in out
    assert main(["list", "runs", str(tmp_path / "missing")]) == 2


@pytest.mark.slow
def test_smoke_suite_end_to_end_with_the_real_train(tmp_path, capsys):
    out = tmp_path / "smoke"
    assert main(["run", "--suite", str(ROOT / "benchmarks" / "smoke.toml"), "--out", str(out), "--workers", "2"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 6 and set(summary["seeds"]) == {2}
    assert main(["report", str(out), "--reps", "200"]) == 0
    assert len(list((out / "curves").glob("*.png"))) == 2
    assert set(results.runs([out])["status"]) == {"done"}


@pytest.mark.slow
def test_main_job_command_line_with_the_real_train(tmp_path, capsys):
    """`qmixbench run --env multigrid --algos qmix,vdn`, shrunk only by --steps/--seeds so it fits a test."""
    out = tmp_path / "mg"
    argv = ["run", "--env", "multigrid", "--algos", "qmix,vdn", "--seeds", "0", "--steps", "256", "--out", str(out)]
    assert main([*argv, "--set", "eval_interval=128", "--set", "eval_episodes=2", "--set", "batch_size=4"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary["env"].unique().tolist() == ["multigrid/empty-5x5-v0"] and len(summary) == 2


def test_resume_needs_an_out_dir(capsys):
    assert main(["run", "--env", "matrix", "--resume", *FAKE]) == 2
    assert "--resume needs --out DIR" in one_line_error(capsys)


def test_version_matches_the_package_metadata(capsys):
    import qmixbench

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"qmixbench {qmixbench.__version__}"


@pytest.mark.parametrize("command", [None, "run", "report", "list", "eval", "explain", "check"])
def test_help_is_for_users_and_shows_examples(capsys, command):
    with pytest.raises(SystemExit):
        main(["--help"] if command is None else [command, "--help"])
    out = capsys.readouterr().out
    assert "examples:\n  qmixbench " in out
    assert "argparse" not in out and "dispatch" not in out  # no developer docstring


def test_verbose_is_accepted_before_and_after_the_command(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("qmixbench.commands.list.main", lambda args: seen.append(args.verbose) or 0)
    assert main(["-v", "list", "algos"]) == 0 and main(["list", "algos", "-v"]) == 0 and main(["list", "algos"]) == 0
    assert seen == [True, True, False]


def test_device_seed_ranges_and_loggers_reach_every_run(tmp_path):
    import json

    out = tmp_path / "o"
    argv = ["run", "--env", "matrix", "--algos", "qmix", "--seeds", "0-2", "--device", "cuda:1", "--out", str(out)]
    assert main([*argv, "--logger", "tensorboard", "--keep-checkpoints", *SMALL, *FAKE]) == 0
    jobs = sorted(out.glob("*/qmix/seed_*/job.json"))
    assert [p.parent.name for p in jobs] == ["seed_0", "seed_1", "seed_2"]
    for path in jobs:
        job = json.loads(path.read_text())
        assert job["config"]["device"] == "cuda:1"
        assert job["run"]["loggers"] == ["tensorboard"] and job["run"]["keep_checkpoints"] is True


def test_dry_run_says_what_run_would_do_and_writes_nothing(tmp_path, capsys):
    import json

    out = tmp_path / "o"
    argv = ["run", "--env", "matrix/two-step-v0", "--algos", "qmix", "--out", str(out), *SMALL, *FAKE]
    assert main([*argv, "--seeds", "0-3", "--dry-run"]) == 0
    assert "dry run: 4 runs -> " in capsys.readouterr().out and not out.exists()
    assert main([*argv, "--seeds", "0,1,3"]) == 0
    (out / "matrix__two-step-v0" / "qmix" / "seed_3" / "config.json").write_text("{")  # damaged: runs again
    status = out / "matrix__two-step-v0" / "qmix" / "seed_1" / "status.json"  # as a sweep killed mid-run leaves it
    status.write_text(json.dumps({**json.loads(status.read_text()), "status": "interrupted", "env_steps": 200}))
    capsys.readouterr()
    before = sorted((p, p.stat().st_mtime_ns) for p in out.rglob("*"))
    assert main([*argv, "--seeds", "0-3", "--dry-run"]) == 2  # the refusal a real run would give
    assert "pass --resume" in one_line_error(capsys)
    assert main([*argv, "--seeds", "0-3", "--dry-run", "--resume"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith(
        "2 to run, 1 to continue, 1 done; ~1,000 env steps left to train "
        "(a continued run also redoes the steps since its last checkpoint)"
    )
    assert printed[1].endswith("seed 0  400 env steps  -> skip: done")
    assert printed[2].endswith(
        "seed 1  400 env steps  -> continue: interrupted at 200 env steps, from its last checkpoint"
    )
    assert printed[3].endswith("seed 2  400 env steps  -> run")
    assert "seed 3  400 env steps  -> run: damaged (" in printed[4] and printed[4].endswith("starts again")
    assert sorted((p, p.stat().st_mtime_ns) for p in out.rglob("*")) == before
    from qmixbench.lock import ResultsLock

    with ResultsLock(out, command="qmixbench run --suite x"):  # a live sweep in --out
        assert main([*argv, "--seeds", "0-3", "--dry-run", "--resume"]) == 0
    assert "is in use by a live command (pid " in capsys.readouterr().out

"""Damaged run directories: named and skipped by ``report`` and ``list runs``, run again by ``--resume``.

Each damage is made by hand on a sweep written by the fake train (4 evaluations of 100 env steps);
the rule that finds lost metrics rows is checked against the real training loop's evaluation steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _fake_train import make_results

from qmixbench import results
from qmixbench.cli import main
from qmixbench.recorder import run_dir
from qmixbench.run_files import DamagedRunError, read_run, run_problem

FAKE = ["--train-fn", "_fake_train:train"]
ENV = "matrix/two-step-v0"


def _metrics(rows: list[int], end: str = "\n") -> str:
    lines = ["env_steps,eval_return_mean"] + [f"{s},{s / 100}" for s in rows]
    return "\n".join(lines) + end


# (file, content, what the reason says)
DAMAGES = [
    ("status.json", b"\xff\xfe garbage", "status.json: not UTF-8 text"),
    ("status.json", b'{"status": "weird", "env_steps": 400}', "status 'weird' is not one of"),
    ("status.json", b'{"status": "done", "env_steps": "many"}', "env_steps 'many' is not a count"),
    ("job.json", b'{"run": ', "job.json: not valid JSON"),
    ("config.json", b"[]", "config.json: expected a JSON object, got list"),
    ("config.json", b'{"run": {"env": 3, "algo": "qmix", "seed": 0}}', 'config.json: no "run" object'),
    ("metrics.csv", b"env_steps,eval_return_mean\n100,\xff\n", "metrics.csv: not UTF-8 text"),
    ("metrics.csv", _metrics([100, 200, 300, 400], end="").encode()[:-3], "the last line is partial"),
    ("metrics.csv", _metrics([100, 200, 400]).encode(), "env_steps jumps from 200 to 400"),
    ("metrics.csv", _metrics([300, 400]).encode(), "env_steps jumps from 0 to 300"),
    ("metrics.csv", _metrics([100, 200, 300]).encode(), "the run is done but the file ends at env step 300 of 400"),
    ("metrics.csv", _metrics([100, 300, 200]).encode(), "env_steps 200 does not increase"),
]


def _sweep(out: Path) -> Path:
    """Three done runs (qmix seeds 0 and 1, vdn seed 0) with a job.json each, as the executor writes."""
    make_results(out, algos=("qmix", "vdn"), seeds=(0, 1))
    for algo, seed in (("qmix", 0), ("qmix", 1), ("vdn", 0), ("vdn", 1)):
        d = run_dir(out, ENV, algo, seed)
        config = json.loads((d / "config.json").read_text())
        (d / "job.json").write_text(json.dumps({"run": config["run"], "config": config["config"], "pid": 1}))
    return run_dir(out, ENV, "qmix", 0)


@pytest.mark.parametrize(("name", "content", "reason"), DAMAGES, ids=[f"{d[0]}-{i}" for i, d in enumerate(DAMAGES)])
def test_a_damaged_run_is_named_and_skipped_the_others_are_read(tmp_path, name, content, reason):
    damaged_dir = _sweep(tmp_path)
    (damaged_dir / name).write_bytes(content)
    with pytest.raises(DamagedRunError, match=f"^{damaged_dir / name}: "):
        read_run(damaged_dir)
    assert reason in run_problem(damaged_dir)
    damaged: dict[str, str] = {}
    table = results.runs([tmp_path], damaged)
    assert list(damaged) == [str(damaged_dir)] and reason in damaged[str(damaged_dir)]
    assert sorted(zip(table["algo"], table["seed"])) == [("qmix", 1), ("vdn", 0), ("vdn", 1)]
    assert set(results.load([tmp_path])["run_dir"]) == set(table["run_dir"])  # not scored either


def test_report_and_list_runs_name_the_damaged_run_and_go_on(tmp_path, capsys):
    damaged_dir = _sweep(tmp_path)
    (damaged_dir / "metrics.csv").write_text(_metrics([100, 200]))  # cut short: not the run's result
    stray = tmp_path / "notes" / "config.json"  # not a run at all
    stray.parent.mkdir()
    stray.write_text("{")
    assert main(["report", str(tmp_path), "--reps", "20"]) == 0
    captured = capsys.readouterr()
    assert f"{damaged_dir / 'metrics.csv'}: rows are missing" in captured.err
    assert f"{stray}: not valid JSON" in captured.err and "2 damaged run(s) skipped" in captured.err
    report_csv = (tmp_path / "report.csv").read_text()
    assert "qmix" in report_csv and "vdn" in report_csv  # the other runs are scored
    assert main(["list", "runs", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "3 runs: 3 done" in captured.out and str(stray) in captured.err


def test_resume_runs_a_damaged_run_again_and_leaves_the_others(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--env", ENV, "--algos", "qmix,vdn", "--seeds", "0", "--out", str(out), "--steps", "400"]
    argv += ["--set", "eval_interval=100", "--executor", "serial", *FAKE]
    assert main(argv) == 0
    bad, good = run_dir(out, ENV, "qmix", 0), run_dir(out, ENV, "vdn", 0)
    (bad / "status.json").write_bytes(b"\x00\xff not json")
    (bad / "config.json").write_text("{")
    good_mtime = (good / "metrics.csv").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    assert run_problem(bad) is None and run_problem(good) is None
    assert read_run(bad).status["status"] == "done"
    assert [int(r[0]) for r in read_run(bad).metrics_rows] == [100, 200, 300, 400]
    assert (good / "metrics.csv").stat().st_mtime_ns == good_mtime  # done and whole: skipped


def test_the_lost_rows_rule_fits_the_real_training_loop(tmp_path):
    """n_envs=3, eval_interval=10, total 35: evaluations at 12, 21, 30 and the final 36 (hand-computed
    from the loop: step 3 at a time, evaluate once past each multiple of 10, and at the end)."""
    from qmixbench.algos import resolve_config
    from qmixbench.config import RunSpec
    from qmixbench.train import train

    overrides = {"total_env_steps": 35, "eval_interval": 10, "n_envs": 3, "batch_size": 2, "eval_episodes": 2}
    cfg = resolve_config("qmix", overrides, env=ENV)
    directory = Path(train(RunSpec(ENV, "qmix", 0, cfg), tmp_path, progress=False)["run_dir"])
    rows = read_run(directory).metrics_rows
    assert [int(r[0]) for r in rows] == [12, 21, 30, 36] and run_problem(directory) is None
    lines = (directory / "metrics.csv").read_text().splitlines(keepends=True)
    (directory / "metrics.csv").write_text("".join(lines[:2] + lines[3:]))  # drop the row at 21
    assert "env_steps jumps from 12 to 30, more than eval_interval + n_envs - 1 = 12" in run_problem(directory)

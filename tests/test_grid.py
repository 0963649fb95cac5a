"""Config grids: parsing, expansion into variants, run directories, suites, resume and the report by variant."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from _fake_train import make_results, spec, train

from qmixbench import report, results, sweep
from qmixbench.cli import main
from qmixbench.config import ConfigError
from qmixbench.grid import GridError, parse_grid_args, points, variant_name
from qmixbench.recorder import run_dir, variant_slug
from qmixbench.suite import SuiteError, load_suite

ENV = "matrix/two-step-v0"
FAKE = ["--train-fn", "_fake_train:train", "--executor", "serial", "--set", "total_env_steps=400"]
FAKE += ["--set", "eval_interval=100"]


def test_parse_grid_args_keeps_order_and_refuses_bad_items():
    assert parse_grid_args(["lr=1e-3, 5e-4", "mixer.embed_dim=32,64"]) == {
        "lr": ["1e-3", "5e-4"],
        "mixer.embed_dim": ["32", "64"],
    }
    assert points({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]
    assert points({}) == [{}]
    for item, message in (
        (["lr"], "--grid takes KEY=V1,V2"),
        (["lr=1e-3,"], "empty value"),
        (["lr=1e-3", "lr=5e-4"], "given twice"),
        (["lr=1e-3,1e-3"], "value '1e-3' is given twice"),
    ):
        with pytest.raises(GridError, match=message):
            parse_grid_args(item)


def test_variant_names_are_read_from_the_resolved_config():
    specs = sweep.expand([ENV], ["qmix", "vdn"], [0], grid={"lr": ["1e-3", "5e-4"], "mixer.embed_dim": ["32", "64"]})
    names = [(s.algo, s.variant) for s in specs]
    # VDN has no embed_dim: its two variants per lr would be the same runs, so it gets one per lr.
    assert names == [
        ("qmix", "lr=0.001,mixer.embed_dim=32"),
        ("qmix", "lr=0.001,mixer.embed_dim=64"),
        ("qmix", "lr=0.0005,mixer.embed_dim=32"),
        ("qmix", "lr=0.0005,mixer.embed_dim=64"),
        ("vdn", "lr=0.001"),
        ("vdn", "lr=0.0005"),
    ]
    assert [(s.config.lr, getattr(s.config.mixer, "embed_dim", None)) for s in specs[:2]] == [(1e-3, 32), (1e-3, 64)]
    assert variant_name({"double_q": False, "agent": "mlp", "lr": 1e-5}) == "double_q=false,agent=mlp,lr=1e-05"


@pytest.mark.parametrize(
    ("grid", "overrides", "error", "message"),
    [
        ({"lr": ["1e-3", "0.001"]}, None, sweep.SweepError, "give qmix the same config"),
        ({"lr": ["-1"]}, None, ConfigError, "lr must be a finite number > 0, got -1.0"),
        ({"lr": ["fast"]}, None, ConfigError, "lr: cannot read 'fast'"),
        ({"lrr": ["1"]}, None, ConfigError, "unknown config key 'lrr'"),
        ({"lr": ["1e-3"]}, {"lr": "1e-4"}, sweep.SweepError, "lr: set by both --set and the grid"),
    ],
)
def test_grid_values_are_checked_before_any_run(grid, overrides, error, message):
    with pytest.raises(error, match=message):
        sweep.expand([ENV], ["qmix"], [0], overrides, grid=grid)


def test_a_mixer_key_that_fits_no_chosen_algorithm_is_refused():
    with pytest.raises(sweep.SweepError, match=r"mixer.embed_dim fit none of the chosen algorithms \(vdn\)"):
        sweep.expand([ENV], ["vdn"], [0], grid={"mixer.embed_dim": ["32", "64"]})


def test_variant_directories_and_the_unchanged_default_layout(tmp_path):
    assert run_dir(tmp_path, ENV, "qmix", 3) == tmp_path / "matrix__two-step-v0" / "qmix" / "seed_3"
    assert run_dir(tmp_path, ENV, "qmix", 3, "lr=0.001") == tmp_path / "matrix__two-step-v0/qmix/lr=0.001/seed_3"
    assert variant_slug("agent=mlp,lr=1e-05") == "agent=mlp,lr=1e-05"
    odd, long = variant_slug("device=cuda:1"), variant_slug("lr=0.001," * 30)
    assert odd.startswith("device=cuda_1~") and odd != variant_slug("device=cuda/1")
    assert len(long) == 100 and long != variant_slug("lr=0.001," * 31)


def test_cli_grid_runs_resumes_and_reports_by_variant(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--env", ENV, "--algos", "qmix", "--seeds", "0,1", "--out", str(out), *FAKE]
    assert main([*argv, "--grid", "lr=1e-3,5e-4"]) == 0
    record = json.loads((run_dir(out, ENV, "qmix", 1, "lr=0.001") / "config.json").read_text())
    assert record["run"]["variant"] == "lr=0.001" and record["config"]["lr"] == 0.001
    job = json.loads((run_dir(out, ENV, "qmix", 1, "lr=0.0005") / "job.json").read_text())
    assert job["run"]["variant"] == "lr=0.0005"
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["variant"]) == ["lr=0.0005", "lr=0.001"] and list(summary["seeds"]) == [2, 2]
    capsys.readouterr()

    # A grown sweep resumes: the four finished variant runs are skipped, only seed 2 of each trains.
    before = (run_dir(out, ENV, "qmix", 0, "lr=0.001") / "status.json").read_text()
    assert main([*argv[:6], "0,1,2", *argv[7:], "--grid", "lr=0.001,5e-4", "--resume"]) == 0
    assert (run_dir(out, ENV, "qmix", 0, "lr=0.001") / "status.json").read_text() == before
    assert "6 runs (2 env x algo x variant, 3 seeds)" in capsys.readouterr().err

    table = results.load([out])
    assert sorted(set(table["variant"])) == ["lr=0.0005", "lr=0.001"]
    by_variant = report.summarize(table, reps=50)
    assert list(by_variant.columns[:3]) == ["env", "algo", "variant"]
    # The fake scores 1 more with lr > 5e-4: every lr=0.001 run beats every lr=0.0005 run.
    assert list(by_variant["return_mean"]) == pytest.approx([8.1, 9.1])
    poi = report.improvement(table, reps=50)
    row = poi[poi["variant_x"] == "lr=0.001"].iloc[0]
    assert (row.algo_x, row.algo_y, row.variant_y, row.p_improve, row.seeds_x) == ("qmix", "qmix", "lr=0.0005", 1.0, 3)
    assert main(["report", str(out), "--reps", "50"]) == 0
    assert "lr=0.0005" in capsys.readouterr().out


def test_runs_outside_a_grid_keep_todays_report_columns(tmp_path):
    make_results(tmp_path, algos=("qmix", "vdn"), seeds=(0, 1))
    table = results.load([tmp_path])
    assert set(table["variant"]) == {""}
    assert list(report.summarize(table, reps=10).columns[:3]) == ["env", "algo", "seeds"]
    assert "variant_x" not in report.drop_empty_variants(report.improvement(table, reps=10)).columns


def test_a_summary_written_before_grids_is_read_and_merged(tmp_path):
    legacy = tmp_path / "summary.csv"
    legacy.write_text("env,algo,seeds,return_mean,return_std,success_rate,env_steps_per_s\nm,qmix,3,8,0.1,1,1000\n")
    old = report.read_run_summary(legacy)
    assert list(old.columns) == list(report.RUN_SUMMARY_COLUMNS) and old["variant"].tolist() == [""]
    new = old.assign(variant="lr=0.001", return_mean=9.0)
    merged = report.merge_run_summary(old, new)
    assert list(zip(merged["variant"], merged["return_mean"])) == [("", 8.0), ("lr=0.001", 9.0)]


def test_suite_grid_table(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('envs = ["matrix"]\nalgos = ["qmix"]\n[grid]\nlr = [1e-3, 5e-4]\nmixer = { embed_dim = [16] }\n')
    assert load_suite(path).grid == {"lr": [1e-3, 5e-4], "mixer.embed_dim": [16]}
    for body, message in (
        ("[grid]\nlr = 1e-3\n", "grid lr must be a non-empty list"),
        ("[grid]\nlr = [-1.0]\n", r"\[grid\] lr must be a finite number > 0"),
        ("[grid]\nmixer.alpha = [2.0]\n", r"\[grid\] mixer.alpha must be in \(0, 1\]"),
        ("[overrides]\nlr = 1e-3\n[grid]\nlr = [5e-4]\n", r"lr in both \[overrides\] and \[grid\]"),
    ):
        path.write_text('envs = ["matrix"]\nalgos = ["qmix"]\n' + body)
        with pytest.raises(SuiteError, match=message):
            load_suite(path)


def test_suite_grid_and_command_line_grid_merge_key_by_key(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(f'envs = ["{ENV}"]\nalgos = ["qmix"]\nseeds = [0]\n[grid]\nlr = [1e-3, 5e-4]\nhidden_dim = [8]\n')
    out = tmp_path / "out"
    assert main(["run", "--suite", str(suite), "--out", str(out), "--grid", "hidden_dim=16", *FAKE]) == 0
    variants = sorted(set(results.runs([out])["variant"]))
    assert variants == ["lr=0.0005,hidden_dim=16", "lr=0.001,hidden_dim=16"]


def test_fallback_identity_of_a_variant_directory_without_records(tmp_path):
    train(spec(algo="qmix", seed=4, variant="lr=0.001", lr=1e-3), tmp_path)
    directory = run_dir(tmp_path, ENV, "qmix", 4, "lr=0.001")
    (directory / "config.json").unlink()
    row = results.runs([tmp_path]).iloc[0]
    assert (row.env, row.algo, row.variant, row.seed) == (ENV, "qmix", "lr=0.001", 4)

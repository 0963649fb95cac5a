"""The success (win) rate as a score: hand-computed medians, IQMs and P(improvement) on hand-made runs,
the envs that qualify, and the report's section and files."""

from __future__ import annotations

import pandas as pd
import pytest

from qmixbench import report, results, success
from qmixbench.cli import main
from qmixbench.recorder import RunRecorder, run_dir

WON = "smax/3m-v0"  # every run records a success rate
NONE = "matrix/two-step-v0"  # no run records one
PART = "multigrid/empty-5x5-v0"  # one run of two records one


def write_run(out, env: str, algo: str, seed: int, evals, status: str = "done") -> None:
    """``evals``: (return, success rate or None) per evaluation, 100 env steps apart; the last is final."""
    rec = RunRecorder(run_dir(out, env, algo, seed))
    rec.write_config({"run": {"env": env, "algo": algo, "seed": seed}, "config": {}})
    for i, (ret, won) in enumerate(evals):
        row = {"env_steps": 100 * (i + 1), "eval_return_mean": ret}
        if won is not None:
            row["eval_success_rate"] = won
        rec.log_eval(row)
    rec.set_status(status, 100 * len(evals))


@pytest.fixture
def runs(tmp_path):
    out = tmp_path / "runs"
    # QMIX wins more battles but ends with the lower returns; the first evaluation never counts.
    for seed, final in enumerate([1.0, 0.5, 0.0, 0.75]):
        write_run(out, WON, "qmix", seed, [(9.0, 0.9), (1.0, final)])
    for seed in range(2):
        write_run(out, WON, "vdn", seed, [(0.0, 1.0), (2.0, 0.25)])
    write_run(out, WON, "vdn", 2, [(5.0, 1.0)], status="failed")  # not scored unless incomplete
    write_run(out, NONE, "qmix", 0, [(1.0, None)])
    write_run(out, PART, "qmix", 0, [(1.0, 1.0)])
    write_run(out, PART, "vdn", 0, [(1.0, None)])
    return out


def test_scores_are_final_success_rates_of_the_envs_that_record_them(runs):
    summary = success.success_summary(results.load([runs]), reps=200)
    assert list(summary["env"]) == [WON, WON]  # NONE records none; PART only in one run: left out whole
    qmix, vdn = (summary.set_index("algo").loc[a] for a in ("qmix", "vdn"))
    # finals 0, 0.5, 0.75, 1: mean 0.5625, median 0.625, IQM drops one run at each end -> (0.5 + 0.75) / 2
    assert (qmix["seeds"], qmix["success_mean"], qmix["success_median"]) == (4, 0.5625, 0.625)
    assert qmix["success_iqm"] == pytest.approx(0.625)
    assert qmix["ci_low"] <= qmix["success_iqm"] <= qmix["ci_high"]
    assert (vdn["seeds"], vdn["success_iqm"], vdn["ci_low"], vdn["ci_high"]) == (2, 0.25, 0.25, 0.25)


def test_incomplete_runs_count_only_when_asked(runs):
    summary = success.success_summary(results.load([runs]), reps=50, include_incomplete=True)
    vdn = summary.set_index("algo").loc["vdn"]
    assert vdn["seeds"] == 3 and vdn["success_mean"] == pytest.approx(0.5)  # (0.25 + 0.25 + 1) / 3


def test_improvement_on_success_can_rank_against_the_return(runs):
    table = results.load([runs])
    won = success.success_improvement(table, reps=200).set_index(["algo_x", "algo_y"])
    # QMIX's finals beat VDN's 0.25 in 3 of 4 runs against each VDN run: 6 of 8 pairs
    assert won.loc[("qmix", "vdn"), "p_improve"] == pytest.approx(0.75)
    assert set(won.reset_index()["env"]) == {WON}
    on_return = report.improvement(table, reps=200)
    on_return = on_return[on_return["env"] == WON].set_index(["algo_x", "algo_y"])
    assert on_return.loc[("qmix", "vdn"), "p_improve"] == 0.0  # every QMIX final return 1 < VDN's 2


def test_report_writes_the_success_section_and_files(runs, tmp_path, capsys):
    md = tmp_path / "rep" / "report.md"
    assert main(["report", str(runs), "--md", str(md), "--reps", "50"]) == 0
    assert "Success (win) rate at the final evaluation" in capsys.readouterr().out
    text = md.read_text()
    assert "## Success rate (win rate)" in text and "P(X > Y) on the final success rate" in text
    written = pd.read_csv(runs / "report_success.csv")
    assert list(written.columns) == list(success.SUCCESS_COLUMNS)
    assert len(pd.read_csv(runs / "report_success_improvement.csv")) == 2


def test_report_without_success_rates_has_no_section(tmp_path, capsys):
    out = tmp_path / "runs"
    write_run(out, NONE, "qmix", 0, [(1.0, None)])
    md = tmp_path / "rep" / "report.md"
    assert main(["report", str(out), "--md", str(md), "--reps", "50"]) == 0
    assert "Success (win) rate" not in capsys.readouterr().out
    assert "Success rate" not in md.read_text()
    assert not (out / "report_success.csv").exists()

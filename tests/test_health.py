"""Learner health: each run's TD-loss growth, computed by hand on hand-made runs, and the report's flag."""

from __future__ import annotations

import pandas as pd
import pytest

from qmixbench import health, results
from qmixbench.cli import main
from qmixbench.recorder import RunRecorder, run_dir

ENV = "matrix/two-step-v0"


def write_run(out, algo: str, seed: int, losses, status: str = "done") -> None:
    rec = RunRecorder(run_dir(out, ENV, algo, seed))
    rec.write_config({"run": {"env": ENV, "algo": algo, "seed": seed}, "config": {}})
    for i, loss in enumerate(losses):
        rec.log_eval({"env_steps": 100 * (i + 1), "eval_return_mean": 1.0, "td_loss": loss})
    rec.set_status(status, 100 * len(losses))


@pytest.fixture
def runs(tmp_path):
    out = tmp_path / "runs"
    write_run(out, "vdn", 0, [1.0, 3.0, 2.0])  # growth 3
    write_run(out, "qmix", 0, [0.5, 100.0, 1000.0, 40.0])  # growth 1000 / 0.5 = 2000, last 40
    write_run(out, "qmix", 1, [0.0, 5.0])  # no positive first loss: left out
    write_run(out, "iql", 0, [2.0, 250.0], status="failed")  # a failed run's health counts: growth 125
    return out


def test_growth_is_the_largest_loss_over_the_first(runs):
    growth = health.td_loss_growth(results.load([runs]))
    assert list(zip(growth["algo"], growth["seed"])) == [("qmix", 0), ("iql", 0), ("vdn", 0)]
    qmix = growth.iloc[0]
    assert (qmix["td_loss_first"], qmix["td_loss_max"], qmix["td_loss_last"]) == (0.5, 1000.0, 40.0)
    assert qmix["growth"] == pytest.approx(2000.0)
    assert growth.set_index("algo").loc["vdn", "growth"] == pytest.approx(3.0)
    flagged = health.flagged(growth)
    assert list(flagged["algo"]) == ["qmix", "iql"]  # 2000 and 125 > 100; 3 is not
    assert list(health.flagged(growth, threshold=500.0)["algo"]) == ["qmix"]


def test_a_table_without_td_loss_has_no_health_rows():
    table = pd.DataFrame({"run_dir": ["a"], "env": [ENV], "algo": ["qmix"], "env_steps": [100]})
    assert health.td_loss_growth(table).empty
    assert health.markdown_section(health.flagged(health.td_loss_growth(table))) == ""


def test_report_flags_the_runs_whose_loss_grew(runs, tmp_path, capsys):
    md = tmp_path / "rep" / "report.md"
    assert main(["report", str(runs), "--md", str(md), "--reps", "50", "--include-incomplete"]) == 0
    out = capsys.readouterr().out
    assert "qmix seed 0: TD loss grew 2e+03x" in out and "iql seed 0: TD loss grew 125x" in out
    assert "vdn seed 0: TD loss grew" not in out
    text = md.read_text()
    assert "## Learner health: TD loss that grew" in text and "2 run(s)" in text
    assert len(pd.read_csv(runs / "report_health.csv")) == 3


def test_report_of_healthy_runs_has_no_health_section(tmp_path, capsys):
    out = tmp_path / "runs"
    write_run(out, "vdn", 0, [1.0, 3.0])
    md = tmp_path / "rep" / "report.md"
    assert main(["report", str(out), "--md", str(md), "--reps", "50"]) == 0
    assert "TD loss grew" not in capsys.readouterr().out
    assert "Learner health" not in md.read_text()


def test_run_names_a_finished_run_whose_loss_grew(tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'envs = ["matrix/two-step-v0", "matrix/climbing-v0"]\nalgos = ["qmix"]\nseeds = [0]\n'
        '[budget]\nenv_steps = 400\n[eval]\ninterval = 100\n[env."matrix/climbing-v0"]\nkwargs = { mode = "diverge" }\n'
    )
    out = tmp_path / "o"
    argv = ["run", "--suite", str(suite), "--out", str(out), "--train-fn", "_fake_train:train"]
    assert main(argv) == 0  # a finite divergence is not a failure
    printed = capsys.readouterr().out
    # the fake's loss: 0.1 at the first evaluation (step 100), 0.1 * 1000 ** (300 / 400) at the last
    assert f"matrix/climbing-v0 qmix seed 0: TD loss grew {1000**0.75:.3g}x" in printed
    assert "two-step-v0 qmix seed 0: TD loss" not in printed

"""Published numbers beside ours: the paper's metric definitions on hand-made runs, computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from qmixbench import published, results
from qmixbench.cli import main
from qmixbench.recorder import RunRecorder, run_dir

LBF = "lbf/8x8-2p-2f-coop-v3"
MPE = "mpe/simple-spread-v3"
T_975_DF2 = 4.302652729911275  # Student t, 97.5% quantile, 2 degrees of freedom (statistical tables)

# Three seeds evaluated at steps 100, 200, 300. Means per step: 0.1, 0.5, 0.6 -> the best step is 300.
CURVES = {0: [0.0, 0.5, 0.4], 1: [0.2, 0.7, 0.6], 2: [0.1, 0.3, 0.8]}


def write_run(
    out: Path, env: str, algo: str, seed: int, returns, status="done", team_reward="sum", n_agents=2, protocol=""
):
    rec = RunRecorder(run_dir(out, env, algo, seed))
    env_info = {"agent_ids": [f"agent_{i}" for i in range(n_agents)], "team_reward": team_reward}
    run = {"env": env, "algo": algo, "seed": seed, "protocol": protocol}
    rec.write_config({"run": run, "config": {}, "env_info": env_info})
    for i, value in enumerate(returns):
        rec.log_eval({"env_steps": 100 * (i + 1), "eval_return_mean": value})
    rec.set_status(status, 100 * len(returns))


def write_published(path: Path, rows: list[str]) -> Path:
    path.write_text("task,algorithm,metric,convention,value,ci_low,ci_high,source\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def lbf_runs(tmp_path):
    out = tmp_path / "runs"
    for seed, curve in CURVES.items():
        write_run(out, LBF, "qmix", seed, curve)
    write_run(out, LBF, "qmix", 3, [9.0, 9.0, 9.0], status="failed")  # must not count
    return out


def test_t_quantile_matches_the_tables():
    assert published.t_quantile(0.975, 2) == pytest.approx(T_975_DF2, abs=1e-6)
    assert published.t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-5)
    assert published.t_quantile(0.975, 30) == pytest.approx(2.042272, abs=1e-5)


def test_max_and_average_return_follow_the_paper_definitions(lbf_runs, tmp_path):
    pub = write_published(
        tmp_path / "pub.csv",
        [
            f"{LBF},qmix,max_return,sum,0.55,0.5,0.65,test",
            f"{LBF},qmix,average_return,sum,0.9,0.85,0.95,test",
            f"{LBF},vdn,max_return,sum,0.5,0.4,0.6,test",  # no vdn runs: no row
        ],
    )
    beside = published.compare(results.load([lbf_runs]), published.load_published(pub))
    assert list(beside["metric"]) == ["average_return", "max_return"]
    avg, best = beside.iloc[0], beside.iloc[1]
    # max: step 300, seeds 0.4, 0.6, 0.8: mean 0.6, s = 0.2
    half = T_975_DF2 * 0.2 / math.sqrt(3)
    assert best["seeds"] == 3
    assert best["ours"] == pytest.approx(0.6)
    assert (best["ours_ci_low"], best["ours_ci_high"]) == pytest.approx((0.6 - half, 0.6 + half), abs=1e-6)
    assert bool(best["inside"]) is True  # 0.6 in [0.5, 0.65]
    # average: per-seed means 0.3, 0.5, 0.4: mean 0.4, s = 0.1
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert avg["ours"] == pytest.approx(0.4)
    assert (avg["ours_ci_low"], avg["ours_ci_high"]) == pytest.approx((0.4 - half, 0.4 + half), abs=1e-6)
    assert bool(avg["inside"]) is False  # 0.4 not in [0.85, 0.95]
    assert (avg["published"], avg["published_ci_low"], avg["published_ci_high"]) == (0.9, 0.85, 0.95)


def test_incomplete_runs_count_only_when_asked(lbf_runs, tmp_path):
    pub = write_published(tmp_path / "pub.csv", [f"{LBF},qmix,max_return,sum,0.6,0.5,0.7,test"])
    beside = published.compare(results.load([lbf_runs]), published.load_published(pub), include_incomplete=True)
    assert beside.loc[0, "seeds"] == 4
    assert beside.loc[0, "ours"] == pytest.approx((0.6 * 3 + 9.0) / 4)


def test_returns_are_converted_to_the_paper_convention(tmp_path):
    out = tmp_path / "runs"
    # team_reward "sum" over 3 agents, reported per agent ("mean"): team returns -30, -60 -> -10, -20
    write_run(out, MPE, "vdn", 0, [-30.0], team_reward="sum", n_agents=3)
    write_run(out, MPE, "vdn", 1, [-60.0], team_reward="sum", n_agents=3)
    # a shared reward already is the per-agent return
    write_run(out, MPE, "qmix", 0, [-12.0], team_reward="shared", n_agents=3)
    pub = write_published(
        tmp_path / "pub.csv",
        [f"{MPE},vdn,max_return,mean,-15,-20,-10,test", f"{MPE},qmix,max_return,mean,-12,-13,-11,test"],
    )
    beside = published.compare(results.load([out]), published.load_published(pub)).set_index("algo")
    assert beside.loc["vdn", "ours"] == pytest.approx(-15.0)
    assert beside.loc["qmix", "ours"] == pytest.approx(-12.0)
    assert math.isnan(beside.loc["qmix", "ours_ci_low"])  # one seed: no interval
    assert published.to_convention(pd.Series([2.0]), "shared", 4, "sum").iloc[0] == 8.0


def test_a_run_without_env_info_is_refused(tmp_path):
    out = tmp_path / "runs"
    write_run(out, LBF, "qmix", 0, [0.5])
    config = run_dir(out, LBF, "qmix", 0) / "config.json"
    config.write_text(json.dumps({"run": {"env": LBF, "algo": "qmix", "seed": 0}, "config": {}}))
    pub = write_published(tmp_path / "pub.csv", [f"{LBF},qmix,max_return,sum,0.6,0.5,0.7,test"])
    with pytest.raises(published.PublishedError, match="env_info"):
        published.compare(results.load([out]), published.load_published(pub))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f"{LBF},qmix,best_return,sum,0.6,0.5,0.7,x", "unknown metric"),
        (f"{LBF},qmix,max_return,total,0.6,0.5,0.7,x", "unknown convention"),
        (f"{LBF},qmix,max_return,sum,0.9,0.5,0.7,x", "does not contain its value"),
    ],
)
def test_bad_published_files_are_refused(tmp_path, row, message):
    with pytest.raises(published.PublishedError, match=message):
        published.load_published(write_published(tmp_path / "pub.csv", [row]))


def test_report_cli_puts_published_beside_ours(lbf_runs, tmp_path, capsys):
    pub = write_published(tmp_path / "pub.csv", [f"{LBF},qmix,max_return,sum,0.55,0.5,0.65,Table X p. Y"])
    md = tmp_path / "rep" / "report.md"
    assert main(["report", str(lbf_runs), "--published", str(pub), "--md", str(md), "--reps", "50"]) == 0
    assert "Published" in capsys.readouterr().out
    table = pd.read_csv(lbf_runs / "report_published.csv")
    assert table.loc[0, "ours"] == pytest.approx(0.6) and bool(table.loc[0, "inside"])
    assert "## Published results beside ours" in md.read_text()


def test_the_shipped_published_file_loads():
    root = Path(__file__).resolve().parents[1]
    frame = published.load_published(root / "benchmarks" / "published" / "papoudakis2021.csv")
    assert list(frame.columns) == list(published.PUBLISHED_COLUMNS)


def test_protocol_metrics_need_no_published_file(tmp_path):
    out = tmp_path / "runs"
    for seed, curve in CURVES.items():
        write_run(out, LBF, "qmix", seed, curve, protocol="papoudakis2021")
    # MPE under the study's per-agent convention: team returns (sum over 3 agents) -30 and -60 -> -10, -20
    write_run(out, MPE, "vdn", 0, [-30.0, -45.0], n_agents=3, protocol="papoudakis2021")
    write_run(out, MPE, "vdn", 1, [-60.0, -15.0], n_agents=3, protocol="papoudakis2021")
    write_run(out, LBF, "vdn", 0, [1.0, 1.0, 1.0])  # no protocol: left out
    metrics = published.protocol_metrics(results.load([out])).set_index(["env", "algo", "metric"])
    assert set(metrics.index) == {(e, a, m) for e, a in ((LBF, "qmix"), (MPE, "vdn")) for m in published.METRICS}
    best = metrics.loc[(LBF, "qmix", "max_return")]  # as in the published comparison above, by hand
    half = T_975_DF2 * 0.2 / math.sqrt(3)
    assert (best["value"], best["step"], best["seeds"], best["convention"]) == (pytest.approx(0.6), 300, 3, "sum")
    assert (best["ci_low"], best["ci_high"]) == pytest.approx((0.6 - half, 0.6 + half), abs=1e-6)
    assert metrics.loc[(LBF, "qmix", "average_return"), "value"] == pytest.approx(0.4)
    # per agent: seed 0 -10, -15; seed 1 -20, -5 -> step means -15, -10: best at step 200
    mpe = metrics.loc[(MPE, "vdn", "max_return")]
    assert (mpe["value"], mpe["step"], mpe["convention"]) == (pytest.approx(-10.0), 200, "mean")
    assert metrics.loc[(MPE, "vdn", "average_return"), "value"] == pytest.approx(-12.5)
    assert published.protocol_metrics(results.load([out / LBF.replace("/", "__") / "vdn"])).empty


def test_a_protocol_without_a_return_convention_is_refused(tmp_path):
    out = tmp_path / "runs"
    write_run(out, LBF, "qmix", 0, [0.5], protocol="made-up2020")
    with pytest.raises(published.PublishedError, match="made-up2020.*no return convention.*lbf"):
        published.protocol_metrics(results.load([out]))


def test_report_cli_writes_the_protocol_metrics(tmp_path, capsys):
    out = tmp_path / "runs"
    for seed, curve in CURVES.items():
        write_run(out, LBF, "qmix", seed, curve, protocol="papoudakis2021")
    md = tmp_path / "rep" / "report.md"
    assert main(["report", str(out), "--md", str(md), "--reps", "50"]) == 0
    assert "The protocol's metrics" in capsys.readouterr().out
    table = pd.read_csv(out / "report_protocol.csv").set_index("metric")
    assert table.loc["max_return", "value"] == pytest.approx(0.6)
    assert "## The protocol's metrics" in md.read_text()

"""Report tables against hand-computed values; config diff; learning-curve PNGs and report.md."""

from __future__ import annotations

import pytest
from _fake_train import make_results, spec, train

from qmixbench import report, results


@pytest.fixture
def table(tmp_path):
    make_results(tmp_path, algos=("qmix", "vdn"), seeds=(0, 1, 2, 3))
    return results.load([tmp_path])


def test_summary_by_hand(table):
    summary = report.summarize(table, reps=500)
    assert list(summary.columns) == ["env", "algo", *report.SUMMARY_COLUMNS]
    qmix = summary.set_index("algo").loc["qmix"]
    finals = [8.0, 8.1, 8.2, 8.3]  # fake: 8 * step/total + 0.1 * seed at the last step
    assert qmix["seeds"] == 4
    assert qmix["return_mean"] == pytest.approx(sum(finals) / 4)
    assert qmix["return_std"] == pytest.approx(0.1290994, rel=1e-6)  # sample std (ddof=1) of 8.0..8.3
    assert qmix["return_iqm"] == pytest.approx((8.1 + 8.2) / 2)
    assert qmix["iqm_ci_low"] <= qmix["return_iqm"] <= qmix["iqm_ci_high"]
    assert 8.0 <= qmix["iqm_ci_low"] and qmix["iqm_ci_high"] <= 8.3
    # AUC of 8*s/400 + c over s in 100..400: trapezoids of a line = its mean over [100, 400] = 8*250/400 + c
    assert qmix["auc"] == pytest.approx(5.0 + 0.15)
    assert qmix["success_rate"] == 1.0 and qmix["final_env_steps"] == 400
    assert qmix["first_success_steps"] == 100  # fake: success rate step / total, > 0 from the first evaluation
    assert qmix["wall_time_s"] == pytest.approx(0.4) and qmix["env_steps_per_s"] == 1000


def test_first_success_steps_is_the_median_first_success_counting_never_as_inf(tmp_path):
    from qmixbench.recorder import RunRecorder, run_dir

    success = {  # success rate at env steps 100, 200, 300, 400 -> first step with success > 0
        ("qmix", 0): [0.0, 0.0, 0.5, 1.0],  # 300
        ("qmix", 1): [0.0, 0.25, 0.0, 1.0],  # 200: the first success counts even if the next evaluation fails
        ("qmix", 2): [0.0, 0.0, 0.0, 0.0],  # never: inf
        ("vdn", 0): [0.0, 0.0, 0.0, 0.0],  # inf
        ("vdn", 1): [0.0, 0.0, 0.0, 0.5],  # 400
        ("vdn", 2): [0.0, 0.0, 0.0, 0.0],  # inf
        ("iql", 0): [None, None, None, None],  # no success flag recorded
    }
    for (algo, seed), rates in success.items():
        rec = RunRecorder(run_dir(tmp_path, "t", algo, seed))
        rec.write_config({"run": {"env": "t", "algo": algo, "seed": seed}, "config": {}})
        for i, rate in enumerate(rates):
            row = {"env_steps": 100 * (i + 1), "eval_return_mean": 1.0}
            rec.log_eval(row if rate is None else {**row, "eval_success_rate": rate})
        rec.set_status("done", 400)
    first = report.summarize(results.load([tmp_path]), reps=10).set_index("algo")["first_success_steps"]
    assert first["qmix"] == 300  # median of 300, 200, inf
    assert first["vdn"] == float("inf")  # two of three never succeed
    assert first["iql"] != first["iql"]  # NaN: nothing to measure


def test_summary_is_seeded_and_groups_by_config(table):
    assert report.summarize(table, seed=1).equals(report.summarize(table, seed=1))
    by_lr = report.summarize(table, ["config.lr"])
    assert list(by_lr["config.lr"]) == [0.0005] and by_lr["seeds"].tolist() == [8]
    with pytest.raises(KeyError, match="unknown group-by column"):
        report.summarize(table, ["nope"])


def test_failed_and_unfinished_runs_are_not_scored(tmp_path):
    make_results(tmp_path, algos=("qmix",), seeds=(0, 1))
    with pytest.raises(RuntimeError):
        train(spec(algo="qmix", seed=2, mode="raise"), tmp_path)
    table = results.load([tmp_path])
    assert report.summarize(table)["seeds"].tolist() == [2]
    assert report.summarize(table, include_incomplete=True)["seeds"].tolist() == [3]


def test_probability_of_improvement_table(table):
    poi = report.improvement(table, reps=300)
    assert list(poi.columns) == list(report.IMPROVEMENT_COLUMNS)
    row = poi[(poi.algo_x == "qmix") & (poi.algo_y == "vdn")].iloc[0]
    # qmix finals 8.0..8.3, vdn finals 7.0..7.3: every qmix run beats every vdn run
    assert (row.p_improve, row.ci_low, row.ci_high, row.seeds_x, row.seeds_y) == (1.0, 1.0, 1.0, 4, 4)
    assert poi[(poi.algo_x == "vdn") & (poi.algo_y == "qmix")].p_improve.iloc[0] == 0.0


def test_config_diff_lists_every_differing_key(tmp_path):
    for seed in (0, 1):
        train(spec(algo="qmix", seed=seed), tmp_path)
        train(spec(algo="vdn", seed=seed, lr=1e-3), tmp_path)  # an unfair comparison: lr differs
        train(spec(env="matrix/climbing-v0", algo="qmix", seed=seed, total=800), tmp_path)
        train(spec(env="matrix/climbing-v0", algo="vdn", seed=seed, total=800), tmp_path)
    diff = report.config_diff(results.load([tmp_path]))
    rows = {(r.env, r.key): (r.qmix, r.vdn) for r in diff.itertuples()}
    qmix_only = {"mixer.embed_dim": "32", "mixer.hypernet_embed": "64", "mixer.hypernet_layers": "2"}
    assert rows == {
        ("matrix/two-step-v0", "lr"): ("0.0005", "0.001"),
        **{(env, "mixer.kind"): ("qmix", "vdn") for env in ("matrix/climbing-v0", "matrix/two-step-v0")},
        **{(env, k): (v, "-") for env in ("matrix/climbing-v0", "matrix/two-step-v0") for k, v in qmix_only.items()},
    }  # total_env_steps differs between envs only: not a confound, not listed; "-": VDN has no such field


def test_markdown_report_embeds_pngs(tmp_path, table):
    out = tmp_path / "rep"
    md = report.write_markdown(
        out / "report.md",
        table,
        report.summarize(table, reps=200),
        report.improvement(table, reps=200),
        report.config_diff(table),
        results.runs([tmp_path]),
        [str(tmp_path)],
    )
    text = md.read_text()
    png = out / "curves" / "matrix__two-step-v0.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![matrix/two-step-v0 learning curves](curves/matrix__two-step-v0.png)" in text
    assert "| env | algo | seeds | return_mean |" in text
    assert "## Probability of improvement" in text and "## Config keys that differ" in text


def test_curves_use_shared_steps_and_iqm(table):
    curves = report.curves(table, "matrix/two-step-v0", reps=200)
    qmix = curves["qmix"]
    assert qmix["steps"].tolist() == [100, 200, 300, 400] and qmix["runs"] == 4
    # IQM over the 4 seeds at step s: mean of seeds 1 and 2 = 8*s/400 + 0.15
    assert qmix["iqm"].tolist() == pytest.approx([2.15, 4.15, 6.15, 8.15])


def test_markdown_table_escapes_pipes():
    import pandas as pd

    text = report.markdown_table(pd.DataFrame({"a": ["x|y"], "b": [1.23456789]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1.235 |"]


def test_adding_another_algorithms_runs_leaves_each_groups_cis_unchanged(tmp_path):
    # Each group draws its bootstrap from its own keyed stream (stats.keyed_rng): IQL's runs, grouped
    # before QMIX's and VDN's, must not move their CIs (with one shared stream they did).
    make_results(tmp_path, algos=("qmix", "vdn"), seeds=range(7))
    before = results.load([tmp_path])
    make_results(tmp_path, algos=("iql",), seeds=range(7))
    after = results.load([tmp_path])
    assert sorted(after["algo"].unique()) == ["iql", "qmix", "vdn"]

    def ours(frame, columns):
        return frame[frame["algo"].isin(["qmix", "vdn"])][columns].reset_index(drop=True)

    ci = ["algo", "return_iqm", "iqm_ci_low", "iqm_ci_high"]
    assert ours(report.summarize(before, reps=200), ci).equals(ours(report.summarize(after, reps=200), ci))
    other_seed = report.summarize(before, reps=200, seed=1)
    assert not ours(report.summarize(before, reps=200), ci).equals(ours(other_seed, ci))  # the draws matter here

    def pair(frame):
        rows = frame[frame["algo_x"].isin(["qmix", "vdn"]) & frame["algo_y"].isin(["qmix", "vdn"])]
        return rows[["algo_x", "algo_y", "p_improve", "ci_low", "ci_high"]].reset_index(drop=True)

    assert pair(report.improvement(before, reps=200)).equals(pair(report.improvement(after, reps=200)))
    bands = [report.curves(t, "matrix/two-step-v0", reps=200)["qmix"] for t in (before, after)]
    assert (bands[0]["low"] == bands[1]["low"]).all() and (bands[0]["high"] == bands[1]["high"]).all()

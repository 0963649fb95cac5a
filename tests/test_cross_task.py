"""Cross-task aggregates: named statistics by hand and against rliable, reference points against the games,
score matrices and their exclusions, the marl-eval export, and the report command end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _fake_train import make_results, spec, train
from _rliable import rliable_library

from qmixbench import cross_task, marl_eval, results, stats
from qmixbench.cli import main
from qmixbench.references import DEFAULT_FILE, ReferenceError, ReferencePoint, load_references

# (R=4 runs, T=3 tasks); one score above 1 shows the optimality gap's clipping.
SCORES = np.array([[0.0, 1.5, 0.1], [0.5, 0.2, 0.1], [1.0, 0.4, 0.1], [0.2, 0.8, 0.1]])
REFS = {
    "matrix/two-step-v0": ReferencePoint("matrix/two-step-v0", 4.75, 8.0, "optimum", ""),
    "matrix/climbing-v0": ReferencePoint("matrix/climbing-v0", 0.0, 10.0, "optimum", ""),
}


def test_named_aggregates_by_hand():
    est = stats.interval_estimates(SCORES, reps=200, rng=0)
    assert list(est) == list(stats.AGGREGATES) == ["iqm", "median", "mean", "optimality_gap"]
    # Task means: 1.7/4 = 0.425, 2.9/4 = 0.725, 0.1.
    # IQM: the 12 sorted scores 0 .1 .1 .1 | .1 .1 .2 .2 .4 .5 | .8 1 1.5 less 3 each end -> mean of the middle 6.
    hand = {
        "iqm": (0.1 + 0.1 + 0.2 + 0.2 + 0.4 + 0.5) / 6,
        "median": 0.425,
        "mean": (0.425 + 0.725 + 0.1) / 3,
        "optimality_gap": 1 - (1.7 + 2.4 + 0.4) / 12,  # 1.5 counts as 1: the 12 clipped scores sum to 4.5
    }
    for name, value in hand.items():
        point, low, high = est[name]
        assert point == pytest.approx(value), name
        assert low <= point <= high, name
    taus = np.array([-0.1, 0.15, 1.0])
    assert stats.performance_profile(SCORES, taus).tolist() == pytest.approx([1.0, 7 / 12, 1 / 12])
    profile, low, high = stats.performance_profile_band(SCORES, taus, reps=200, rng=0)
    assert np.all(low <= profile) and np.all(profile <= high) and low[0] == high[0] == 1.0


def test_stratified_bootstrap_keeps_each_task_apart():
    # Task 0 scores 0, task 1 scores 1: any within-task resample has mean 0.5 exactly; pooling tasks would not.
    mat = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    assert stats.interval_estimates(mat, reps=300, rng=1)["mean"] == (0.5, 0.5, 0.5)


def _rliable_funcs():
    metrics = pytest.importorskip("rliable.metrics", reason="rliable is not installed")
    return {
        "iqm": metrics.aggregate_iqm,
        "median": metrics.aggregate_median,
        "mean": metrics.aggregate_mean,
        "optimality_gap": metrics.aggregate_optimality_gap,
    }


MAT = np.random.default_rng(3).normal(0.6, 0.3, size=(5, 4))


def test_point_estimates_against_rliable():
    ours = stats.interval_estimates(MAT, reps=10, rng=0)
    for name, func in _rliable_funcs().items():
        assert ours[name][0] == pytest.approx(func(MAT), abs=1e-12), name


def test_intervals_and_profiles_against_rliable():
    funcs = _rliable_funcs()
    library = rliable_library()
    ours = stats.interval_estimates(MAT, reps=5000, rng=0)
    _, intervals = library.get_interval_estimates(
        {"a": MAT},
        lambda x: np.array([f(x) for f in funcs.values()]),
        reps=5000,
        random_state=np.random.RandomState(0),
    )
    for i, name in enumerate(funcs):
        # Two random streams: the percentile ends agree to Monte-Carlo error, a small part of the spread.
        assert ours[name][1] == pytest.approx(intervals["a"][0, i], abs=0.02), name
        assert ours[name][2] == pytest.approx(intervals["a"][1, i], abs=0.02), name
    taus = np.linspace(0, 1.2, 13)
    profiles, _ = library.create_performance_profile({"a": MAT}, taus, reps=10)
    assert stats.performance_profile(MAT, taus) == pytest.approx(profiles["a"])


def test_shipped_reference_points_match_the_games():
    from qmixbench_envs import make
    from qmixbench_envs.matrix import TWO_STEP_2A_PAYOFF, TWO_STEP_2B

    refs = load_references(DEFAULT_FILE)
    assert sorted(refs) == sorted(
        [
            "matrix/two-step-v0",
            "matrix/wqmix-one-step-v0",
            "matrix/climbing-v0",
            "matrix/penalty-v0",
            "multigrid/two-step-vault-v0",
            "multigrid/collect-8x8-v0",
            "multigrid/empty-6x6-v0",
            "lbf/8x8-2p-2f-coop-v3",
        ]
    )
    for env_id, ref in refs.items():
        if not env_id.startswith("matrix/"):
            continue
        env = make(env_id)
        if env_id == "matrix/two-step-v0":  # agent_0's first action picks 2A or 2B with probability 1/2 each
            random = 0.5 * TWO_STEP_2A_PAYOFF + 0.5 * TWO_STEP_2B.mean()
        else:  # independent uniform actions: every joint action equally likely, every step
            random = env.payoff.mean() * env._length
        assert ref.random_return == pytest.approx(random), env_id
        assert ref.best_return == env.optimum and ref.best_kind == "optimum", env_id
    # And measured: uniformly random joint actions through the env itself.
    env, gen, returns = make("matrix/two-step-v0"), np.random.default_rng(0), []
    for _ in range(4000):
        env.reset()
        total = 0.0
        while env.agents:
            _, rewards, _, _, _ = env.step({a: int(gen.integers(2)) for a in env.agents})
            total += rewards["agent_0"]
        returns.append(total)
    assert np.mean(returns) == pytest.approx(refs["matrix/two-step-v0"].random_return, abs=4 * np.std(returns) / 63)


def test_the_vaults_reference_points_by_enumerating_every_joint_action_through_the_env():
    """Random return: the mean over all 49 first joint actions and, where the raid goes on, all 49 second
    ones (uniform play, exactly); optimum: the best sequence's return."""
    import itertools

    from qmixbench_envs import make

    env_id = "multigrid/two-step-vault-v0"
    ref = load_references(DEFAULT_FILE)[env_id]
    env, joint = make(env_id), list(itertools.product(range(7), repeat=2))

    def play(*steps):
        env.reset(seed=0)
        total = 0.0
        for a0, a1 in steps:
            _, rewards, _, _, _ = env.step({"agent_0": a0, "agent_1": a1})
            total += rewards["agent_0"]
        return total, not env.agents

    firsts = []
    best = -np.inf
    for first in joint:
        total, ended = play(first)
        if ended:
            firsts.append(total)
            best = max(best, total)
            continue
        seconds = [play(first, second)[0] for second in joint]
        firsts.append(float(np.mean(seconds)))
        best = max(best, *seconds)
    assert ref.random_return == pytest.approx(np.mean(firsts))
    assert ref.best_return == best == 8 and ref.best_kind == "optimum"


def _random_returns(env_id: str, episodes: int, seed: int) -> np.ndarray:
    """Team returns of uniformly random play, by a loop of its own (not the bench script's)."""
    from qmixbench_envs import make

    env, gen, out = make(env_id), np.random.default_rng(seed), []
    for episode in range(episodes):
        env.reset(seed=seed * 100_000 + episode)
        total = 0.0
        while env.agents:
            _, rewards, _, _, _ = env.step({a: int(gen.integers(7)) for a in env.agents})
            total += rewards["agent_0"]
        out.append(total)
    return np.asarray(out)


@pytest.mark.parametrize("env_id", ["multigrid/collect-8x8-v0", "multigrid/empty-6x6-v0"])
def test_measured_random_returns_agree_with_an_independent_sample(env_id):
    """The shipped random return (10,000 episodes of the bench script) against 1,500 fresh episodes with
    other seeds: within 4 standard errors of the fresh sample's mean."""
    ref = load_references(DEFAULT_FILE)[env_id]
    sample = _random_returns(env_id, 1_500, seed=7)
    se = sample.std(ddof=1) / np.sqrt(len(sample))
    assert abs(sample.mean() - ref.random_return) < 4 * se, (sample.mean(), se)


def test_empty_6x6_optimum_by_searching_every_short_move_sequence():
    """Reaching the goal ends the episode in success for the team, and the other agent can only get in the
    way, so the team's fastest success is the fastest single agent's: search every sequence of left,
    right and forward of each agent (the other standing still with ``done``) up to 7 steps."""
    import itertools

    from qmixbench_envs import make

    env_id = "multigrid/empty-6x6-v0"
    env, fastest = make(env_id), {}
    for mover, other in (("agent_0", "agent_1"), ("agent_1", "agent_0")):
        for length in range(1, 8):
            found = None
            for moves in itertools.product((0, 1, 2), repeat=length):
                env.reset(seed=0)
                for move in moves:
                    _, rewards, _, _, infos = env.step({mover: move, other: 6})
                    if not env.agents:
                        break
                if not env.agents and infos[mover]["success"]:
                    found = rewards[mover]
                    break
            if found is not None:
                fastest[mover] = (length, found)
                break
    assert fastest == {"agent_0": (7, pytest.approx(1 - 0.9 * 7 / 36)), "agent_1": (6, pytest.approx(0.85))}
    assert load_references(DEFAULT_FILE)[env_id].best_return == pytest.approx(1 - 0.9 * 6 / 36)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("m,1,1,optimum,x\n", "best_return must be above random_return"),
        ("m,0,1,optimum,x\nm,0,2,optimum,y\n", "m is listed twice"),
        ("m,0,nan,optimum,x\n", "best_return 'nan' is not a finite number"),
        ("m,0,1,best,x\n", "best_kind 'best' is not one of optimum, best-known"),
    ],
)
def test_bad_reference_files_are_refused(tmp_path, rows, message):
    path = tmp_path / "r.csv"
    path.write_text("env,random_return,best_return,best_kind,source\n" + rows)
    with pytest.raises(ReferenceError, match=message):
        load_references(path)


def test_score_matrices_normalise_and_name_every_exclusion(tmp_path):
    make_results(tmp_path, envs=("matrix/two-step-v0", "matrix/climbing-v0"), algos=("qmix", "vdn"), seeds=(0, 1, 2))
    train(spec("matrix/climbing-v0", "qmix", seed=3), tmp_path)  # one run more on one task
    make_results(tmp_path, envs=("multigrid/empty-5x5-v0",), algos=("qmix",), seeds=(0,))
    cross = cross_task.score_matrices(results.load([tmp_path]), REFS)
    assert cross.tasks == ["matrix/climbing-v0", "matrix/two-step-v0"]
    # The fake's final return is FINAL[algo] + 0.1 * seed; two-step: (8.1 - 4.75) / 3.25; climbing: 8.1 / 10.
    qmix = cross.matrices[("qmix", "")]
    assert qmix.shape == (3, 2)  # climbing's 4th qmix run is dropped: the lowest 3 seeds on each task
    assert qmix[1].tolist() == pytest.approx([0.81, (8.1 - 4.75) / 3.25])
    assert cross.matrices[("vdn", "")][0].tolist() == pytest.approx([0.7, (7.0 - 4.75) / 3.25])
    notes = " / ".join(cross.notes)
    assert "no reference points for multigrid/empty-5x5-v0" in notes
    assert "qmix: runs per task differ (4, 3); each task keeps the 3 with the lowest seeds" in notes
    table = cross_task.aggregate_table(cross, reps=100)
    assert list(table.columns) == list(cross_task.AGGREGATE_COLUMNS)
    assert table.set_index("algo").loc["vdn", "mean"] == pytest.approx(
        np.mean([0.7, 0.71, 0.72, *(np.array([7.0, 7.1, 7.2]) - 4.75) / 3.25])
    )


def test_tasks_not_run_by_every_arm_and_runs_with_env_kwargs_are_left_out(tmp_path):
    make_results(tmp_path, envs=("matrix/two-step-v0",), algos=("qmix", "vdn"), seeds=(0,))
    make_results(tmp_path, envs=("matrix/climbing-v0",), algos=("qmix",), seeds=(0,))
    odd = spec("matrix/two-step-v0", "iql", seed=0)
    train(type(odd)(**{**odd.__dict__, "env_kwargs": {"episode_limit": 3}}), tmp_path)
    cross = cross_task.score_matrices(results.load([tmp_path]), REFS)
    assert cross.tasks == ["matrix/two-step-v0"] and sorted(cross.matrices) == [("qmix", ""), ("vdn", "")]
    notes = " / ".join(cross.notes)
    assert "matrix/climbing-v0: not run by every arm" in notes
    assert "runs of matrix/two-step-v0 built with env kwargs: left out" in notes


def test_marl_eval_export_nesting(tmp_path):
    make_results(tmp_path, envs=("matrix/two-step-v0", "multigrid/empty-5x5-v0"), algos=("qmix",), seeds=(0, 1))
    train(spec(algo="vdn", seed=0, variant="lr=0.001", lr=1e-3), tmp_path)
    data = marl_eval.marl_eval_data(results.load([tmp_path]))
    assert sorted(data) == ["matrix", "multigrid"]
    assert sorted(data["matrix"]["two-step-v0"]) == ["qmix", "vdn[lr=0.001]"]
    run = data["matrix"]["two-step-v0"]["qmix"]["1"]
    assert list(run) == ["step_1", "step_2", "step_3", "step_4", "absolute_metrics"]
    assert run["step_2"] == {"step_count": 200, "return": [4.1], "success_rate": [0.5]}
    assert run["absolute_metrics"] == {"return": [8.1], "success_rate": [1.0]}
    json.dumps(data, allow_nan=False)  # plain JSON: marl-eval reads it with json.load
    # marl-eval counts the steps as every key but the last (absolute_metrics), the same for every run.
    counts = {len(r) - 1 for t in data.values() for a in t.values() for runs in a.values() for r in runs.values()}
    assert counts == {4}


def test_report_command_writes_the_cross_task_outputs(tmp_path, capsys):
    make_results(tmp_path, envs=("matrix/two-step-v0", "matrix/climbing-v0", "multigrid/empty-5x5-v0"), seeds=(0, 1))
    refs = tmp_path / "refs.csv"
    refs.write_text(
        "env,random_return,best_return,best_kind,source\n"
        "matrix/two-step-v0,4.75,8,optimum,x\nmatrix/climbing-v0,0,10,optimum,y\n"
    )
    export = tmp_path / "me.json"
    argv = ["report", str(tmp_path), "--reps", "50", "--references", str(refs), "--marl-eval", str(export)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Across 2 task(s)" in out and "note: no reference points for multigrid/empty-5x5-v0" in out
    for name in ("report_aggregates.csv", "report_normalised.csv", "performance-profile.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    md = (tmp_path / "report.md").read_text()
    assert "## Across tasks" in md and "![performance profile](performance-profile.png)" in md
    assert sorted(json.loads(export.read_text())) == ["matrix", "multigrid"]
    refs.write_text("env,random\n")
    assert main(argv) == 2
    assert "columns must be env, random_return" in capsys.readouterr().err


def test_report_algos_and_envs_pick_the_arms_and_tasks_aggregated(tmp_path, capsys):
    # qmix and vdn ran two tasks, iql only one: over all three arms the aggregate has one task; choosing
    # qmix and vdn brings the second task back, and only their rows reach the tables.
    make_results(tmp_path, envs=("matrix/two-step-v0", "matrix/climbing-v0"), algos=("qmix", "vdn"), seeds=(0, 1))
    make_results(tmp_path, envs=("matrix/two-step-v0",), algos=("iql",), seeds=(0, 1))
    refs = tmp_path / "refs.csv"
    refs.write_text(
        "env,random_return,best_return,best_kind,source\n"
        "matrix/two-step-v0,4.75,8,optimum,x\nmatrix/climbing-v0,0,10,optimum,y\n"
    )
    base = ["report", str(tmp_path), "--reps", "50", "--references", str(refs)]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "Across 1 task(s)" in out and "matrix/climbing-v0: not run by every arm" in out
    assert main([*base, "--algos", "qmix,vdn", "--csv", str(tmp_path / "qv.csv")]) == 0
    out = capsys.readouterr().out
    assert "Across 2 task(s)" in out and "not run by every arm" not in out
    summary = (tmp_path / "qv.csv").read_text()
    assert "qmix" in summary and "vdn" in summary and "iql" not in summary
    aggregates = (tmp_path / "qv_aggregates.csv").read_text()
    assert "iql" not in aggregates and "qmix" in aggregates
    assert main([*base, "--envs", "matrix/climbing-v0", "--csv", str(tmp_path / "c.csv")]) == 0
    capsys.readouterr()
    assert "two-step" not in (tmp_path / "c.csv").read_text()
    assert main([*base, "--algos", "qmix,qplex"]) == 2
    assert "--algos: no runs of qplex; valid: iql, qmix, vdn" in capsys.readouterr().err

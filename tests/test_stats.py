"""Statistics against values computed by hand (and against rliable / scipy when installed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _rliable import rliable_library

from qmixbench import stats


def test_iqm_trims_a_quarter_from_each_end():
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.iqm([100, 0, 10, 0, 10]) == pytest.approx(20 / 3)  # n=5: drop one each end -> 0, 10, 10
    assert stats.iqm([1, 2, 9]) == pytest.approx(4.0)  # n=3: floor(0.75) = 0 trimmed -> the mean
    assert stats.iqm([[1, 5], [2, 6], [3, 7], [4, 8]]) == pytest.approx(4.5)  # (R, T) is flattened


def test_iqm_matches_scipy_trim_mean():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for n in (4, 5, 7, 10, 13):
        x = rng.normal(size=n)
        assert stats.iqm(x) == pytest.approx(scipy_stats.trim_mean(x, 0.25))


def test_probability_of_improvement_by_hand():
    # x=[1,2,3] vs y=[2,2,2]: 3 wins (3>2), 3 ties (2=2) -> (3 + 0.5*3) / 9 = 0.5
    assert stats.probability_of_improvement([1, 2, 3], [2, 2, 2]) == pytest.approx(0.5)
    assert stats.probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert stats.probability_of_improvement([1, 2], [3, 4]) == 0.0
    # x=[1,5] vs y=[2,3,4]: 1 loses to all, 5 beats all -> 3/6
    assert stats.probability_of_improvement([1, 5], [2, 3, 4]) == pytest.approx(0.5)
    # x=[3,4] vs y=[1,3,5]: wins 3>1, 4>1, 4>3 = 3, ties 3=3 = 1 -> (3 + 0.5) / 6
    assert stats.probability_of_improvement([3, 4], [1, 3, 5]) == pytest.approx(3.5 / 6)
    # averaged over tasks: task 0 x always better (1), task 1 always worse (0)
    assert stats.probability_of_improvement([[1, 0], [2, 0]], [[0, 1], [0, 1]]) == pytest.approx(0.5)


def test_bootstrap_ci_of_constant_or_single_run_is_a_point():
    assert stats.stratified_bootstrap_ci([3.0, 3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert stats.stratified_bootstrap_ci([7.5]) == (7.5, 7.5)


def test_bootstrap_ci_matches_exact_enumeration():
    """For 4 runs all 4**4 resamples are equally likely: the bootstrap percentiles converge to theirs."""
    scores = np.array([0.0, 1.0, 2.0, 10.0])
    exact = [stats.iqm(scores[list(idx)]) for idx in itertools.product(range(4), repeat=4)]
    lo_exact, hi_exact = np.percentile(np.repeat(exact, 100), [2.5, 97.5])  # quantiles of the discrete law
    lo, hi = stats.stratified_bootstrap_ci(scores, reps=40_000, rng=1)
    assert (lo, hi) == pytest.approx((lo_exact, hi_exact), abs=0.01)
    # by hand, the mean of 3 runs: P(all resampled runs = the lowest) = 1/27 > 2.5%, so the CI is (min, max)
    assert stats.stratified_bootstrap_ci([0.0, 1.0, 5.0], stats.mean_last_axes, reps=40_000, rng=1) == pytest.approx(
        (0.0, 5.0)
    )


def test_bootstrap_resamples_within_each_task():
    mat = np.array([[0.0, 100.0], [1.0, 101.0], [2.0, 102.0]])  # task 1 always >= 100

    def share_of_task1_values_at_least_100(m: np.ndarray) -> np.ndarray:
        return (m[..., :, 1] >= 100).mean(axis=-1) + (m[..., :, 0] < 100).mean(axis=-1)

    assert stats.stratified_bootstrap_ci(mat, share_of_task1_values_at_least_100, reps=500) == (2.0, 2.0)


def test_bootstrap_is_seeded():
    x = np.random.default_rng(0).normal(size=10)
    assert stats.stratified_bootstrap_ci(x, rng=5) == stats.stratified_bootstrap_ci(x, rng=5)
    assert stats.stratified_bootstrap_ci(x, rng=np.random.default_rng(5)) == stats.stratified_bootstrap_ci(x, rng=5)
    lo, hi = stats.stratified_bootstrap_ci(x, rng=5)
    assert lo <= stats.iqm(x) <= hi


def test_probability_of_improvement_ci():
    assert stats.probability_of_improvement_ci([5, 6, 7], [1, 2, 3]) == (1.0, 1.0)
    lo, hi = stats.probability_of_improvement_ci([1, 2, 3, 4], [2, 3, 4, 5], reps=4000, rng=0)
    assert 0.0 <= lo <= stats.probability_of_improvement([1, 2, 3, 4], [2, 3, 4, 5]) <= hi <= 1.0


def test_auc_by_hand():
    assert stats.auc([0, 10], [0, 1]) == pytest.approx(0.5)
    assert stats.auc([0, 10, 30], [0, 1, 1]) == pytest.approx((5 + 20) / 30)
    assert stats.auc([30, 0, 10], [1, 0, 1]) == pytest.approx((5 + 20) / 30)  # order does not matter
    assert stats.auc([5], [3.0]) == 3.0
    assert stats.auc([0, 10, 20], [0, float("nan"), 2]) == pytest.approx(1.0)  # missing point dropped
    # a run that learns earlier has the larger AUC at the same final return
    assert stats.auc([0, 10, 20], [0, 2, 2]) > stats.auc([0, 10, 20], [0, 0, 2])


def test_first_reach_by_hand():
    nan = float("nan")
    assert stats.first_reach([300, 100, 200], [0.9, 0.0, 0.3]) == 200  # order of the points does not matter
    assert stats.first_reach([100, 200, 300], [0.0, nan, 0.5]) == 300  # an unrecorded point is skipped
    assert stats.first_reach([100, 200], [0.5, 0.8], above=0.6) == 200
    assert stats.first_reach([100, 200], [0.0, 0.0]) == float("inf")  # never
    assert np.isnan(stats.first_reach([100, 200], [nan, nan]))  # nothing recorded


def test_curve_band():
    curves = np.array([[0.0, 1.0, 2.0]] * 4)
    centre, lo, hi = stats.curve_band(curves, reps=200)
    np.testing.assert_allclose(centre, [0, 1, 2])
    np.testing.assert_allclose(lo, centre)
    np.testing.assert_allclose(hi, centre)
    spread = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    centre, lo, hi = stats.curve_band(spread, reps=500)
    np.testing.assert_allclose(centre, [1.5, 3.0])  # IQM of 4 runs: middle two
    assert np.all(lo <= centre) and np.all(centre <= hi)


def test_against_rliable_when_installed():
    metrics = pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(10, 3))
    assert stats.iqm(scores) == pytest.approx(metrics.aggregate_iqm(scores))
    other = scores + 0.3
    assert stats.probability_of_improvement(other, scores) == pytest.approx(
        metrics.probability_of_improvement(other, scores)
    )


def test_ci_against_rliable_when_installed():
    metrics = pytest.importorskip("rliable.metrics")
    library = rliable_library()
    scores = np.random.default_rng(1).normal(size=(10, 3))
    _, cis = library.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=5000)
    lo, hi = stats.stratified_bootstrap_ci(scores, reps=5000, rng=0)
    assert (lo, hi) == pytest.approx((cis["x"][0, 0], cis["x"][1, 0]), abs=0.05)

"""Aggregate statistics for few-seed RL results, as recommended by rliable (Agarwal et al. 2021).

The contract is rliable's: a score matrix of shape (R, T), R runs (seeds) by T tasks (envs). Per
(env, algo) a report passes one task, T = 1; everything here also works across tasks.

* :func:`iqm` — interquartile mean: the mean of the middle 50% of all scores, trimming
  ``floor(0.25 * n)`` from each end (``scipy.stats.trim_mean(x, 0.25)``, which rliable uses). With
  fewer than 4 scores nothing is trimmed and it is the mean.
* :func:`stratified_bootstrap_ci` — percentile bootstrap (rliable's default method) where runs are
  resampled with replacement *within each task*, so each task keeps its number of runs.
* :func:`probability_of_improvement` — P(X > Y) for a run X of one algorithm and a run Y of another
  on the same task (ties count one half: the Mann-Whitney U statistic over m*n), averaged over tasks.
* :func:`auc` — the area under one learning curve (trapezoid over env steps) divided by the steps it
  spans: the mean evaluation return over training, in units of return.

Every random draw goes through a ``numpy.random.Generator`` the caller passes or seeds;
:func:`keyed_rng` gives each group of a report its own. numpy only: this module never imports torch
(nor pandas).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps a score array (..., R, T) to one value per leading index (...,)."""


def keyed_rng(seed: int, *key: object) -> np.random.Generator:
    """The Generator for one group of a report (an env and algorithm, a pair of arms, ...): seeded by
    the report's ``seed`` and the group's key, so a group's bootstrap draws depend on that group alone.

    Correctness: with one stream shared by all groups, adding runs of another algorithm to a results
    directory shifted the CIs of every group drawn after it, and a regenerated report disagreed with
    the numbers quoted from the previous one. Each key part is hashed with CRC-32 of its text, which
    is stable across processes and Python versions (``hash(str)`` is salted per process).
    """
    words = [zlib.crc32(str(part).encode("utf-8")) for part in key]
    return np.random.default_rng([seed, *words])


def _matrix(scores: np.ndarray | list[float] | list[list[float]]) -> np.ndarray:
    """Scores as a float (R, T) matrix; a 1-D array is one task."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"scores must be (runs,) or (runs, tasks), got shape {arr.shape}")
    return arr


def iqm(scores: np.ndarray | list[float] | list[list[float]]) -> float:
    """Interquartile mean of all scores (flattened over runs and tasks)."""
    return float(iqm_last_axes(_matrix(scores)[None])[0])


def iqm_last_axes(scores: np.ndarray) -> np.ndarray:
    """IQM over the last two axes of (..., R, T): one value per leading index. NaNs are not allowed."""
    flat = np.sort(scores.reshape(*scores.shape[:-2], -1), axis=-1)  # (..., R*T)
    n = flat.shape[-1]
    cut = int(0.25 * n)
    return flat[..., cut : n - cut].mean(axis=-1)


def mean_last_axes(scores: np.ndarray) -> np.ndarray:
    """Mean over the last two axes of (..., R, T)."""
    return scores.reshape(*scores.shape[:-2], -1).mean(axis=-1)


def stratified_bootstrap_ci(
    scores: np.ndarray | list[float] | list[list[float]],
    statistic: Statistic = iqm_last_axes,
    reps: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``statistic`` with runs resampled within each task.

    Args:
        scores: (R, T) score matrix, or (R,) for one task.
        statistic: maps resampled matrices (reps, R, T) to (reps,); :func:`iqm_last_axes` by default.
        reps: bootstrap replicates (rliable uses 50,000 for papers; 2,000 gives CI ends to ~0.5% of
            their spread for the few-seed matrices here).
        confidence: central coverage, 0.95 for a 95% interval.
        rng: a Generator, or a seed for ``numpy.random.default_rng``.

    Returns:
        (low, high). With one run the interval is that run's score on both ends.
    """
    mat = _matrix(scores)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n_runs, n_tasks = mat.shape
    idx = gen.integers(0, n_runs, size=(reps, n_runs, n_tasks))  # (reps, R, T): resample within each task
    resampled = np.take_along_axis(np.broadcast_to(mat, (reps, n_runs, n_tasks)), idx, axis=1)
    values = statistic(resampled)  # (reps,)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def probability_of_improvement(
    scores_x: np.ndarray | list[float] | list[list[float]],
    scores_y: np.ndarray | list[float] | list[list[float]],
) -> float:
    """P(X > Y): the chance that a run of X scores higher than a run of Y on the same task.

    Args:
        scores_x: (Rx, T) scores of algorithm X; scores_y: (Ry, T) of algorithm Y, the same T tasks.

    Returns:
        The Mann-Whitney U / (Rx * Ry) per task (ties count 1/2), averaged over tasks; 0.5 = no difference.
    """
    x, y = _matrix(scores_x), _matrix(scores_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"both score matrices need the same tasks, got {x.shape[1]} and {y.shape[1]}")
    return float(_poi(x[None], y[None])[0])


def _poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vectorised P(X > Y) for (..., Rx, T) and (..., Ry, T): (...,)."""
    diff = x[..., :, None, :] - y[..., None, :, :]  # (..., Rx, Ry, T)
    per_task = (diff > 0).mean(axis=(-3, -2)) + 0.5 * (diff == 0).mean(axis=(-3, -2))  # (..., T)
    return per_task.mean(axis=-1)


def probability_of_improvement_ci(
    scores_x: np.ndarray | list[float] | list[list[float]],
    scores_y: np.ndarray | list[float] | list[list[float]],
    reps: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of :func:`probability_of_improvement`, resampling each algorithm's runs
    within each task independently (as rliable does)."""
    x, y = _matrix(scores_x), _matrix(scores_y)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    (rx, t), (ry, _) = x.shape, y.shape
    xs = np.take_along_axis(np.broadcast_to(x, (reps, rx, t)), gen.integers(0, rx, (reps, rx, t)), axis=1)
    ys = np.take_along_axis(np.broadcast_to(y, (reps, ry, t)), gen.integers(0, ry, (reps, ry, t)), axis=1)
    values = _poi(xs, ys)  # (reps,)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def _recorded_curve(steps: np.ndarray | list[float], values: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    """A learning curve's (steps, values) without unrecorded (NaN) points, sorted by steps (stable)."""
    s, v = np.asarray(steps, np.float64), np.asarray(values, np.float64)
    keep = ~np.isnan(v)
    order = np.argsort(s[keep], kind="stable")
    return s[keep][order], v[keep][order]


def auc(steps: np.ndarray | list[float], values: np.ndarray | list[float]) -> float:
    """Normalised area under a learning curve: trapezoid area over env steps / the steps spanned.

    It is the curve's mean height, in the units of ``values`` (e.g. return): a run that learns
    earlier scores higher than one that reaches the same final return later. One point: its value.
    NaN values (an evaluation that was not recorded) are dropped first.
    """
    s, v = _recorded_curve(steps, values)
    if s.size == 0:
        return float("nan")
    if s.size == 1 or s[-1] == s[0]:
        return float(v[-1])
    area = float(np.sum((s[1:] - s[:-1]) * (v[1:] + v[:-1]) / 2.0))
    return area / float(s[-1] - s[0])


def first_reach(steps: np.ndarray | list[float], values: np.ndarray | list[float], above: float = 0.0) -> float:
    """The env steps of a learning curve's first point whose value exceeds ``above`` (sample efficiency).

    ``inf`` when no point does (the run never got there); NaN when the curve has no recorded value
    (e.g. a success rate on an env without a success flag). NaN points are skipped.
    """
    s, v = _recorded_curve(steps, values)
    if s.size == 0:
        return float("nan")
    hit = np.flatnonzero(v > above)
    return float(s[hit[0]]) if hit.size else float("inf")


def curve_band(
    curves: np.ndarray,
    reps: int = 1000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
    statistic: Statistic = iqm_last_axes,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-point aggregate and bootstrap CI of R learning curves sampled at P common points.

    Args:
        curves: (R, P) values, one row per run.

    Returns:
        (centre, low, high), each (P,): ``statistic`` over runs at each point, and its percentile CI
        with runs resampled together (a run's whole curve is drawn as one unit).
    """
    mat = np.asarray(curves, np.float64)  # (R, P)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n_runs, n_points = mat.shape
    centre = statistic(mat.T[:, :, None])  # (P,)
    idx = gen.integers(0, n_runs, size=(reps, n_runs))  # (reps, R)
    resampled = mat[idx]  # (reps, R, P)
    values = statistic(np.moveaxis(resampled, 2, 1)[..., None])  # (reps, P)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return centre, low, high


# -- named aggregates across tasks (rliable's metrics) ----------------------------------------------


def median_of_task_means(scores: np.ndarray) -> np.ndarray:
    """rliable's ``aggregate_median``: the median over tasks of each task's mean over runs; (..., R, T) -> (...,)."""
    return np.median(scores.mean(axis=-2), axis=-1)


def mean_of_task_means(scores: np.ndarray) -> np.ndarray:
    """rliable's ``aggregate_mean``: the mean over tasks of each task's mean over runs; (..., R, T) -> (...,)."""
    return scores.mean(axis=-2).mean(axis=-1)


OPTIMALITY_THRESHOLD = 1.0
"""rliable's gamma: a normalised score of 1 (the reference's best return) counts as optimal."""


def optimality_gap(scores: np.ndarray) -> np.ndarray:
    """rliable's ``aggregate_optimality_gap``: how far runs fall short of the threshold on average, scores
    above it counting as the threshold: ``gamma - mean(min(scores, gamma))``; (..., R, T) -> (...,).
    Lower is better."""
    flat = scores.reshape(*scores.shape[:-2], -1)
    return OPTIMALITY_THRESHOLD - np.minimum(flat, OPTIMALITY_THRESHOLD).mean(axis=-1)


AGGREGATES: dict[str, Statistic] = {
    "iqm": iqm_last_axes,
    "median": median_of_task_means,
    "mean": mean_of_task_means,
    "optimality_gap": optimality_gap,
}
"""Named aggregate statistics across tasks, each (..., R, T) -> (...,) as rliable defines them; a report
loops over this table, so adding a statistic is one line here. Meant for normalised scores (the
optimality gap's threshold is a normalised score of 1)."""


def interval_estimates(
    scores: np.ndarray | list[float] | list[list[float]],
    aggregates: dict[str, Statistic] | None = None,
    reps: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, tuple[float, float, float]]:
    """Each named aggregate's point estimate and stratified-bootstrap CI (rliable's ``get_interval_estimates``).

    Args:
        scores: (R, T) normalised scores: R runs on each of T tasks.
        aggregates: name -> statistic; :data:`AGGREGATES` by default.
        reps: bootstrap replicates; runs are resampled within each task, one set of resamples for all
            statistics.
        confidence: central coverage of the percentile interval.
        rng: a Generator, or a seed for ``numpy.random.default_rng``.

    Returns:
        name -> (estimate, low, high), in the order of ``aggregates``.
    """
    mat = _matrix(scores)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n_runs, n_tasks = mat.shape
    idx = gen.integers(0, n_runs, size=(reps, n_runs, n_tasks))
    resampled = np.take_along_axis(np.broadcast_to(mat, (reps, n_runs, n_tasks)), idx, axis=1)  # (reps, R, T)
    alpha = (1.0 - confidence) / 2.0
    out: dict[str, tuple[float, float, float]] = {}
    for name, statistic in (aggregates or AGGREGATES).items():
        low, high = np.percentile(statistic(resampled), [100 * alpha, 100 * (1 - alpha)])
        out[name] = (float(statistic(mat[None])[0]), float(low), float(high))
    return out


def performance_profile(scores: np.ndarray | list[float] | list[list[float]], taus: np.ndarray) -> np.ndarray:
    """rliable's score distribution: the fraction of runs (over all tasks) whose score exceeds each tau.

    Args:
        scores: (R, T) normalised scores.
        taus: (K,) thresholds.

    Returns:
        (K,) fractions in [0, 1].
    """
    mat = _matrix(scores)
    return np.asarray([(mat > tau).mean() for tau in np.asarray(taus, np.float64)])


def performance_profile_band(
    scores: np.ndarray | list[float] | list[list[float]],
    taus: np.ndarray,
    reps: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(profile, low, high), each (K,): :func:`performance_profile` and its stratified-bootstrap band."""
    mat = _matrix(scores)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n_runs, n_tasks = mat.shape
    idx = gen.integers(0, n_runs, size=(reps, n_runs, n_tasks))
    resampled = np.take_along_axis(np.broadcast_to(mat, (reps, n_runs, n_tasks)), idx, axis=1)
    flat = resampled.reshape(reps, -1)  # (reps, R*T)
    fractions = np.stack([(flat > tau).mean(axis=1) for tau in np.asarray(taus, np.float64)], axis=1)  # (reps, K)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(fractions, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return performance_profile(mat, taus), low, high

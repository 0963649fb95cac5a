"""The success (win) rate as a score: each run's final greedy success rate, summarised per env and arm
with a median, an IQM and its 95% CI, and compared pairwise with P(improvement).

Never imports torch. The report's main score is the return. For some families the field scores runs
by the success flag instead: SMAC papers and PyMARL report the test win rate (``test_battle_won_mean``;
SMAC's paper, Samvelyan et al. 2019, gives the median over seeds), and a multigrid episode either
reaches its goal or does not. Two runs can have the same return and different win rates (a battle
lost narrowly earns most of a win's damage reward), so the two scores can rank algorithms
differently, and a reader needs both.

Correctness-critical decisions, made here:

* A run's score is its **final** evaluation's ``eval_success_rate``, as the return score uses the
  final ``eval_return_mean``; only ``done`` runs count unless ``include_incomplete``.
* An env counts only if **every** scored run recorded a success rate at its final evaluation
  (``eval_success_rate`` is empty for envs that report no success flag, e.g. matrix games). A partly
  recorded env is left out whole rather than compared on a subset of its runs.
* The statistics are the report's own (:mod:`qmixbench.stats`): the same IQM, stratified bootstrap
  and Mann-Whitney P(improvement), each from its own generator seeded with the report's ``seed``, so
  this section is reproducible and adding it changes none of the report's other intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qmixbench import report, stats
from qmixbench.results import final_evaluations, scored_runs

SCORE = "eval_success_rate"
"""The metrics.csv column scored here (a fraction 0-1 of the evaluation's episodes)."""

SUCCESS_COLUMNS: tuple[str, ...] = (
    "env",
    "algo",
    "variant",
    "seeds",
    "success_mean",
    "success_median",
    "success_iqm",
    "ci_low",
    "ci_high",
)
"""Columns of :func:`success_summary` (results/README.md documents each)."""


def success_finals(table: pd.DataFrame, include_incomplete: bool = False) -> pd.DataFrame:
    """The final evaluation of each scored run, for the envs whose scored runs all recorded a success
    rate there (see the module docstring); empty when no env qualifies."""
    finals = final_evaluations(scored_runs(table, include_incomplete))
    if finals.empty or SCORE not in finals.columns:
        return finals.iloc[0:0]
    recorded = finals.groupby("env")[SCORE].transform(lambda s: bool(s.notna().all()))
    return finals[recorded.astype(bool)].reset_index(drop=True)


def success_summary(
    table: pd.DataFrame, reps: int = 2000, seed: int = 0, include_incomplete: bool = False
) -> pd.DataFrame:
    """Per env and arm (algorithm, config-grid variant): the runs' final success rates' mean, median
    and IQM with a 95% stratified-bootstrap CI. Columns :data:`SUCCESS_COLUMNS`."""
    finals = success_finals(table, include_incomplete)
    rows = []
    for (env, algo, variant), group in finals.groupby(["env", *report.ARM], sort=True):
        scores = group[SCORE].to_numpy(np.float64)  # (R,) one final success rate per run
        low, high = stats.stratified_bootstrap_ci(scores, reps=reps, rng=stats.keyed_rng(seed, env, algo, variant))
        rows.append(
            {
                "env": env,
                "algo": algo,
                "variant": variant,
                "seeds": len(scores),
                "success_mean": float(scores.mean()),
                "success_median": float(np.median(scores)),
                "success_iqm": stats.iqm(scores),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows, columns=list(SUCCESS_COLUMNS))


def success_improvement(
    table: pd.DataFrame, reps: int = 2000, seed: int = 0, include_incomplete: bool = False
) -> pd.DataFrame:
    """P(a run of X ends with a higher success rate than a run of Y), with its 95% CI, for every
    ordered pair of arms on each env that qualifies. Columns :data:`qmixbench.report.IMPROVEMENT_COLUMNS`."""
    envs = set(success_finals(table, include_incomplete)["env"])
    subset = table[table["env"].isin(envs)]
    return report.improvement(subset, reps=reps, seed=seed, include_incomplete=include_incomplete, score=SCORE)


def markdown_section(summary: pd.DataFrame, improvement: pd.DataFrame) -> str:
    """report.md's "Success rate" section ("" when no env records one)."""
    if summary.empty:
        return ""
    lines = [
        "## Success rate (win rate)",
        "",
        "Each run scored by its final greedy evaluation's success rate (`eval_success_rate`: the share "
        "of evaluation episodes the env flagged as solved, a battle won on SMAX), for the envs where every "
        "scored run records one. `success_median` is the median over runs, as SMAC papers report; "
        "`success_iqm` with its 95% stratified-bootstrap CI as for the return. Files: "
        "`report_success.csv`, `report_success_improvement.csv`.",
        "",
        report.markdown_table(report.drop_empty_variants(summary)),
        "",
    ]
    if len(improvement):
        lines += [
            "P(X > Y) on the final success rate (ties count 1/2; 0.5 means no difference), 95% CI:",
            "",
            report.markdown_table(report.drop_empty_variants(improvement)),
            "",
        ]
    return "\n".join(lines)

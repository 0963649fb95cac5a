"""Aggregates across tasks: normalised scores, rliable's named aggregates with stratified-bootstrap CIs,
and performance profiles, for every arm (an algorithm, or an algorithm in one config-grid variant).

A run's score is its final evaluation's return (as in :mod:`qmixbench.report`), normalised by its
task's reference points (:mod:`qmixbench.references`). Per arm the scores form rliable's (R, T)
matrix, and every statistic of :data:`qmixbench.stats.AGGREGATES` is computed on it.

Correctness-critical decisions made here (each excluded env or run is named in the notes):

* **Only referenced tasks.** An env without reference points, or whose runs were built with keyword
  arguments (a suite's ``kwargs``) the points were not measured for, is left out, never normalised
  by a guess.
* **The same tasks for every arm.** A task enters the aggregate only if every arm has scored runs
  on it; aggregates over different task sets would not be comparable.
* **The same number of runs on every task of an arm.** rliable's estimators take an (R, T) matrix;
  where an arm has more runs on one task than another (a failed run), each task keeps that arm's
  R = fewest runs, those with the lowest seeds.

Never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from qmixbench import stats
from qmixbench.grid import arm_label
from qmixbench.plots import png_axes
from qmixbench.references import ReferencePoint
from qmixbench.results import final_evaluations, scored_runs

NORMALISED_COLUMNS = ("env", "algo", "variant", "seed", "final_return", "normalised_score")
"""Columns of the per-run normalised-score table (``*_normalised.csv``)."""

AGGREGATE_COLUMNS: tuple[str, ...] = (
    "algo",
    "variant",
    "runs",
    "tasks",
    *(f"{name}{suffix}" for name in stats.AGGREGATES for suffix in ("", "_ci_low", "_ci_high")),
)
"""Columns of the cross-task aggregate table (``*_aggregates.csv``): one estimate and 95% CI per named
aggregate, derived from :data:`qmixbench.stats.AGGREGATES`."""


@dataclass(frozen=True)
class CrossTask:
    """Normalised score matrices of the arms on the tasks they share, and what was left out and why."""

    tasks: list[str]
    """The envs in the aggregate, in column order."""
    matrices: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    """(algo, variant) -> (R, T) normalised final scores."""
    normalised: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(NORMALISED_COLUMNS)))
    """One row per scored run of a referenced task (columns :data:`NORMALISED_COLUMNS`)."""
    notes: list[str] = field(default_factory=list)
    """One line per exclusion or adjustment."""


def score_matrices(
    table: pd.DataFrame, references: dict[str, ReferencePoint], include_incomplete: bool = False
) -> CrossTask:
    """Normalise each run's final return and arrange them as one (R, T) matrix per arm (see the module docstring)."""
    scored = scored_runs(table, include_incomplete)
    finals = final_evaluations(scored)
    finals = finals[finals["eval_return_mean"].notna()] if not finals.empty else finals
    notes: list[str] = []
    envs = sorted(finals["env"].unique()) if not finals.empty else []
    lacking = [e for e in envs if e not in references]
    if lacking:
        notes.append(f"no reference points for {', '.join(lacking)}: left out of the cross-task aggregates")
    with_kwargs = sorted({e for e, k in zip(finals["env"], finals["env_kwargs"]) if e in references and k})
    if with_kwargs:
        notes.append(
            f"runs of {', '.join(with_kwargs)} built with env kwargs: left out (the reference points hold "
            "for the env's default arguments)"
        )
    keep = finals["env"].isin(list(references)) & (finals["env_kwargs"] == "") if len(finals) else None
    rows = finals[keep] if keep is not None else finals
    arms = sorted(set(zip(rows["algo"], rows["variant"]))) if len(rows) else []
    tasks = sorted(rows["env"].unique()) if len(rows) else []
    shared = [
        t
        for t in tasks
        if all(((rows["env"] == t) & (rows["algo"] == a) & (rows["variant"] == v)).any() for a, v in arms)
    ]
    if len(shared) < len(tasks):
        notes.append(
            f"{', '.join(t for t in tasks if t not in shared)}: not run by every arm, left out so that every "
            "arm is aggregated over the same tasks (`report --algos` picks the arms to aggregate)"
        )
    normalised = pd.DataFrame(
        {
            "env": rows["env"],
            "algo": rows["algo"],
            "variant": rows["variant"],
            "seed": rows["seed"],
            "final_return": rows["eval_return_mean"],
            "normalised_score": [
                float(references[e].normalise(r)) for e, r in zip(rows["env"], rows["eval_return_mean"])
            ],
        },
        columns=list(NORMALISED_COLUMNS),
    ).sort_values(["env", "algo", "variant", "seed"], kind="stable", ignore_index=True)
    matrices: dict[tuple[str, str], np.ndarray] = {}
    for algo, variant in arms:
        mine = normalised[(normalised["algo"] == algo) & (normalised["variant"] == variant)]
        per_task = [mine[mine["env"] == t].sort_values("seed")["normalised_score"].to_numpy(np.float64) for t in shared]
        if not per_task:
            continue
        n_runs = min(len(s) for s in per_task)
        if any(len(s) != n_runs for s in per_task):
            notes.append(
                f"{arm_label(algo, variant)}: runs per task differ ({', '.join(str(len(s)) for s in per_task)}); "
                f"each task keeps the {n_runs} with the lowest seeds"
            )
        matrices[(algo, variant)] = np.stack([s[:n_runs] for s in per_task], axis=1)  # (R, T)
    return CrossTask(shared, matrices, normalised, notes)


def aggregate_table(cross: CrossTask, reps: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per arm: runs R, tasks T, and every named aggregate with its 95% stratified-bootstrap CI."""
    rows = []
    for (algo, variant), mat in cross.matrices.items():
        row: dict[str, object] = {"algo": algo, "variant": variant, "runs": mat.shape[0], "tasks": mat.shape[1]}
        for name, (value, low, high) in stats.interval_estimates(
            mat, reps=reps, rng=stats.keyed_rng(seed, algo, variant)
        ).items():
            row.update({name: value, f"{name}_ci_low": low, f"{name}_ci_high": high})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(AGGREGATE_COLUMNS))


def profile_taus(cross: CrossTask, points: int = 101) -> np.ndarray:
    """Thresholds for the performance profile: from min(0, lowest score) to max(1, highest score)."""
    scores = np.concatenate([m.ravel() for m in cross.matrices.values()]) if cross.matrices else np.zeros(1)
    return np.linspace(min(0.0, float(scores.min())), max(1.0, float(scores.max())), points)


def plot_performance_profile(cross: CrossTask, path: Path | str, reps: int = 2000, seed: int = 0) -> Path | None:
    """Write the performance profiles (fraction of runs with normalised score > tau, 95% CI band) as a PNG."""
    if not cross.matrices:
        return None
    taus = profile_taus(cross)
    with png_axes(path) as ax:
        for (algo, variant), mat in cross.matrices.items():
            profile, low, high = stats.performance_profile_band(
                mat, taus, reps=reps, rng=stats.keyed_rng(seed, algo, variant)
            )
            (line,) = ax.plot(taus, profile, label=f"{arm_label(algo, variant)} (R={mat.shape[0]})")
            ax.fill_between(taus, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("normalised score τ (0 random, 1 optimum or best known)")
        ax.set_ylabel("fraction of runs with score > τ")
        ax.set_title(f"Performance profile over {len(cross.tasks)} task(s), 95% CI band")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    return Path(path)


def markdown_section(
    cross: CrossTask,
    aggregates: pd.DataFrame,
    references: dict[str, ReferencePoint],
    source: str,
    profile_png: str | None,
    reps: int,
) -> str:
    """The report's "Across tasks" section: reference points used, aggregates, the profile, the notes."""
    from qmixbench.report import drop_empty_variants, markdown_table

    used = pd.DataFrame(
        [
            {
                "env": t,
                "random_return": references[t].random_return,
                "best_return": references[t].best_return,
                "best_kind": references[t].best_kind,
            }
            for t in cross.tasks
        ],
        columns=["env", "random_return", "best_return", "best_kind"],
    )
    lines = [
        "## Across tasks",
        "",
        f"Normalised score = (final return - random_return) / (best_return - random_return), reference points "
        f"from `{source}`: 0 is a uniformly random policy, 1 the optimum or best-known return. Aggregates as "
        f"rliable defines them (IQM of all runs; median and mean of per-task means; optimality gap = "
        f"mean shortfall below 1), each with a 95% stratified-bootstrap CI ({reps} resamples of runs within "
        "each task).",
        "",
        markdown_table(used),
        "",
        markdown_table(drop_empty_variants(aggregates)),
        "",
    ]
    if profile_png:
        lines += [f"![performance profile]({profile_png})", ""]
    lines += [f"- {note}" for note in cross.notes]
    return "\n".join(lines) + "\n"

"""Tables, CSV, learning-curve PNGs and a Markdown report from :func:`qmixbench.results.load`'s table.

Never imports torch. Statistics come from :mod:`qmixbench.stats`; a run's score is its **final**
evaluation (the row with the largest env_steps) and only runs whose status is ``done`` count unless
``include_incomplete`` is set, so a crashed or half-finished run never enters a mean silently.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qmixbench import stats
from qmixbench.grid import arm_label
from qmixbench.plots import png_axes
from qmixbench.recorder import atomic_write_text, slug
from qmixbench.results import CONFIG_PREFIX, SchemaError, final_evaluations, scored_runs


@dataclass(frozen=True)
class RunGroup:
    """The scored runs of one summary group (e.g. one env x algorithm), as the statistics see them."""

    finals: pd.DataFrame
    """One row per run: its final evaluation (:func:`qmixbench.results.final_evaluations`)."""
    curves: list[pd.DataFrame]
    """Each run's evaluations (its rows of the results table), in the order of ``finals``."""
    rng: np.random.Generator
    """The report's one bootstrap generator: groups draw from it in sorted order, so a report is reproducible."""
    reps: int
    """Bootstrap resamples."""

    def final_scores(self) -> np.ndarray:
        """(R,) the runs' final ``eval_return_mean``, unrecorded ones dropped."""
        scores = self.finals["eval_return_mean"].to_numpy(np.float64)
        return scores[~np.isnan(scores)]


@dataclass(frozen=True)
class SummaryStatistic:
    """Summary columns computed together from one :class:`RunGroup` (results/README.md documents each)."""

    columns: tuple[str, ...]
    compute: Callable[[RunGroup], tuple[float, ...]]


def _return_mean_std(group: RunGroup) -> tuple[float, ...]:
    scores = group.final_scores()
    if not scores.size:
        return (math.nan, math.nan)
    return (float(scores.mean()), float(scores.std(ddof=1)) if scores.size > 1 else math.nan)


def _iqm_ci(group: RunGroup) -> tuple[float, ...]:
    scores = group.final_scores()
    if not scores.size:
        return (math.nan, math.nan, math.nan)  # no bootstrap draw: the other groups' CIs stay as they were
    low, high = stats.stratified_bootstrap_ci(scores, reps=group.reps, rng=group.rng)
    return (stats.iqm(scores), low, high)


def _auc(group: RunGroup) -> tuple[float, ...]:
    values = [stats.auc(c["env_steps"], c["eval_return_mean"]) for c in group.curves]
    return (float(np.nanmean(values)) if values and not np.isnan(values).all() else math.nan,)


def _first_success(group: RunGroup) -> tuple[float, ...]:
    # The median, not the mean: a run that never succeeds counts as inf, so the group's value is inf
    # exactly when at least half its runs never succeeded, and a single late run cannot move it far.
    steps = np.array([stats.first_reach(c["env_steps"], c["eval_success_rate"]) for c in group.curves])
    steps = steps[~np.isnan(steps)]
    return (float(np.median(steps)) if steps.size else math.nan,)


def _final_mean(column: str) -> Callable[[RunGroup], tuple[float, ...]]:
    return lambda group: (_nanmean(group.finals[column]),)


SUMMARY_STATISTICS: tuple[SummaryStatistic, ...] = (
    SummaryStatistic(("seeds",), lambda group: (len(group.finals),)),
    SummaryStatistic(("return_mean", "return_std"), _return_mean_std),
    SummaryStatistic(("return_iqm", "iqm_ci_low", "iqm_ci_high"), _iqm_ci),
    SummaryStatistic(("auc",), _auc),
    SummaryStatistic(("success_rate",), _final_mean("eval_success_rate")),
    SummaryStatistic(("first_success_steps",), _first_success),
    SummaryStatistic(("final_env_steps",), _final_mean("env_steps")),
    SummaryStatistic(("wall_time_s",), _final_mean("wall_time_s")),
    SummaryStatistic(("env_steps_per_s",), _final_mean("env_steps_per_s")),
)
"""The summary's statistics, in column order: adding one is one entry here (and its row in results/README.md)."""

SUMMARY_COLUMNS: tuple[str, ...] = tuple(c for statistic in SUMMARY_STATISTICS for c in statistic.columns)
"""Columns of the summary after the group-by columns; documented in results/README.md."""

RUN_SUMMARY_COLUMNS = (
    "env",
    "algo",
    "variant",
    "seeds",
    "return_mean",
    "return_std",
    "success_rate",
    "env_steps_per_s",
)
"""Columns of the ``summary.csv`` that ``qmixbench run`` writes."""

LEGACY_RUN_SUMMARY_COLUMNS = tuple(c for c in RUN_SUMMARY_COLUMNS if c != "variant")
"""The same file as written before config grids: read as variant "" so those results directories resume."""

IMPROVEMENT_COLUMNS = (
    "env",
    "algo_x",
    "variant_x",
    "algo_y",
    "variant_y",
    "p_improve",
    "ci_low",
    "ci_high",
    "seeds_x",
    "seeds_y",
)

ARM = ("algo", "variant")
"""What is compared on one env: an algorithm in one config-grid variant ("" outside any grid)."""


def default_group_by(table: pd.DataFrame) -> tuple[str, ...]:
    """``env, algo``, plus ``variant`` when any run belongs to a config grid: variants are never pooled."""
    if "variant" in table.columns and (table["variant"].astype(str) != "").any():
        return ("env", "algo", "variant")
    return ("env", "algo")


def _label(algo: Any, variant: Any) -> str:
    return arm_label(str(algo), str(variant) if isinstance(variant, str) else "")


VARIANT_COLUMNS = ("variant", "variant_x", "variant_y")


def drop_empty_variants(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without its variant columns when no row has a variant: what a table shows outside grids."""
    empty = [c for c in VARIANT_COLUMNS if c in frame.columns and not frame[c].fillna("").astype(str).ne("").any()]
    return frame.drop(columns=empty)


def summarize(
    table: pd.DataFrame,
    group_by: Sequence[str] | None = None,
    reps: int = 2000,
    seed: int = 0,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """Per group (default :func:`default_group_by`: env x algo, x variant for grids), one column per
    :data:`SUMMARY_STATISTICS` entry: seeds, final return mean/std/IQM with a 95% stratified-bootstrap
    CI, learning-curve AUC (mean over runs), success rate, env steps to the first success (median over
    runs), env steps, wall time and env steps/s (means over runs)."""
    group_by = list(group_by) if group_by is not None else list(default_group_by(table))
    missing = [c for c in group_by if c not in table.columns]
    if missing:
        valid = ", ".join(
            c for c in table.columns if c in ("env", "algo", "variant", "seed", "status") or c.startswith(CONFIG_PREFIX)
        )
        raise KeyError(f"unknown group-by column(s) {', '.join(missing)}; valid: {valid}")
    scored = scored_runs(table, include_incomplete)
    finals = final_evaluations(scored)
    curves = dict(tuple(scored.groupby("run_dir", sort=False)))
    rows = []
    for key, group in finals.groupby(list(group_by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        runs = RunGroup(group, [curves[r] for r in group["run_dir"]], stats.keyed_rng(seed, *key), reps)
        row: dict[str, Any] = dict(zip(group_by, key))
        for statistic in SUMMARY_STATISTICS:
            values = statistic.compute(runs)
            assert len(values) == len(statistic.columns), statistic.columns  # a statistic's own contract
            row.update(zip(statistic.columns, values))
        rows.append(row)
    summary = pd.DataFrame(rows, columns=list(group_by) + list(SUMMARY_COLUMNS))
    summary["seeds"] = summary["seeds"].astype("int64")
    return summary


def _nanmean(values: pd.Series) -> float:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def run_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The end-of-``run`` table: env x algo x variant, final eval return mean and std over seeds, success
    rate, steps/s."""
    if table.empty:
        return pd.DataFrame(columns=list(RUN_SUMMARY_COLUMNS))
    return summarize(table, ["env", "algo", "variant"], reps=1)[list(RUN_SUMMARY_COLUMNS)]


def read_run_summary(path: Path) -> pd.DataFrame | None:
    """An existing ``summary.csv`` written by ``qmixbench run``, or None if there is none.

    Raises:
        SchemaError: the file is not such a summary (unreadable, or other columns): it is someone
            else's, and ``qmixbench run`` must neither merge into it nor overwrite it.
    """
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except (ValueError, OSError) as exc:  # UnicodeDecodeError and pandas' parser errors are ValueErrors
        raise SchemaError(f"{path} is not a summary written by qmixbench run ({type(exc).__name__})") from None
    if tuple(frame.columns) == LEGACY_RUN_SUMMARY_COLUMNS:
        frame.insert(2, "variant", "")
    if tuple(frame.columns) != RUN_SUMMARY_COLUMNS:
        raise SchemaError(
            f"{path} is not a summary written by qmixbench run (columns {', '.join(map(str, frame.columns))}; "
            f"expected {', '.join(RUN_SUMMARY_COLUMNS)}); move it away or choose another --out"
        )
    # pandas reads an empty cell as NaN (a column of them as float): map those to "" cell by cell
    frame["variant"] = ["" if pd.isna(v) else str(v) for v in frame["variant"]]
    return frame


def merge_run_summary(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` rows, plus the rows of ``old`` for env x algo x variant triples that ``new`` does not have.

    A triple is summarised by the latest command that ran it: its runs are the ones that command
    chose (seeds, config); mixing them with an earlier command's runs could average two configs.
    """
    if old is None or old.empty:
        return new
    ours = set(zip(new["env"], new["algo"], new["variant"]))
    kept = old[[key not in ours for key in zip(old["env"], old["algo"], old["variant"])]]
    merged = pd.concat([kept, new], ignore_index=True) if len(kept) else new
    return merged.sort_values(["env", "algo", "variant"], kind="stable", ignore_index=True)


def improvement(
    table: pd.DataFrame,
    reps: int = 2000,
    seed: int = 0,
    include_incomplete: bool = False,
    score: str = "eval_return_mean",
) -> pd.DataFrame:
    """Per env, for every ordered pair of arms (algorithm and config-grid variant): P(a run of X beats a
    run of Y) and its 95% CI. Every pair is listed, so variants of one algorithm are compared with each
    other as well as with the other algorithms; with no grid the arms are the algorithms. ``score``: the
    metrics.csv column compared, at each run's final evaluation (the return; :mod:`qmixbench.success`
    passes the success rate)."""
    finals = final_evaluations(scored_runs(table, include_incomplete))
    rows = []
    for env, group in finals.groupby("env", sort=True):
        scores = {arm: g[score].dropna().to_numpy(np.float64) for arm, g in group.groupby(list(ARM), sort=True)}
        for x in scores:
            for y in scores:
                if x == y or not scores[x].size or not scores[y].size:
                    continue
                rng = stats.keyed_rng(seed, env, *x, *y)
                low, high = stats.probability_of_improvement_ci(scores[x], scores[y], reps=reps, rng=rng)
                rows.append(
                    {
                        "env": env,
                        "algo_x": x[0],
                        "variant_x": x[1],
                        "algo_y": y[0],
                        "variant_y": y[1],
                        "p_improve": stats.probability_of_improvement(scores[x], scores[y]),
                        "ci_low": low,
                        "ci_high": high,
                        "seeds_x": scores[x].size,
                        "seeds_y": scores[y].size,
                    }
                )
    return pd.DataFrame(rows, columns=list(IMPROVEMENT_COLUMNS))


def _value_text(values: set[str]) -> str:
    return " | ".join(sorted(values))


def config_diff(table: pd.DataFrame) -> pd.DataFrame:
    """Every config key whose values differ between the arms compared on an env: one row per (env, key),
    one column per arm (an algorithm, or ``algo[variant]`` for a config grid's variant). Values that vary
    within one arm on one env (runs of different sweeps mixed) are joined with ``|`` and listed too.
    Keys that differ only between envs (a per-env budget) are not a confound and are not listed; a
    grid's own keys differ between its variants by design and are listed."""
    config_columns = [c for c in table.columns if c.startswith(CONFIG_PREFIX)]
    labels = [_label(a, v) for a, v in zip(table["algo"], table["variant"])] if not table.empty else []
    table = table.assign(arm=labels)
    algos = sorted(set(labels))
    rows = []
    for env, group in table.groupby("env", sort=True):
        for column in config_columns:
            per_algo = {
                a: {v if isinstance(v, str) else "-" if v is None or v != v else repr(v) for v in g[column]}
                for a, g in group.groupby("arm", sort=True)
            }  # "-": the algorithm's mixer has no such field (a mixer's own keys, e.g. mixer.alpha)
            if len({frozenset(v) for v in per_algo.values()}) > 1 or any(len(v) > 1 for v in per_algo.values()):
                rows.append(
                    {
                        "env": env,
                        "key": column.removeprefix(CONFIG_PREFIX),
                        **{a: _value_text(per_algo[a]) if a in per_algo else "" for a in algos},
                    }
                )
    return pd.DataFrame(rows, columns=["env", "key", *algos])


def curves(
    table: pd.DataFrame, env: str, reps: int = 1000, seed: int = 0, include_incomplete: bool = False
) -> dict[str, dict[str, Any]]:
    """Per arm (``qmix``, or ``qmix[lr=0.001]`` for a grid variant) on ``env``: IQM of eval return over
    runs at each eval step with a 95% bootstrap band.

    Runs are interpolated onto the eval steps they share (up to the shortest run's last step), so a
    run that stopped early never makes the curve jump.
    """
    rows = scored_runs(table, include_incomplete)
    rows = rows[rows["env"] == env]
    out: dict[str, dict[str, Any]] = {}
    for (algo, variant), group in rows.groupby(list(ARM), sort=True):
        runs = [g.sort_values("env_steps") for _, g in group.groupby("run_dir", sort=True)]
        runs = [r[r["eval_return_mean"].notna()] for r in runs]
        runs = [r for r in runs if len(r)]
        if not runs:
            continue
        last = min(int(r["env_steps"].iloc[-1]) for r in runs)
        grid = np.unique(np.concatenate([r["env_steps"].to_numpy(np.float64) for r in runs]))
        grid = grid[grid <= last]
        mat = np.stack(
            [
                np.interp(grid, r["env_steps"].to_numpy(np.float64), r["eval_return_mean"].to_numpy(np.float64))
                for r in runs
            ]
        )
        centre, low, high = stats.curve_band(mat, reps=reps, rng=stats.keyed_rng(seed, env, algo, variant))
        out[_label(algo, variant)] = {"steps": grid, "iqm": centre, "low": low, "high": high, "runs": len(runs)}
    return out


def plot_curves(table: pd.DataFrame, env: str, path: Path | str, include_incomplete: bool = False) -> Path | None:
    """Write ``env``'s learning curves (one line per algorithm, IQM with a 95% CI band) as a PNG."""
    data = curves(table, env, include_incomplete=include_incomplete)
    if not data:
        return None
    with png_axes(path) as ax:
        for algo, c in data.items():
            (line,) = ax.plot(c["steps"], c["iqm"], label=f"{algo} (n={c['runs']})")
            ax.fill_between(c["steps"], c["low"], c["high"], color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("env steps")
        ax.set_ylabel("greedy eval return (IQM over runs)")
        ax.set_title(f"{env}: IQM, 95% bootstrap CI band")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    return Path(path)


# -- formatting ------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))  # step counts and exact returns read better without an exponent
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def format_table(frame: pd.DataFrame) -> str:
    """Plain-text table for a terminal."""
    if frame.empty:
        return "(no rows)"
    return frame.to_string(index=False, formatters={c: _fmt for c in frame.columns})


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no tabulate dependency)."""
    if frame.empty:
        return "_(none)_"
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def write_csv(frame: pd.DataFrame, path: Path | str) -> None:
    """Write ``frame`` as CSV atomically (full float precision)."""
    atomic_write_text(path, frame.to_csv(index=False))


def write_markdown(
    path: Path | str,
    table: pd.DataFrame,
    summary: pd.DataFrame,
    improvement_table: pd.DataFrame,
    diff: pd.DataFrame,
    run_table: pd.DataFrame,
    sources: Sequence[str],
    provenance: Sequence[dict[str, Any]] = (),
    reps: int = 2000,
    include_incomplete: bool = False,
) -> Path:
    """Write report.md with the tables and one learning-curve PNG per env in ``<md dir>/curves/``."""
    path = Path(path)
    lines = [
        "# qmixbench report",
        "",
        f"Sources: {', '.join(f'`{s}`' for s in sources)}. Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.",
        "",
        f"Runs: {len(run_table)} ({', '.join(f'{n} {s}' for s, n in run_table['status'].value_counts().items())}). "
        f"A run's score is its final greedy evaluation; {'all runs count' if include_incomplete else 'only runs with status done count'}. "
        f"IQM = interquartile mean over runs; CI = 95% stratified percentile bootstrap ({reps} resamples); "
        "AUC = mean eval return over the learning curve (trapezoid area / env steps spanned).",
        "",
        "## Summary",
        "",
        markdown_table(drop_empty_variants(summary)),
        "",
        "## Learning curves",
        "",
    ]
    for env in sorted(table["env"].unique()) if not table.empty else []:
        png = plot_curves(table, env, path.parent / "curves" / f"{slug(env)}.png", include_incomplete)
        if png is not None:
            lines += [f"### {env}", "", f"![{env} learning curves](curves/{png.name})", ""]
    lines += [
        "## Probability of improvement",
        "",
        "P(X > Y): the chance that a run of `algo_x` (in config variant `variant_x`, where a grid was run) "
        "ends with a higher return than a run of `algo_y` (in `variant_y`) on the same env (ties count 1/2), "
        "with a 95% bootstrap CI. 0.5 means no difference.",
        "",
        markdown_table(drop_empty_variants(improvement_table)),
        "",
        "## Config keys that differ between the algorithms",
        "",
        "A fair comparison differs only in the mixer (`mixer.*`) and, between a config grid's variants, in "
        "the grid's keys. Any other key listed here is a confound.",
        "",
        markdown_table(diff),
        "",
    ]
    failed = run_table[run_table["status"] != "done"]
    if len(failed):
        lines += [
            "## Runs not done",
            "",
            markdown_table(failed[["env", "algo", "seed", "status", "env_steps", "error", "run_dir"]]),
            "",
        ]
    if provenance:
        prov = pd.DataFrame(
            [
                {k: p.get(k) for k in ("commit", "dirty", "python", "platform", "cpu_count", "device")}
                for p in provenance
            ]
        )
        lines += ["## Provenance", "", markdown_table(prov), ""]
    atomic_write_text(path, "\n".join(lines))
    return path

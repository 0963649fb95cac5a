"""Learner health: flag runs whose TD loss grew far beyond where it started (a finite divergence).

Never imports torch. The learner stops a run whose TD loss becomes NaN or infinite
(:class:`qmixbench.algos.learner.DivergenceError`), but a loss can also grow without bound while
staying finite, and the run then ends ``done`` with a policy that may be worse than random play. This
module reads the ``td_loss`` column that every run logs at each evaluation (the mean TD loss of the
updates since the previous evaluation) and reports each run's growth: the largest logged TD loss
divided by the first.

Correctness-critical: **the threshold.** :data:`GROWTH_FLAG` = 100. In the runs shipped under
``results/reference/`` (about 200, across matrix games, multigrid, LBF, MPE and SMAX), every run grew
its TD loss at most ~10x except QMIX on MPE Spread: 8x, 29x and 132x in the 500k-step calibration
passes, whose greedy returns were already falling (the 132x one to near random play), and 3e5x and
more over 2M steps, where the return fell below random play. 100x sits an order of magnitude above
every other run; it flags the 132x pass and every 2M-step divergence, not the two milder passes. A
ratio is used, not an absolute loss, because TD losses scale with the reward (reward
standardisation on or off, the env's reward range). A flag says "look at this run's curves", not
that its numbers are wrong.
"""

from __future__ import annotations

import pandas as pd

GROWTH_FLAG: float = 100.0
"""Flag a run whose largest logged TD loss is more than this many times its first (see the module
docstring for how the value was chosen)."""

HEALTH_COLUMNS: tuple[str, ...] = (
    "env",
    "algo",
    "variant",
    "seed",
    "status",
    "td_loss_first",
    "td_loss_max",
    "td_loss_last",
    "growth",
)
"""Columns of :func:`td_loss_growth`'s table. ``growth``: ``td_loss_max / td_loss_first``."""


def td_loss_growth(table: pd.DataFrame) -> pd.DataFrame:
    """Each run's TD-loss growth, from :func:`qmixbench.results.load`'s table (every status: a failing
    or unfinished run's health matters too).

    Runs that logged no positive first TD loss (no update before their first evaluation, or a results
    table without ``td_loss``) are left out.

    Returns:
        One row per run, columns :data:`HEALTH_COLUMNS`, the largest growth first.
    """
    if "td_loss" not in table.columns:
        return pd.DataFrame(columns=list(HEALTH_COLUMNS))
    rows = table[table["td_loss"].notna()].sort_values(["run_dir", "env_steps"], kind="stable")
    out = []
    for _, run_rows in rows.groupby("run_dir", sort=True):
        loss = run_rows["td_loss"].astype("float64")
        first = float(loss.iloc[0])
        if not first > 0:
            continue
        head = run_rows.iloc[0]
        out.append(
            {
                "env": head["env"],
                "algo": head["algo"],
                "variant": head.get("variant", ""),
                "seed": head["seed"],
                "status": head["status"],
                "td_loss_first": first,
                "td_loss_max": float(loss.max()),
                "td_loss_last": float(loss.iloc[-1]),
                "growth": float(loss.max()) / first,
            }
        )
    frame = pd.DataFrame(out, columns=list(HEALTH_COLUMNS))
    return frame.sort_values("growth", ascending=False, kind="stable", ignore_index=True)


def flagged(growth: pd.DataFrame, threshold: float = GROWTH_FLAG) -> pd.DataFrame:
    """The rows of :func:`td_loss_growth`'s table whose growth exceeds ``threshold``."""
    return growth[growth["growth"] > threshold].reset_index(drop=True)


def notes(flags: pd.DataFrame, where: str) -> list[str]:
    """One line per flagged run, for the terminal; ``where`` says where its curve is to be seen."""
    lines = []
    for row in flags.itertuples(index=False):
        variant = row.variant if isinstance(row.variant, str) else ""
        arm = f"{row.algo}[{variant}]" if variant else str(row.algo)
        lines.append(
            f"note: {row.env} {arm} seed {row.seed}: TD loss grew {row.growth:.3g}x "
            f"({row.td_loss_first:.3g} -> max {row.td_loss_max:.3g}); look at its curve ({where})"
        )
    return lines


def markdown_section(flags: pd.DataFrame, threshold: float = GROWTH_FLAG) -> str:
    """The report.md section listing flagged runs (empty string when none is)."""
    if flags.empty:
        return ""
    from qmixbench.report import markdown_table

    return "\n".join(
        [
            "## Learner health: TD loss that grew",
            "",
            f"{len(flags)} run(s) whose largest logged TD loss (`td_loss`, the mean over the updates between "
            f"two evaluations) is more than {threshold:g}x their first: a value estimate that grew without "
            "bound while staying finite. Their scores above are what their greedy policies earned; look at "
            "their learning curves before reading them as the algorithm's result. (`qmixbench.health` says "
            "how the threshold was chosen.)",
            "",
            markdown_table(flags),
            "",
        ]
    )


__all__ = ["GROWTH_FLAG", "HEALTH_COLUMNS", "flagged", "markdown_section", "notes", "td_loss_growth"]

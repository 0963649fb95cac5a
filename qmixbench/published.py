"""Put a paper's published returns beside ours, computed with the paper's own metric definitions.

Never imports torch. The published numbers are a CSV (``benchmarks/published/*.csv``, documented in
``benchmarks/published/README.md``) with columns :data:`PUBLISHED_COLUMNS`: one row per (task,
algorithm, metric), the value and its interval, and where it was read.

Metrics, as Papoudakis et al. 2021 define them (quoted in ``benchmarks/published/README.md``):

* ``max_return``: the evaluation step at which the mean return over seeds is highest; the value is
  that mean, with a 95% confidence interval over the seeds at that step.
* ``average_return``: the mean return over all evaluations during training, averaged over seeds.
  Its interval is over the seeds' per-run averages (a run is the independent unit).

Both intervals are Student-t intervals, mean ± t(0.975, n-1) · s / sqrt(n) with the sample standard
deviation s over the n seeds; one seed gives no interval. Evaluations are aligned on the env steps
that every run of the group recorded, so a run that stopped early never shifts the maximum.

Correctness-critical: **return conventions.** Our evaluation return is the team return (the sum of
the agents' rewards, or the shared reward when every agent gets it; ``EnvInfo.team_reward``). A paper
may report it differently per family (Papoudakis et al.: LBF as the sum, MPE divided by the number
of agents); :func:`to_convention` converts each run with the ``team_reward`` and agent count its
``config.json`` recorded, and a run without them is an error rather than a silent guess.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qmixbench.errors import QmixbenchError
from qmixbench.recorder import read_json
from qmixbench.results import scored_runs

PUBLISHED_COLUMNS: tuple[str, ...] = (
    "task",
    "algorithm",
    "metric",
    "convention",
    "value",
    "ci_low",
    "ci_high",
    "source",
)
"""Columns of a published-numbers CSV. ``convention``: how the paper reports a team's return on the
task, ``sum`` (over agents) or ``mean`` (per agent)."""

CONVENTIONS: tuple[str, ...] = ("sum", "mean")

METRICS: tuple[str, ...] = ("max_return", "average_return")
"""Metric names a published CSV may use."""

COMPARISON_COLUMNS: tuple[str, ...] = (
    "env",
    "algo",
    "metric",
    "seeds",
    "ours",
    "ours_ci_low",
    "ours_ci_high",
    "published",
    "published_ci_low",
    "published_ci_high",
    "inside",
    "source",
)
"""Columns of :func:`compare`'s table. ``inside``: our value lies in the published interval."""


class PublishedError(QmixbenchError, ValueError):
    """A published-numbers file or a run that cannot be compared; the message says what is wrong."""


def load_published(path: Path | str) -> pd.DataFrame:
    """Read and check a published-numbers CSV (columns :data:`PUBLISHED_COLUMNS`, metrics :data:`METRICS`)."""
    path = Path(path)
    if not path.exists():
        raise PublishedError(f"{path}: no such file")
    text = {c: str for c in ("task", "algorithm", "metric", "convention", "source")}
    frame = pd.read_csv(path, comment="#", dtype=text)
    missing = [c for c in PUBLISHED_COLUMNS if c not in frame.columns]
    if missing:
        raise PublishedError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(PUBLISHED_COLUMNS)}")
    for column, valid in (("metric", METRICS), ("convention", CONVENTIONS)):
        bad = sorted(set(frame[column]) - set(valid))
        if bad:
            raise PublishedError(f"{path}: unknown {column}(s) {', '.join(bad)}; valid: {', '.join(valid)}")
    for column in ("value", "ci_low", "ci_high"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("float64")
    if (frame["ci_low"] > frame["value"]).any() or (frame["ci_high"] < frame["value"]).any():
        raise PublishedError(f"{path}: a row whose interval does not contain its value")
    if frame.duplicated(["task", "algorithm", "metric"]).any():
        raise PublishedError(f"{path}: a (task, algorithm, metric) appears twice")
    return frame[list(PUBLISHED_COLUMNS)].reset_index(drop=True)


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (p in (0.5, 1)), by bisection on its CDF.

    The CDF is 0.5 plus the Simpson integral of the density from 0 to t (accurate to ~1e-9 here),
    so no scipy is needed.
    """
    if not 0.5 < p < 1.0 or df < 1:
        raise ValueError(f"need 0.5 < p < 1 and df >= 1, got p={p}, df={df}")
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(t: float) -> float:
        x = np.linspace(0.0, t, 4001)  # an even number of intervals for Simpson's rule
        y = np.exp(log_norm - (df + 1) / 2 * np.log1p(x * x / df))
        h = t / 4000
        return 0.5 + h / 3 * float(y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())

    low, high = 0.0, 1.0
    while cdf(high) < p:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) of the Student-t interval of the mean of ``values``; NaNs with fewer than 2 values."""
    values = np.asarray(values, np.float64)
    n = values.size
    if n < 2:
        return float("nan"), float("nan")
    half = t_quantile(0.5 + confidence / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return float(values.mean() - half), float(values.mean() + half)


def to_convention(team_return: pd.Series, team_reward: str, n_agents: int, convention: str) -> pd.Series:
    """Convert our team returns to a paper's convention.

    Args:
        team_return: our ``eval_return_mean`` values of one run.
        team_reward: the run's ``EnvInfo.team_reward``: ``sum`` (team = sum of the agents' returns) or
            ``shared`` (every agent gets the team reward, so team = one agent's return = their mean).
        n_agents: N, the run's agent count.
        convention: ``sum`` (the paper reports the sum over agents) or ``mean`` (per agent: the sum / N).
    """
    if team_reward not in ("sum", "shared") or convention not in ("sum", "mean"):
        raise PublishedError(f"cannot convert team_reward {team_reward!r} to convention {convention!r}")
    if team_reward == "sum" and convention == "mean":
        return team_return / n_agents
    if team_reward == "shared" and convention == "sum":
        return team_return * n_agents
    return team_return


def _run_facts(run_dir: str) -> tuple[str, int]:
    """(team_reward, n_agents) that ``run_dir``'s config.json recorded in ``env_info``."""
    path = Path(run_dir) / "config.json"
    info = read_json(path).get("env_info") if path.exists() else None
    if not info or "team_reward" not in info or not info.get("agent_ids"):
        raise PublishedError(
            f"{path}: no env_info.team_reward/agent_ids, so its return cannot be put in the paper's convention"
        )
    return str(info["team_reward"]), len(info["agent_ids"])


def _run_protocol(run_dir: str) -> str:
    """The protocol ``run_dir``'s config.json recorded (``run.protocol``); "" for none or no file."""
    path = Path(run_dir) / "config.json"
    return str((read_json(path).get("run") or {}).get("protocol") or "") if path.exists() else ""


def _group_metrics(group: pd.DataFrame, convention: str) -> dict[str, dict[str, float]]:
    """:func:`paper_metrics` of one (env, algo) group of results rows, each run's returns in ``convention``."""
    facts = {run: _run_facts(str(run)) for run in group["run_dir"].unique()}
    converted = [
        run_rows.assign(paper_return=to_convention(run_rows["eval_return_mean"], *facts[run], convention))
        for run, run_rows in group.groupby("run_dir", sort=True)
    ]
    return paper_metrics(pd.concat(converted))


def _scored(table: pd.DataFrame, include_incomplete: bool) -> pd.DataFrame:
    """The evaluation rows that count: of finished runs only, unless ``include_incomplete``."""
    rows = scored_runs(table, include_incomplete)
    return rows[rows["eval_return_mean"].notna()]


def paper_metrics(rows: pd.DataFrame, confidence: float = 0.95) -> dict[str, dict[str, float]]:
    """``max_return`` and ``average_return`` of one (env, algo) group of evaluation rows.

    Args:
        rows: results rows (``run_dir``, ``env_steps``, ``paper_return``) of the runs of one group.

    Returns:
        ``{metric: {"value", "ci_low", "ci_high", "seeds", "step"}}``; ``step`` is the env step of the
        best evaluation for ``max_return``.
    """
    matrix = rows.pivot_table(index="run_dir", columns="env_steps", values="paper_return", aggfunc="mean")
    matrix = matrix.dropna(axis=1)  # keep the steps every run evaluated
    if matrix.shape[1] == 0:
        raise PublishedError("the runs share no evaluation step")
    values = matrix.to_numpy(np.float64)  # (R runs, E evaluations)
    means = values.mean(axis=0)  # (E,)
    best = int(np.argmax(means))
    low, high = t_interval(values[:, best], confidence)
    per_run = values.mean(axis=1)  # (R,): each run's average over its evaluations
    avg_low, avg_high = t_interval(per_run, confidence)
    return {
        "max_return": {
            "value": float(means[best]),
            "ci_low": low,
            "ci_high": high,
            "seeds": len(values),
            "step": float(matrix.columns[best]),
        },
        "average_return": {
            "value": float(per_run.mean()),
            "ci_low": avg_low,
            "ci_high": avg_high,
            "seeds": len(values),
            "step": float("nan"),
        },
    }


def compare(table: pd.DataFrame, published: pd.DataFrame, include_incomplete: bool = False) -> pd.DataFrame:
    """Our value of every published (task, algorithm, metric) that our runs cover, beside the paper's.

    Args:
        table: :func:`qmixbench.results.load`'s table.
        published: :func:`load_published`'s table.
        include_incomplete: also use runs whose status is not ``done``.

    Returns:
        One row per matching (env, algo, metric), columns :data:`COMPARISON_COLUMNS`, sorted.
    """
    rows = _scored(table, include_incomplete)
    wanted = set(zip(published["task"], published["algorithm"]))
    rows = rows[[(e, a) in wanted for e, a in zip(rows["env"], rows["algo"])]]
    out: list[dict[str, Any]] = []
    for (env, algo), group in rows.groupby(["env", "algo"], sort=True):
        mine = published[(published["task"] == env) & (published["algorithm"] == algo)]
        for pub in mine.itertuples(index=False):
            m = _group_metrics(group, pub.convention)[pub.metric]
            out.append(
                {
                    "env": env,
                    "algo": algo,
                    "metric": pub.metric,
                    "seeds": m["seeds"],
                    "ours": m["value"],
                    "ours_ci_low": m["ci_low"],
                    "ours_ci_high": m["ci_high"],
                    "published": pub.value,
                    "published_ci_low": pub.ci_low,
                    "published_ci_high": pub.ci_high,
                    "inside": bool(pub.ci_low <= m["value"] <= pub.ci_high),
                    "source": pub.source,
                }
            )
    frame = pd.DataFrame(out, columns=list(COMPARISON_COLUMNS))
    return frame.sort_values(["env", "algo", "metric"], kind="stable", ignore_index=True)


PROTOCOL_COLUMNS: tuple[str, ...] = (
    "protocol",
    "env",
    "algo",
    "metric",
    "convention",
    "seeds",
    "value",
    "ci_low",
    "ci_high",
    "step",
)
"""Columns of :func:`protocol_metrics`'s table. ``step``: the env step of ``max_return``'s evaluation."""


def protocol_metrics(table: pd.DataFrame, include_incomplete: bool = False) -> pd.DataFrame:
    """The study's metrics (:data:`METRICS`) of every (protocol, env, algo) trained under a named protocol.

    Needs no published numbers: each run's ``config.json`` names its protocol (``run.protocol``), and
    :data:`qmixbench.protocols.RETURN_CONVENTIONS` says how that study reports a team's return on the
    env's family. Runs trained without a protocol are left out (the result is empty when none was).

    Args:
        table: :func:`qmixbench.results.load`'s table.
        include_incomplete: also use runs whose status is not ``done``.

    Returns:
        One row per (protocol, env, algo, metric), columns :data:`PROTOCOL_COLUMNS`, sorted.
    """
    from qmixbench.protocols import RETURN_CONVENTIONS, env_family

    rows = _scored(table, include_incomplete)
    protocol_of = {run: _run_protocol(str(run)) for run in rows["run_dir"].unique()}
    rows = rows.assign(protocol=rows["run_dir"].map(protocol_of))
    rows = rows[rows["protocol"] != ""]
    out: list[dict[str, Any]] = []
    for (protocol, env, algo), group in rows.groupby(["protocol", "env", "algo"], sort=True):
        conventions = RETURN_CONVENTIONS.get(str(protocol), {})
        family = env_family(str(env))
        if family not in conventions:
            raise PublishedError(
                f"protocol {protocol!r} names no return convention for family {family!r} (env {env!r}); "
                f"it names: {', '.join(conventions) or 'none'}"
            )
        convention = conventions[family]
        for metric, m in _group_metrics(group, convention).items():
            out.append(
                {"protocol": protocol, "env": env, "algo": algo, "metric": metric, "convention": convention, **m}
            )
    frame = pd.DataFrame(out, columns=list(PROTOCOL_COLUMNS))
    return frame.sort_values(["protocol", "env", "metric", "algo"], kind="stable", ignore_index=True)


def protocol_section(metrics: pd.DataFrame) -> str:
    """The report.md section for :func:`protocol_metrics`'s table."""
    from qmixbench.report import markdown_table

    return "\n".join(
        [
            "## The protocol's metrics",
            "",
            "Runs trained under a named protocol (`--protocol`), scored with its study's definitions: "
            "`max_return` is the mean over seeds at the evaluation where that mean is highest (`step`), with "
            "a 95% Student-t interval over the seeds there; `average_return` is the mean over all evaluations "
            "averaged over seeds, its interval over the seeds' per-run averages. Returns in the study's "
            "convention for the family (`convention`: `sum` over agents or `mean` per agent; "
            "`qmixbench.protocols.RETURN_CONVENTIONS`). `--published FILE` puts the paper's values beside these.",
            "",
            markdown_table(metrics),
            "",
        ]
    )


def markdown_section(beside: pd.DataFrame, source: str) -> str:
    """The report.md section for :func:`compare`'s table."""
    from qmixbench.report import markdown_table

    return "\n".join(
        [
            "## Published results beside ours",
            "",
            f"From `{source}`. Ours with the paper's definitions: `max_return` is the mean over seeds at the "
            "evaluation where that mean is highest, `average_return` the mean over all evaluations averaged "
            "over seeds; intervals are 95% Student-t over seeds; returns in the paper's convention (the "
            "`convention` column of the file). `inside`: our value lies in the published interval.",
            "",
            markdown_table(beside) if len(beside) else "_(no published row matches these runs)_",
            "",
        ]
    )


__all__ = [
    "COMPARISON_COLUMNS",
    "CONVENTIONS",
    "METRICS",
    "PROTOCOL_COLUMNS",
    "PUBLISHED_COLUMNS",
    "PublishedError",
    "compare",
    "load_published",
    "markdown_section",
    "paper_metrics",
    "protocol_metrics",
    "protocol_section",
    "t_interval",
    "t_quantile",
    "to_convention",
]

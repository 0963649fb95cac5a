"""Export results in marl-eval's raw-data JSON format (the format BenchMARL also writes).

marl-eval (instadeepai/marl-eval, Gorsane et al. 2022) reads one nested object::

    {environment_name: {task_name: {algorithm_name: {run: {
        "step_1": {"step_count": <int>, "<metric>": [<values>], ...},
        ...
        "step_k": {...},
        "absolute_metrics": {"<metric>": [<values>], ...}}}}}}

How qmixbench fills it:

* ``environment_name`` / ``task_name``: a registered id split at its first ``/``
  (``matrix/climbing-v0`` -> ``matrix`` / ``climbing-v0``); an env string without ``/`` (an entry
  point) is both.
* ``algorithm_name``: the algorithm, or ``algo[variant]`` for a config grid's variant, with the
  variant's commas written as semicolons (``qmix[lr=0.001;mixer.embed_dim=64]``): marl-eval refuses
  algorithm names that contain a comma (its ``data_process_pipeline`` reports the error and returns
  the data unprocessed, so every later step fails).
* ``run``: the seed as a string (marl-eval's README allows naming runs by seed).
* ``step_i``: the run's i-th evaluation (from 1), ``step_count`` its env steps; metrics ``return``
  (the evaluation's mean greedy return, one value: metrics.csv keeps the mean, not each episode)
  and ``success_rate`` where every evaluation of the environment reports one.
* ``absolute_metrics``: the final evaluation's values. marl-eval's absolute metric is a separate,
  ten-times-longer evaluation of the best policy, which qmixbench does not run; the final evaluation
  is what the report scores.

marl-eval lowercases every key before it reads the data, so names that differ only in case would
merge there: such an export, or one where two arms' names would become equal, is refused
(:class:`ExportError`) rather than written. marl-eval needs the same algorithms, runs and steps on
every task of an environment; only runs whose status is ``done`` are exported (as in the report), and
its ``DiagnoseData`` says what else differs.

Never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from qmixbench.errors import QmixbenchError
from qmixbench.grid import arm_label
from qmixbench.results import scored_runs

ABSOLUTE = "absolute_metrics"


class ExportError(QmixbenchError, ValueError):
    """The runs cannot be written so that marl-eval reads them as distinct environments, tasks or arms."""


def algorithm_name(algo: str, variant: str) -> str:
    """marl-eval's name of one arm: ``qmix``, ``qmix[lr=0.001;mixer.embed_dim=64]`` (no commas, see above)."""
    return arm_label(algo, variant).replace(",", ";")


def split_env(env: str) -> tuple[str, str]:
    """``matrix/climbing-v0`` -> (``matrix``, ``climbing-v0``); a string without ``/`` is both."""
    head, sep, tail = env.partition("/")
    return (head, tail) if sep and head and tail else (env, env)


def _check_distinct(kind: str, names: Iterable[tuple[str, str]]) -> None:
    """Raise :class:`ExportError` if two qmixbench names become one in marl-eval.

    Args:
        kind: what the names are, for the message (``environments``, ``tasks``, ``algorithms``).
        names: (exported name, qmixbench name) pairs.
    """
    seen: dict[str, str] = {}
    for name, source in sorted(set(names)):
        other = seen.setdefault(name.lower(), source)
        if other != source:
            raise ExportError(
                f"{kind} {other!r} and {source!r} would become one in marl-eval, which lowercases names and "
                "refuses commas in algorithm names; rename one (an env id or a grid value) to export these runs"
            )


def _has_success(rows: pd.DataFrame) -> bool:
    return bool(rows["eval_success_rate"].notna().all())


def marl_eval_data(table: pd.DataFrame, include_incomplete: bool = False) -> dict[str, Any]:
    """The nested marl-eval object for every run of :func:`qmixbench.results.load`'s ``table``.

    Raises:
        ExportError: two environments, tasks or algorithms would merge in marl-eval (see the module
            docstring).
    """
    rows = scored_runs(table, include_incomplete)
    rows = rows[rows["eval_return_mean"].notna()]
    env_ids = [str(env) for env in rows["env"].unique()]
    arms = [
        (str(algo), str(variant))
        for algo, variant in rows[["algo", "variant"]].drop_duplicates().itertuples(index=False)
    ]
    _check_distinct("environments", ((split_env(env)[0], split_env(env)[0]) for env in env_ids))
    _check_distinct("tasks", (("/".join(split_env(env)), env) for env in env_ids))
    _check_distinct("algorithms", ((algorithm_name(*arm), arm_label(*arm)) for arm in arms))
    data: dict[str, Any] = {}
    environments = {env: split_env(env)[0] for env in env_ids}
    with_success = {
        name: _has_success(rows[rows["env"].map(environments) == name]) for name in set(environments.values())
    }
    for (env, algo, variant, seed), run in rows.groupby(["env", "algo", "variant", "seed"], sort=True):
        environment, task = split_env(str(env))
        run = run.sort_values("env_steps")
        steps: dict[str, Any] = {}
        for i, row in enumerate(run.itertuples(index=False), start=1):
            metrics: dict[str, Any] = {"step_count": int(row.env_steps), "return": [float(row.eval_return_mean)]}
            if with_success[environment] and not math.isnan(row.eval_success_rate):
                metrics["success_rate"] = [float(row.eval_success_rate)]
            steps[f"step_{i}"] = metrics
        steps[ABSOLUTE] = {k: v for k, v in steps[f"step_{len(run)}"].items() if k != "step_count"}
        algorithm = algorithm_name(str(algo), str(variant))
        data.setdefault(environment, {}).setdefault(task, {}).setdefault(algorithm, {})[str(seed)] = steps
    return data

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
* ``algorithm_name``: the algorithm, or ``algo[variant]`` for a config grid's variant.
* ``run``: the seed as a string (marl-eval's README allows naming runs by seed).
* ``step_i``: the run's i-th evaluation (from 1), ``step_count`` its env steps; metrics ``return``
  (the evaluation's mean greedy return, one value: metrics.csv keeps the mean, not each episode)
  and ``success_rate`` where every evaluation of the environment reports one.
* ``absolute_metrics``: the final evaluation's values. marl-eval's absolute metric is a separate,
  ten-times-longer evaluation of the best policy, which qmixbench does not run; the final evaluation
  is what the report scores.

marl-eval needs the same algorithms, runs and steps on every task of an environment; only runs whose
status is ``done`` are exported (as in the report), and its ``DiagnoseData`` says what else differs.

Never imports torch.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from qmixbench.grid import arm_label

ABSOLUTE = "absolute_metrics"


def split_env(env: str) -> tuple[str, str]:
    """``matrix/climbing-v0`` -> (``matrix``, ``climbing-v0``); a string without ``/`` is both."""
    head, sep, tail = env.partition("/")
    return (head, tail) if sep and head and tail else (env, env)


def _has_success(rows: pd.DataFrame) -> bool:
    return bool(rows["eval_success_rate"].notna().all())


def marl_eval_data(table: pd.DataFrame, include_incomplete: bool = False) -> dict[str, Any]:
    """The nested marl-eval object for every run of :func:`qmixbench.results.load`'s ``table``."""
    rows = table if include_incomplete else table[table["status"] == "done"]
    rows = rows[rows["eval_return_mean"].notna()]
    data: dict[str, Any] = {}
    environments = {env: split_env(env)[0] for env in rows["env"].unique()}
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
        algorithm = arm_label(str(algo), str(variant))
        data.setdefault(environment, {}).setdefault(task, {}).setdefault(algorithm, {})[str(seed)] = steps
    return data

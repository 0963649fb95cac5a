"""Training speed of QMIX on mpe2 simple_spread (N=3, 25 steps) against the env alone, in one run.

Usage (one CPU thread; ~5 minutes; needs ``pip install 'qmixbench[mpe]'``)::

    .venv/bin/python benchmarks/bench_train_mpe.py              # both env forms, 20k steps, 3 repeats
    .venv/bin/python benchmarks/bench_train_mpe.py --steps 8000 --repeats 1
    .venv/bin/python benchmarks/bench_train_mpe.py --env mpe/simple-spread-v3   # one form only

Settings: the reference's (EPyMARL's QMIX on this task): feed-forward agent (``agent=mlp``), one
learner update of a 32-episode batch per collected episode (``batch_size=32``,
``updates_per_episode=1``), the run defaults otherwise (8 envs in lockstep), evaluation only at the end.
Env-only speed: the same env through the same adapter, random available actions, one env
(``bench_train.env_only_steps_per_s``), measured before and after each training run so that load
changes show.

Two forms of the same task are measured, because the ratio depends on the env's own speed (the faster
the env, the larger the learner's share of training time and the lower the ratio):

* ``mpe2-own``: mpe2's ``simple_spread_v3.parallel_env(N=3, local_ratio=0, max_cycles=25)`` through its
  entry point: the env EPyMARL's QMIX was measured on (~0.15 of env-only here), so the like-for-like
  comparison of learner overhead, and the form the >= 0.5 target is checked on.
* ``registered``: qmixbench's ``mpe/simple-spread-v3``: the same scenario, observations and rewards
  (tested step for step) stepped natively in parallel, ~1.7x faster than mpe2's own. Training on it is
  faster in absolute terms than on mpe2's own form, but at a lower ratio; both are printed.

Columns: train_steps_per_s (env steps per second of training wall time, evaluation excluded),
env_only_steps_per_s (mean of the before/after measurements), ratio, and the share of training time in
env stepping, action selection and learner updates.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
from collections.abc import Callable
from typing import Any

import torch
from bench_train import env_only_steps_per_s, train_speed  # benchmarks/ is on sys.path when run as a script

from qmixbench.algos import resolve_config

ENV_FORMS = {
    "mpe2-own": "mpe2.simple_spread_v3:parallel_env?N=3&local_ratio=0&max_cycles=25",
    "registered": "mpe/simple-spread-v3",
}
"""The two forms of the task (see the module docstring); ``registered`` has the same kwargs in the registry."""
TARGET_FORM = "mpe2-own"
"""The form the target is checked on: the env of the reference's ~0.15."""
TARGET = 0.5
REFERENCE_SETTINGS = {"batch_size": 32, "updates_per_episode": 1.0}
"""The reference's learner settings; ``bench_train.train_speed`` uses the run defaults, checked equal here."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="training env steps per repeat (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="training runs per env form (default 3)")
    parser.add_argument(
        "--env",
        action="append",
        help="env id or entry point to measure instead of the two default forms (repeatable)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as runs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    forms = {env: env for env in args.env} if args.env else ENV_FORMS
    check_reference_settings(forms)
    print(
        f"# qmixbench bench_train_mpe: agent mlp, batch 32, 1 update/episode; torch {torch.__version__}, "
        f"{args.threads} thread(s), {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    for name, env in forms.items():
        print(f"# {name}: {env}")
    print(
        f"{'form':<12}{'repeat':<7}{'train_steps_per_s':>18}{'env_only_steps_per_s':>22}{'ratio':>7}{'env%':>6}"
        f"{'act%':>6}{'update%':>8}"
    )
    result = measure(forms, args.steps, args.repeats, on_row=print_row)
    for name, summary in result["summary"].items():
        target = (
            f" (target >= {TARGET}: {'met' if summary['target_met'] else 'NOT met'})" if name == TARGET_FORM else ""
        )
        print(
            f"{name}: ratio median {summary['ratio_median']:.2f} (range {summary['ratio_min']:.2f}-"
            f"{summary['ratio_max']:.2f}), training median {summary['train_median']:.0f} env-steps/s{target}"
        )


def print_row(r: dict[str, Any]) -> None:
    """One measured row of the table, as it is measured (a long run shows progress)."""
    print(
        f"{r['form']:<12}{r['repeat']:<7}{r['train_steps_per_s']:>18.0f}{r['env_only_steps_per_s']:>22.0f}"
        f"{r['ratio']:>7.2f}{r['env%']:>6.0f}{r['act%']:>6.0f}{r['update%']:>8.0f}",
        flush=True,
    )


def measure(
    forms: dict[str, str],
    steps: int,
    repeats: int,
    env_seconds: float = 2.0,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train on each form ``repeats`` times, alternately, each run between two env-only measurements.

    Args:
        forms: {form name: env id or entry point}.
        steps: training env steps per run.
        repeats: runs per form.
        env_seconds: seconds of random stepping for each env-only rate.
        on_row: called with each row as soon as it is measured.

    Returns:
        ``{"rows": [{"form", "repeat", "train_steps_per_s", "env_only_steps_per_s", "ratio", "env%", "act%",
        "update%"}, ...], "summary": {form: {"ratio_median", "ratio_min", "ratio_max", "train_median",
        "target_met"}}}``; ``target_met`` is for :data:`TARGET_FORM` only (None for the others).
    """
    rows = []
    for repeat in range(repeats):
        for name, env in forms.items():  # forms alternate, so that load changes hit both alike
            before = env_only_steps_per_s(env, env_seconds)
            r = train_speed(env, "mlp", steps)
            env_only = (before + env_only_steps_per_s(env, env_seconds)) / 2
            row = {"form": name, "repeat": repeat, **r, "env_only_steps_per_s": env_only}
            row["ratio"] = r["train_steps_per_s"] / env_only
            rows.append(row)
            if on_row is not None:
                on_row(row)
    summary = {}
    for name in forms:
        ratios = sorted(r["ratio"] for r in rows if r["form"] == name)
        speeds = sorted(r["train_steps_per_s"] for r in rows if r["form"] == name)
        median = ratios[len(ratios) // 2]
        summary[name] = {
            "ratio_median": median,
            "ratio_min": ratios[0],
            "ratio_max": ratios[-1],
            "train_median": speeds[len(speeds) // 2],
            "target_met": median >= TARGET if name == TARGET_FORM else None,
        }
    return {"rows": rows, "summary": summary}


def check_reference_settings(forms: dict[str, str]) -> None:
    """Raise SystemExit if the run defaults of any form differ from :data:`REFERENCE_SETTINGS`."""
    for env in forms.values():
        defaults = resolve_config("qmix", env=env)
        drifted = {k: getattr(defaults, k) for k, v in REFERENCE_SETTINGS.items() if getattr(defaults, k) != v}
        if drifted:
            raise SystemExit(
                f"run defaults for {env} differ from the reference settings {REFERENCE_SETTINGS}: {drifted}"
            )


if __name__ == "__main__":
    main()

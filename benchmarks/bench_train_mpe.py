"""Training speed of QMIX on mpe2 simple_spread (N=3, 25 steps) against the env alone, in one run.

Usage (one CPU thread; ~1-2 minutes; needs ``pip install 'qmixbench[mpe]'``)::

    .venv/bin/python benchmarks/bench_train_mpe.py              # 20k training steps, 3 repeats
    .venv/bin/python benchmarks/bench_train_mpe.py --steps 8000 --repeats 1

Settings: the reference's (EPyMARL's QMIX on this task): feed-forward agent (``agent=mlp``), one
learner update of a 32-episode batch per collected episode (``batch_size=32``,
``updates_per_episode=1``), the run defaults otherwise (8 envs in lockstep), evaluation only at the end.
Env-only speed: the same registered env through the same adapter, random available actions, one env
(``bench_train.env_only_steps_per_s``), measured before and after training so that load changes show.
Target: training at >= 0.5 of env-only speed (EPyMARL's QMIX: ~0.15 here). The registered env steps
mpe2's scenario natively in parallel, ~1.7x faster than mpe2's own ``parallel_env()``; a faster env
raises training speed and lowers the ratio (the learner's share grows). ``--env`` measures another
form, e.g. ``'mpe2.simple_spread_v3:parallel_env?N=3&local_ratio=0&max_cycles=25'``.

Columns: train_steps_per_s (env steps per second of training wall time, evaluation excluded),
env_only_steps_per_s (mean of the before/after measurements), ratio, and the share of training time in
env stepping, action selection and learner updates.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform

import torch
from bench_train import env_only_steps_per_s, train_speed  # benchmarks/ is on sys.path when run as a script

from qmixbench.algos import resolve_config

DEFAULT_ENV = "mpe/simple-spread-v3"
"""Registered as mpe2 simple_spread_v3 with N=3, local_ratio=0 (shared reward), max_cycles=25."""
REFERENCE_SETTINGS = {"batch_size": 32, "updates_per_episode": 1.0}
"""The reference's learner settings; ``bench_train.train_speed`` uses the run defaults, checked equal here."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="training env steps per repeat (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="training runs (default 3)")
    parser.add_argument("--env", default=DEFAULT_ENV, help=f"env id or entry point (default {DEFAULT_ENV})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as runs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    env = args.env
    defaults = resolve_config("qmix", env=env)
    drifted = {k: getattr(defaults, k) for k, v in REFERENCE_SETTINGS.items() if getattr(defaults, k) != v}
    if drifted:
        raise SystemExit(f"run defaults differ from the reference settings {REFERENCE_SETTINGS}: {drifted}")
    print(
        f"# qmixbench bench_train_mpe: {env}, agent mlp, batch 32, 1 update/episode; torch {torch.__version__}, "
        f"{args.threads} thread(s), {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'repeat':<7}{'train_steps_per_s':>18}{'env_only_steps_per_s':>22}{'ratio':>7}{'env%':>6}{'act%':>6}{'update%':>8}"
    )
    ratios = []
    for repeat in range(args.repeats):
        before = env_only_steps_per_s(env)
        r = train_speed(env, "mlp", args.steps)
        env_only = (before + env_only_steps_per_s(env)) / 2
        ratio = r["train_steps_per_s"] / env_only
        ratios.append(ratio)
        print(
            f"{repeat:<7}{r['train_steps_per_s']:>18.0f}{env_only:>22.0f}{ratio:>7.2f}{r['env%']:>6.0f}"
            f"{r['act%']:>6.0f}{r['update%']:>8.0f}",
            flush=True,
        )
    print(f"ratio median {sorted(ratios)[len(ratios) // 2]:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()

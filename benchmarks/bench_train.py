"""Training speed of QMIX: env-steps/s while training vs the env alone, where the time goes, and the
milliseconds of one learner update next to a plain ``nn.GRU`` forward+backward measured in the same run.

Usage (one CPU thread, as every run; takes ~3-4 minutes)::

    .venv/bin/python benchmarks/bench_train.py            # all tasks, GRU and feed-forward agents
    .venv/bin/python benchmarks/bench_train.py --quick    # smaller budgets (~1 minute)

Tasks: ``multigrid/empty-5x5-v0`` (25-step episodes), ``matrix/climbing-v0`` and ``matrix/two-step-v0``; agents: the
default GRU and the feed-forward agent EPyMARL uses by default. Settings are the run defaults (8 envs in
lockstep, one learner update of a 32-episode batch per collected episode: the reference's ratio),
except the budget, and evaluation only at the end.

Columns:
    train_steps_per_s  env steps per second of training wall time (evaluation excluded)
    env_only_steps_per_s  the same env stepped alone with random actions, one env, same process
    env% / act% / update%  share of training time in env stepping, action selection, learner updates
    update_ms          mean milliseconds of one learner update (32-episode batch) measured in isolation
    batch_T            mean steps of the sampled batches (batches are cut to their longest episode)
The baseline line: a plain ``nn.GRU(64, 64)`` forward+backward over 64 sequences x 65 steps.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from typing import Any

import numpy as np
import torch

from qmixbench.adapter import make_adapter
from qmixbench.algos import resolve_config
from qmixbench.config import RunSpec
from qmixbench.train import _Run, train

BUDGETS = {"multigrid/empty-5x5-v0": 20_000, "matrix/climbing-v0": 20_000, "matrix/two-step-v0": 8_000}
QUICK = {"multigrid/empty-5x5-v0": 6_000, "matrix/climbing-v0": 8_000, "matrix/two-step-v0": 3_000}


def env_only_steps_per_s(env: str, seconds: float = 2.0) -> float:
    """Random-action env steps per second of one env (resets included)."""
    adapter = make_adapter(env)
    rng = np.random.default_rng(0)
    _, _, avail = adapter.reset(seed=0)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        actions = np.array([rng.choice(np.flatnonzero(av)) for av in avail])
        _, _, avail, _, terminated, truncated, _ = adapter.step(actions)
        steps += 1
        if terminated or truncated:
            _, _, avail = adapter.reset()
    return steps / (time.perf_counter() - t0)


def update_ms(env: str, agent: str, n: int = 30) -> tuple[float, float]:
    """Mean ms of one learner update on batches sampled from a buffer filled by random play; mean T."""
    cfg = resolve_config("qmix", {"agent": agent}, env=env)
    run = _Run(RunSpec(env, "qmix", 0, cfg))
    run.rollout.reset_all(list(range(cfg.n_envs)))
    while run.buffer.size < 4 * cfg.batch_size:
        for ep in run.rollout.step(1.0, run.explore_gen):
            run.buffer.add(ep.obs, ep.state, ep.avail, ep.alive, ep.actions, ep.reward, ep.length, ep.terminated)
    batches = [run.buffer.sample(cfg.batch_size, run.sample_gen) for _ in range(n)]
    for b in batches[:5]:
        run.learner.update(b)
    t0 = time.perf_counter()
    for b in batches:
        run.learner.update(b)
    return (time.perf_counter() - t0) / n * 1e3, float(np.mean([b.reward.shape[1] for b in batches]))


def gru_baseline_ms(n: int = 20) -> float:
    """A plain nn.GRU(64, 64) forward+backward over 64 sequences of 65 steps."""
    gru = torch.nn.GRU(64, 64)
    x = torch.randn(65, 64, 64, requires_grad=True)
    for _ in range(3):
        gru(x)[0].sum().backward()
    t0 = time.perf_counter()
    for _ in range(n):
        gru(x)[0].sum().backward()
    return (time.perf_counter() - t0) / n * 1e3


def train_speed(env: str, agent: str, steps: int) -> dict[str, float]:
    cfg = resolve_config(
        "qmix",
        {
            "agent": agent,
            "total_env_steps": steps,
            "eval_interval": steps,
            "checkpoint_interval": 10 * steps,
            "eval_episodes": 8,
        },
        env=env,
    )
    with tempfile.TemporaryDirectory() as out:
        s = train(RunSpec(env, "qmix", 0, cfg), out, progress=False)
    t = s["time_split"]
    busy = s["wall_time_s"] - t["eval_s"]
    return {
        "train_steps_per_s": s["env_steps"] / busy,
        "env%": 100 * t["env_s"] / busy,
        "act%": 100 * t["act_s"] / busy,
        "update%": 100 * t["update_s"] / busy,
    }


AGENTS = ("gru", "mlp")
"""The default GRU agent and the feed-forward agent EPyMARL uses by default."""


def measure(budgets: dict[str, int], env_seconds: float = 2.0, updates: int = 30) -> dict[str, Any]:
    """Every (env, agent) row of the table, between two measurements of the plain ``nn.GRU`` baseline.

    Args:
        budgets: training env steps per env.
        env_seconds: seconds of random stepping for each env-only rate.
        updates: learner updates timed for each ``update_ms``.

    Returns:
        ``{"baseline_ms": before, "baseline_after_ms": after, "rows": [{"env", "agent", "train_steps_per_s",
        "env_only_steps_per_s", "env%", "act%", "update%", "update_ms", "batch_T"}, ...]}``.
    """
    base = gru_baseline_ms()
    rows = []
    for env, steps in budgets.items():
        env_only = env_only_steps_per_s(env, env_seconds)
        for agent in AGENTS:
            ms, t_mean = update_ms(env, agent, updates)
            r = train_speed(env, agent, steps)
            rows.append(
                {"env": env, "agent": agent, **r, "env_only_steps_per_s": env_only, "update_ms": ms, "batch_T": t_mean}
            )
    return {"baseline_ms": base, "baseline_after_ms": gru_baseline_ms(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller training budgets")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as runs)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    print(
        f"# qmixbench bench_train: torch {torch.__version__}, {args.threads} thread(s), "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    result = measure(QUICK if args.quick else BUDGETS)
    print(f"plain nn.GRU(64,64) fwd+bwd, 64 seqs x 65 steps: {result['baseline_ms']:.1f} ms")
    print(
        f"{'env':<22}{'agent':<6}{'train_steps_per_s':>18}{'env_only_steps_per_s':>22}{'env%':>6}{'act%':>6}"
        f"{'update%':>8}{'update_ms':>10}{'batch_T':>8}"
    )
    for r in result["rows"]:
        print(
            f"{r['env']:<22}{r['agent']:<6}{r['train_steps_per_s']:>18.0f}{r['env_only_steps_per_s']:>22.0f}"
            f"{r['env%']:>6.0f}{r['act%']:>6.0f}{r['update%']:>8.0f}{r['update_ms']:>10.2f}{r['batch_T']:>8.1f}"
        )
    print(f"plain nn.GRU(64,64) fwd+bwd, 64 seqs x 65 steps (again, after): {result['baseline_after_ms']:.1f} ms")


if __name__ == "__main__":
    main()

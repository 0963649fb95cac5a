"""SMAX speed: K battles in one vectorised call against K envs stepped one at a time, raw and in training.

Usage (needs ``pip install 'qmixbench[smax]'``; ~5-8 minutes on a loaded 2-core machine, a good part of it
JAX compiling and the training runs)::

    python benchmarks/bench_smax.py                         # 3m, K = 1, 8, 32; writes benchmarks/bench_smax.md
    python benchmarks/bench_smax.py --map 5m_vs_6m --num-envs 8 --steps 4000 --train-steps 0 --out /tmp/smax.md

**Stepping** (env alone). Both paths run the same jitted SMAX step and the same random available
actions (drawn in numpy, one (K, N, A) draw a step), and count resets:

* ``one-at-a-time``: K ``SMAXParallelEnv`` (the PettingZoo API: dicts of actions in, dicts out), each
  stepped in turn from Python;
* ``vectorised``: one ``SMAXVectorEnv`` of K envs, one ``jax.jit(jax.vmap(step))`` call a step with
  (K, N) arrays in and out, ended envs reset in one batched call.

Compilation and a warm-up of 50 steps are excluded. Rates are env steps (one env's joint step) per
second of wall time, best of ``--repeats``.

**Training** (``--train-steps`` > 0). QMIX's ``train()`` on ``smax/<map>-v0``, seed 0, the same config on
both paths except ``vector_env`` (false: the rollout steps K ``ParallelEnvAdapter`` objects in turn; true: one
``SMAXVectorEnv`` call), the project's defaults otherwise (GRU agent, batch 32 episodes, one update per
episode), evaluation only at the end (4 episodes, excluded from the rate). Rates are env steps per second
of training time (wall time minus evaluation), compilation excluded (each K's functions are compiled
before its runs). Both paths collect the same episodes and make the same updates (tested), so the
ratio is speed alone. At K = 1 training uses the per-env path (``env_batch.VECTOR_MIN_ENVS``); the
benchmark forces the batched one to measure it.

The ratios are vectorised over one-at-a-time at the same K, measured seconds apart in one command. The
results are written to ``--out`` (generated: do not edit by hand).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from qmixbench_envs.external.smax import SMAXParallelEnv, SMAXVectorEnv, smax, smax_vector

DEFAULT_OUT = Path(__file__).with_name("bench_smax.md")
WARMUP = 50


def _random_available(rng: np.random.Generator, avail: np.ndarray) -> np.ndarray:
    """One uniformly random available action per agent: argmax of uniform noise over the available ones."""
    return np.argmax(rng.random(avail.shape) * avail, axis=-1)  # (..., N)


def one_at_a_time(envs: list[SMAXParallelEnv], steps: int, seed: int) -> float:
    """Env steps per second over ``steps`` joint steps of each of the K envs, stepped in turn."""
    rng = np.random.default_rng(seed)
    agents = envs[0].possible_agents
    avail = []
    for k, env in enumerate(envs):
        _, infos = env.reset(seed=seed + k)
        avail.append(np.stack([infos[a]["action_mask"] for a in agents]))
    masks = np.stack(avail)  # (K, N, A)

    def run(n: int) -> None:
        nonlocal masks
        for _ in range(n):
            actions = _random_available(rng, masks)  # (K, N)
            for k, env in enumerate(envs):
                _, _, terms, truncs, infos = env.step(dict(zip(agents, actions[k].tolist())))
                if terms[agents[0]] or truncs[agents[0]]:
                    _, infos = env.reset()
                masks[k] = np.stack([infos[a]["action_mask"] for a in agents])

    run(WARMUP)
    start = time.perf_counter()
    run(steps)
    return steps * len(envs) / (time.perf_counter() - start)


def vectorised(vec: SMAXVectorEnv, steps: int, seed: int) -> float:
    """Env steps per second over ``steps`` calls of the K-env vectorised step."""
    rng = np.random.default_rng(seed)
    frame = vec.reset([seed + k for k in range(vec.num_envs)])
    avail = frame.avail

    def run(n: int) -> None:
        nonlocal avail
        for _ in range(n):
            out = vec.step(_random_available(rng, avail))
            ended = ~out.frame.active.any(axis=1)
            avail = vec.reset(mask=ended).avail if ended.any() else out.frame.avail

    run(WARMUP)
    start = time.perf_counter()
    run(steps)
    return steps * vec.num_envs / (time.perf_counter() - start)


def train_rate(map_name: str, k: int, steps: int, vector: bool) -> tuple[float, float]:
    """Env steps per second of QMIX training (evaluation excluded) and the share of that time in the env."""
    import tempfile

    from qmixbench import env_batch
    from qmixbench.algos import resolve_config
    from qmixbench.config import RunSpec
    from qmixbench.train import train

    env = f"smax/{map_name.replace('_', '-')}-v0"
    overrides = {
        "total_env_steps": steps,
        "n_envs": k,
        "vector_env": vector,
        "eval_interval": steps,
        "eval_episodes": 4,
        "checkpoint_interval": 10 * steps,
        "buffer_size": 500,
    }
    cfg = resolve_config("qmix", overrides, env=env)
    saved = env_batch.VECTOR_MIN_ENVS
    env_batch.VECTOR_MIN_ENVS = 1  # measure the batched path at K = 1 too
    try:
        with tempfile.TemporaryDirectory() as out:
            summary = train(RunSpec(env, "qmix", 0, cfg), out, progress=False)
    finally:
        env_batch.VECTOR_MIN_ENVS = saved
    split = summary["time_split"]
    busy = summary["wall_time_s"] - split["eval_s"]
    return summary["env_steps"] / busy, split["env_s"] / busy


def compile_for(map_name: str, k: int) -> None:
    """Compile SMAX's single and K-batched functions in this process, so that no measurement includes it."""
    env = smax(map_name)
    env.reset(seed=0)
    env.step(dict.fromkeys(env.possible_agents, 4))
    vec = smax_vector(map_name, num_envs=k)
    vec.reset(list(range(k)))
    vec.step(np.full((k, len(vec.possible_agents)), 4))
    vec.reset(None, mask=np.eye(1, k, 0, bool)[0])  # reset_where, which a partial reset compiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", default="3m", help="SMAX map name (default 3m)")
    parser.add_argument("--num-envs", default="1,8,32", help="comma-separated K values (default 1,8,32)")
    parser.add_argument("--steps", type=int, default=2000, help="joint steps per env and repeat (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement; the best is kept")
    parser.add_argument(
        "--train-steps", type=int, default=4000, help="env steps of each training run (default 4000; 0 skips training)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown results file (default {DEFAULT_OUT})")
    args = parser.parse_args()
    ks = [int(k) for k in args.num_envs.split(",")]
    logging.basicConfig(level=logging.WARNING)

    import jax  # after argument parsing: --help stays fast
    import torch

    torch.set_num_threads(1)  # as every run
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows, train_rows = [], []
    for k in ks:
        singles = [smax(args.map) for _ in range(k)]
        vec = smax_vector(args.map, num_envs=k)
        # Steps per env scale down with K so that each measurement takes similar time.
        steps = max(200, args.steps // k)
        single = max(one_at_a_time(singles, steps, seed=r) for r in range(args.repeats))
        batched = max(vectorised(vec, steps, seed=r) for r in range(args.repeats))
        rows.append((k, single, batched))
        print(
            f"{args.map} K={k:3d} stepping: one-at-a-time {single:9,.0f}  vectorised {batched:9,.0f}  x{batched / single:.1f}"
        )
        if args.train_steps > 0:
            compile_for(args.map, k)
            train_single, env_single = train_rate(args.map, k, args.train_steps, vector=False)
            train_batched, env_batched = train_rate(args.map, k, args.train_steps, vector=True)
            train_rows.append((k, train_single, env_single, train_batched, env_batched))
            print(
                f"{args.map} K={k:3d} training: one-at-a-time {train_single:9,.0f}  vectorised {train_batched:9,.0f}  "
                f"x{train_batched / train_single:.2f}",
                flush=True,
            )

    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"# SMAX speed ({args.map})",
        "",
        "Generated by `python benchmarks/bench_smax.py "
        f"--map {args.map} --num-envs {args.num_envs} --steps {args.steps} --repeats {args.repeats} "
        f"--train-steps {args.train_steps}`; do not edit.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {load_start:.1f} at the start and "
        f"{load_end:.1f} at the end (other jobs were running when the load exceeds the CPU count: absolute rates "
        f"are then low and noisy, the ratios less so); Python {platform.python_version()}, jax {jax.__version__} "
        f"({jax.default_backend()}), torch {torch.__version__} (1 thread).",
        "",
        "## Stepping the env alone",
        "",
        "| K envs | one-at-a-time env-steps/s | vectorised env-steps/s | ratio |",
        "|---|---|---|---|",
        *(f"| {k} | {s:,.0f} | {b:,.0f} | {b / s:.1f} |" for k, s, b in rows),
        "",
        "One-at-a-time: K `SMAXParallelEnv`s through the PettingZoo API, stepped in turn; vectorised: one",
        "`SMAXVectorEnv` (one `jax.jit(jax.vmap(step))` call a step). Same random available actions, resets",
        "counted, compilation and 50 warm-up steps excluded, best of the repeats.",
        "",
    ]
    if train_rows:
        lines += [
            "## QMIX training",
            "",
            "| K envs | per-env path env-steps/s | env share | batched path env-steps/s | env share | ratio |",
            "|---|---|---|---|---|---|",
            *(f"| {k} | {s:,.0f} | {es:.0%} | {b:,.0f} | {eb:.0%} | {b / s:.2f} |" for k, s, es, b, eb in train_rows),
            "",
            f"`train()` of QMIX on `smax/{args.map.replace('_', '-')}-v0`, seed 0, {args.train_steps:,} env steps a run,",
            "`n_envs` = K, the same config on both paths except `vector_env`; one measurement each. Env share: the",
            "part of training time spent stepping and resetting envs (the rest: action selection and learner",
            "updates, which the batched path does not change). Evaluation and compilation excluded.",
            "",
        ]
    args.out.write_text("\n".join(lines))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()

"""SMAX stepping speed: K battles in one vectorised call against K envs stepped one at a time, in one run.

Usage (needs ``pip install 'qmixbench[smax]'``; ~2-4 minutes, most of it JAX compiling)::

    python benchmarks/bench_smax.py                         # 3m, K = 1, 8, 32; writes benchmarks/bench_smax.md
    python benchmarks/bench_smax.py --map 5m_vs_6m --num-envs 8 --steps 4000 --out /tmp/smax.md

Both paths run the same jitted SMAX step and the same random available actions (drawn in numpy, one
(K, N, A) draw a step), and count resets:

* ``one-at-a-time``: K ``SMAXParallelEnv`` (the PettingZoo API: dicts of actions in, dicts out), each
  stepped in turn from Python, as qmixbench's rollout steps its list of per-env adapters;
* ``vectorised``: one ``SMAXVectorEnv`` of K envs, one ``jax.jit(jax.vmap(step))`` call a step with
  (K, N) arrays in and out, ended envs reset in one batched call.

Compilation and a warm-up of 50 steps are excluded. Rates are env steps (one env's joint step) per
second of wall time, best of ``--repeats``; the ratio is vectorised over one-at-a-time at the same K,
measured seconds apart. The results table is written to ``--out`` (generated: do not edit by hand).
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", default="3m", help="SMAX map name (default 3m)")
    parser.add_argument("--num-envs", default="1,8,32", help="comma-separated K values (default 1,8,32)")
    parser.add_argument("--steps", type=int, default=2000, help="joint steps per env and repeat (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement; the best is kept")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown results file (default {DEFAULT_OUT})")
    args = parser.parse_args()
    ks = [int(k) for k in args.num_envs.split(",")]

    import jax  # after argument parsing: --help stays fast

    rows = []
    for k in ks:
        singles = [smax(args.map) for _ in range(k)]
        vec = smax_vector(args.map, num_envs=k)
        # Steps per env scale down with K so that each measurement takes similar time.
        steps = max(200, args.steps // k)
        single = max(one_at_a_time(singles, steps, seed=r) for r in range(args.repeats))
        batched = max(vectorised(vec, steps, seed=r) for r in range(args.repeats))
        rows.append((k, single, batched))
        print(f"{args.map} K={k:3d}: one-at-a-time {single:9,.0f}  vectorised {batched:9,.0f}  x{batched / single:.1f}")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"# SMAX stepping speed ({args.map})",
        "",
        "Generated by `python benchmarks/bench_smax.py "
        f"--map {args.map} --num-envs {args.num_envs} --steps {args.steps} --repeats {args.repeats}`; do not edit.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at the end; "
        f"Python {platform.python_version()}, jax {jax.__version__} ({jax.default_backend()}).",
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
    args.out.write_text("\n".join(lines))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()

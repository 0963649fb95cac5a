"""Env-steps per second of the multigrid tasks with random actions, next to single-agent minigrid.

    python benchmarks/bench_envs.py                 # 20k steps per env, best of 3, markdown table
    python benchmarks/bench_envs.py --steps 5000 --repeats 1
    python benchmarks/bench_envs.py --random-success   # share of random episodes that succeed, per id
    python benchmarks/bench_envs.py --random-return multigrid/collect-8x8-v0  # mean random return
    python benchmarks/bench_envs.py --external      # also each external family's default task, if installed

Every env runs the same number of steps with uniformly random actions drawn beforehand (so the
generator's cost is not counted), resetting when an episode ends (resets are counted). The
reference is minigrid's ``MiniGrid-Empty-8x8-v0`` measured in the same process, unwrapped (no
gymnasium checker wrappers, which would slow it down and flatter the ratio). One env step of a
multigrid task is one joint step of all its agents, with every agent's observation built.
Timings take the best of ``--repeats`` runs (the least disturbed by other processes). External
families (``--external``: mpe, lbf, rware, sisl) are timed the same way on their default task, each
agent's action drawn uniformly from its whole action space; a family whose package is missing is
reported as skipped, with the extra that installs it.
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import minigrid
import numpy as np

import qmixbench_envs
from qmixbench.adapter import declared_team_reward, team_reward_of
from qmixbench_envs import make
from qmixbench_envs.external import MissingExtraError
from qmixbench_envs.registry import FAMILY_DEFAULTS

TASKS = (
    "multigrid/empty-8x8-v0",
    "multigrid/empty-5x5-v0",
    "multigrid/empty-16x16-v0",
    "multigrid/red-blue-doors-6x6-v0",
    "multigrid/key-door-8x8-v0",
    "multigrid/heavy-box-7x7-v0",
    "multigrid/collect-8x8-v0",
)
REFERENCE = "MiniGrid-Empty-8x8-v0"
EXTERNAL_FAMILIES = ("mpe", "lbf", "rware", "sisl")
"""Families measured by ``--external`` (SMAX has its own script, ``bench_smax.py``), on their default task."""


def time_minigrid(steps: int, seed: int) -> float:
    """Return seconds for ``steps`` random steps of single-agent minigrid."""
    env = gym.make(REFERENCE).unwrapped
    actions = np.random.default_rng(seed).integers(0, 7, steps).tolist()
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return time.perf_counter() - start


def time_multigrid(env_id: str, n_agents: int, steps: int, seed: int) -> float:
    """Return seconds for ``steps`` random joint steps of a multigrid task."""
    env = make(env_id, n_agents=n_agents)
    actions = np.random.default_rng(seed).integers(0, 7, (steps, n_agents)).tolist()
    env.reset(seed=seed)
    agents = env.possible_agents
    start = time.perf_counter()
    for joint in actions:
        env.step(dict(zip(agents, joint)))
        if not env.agents:
            env.reset()
    return time.perf_counter() - start


def time_external(env_id: str, steps: int, seed: int) -> float:
    """Return seconds for ``steps`` random joint steps of a registered external env (default kwargs)."""
    env = make(env_id)
    agents = env.possible_agents
    sizes = [int(env.action_space(a).n) for a in agents]
    rng = np.random.default_rng(seed)
    actions = np.stack([rng.integers(0, n, steps) for n in sizes], axis=1).tolist()  # (steps, N)
    env.reset(seed=seed)
    start = time.perf_counter()
    for joint in actions:
        env.step(dict(zip(agents, joint)))
        if not env.agents:
            env.reset()
    return time.perf_counter() - start


def best_rate(fn, *fn_args, steps: int, repeats: int) -> float:
    """Env steps per second of the fastest of ``repeats`` timings ``fn(*fn_args, steps, seed)``."""
    return steps / min(fn(*fn_args, steps, seed) for seed in range(repeats))


def measure(steps: int, repeats: int, counts: list[int]) -> tuple[float, list[tuple[str, int, float]]]:
    """Minigrid's rate and (multigrid id, agents, rate) for every task of :data:`TASKS` and agent count."""
    time_minigrid(1000, 0)  # warm-up: imports, caches, allocator
    reference = best_rate(time_minigrid, steps=steps, repeats=repeats)
    rows = [
        (env_id, n, best_rate(time_multigrid, env_id, n, steps=steps, repeats=repeats))
        for env_id in TASKS
        for n in counts
    ]
    return reference, rows


def measure_external(steps: int, repeats: int) -> tuple[list[tuple[str, int, float]], dict[str, str]]:
    """(id, agents, rate) of each installed external family's default task, and {family: why skipped}."""
    rows, skipped = [], {}
    for family in EXTERNAL_FAMILIES:
        env_id = FAMILY_DEFAULTS[family]
        try:
            n_agents = len(make(env_id).possible_agents)
        except MissingExtraError as exc:
            skipped[family] = str(exc)
            continue
        rows.append((env_id, n_agents, best_rate(time_external, env_id, steps=steps, repeats=repeats)))
    return rows, skipped


def random_episodes(env_id: str, episodes: int, seed: int = 1) -> tuple[list[float], list[bool]]:
    """Play ``episodes`` of uniformly random play (every action of each agent's space, available or not)
    and return each episode's team return and success flag.

    The team return is the one training and evaluation record: the env's ``team_reward`` declaration
    reduced as the adapter does (:func:`qmixbench.adapter.team_reward_of`)."""
    env, rng = make(env_id), np.random.default_rng(seed)
    env.reset(seed=seed)
    team_reward = declared_team_reward(env)
    n_actions = {a: int(env.action_space(a).n) for a in env.possible_agents}
    returns: list[float] = []
    successes: list[bool] = []
    total = 0.0
    while len(returns) < episodes:
        _, rewards, _, _, infos = env.step({a: int(rng.integers(n_actions[a])) for a in env.agents})
        total += team_reward_of([float(r) for r in rewards.values()], team_reward)
        if not env.agents:
            returns.append(total)
            successes.append(bool(infos[env.possible_agents[0]].get("success", False)))
            total = 0.0
            env.reset()
    return returns, successes


def random_success(env_id: str, episodes: int, seed: int = 1) -> tuple[float, float]:
    """Return the share of ``episodes`` of uniformly random play (every action) that end in success and
    its binomial standard error sqrt(p (1 - p) / n)."""
    share = sum(random_episodes(env_id, episodes, seed)[1]) / episodes
    return share, float(np.sqrt(share * (1 - share) / episodes))


def random_return(env_id: str, episodes: int, seed: int = 1) -> tuple[float, float]:
    """Return the mean team return of ``episodes`` of uniformly random play (every action) and its
    standard error: the "random" reference point of ``benchmarks/reference-scores.csv``."""
    returns = random_episodes(env_id, episodes, seed)[0]
    return float(np.mean(returns)), float(np.std(returns, ddof=1) / np.sqrt(episodes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per env; the best is reported")
    parser.add_argument("--agents", default="2,4", help="comma-separated agent counts")
    parser.add_argument(
        "--random-success",
        action="store_true",
        help="print each multigrid id's random-play success rate (10,000 episodes) instead",
    )
    parser.add_argument(
        "--random-return",
        metavar="ID[,ID...]",
        help="print the mean team return of 10,000 episodes of uniformly random play of these ids instead",
    )
    parser.add_argument("--external", action="store_true", help="also time each installed external family")
    args = parser.parse_args(argv)
    if args.random_return:
        print("| env | random return (10,000 episodes, seed 1) | standard error |\n|---|---|---|")
        for env_id in args.random_return.split(","):
            try:
                mean, se = random_return(env_id, 10_000)
            except KeyError as exc:  # an unknown id: the registry's message lists the valid ones
                parser.error(str(exc.args[0]) if exc.args else str(exc))
            print(f"| {env_id} | {mean!r} | {se:.2g} |", flush=True)
        return
    if args.random_success:
        print("| env | random play succeeds (10,000 episodes, 2 agents, seed 1) | standard error |\n|---|---|---|")
        for env_id in sorted(i for i in qmixbench_envs.ENV_SPECS if i.startswith("multigrid/")):
            share, se = random_success(env_id, 10_000)
            print(f"| {env_id} | {share:.2%} | {se:.2%} |", flush=True)
        return
    counts = [int(n) for n in args.agents.split(",")]
    reference, rows = measure(args.steps, args.repeats, counts)
    if args.external:
        external, skipped = measure_external(args.steps, args.repeats)
        rows += external
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, minigrid {minigrid.__version__}, "
        f"qmixbench_envs from {qmixbench_envs.__file__}; {args.steps} steps, best of {args.repeats}\n"
    )
    print("| env | agents | env-steps/s | x minigrid Empty-8x8 |")
    print("|---|---|---|---|")
    print(f"| minigrid {REFERENCE} | 1 | {reference:,.0f} | 1.0 |")
    for env_id, n, rate in rows:
        print(f"| {env_id} | {n} | {rate:,.0f} | {rate / reference:.1f} |")
    if args.external:
        for family, why in skipped.items():
            print(f"\n{family}: skipped: {why}")


if __name__ == "__main__":
    main()

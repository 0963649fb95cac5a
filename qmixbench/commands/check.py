"""``qmixbench check --env X``: run PettingZoo's conformance tests and qmixbench's requirements on one env.

Examples::

    qmixbench check --env mpe/simple-spread-v3
    qmixbench check --env 'mpe2.simple_spread_v3:parallel_env?N=3&local_ratio=0'
    qmixbench check --env examples/my_env.py:TwoRoomsEnv --set size=7

Prints a table of what passed, what failed and how to fix it; exits 1 when a check failed.
Never imports torch.
"""

from __future__ import annotations

import argparse

from qmixbench.cli import UsageError
from qmixbench.watchdog import DEFAULT_CHECK_TIMEOUT_S


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        required=True,
        metavar="ENV",
        help="registered id, family name, or module:factory / file.py:factory, each with optional ?key=value&...",
    )
    parser.add_argument(
        "--set",
        dest="env_args",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument for the env factory, value read as JSON (repeatable; overrides ?key=value)",
    )
    parser.add_argument(
        "--team-reward",
        choices=("auto", "shared", "sum"),
        default="auto",
        help="team reward rule: the env's declaration (auto), or force shared / sum",
    )
    parser.add_argument(
        "--cycles", type=int, default=100, metavar="N", help="steps per episode in PettingZoo's tests (default 100)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random episodes (default 0)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_CHECK_TIMEOUT_S,
        metavar="S",
        help="fail a check that takes longer than S seconds, e.g. a step() that never returns, and skip "
        f"the rest (default {DEFAULT_CHECK_TIMEOUT_S:g}; 0: no limit)",
    )


def main(args: argparse.Namespace) -> int:
    from qmixbench.check import check_env, failed, format_table
    from qmixbench.entry_points import EnvSpecError, parse_env_string

    if args.cycles <= 0:
        raise UsageError(f"--cycles must be > 0, got {args.cycles}")
    if not 0 <= args.timeout < float("inf"):
        raise UsageError(f"--timeout must be a number of seconds >= 0 (0: no limit), got {args.timeout:g}")
    try:
        _, env_kwargs = parse_env_string("env?" + "&".join(args.env_args)) if args.env_args else ("", {})
        parse_env_string(args.env)
    except EnvSpecError as exc:
        raise UsageError(str(exc).replace("env 'env?", "--set '")) from exc
    results = check_env(
        args.env,
        env_kwargs,
        team_reward=args.team_reward,
        num_cycles=args.cycles,
        seed=args.seed,
        timeout_s=args.timeout or None,
    )
    print(f"qmixbench check {args.env}")
    print(format_table(results))
    n_failed = sum(r.status == "FAIL" for r in results)
    if failed(results):
        print(f"\n{n_failed} check(s) failed: this env cannot be benchmarked as it is.")
        return 1
    print("\nall checks passed" + (" (see the warnings above)" if any(r.status == "warn" for r in results) else ""))
    return 0

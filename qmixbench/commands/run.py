"""``qmixbench run``: train every env x algo x seed (or a suite), then print and save the summary.

Examples::

    qmixbench run --env multigrid --algos qmix,vdn
    qmixbench run --env matrix/two-step-v0,matrix/climbing-v0 --algos qmix,vdn,iql --seeds 0-4
    qmixbench run --env multigrid --algos qmix --seeds 0 --logger tensorboard --device cuda
    qmixbench run --suite benchmarks/smoke.toml --workers 2
    qmixbench run --suite benchmarks/multigrid-core.toml --executor ray --address auto
    qmixbench run --suite benchmarks/matrix.toml --resume
    qmixbench run --suite benchmarks/smax.toml --out results/reference/smax --resume --dry-run
    qmixbench run --env lbf/8x8-2p-2f-coop-v3 --algos qmix,vdn,iql --seeds 0,1,2,3,4 --protocol papoudakis2021
    qmixbench run --env matrix/climbing-v0 --algos qmix,vdn --grid lr=1e-3,5e-4 --grid mixer.embed_dim=32,64
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from qmixbench.cli import UsageError
from qmixbench.watchdog import DEFAULT_RUN_TIMEOUT_S, DEFAULT_STEP_TIMEOUT_S, Limits

if TYPE_CHECKING:
    from qmixbench.config import RunSpec

DEFAULT_ALGOS = "qmix,vdn,iql"
DEFAULT_SEEDS = "0,1,2"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--env",
        metavar="ID[,ID...]",
        help="env ids, family names (multigrid = its default task), globs (multigrid/*) or entry points "
        "(module:factory, path/file.py:factory), each with optional ?key=value&key=value arguments",
    )
    what.add_argument("--suite", metavar="FILE", type=Path, help="a suite TOML file (see benchmarks/README.md)")
    parser.add_argument(
        "--algos", metavar="A[,A...]", help=f"algorithm presets (default {DEFAULT_ALGOS}, or the suite's)"
    )
    parser.add_argument(
        "--seeds",
        metavar="S[,S...]",
        help=f"seeds and inclusive ranges: 0,1,2 or 0-4 (seeds 0 to 4); 5 is seed 5 (default {DEFAULT_SEEDS}, "
        "or the suite's)",
    )
    parser.add_argument(
        "--protocol",
        metavar="NAME",
        help="apply a named protocol's per-family settings under --set (see docs/protocols.md; "
        "default: the suite's, else none)",
    )
    parser.add_argument("--steps", type=int, metavar="N", help="total env steps per run (sets total_env_steps)")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="results directory (default results/<suite name or timestamp>)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set lr=1e-3 --set mixer.embed_dim=16 (repeatable)",
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="sweep a config key: every combination of the --grid values is a variant with its own run "
        "directories, e.g. --grid lr=1e-3,5e-4 --grid mixer.embed_dim=32,64 (repeatable; adds to or "
        "replaces, key by key, the suite's [grid])",
    )
    parser.add_argument(
        "--workers", type=int, metavar="K", help="parallel runs in the local process pool (default: one per core)"
    )
    parser.add_argument(
        "--executor",
        choices=("process", "serial", "ray"),
        default="process",
        help="process: local pool (default); serial: in this process; ray: tasks on a Ray cluster",
    )
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: start a local Ray instance)")
    parser.add_argument(
        "--device",
        metavar="DEV",
        help="torch device for the learner: cpu, cuda, cuda:1 (sets device; default cpu, or the suite's)",
    )
    parser.add_argument(
        "--logger",
        dest="loggers",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="also send every metrics.csv row to a tracker: tensorboard, wandb or mlflow (repeatable; each "
        "is an extra, e.g. pip install 'qmixbench[tensorboard]'); metrics.csv is always written",
    )
    parser.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep each finished run's checkpoint.pt with its replay buffer (default: only agent.pt and final.pt)",
    )
    parser.add_argument("--resume", action="store_true", help="skip finished runs in --out, continue interrupted ones")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check everything, then list each run and what the command would do with it (run, skip as done, "
        "continue from its checkpoint), and the env steps left to train; writes nothing",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=DEFAULT_RUN_TIMEOUT_S,
        metavar="S",
        help=f"fail a run that takes longer than S seconds (default {DEFAULT_RUN_TIMEOUT_S:g}; 0: no limit)",
    )
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=DEFAULT_STEP_TIMEOUT_S,
        metavar="S",
        help="fail a run whose env construction, reset() or step() does not return within S seconds "
        f"(default {DEFAULT_STEP_TIMEOUT_S:g}; 0: no limit); the process executor kills the worker",
    )
    parser.add_argument(
        "--trust-entry-points",
        action="store_true",
        help="import and call entry points (module:factory) that the --suite file names: runs their code",
    )
    # Tests inject a fake train() here ("module:function"); not part of the user interface.
    parser.add_argument("--train-fn", default="qmixbench.train:train", help=argparse.SUPPRESS)


def _split(text: str) -> list[str]:
    """Split on commas outside brackets and quotes, so ``env?sizes=[3,4]`` stays one item; drop empties."""
    from qmixbench.grid import split_values

    return [t for t in split_values(text) if t]


def _seeds(text: str) -> list[int]:
    from qmixbench.sweep import SweepError, parse_seeds

    try:
        return parse_seeds(text)
    except SweepError as exc:
        raise UsageError(f"--seeds {text}: {exc}") from exc


def _names(flag: str, text: str) -> list[str]:
    """A comma-separated list given on the command line; an empty one is refused, never defaulted."""
    items = _split(text)
    if not items:
        raise UsageError(f"{flag} is empty ({text!r}); give comma-separated names")
    return items


def _plan_text(specs: list[RunSpec], done: list[RunSpec], out: Path, resume: bool) -> str:
    """What ``run`` would do with each spec (``done``: :func:`qmixbench.sweep.plan`'s finished runs), one
    line each, then the totals (``--dry-run``)."""
    from qmixbench.lock import live_holder
    from qmixbench.recorder import read_status, run_dir
    from qmixbench.sweep.jobs import start_mode

    finished = {run_dir(out, s.env, s.algo, s.seed, s.variant) for s in done}
    lines, left, counts = [], 0, {"run": 0, "skip": 0, "continue": 0}
    for spec in specs:
        directory = run_dir(out, spec.env, spec.algo, spec.seed, spec.variant)
        total = spec.config.total_env_steps
        if directory in finished:  # plan() has read it already: nothing more to read
            action, todo = "skip: done", 0
        else:
            problem, from_checkpoint = start_mode(directory, resume)  # as sweep.run_job will decide
            status = read_status(directory) if resume and problem is None else None
            state = status.get("status") if status else None
            if problem is not None:
                action, todo = f"run: damaged ({problem}), starts again", total
            elif from_checkpoint:
                steps = int(status.get("env_steps") or 0) if status else 0
                action, todo = f"continue: {state} at {steps:,} env steps, from its last checkpoint", total - steps
            else:
                action, todo = ("run" if state is None else f"run: {state}, no checkpoint, starts again"), total
        counts[action.split(":")[0]] += 1
        left += todo
        arm = f"{spec.algo}[{spec.variant}]" if spec.variant else spec.algo
        lines.append(f"  {spec.env}  {arm}  seed {spec.seed}  {total:,} env steps  -> {action}")
    head = (
        f"dry run: {len(specs)} runs -> {out}: {counts['run']} to run, {counts['continue']} to continue, "
        f"{counts['skip']} done; ~{left:,} env steps left to train (a continued run also redoes the steps "
        "since its last checkpoint)"
    )
    holder = live_holder(out)
    busy = [f"note: {out} is in use by a live command ({holder}): a real run would be refused now"] if holder else []
    return "\n".join([head, *busy, *lines])


def _limits(args: argparse.Namespace) -> Limits:
    for flag, value in (("--run-timeout", args.run_timeout), ("--step-timeout", args.step_timeout)):
        if not value >= 0 or value == float("inf"):
            raise UsageError(f"{flag} must be a number of seconds >= 0 (0: no limit), got {value:g}")
    return Limits(args.run_timeout or None, args.step_timeout or None)


def main(args: argparse.Namespace) -> int:
    from qmixbench import health, report, results, sweep
    from qmixbench.config import ConfigError, parse_set_args
    from qmixbench.entry_points import EnvSpecError, check_trusted
    from qmixbench.grid import GridError, parse_grid_args
    from qmixbench.lock import ResultsDirError, ResultsLock
    from qmixbench.loggers import TrackerError, check_loggers
    from qmixbench.recorder import atomic_write_text
    from qmixbench.suite import SuiteError, load_suite
    from qmixbench_envs import UnknownEnvError

    limits = _limits(args)
    try:
        overrides: dict[str, object] = dict(parse_set_args(args.overrides))
        if args.steps is not None:
            overrides["total_env_steps"] = args.steps
        if args.device is not None:
            overrides["device"] = args.device
        loggers = check_loggers([n for text in args.loggers for n in _names("--logger", text)])
        suite = load_suite(args.suite) if args.suite else None
        for env in suite.envs if suite else ():  # before expansion: it imports entry points
            check_trusted(env, f"suite {args.suite}", trusted=args.trust_entry_points)
        # "is not None": an empty --env/--algos/--seeds is an error, not a request for the defaults.
        envs = _names("--env", args.env) if args.env is not None else list(suite.envs)  # type: ignore[union-attr]
        algos = sweep.check_algos(
            _names("--algos", args.algos)
            if args.algos is not None
            else (suite.algos if suite else _split(DEFAULT_ALGOS))
        )
        if args.seeds is not None:
            seeds = _seeds(args.seeds)
        else:
            seeds = list(suite.seeds) if suite else _seeds(DEFAULT_SEEDS)
        protocol = args.protocol or (suite.protocol if suite else "") or None
        grid = {**(suite.grid if suite else {}), **parse_grid_args(args.grid)}
        specs = sweep.expand(envs, algos, seeds, overrides, suite=suite, protocol=protocol, grid=grid)
        # How a run reports and what it keeps, not how it trains: set on the specs, outside their config.
        specs = [dataclasses.replace(s, loggers=loggers, keep_checkpoints=args.keep_checkpoints) for s in specs]
        if args.resume and not (args.out or suite):
            raise UsageError("--resume needs --out DIR (or --suite, whose default --out is results/<suite name>)")
        out = args.out or Path("results") / (suite.name if suite else time.strftime("%Y-%m-%dT%H-%M-%S"))
        if args.train_fn == sweep.DEFAULT_TRAIN:  # a stand-in train function (tests) builds no env
            sweep.check_envs(specs, limits)  # before the lock: a bad env leaves no --out behind
        if args.dry_run:
            _, done = sweep.plan(specs, out, args.resume)  # the same refusal of an occupied --out as a real run
            print(_plan_text(specs, done, out, args.resume))
            return 0
        # Held until the summary is written: nothing else writes runs (or summary.csv) into out meanwhile.
        with ResultsLock(out) as lock:
            sweep.plan(specs, out, args.resume)  # refuse an occupied --out before anything is printed
            old_summary = report.read_run_summary(Path(out) / "summary.csv")  # refuse a foreign one up front
            print(
                f"{len(specs)} runs ({len(specs) // len(seeds)} env x algo{' x variant' if grid else ''}, "
                f"{len(seeds)} seeds) -> {out}",
                file=sys.stderr,
            )
            outcomes = sweep.execute(
                specs,
                out,
                executor=args.executor,
                workers=args.workers,
                address=args.address,
                resume=args.resume,
                train_fn=args.train_fn,
                limits=limits,
                lock=lock,
            )
            ours = {o.run_dir for o in outcomes}
            table = results.load([out])
            table = table[table["run_dir"].isin(ours)]
            summary = report.run_summary(table)
            merged = report.merge_run_summary(old_summary, summary)
            atomic_write_text(Path(out) / "summary.csv", merged.to_csv(index=False))
    except (
        SuiteError,
        GridError,
        ConfigError,
        UnknownEnvError,
        EnvSpecError,
        sweep.SweepError,
        ResultsDirError,
        results.SchemaError,
        TrackerError,
    ) as exc:
        raise UsageError(str(exc)) from exc

    shown = report.drop_empty_variants(summary)
    shown.insert(
        list(shown.columns).index("seeds") + 1,
        "return",
        [
            f"{m:.4g} ± {s:.2g}" if s == s else f"{m:.4g}"
            for m, s in zip(shown.pop("return_mean"), shown.pop("return_std"))
        ],
    )
    print()
    print(report.format_table(shown))
    print(f"\nsummary: {Path(out) / 'summary.csv'}; full report: qmixbench report {out}")
    for line in health.notes(health.flagged(health.td_loss_growth(table)), f"qmixbench report {out}"):
        print(line)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        print(f"\n{len(failed)} of {len(outcomes)} runs failed (traceback in each run's status.json):", file=sys.stderr)
        import pandas as pd

        frame = pd.DataFrame(
            [{"env": o.env, "algo": o.algo, "seed": o.seed, "error": o.error, "run_dir": o.run_dir} for o in failed]
        )
        print(report.format_table(frame), file=sys.stderr)
        return 1
    return 0

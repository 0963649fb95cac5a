"""The ``qmixbench`` command: argparse subcommands; parsing, validation and dispatch only.

Each subcommand lives in ``qmixbench.commands.<name>`` and exposes ``add_arguments(parser)`` and
``main(args) -> int``; the "Examples::" block of its module docstring becomes its ``--help`` epilog.
Modules are imported only when their command runs, so ``qmixbench report`` and ``qmixbench list``
never import torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from qmixbench import __version__
from qmixbench.errors import QmixbenchError
from qmixbench.interrupts import interrupt_on_sigterm

DESCRIPTION = """\
Benchmark cooperative multi-agent Q-learning (QMIX, VDN, IQL, CW/OW-QMIX, QPLEX) on PettingZoo
parallel envs: train every env x algorithm x seed, evaluate greedily and decentralised, and report
statistics with confidence intervals."""

EXAMPLES = """\
examples:
  qmixbench list envs
  qmixbench run --env matrix/two-step-v0 --algos qmix,vdn --seeds 0-4 --out results/two-step
  qmixbench run --suite benchmarks/smoke.toml --logger tensorboard
  qmixbench report results/two-step
  qmixbench eval results/two-step/matrix__two-step-v0/qmix/seed_0

Run `qmixbench COMMAND --help` for a command's options and examples."""

COMMANDS: dict[str, str] = {
    "run": "train every env x algo x seed (or a --suite), evaluate greedily, summarise",
    "report": "aggregate result directories into tables, CSV, Markdown and learning-curve plots",
    "list": "list registered envs, algorithms, or the runs in a results directory",
    "eval": "replay a trained run's agents decentralised; optionally write a GIF",
    "explain": "print a matrix-game run's learned Q_tot table beside the true payoffs",
    "check": "run PettingZoo's conformance tests and qmixbench's requirements on an env",
}


class UsageError(QmixbenchError):
    """Bad input from the user: printed as one line, exit status 2."""


def examples(doc: str | None) -> str:
    """The "Examples::" block of a command module's docstring, as an argparse epilog ("" if none)."""
    lines = (doc or "").splitlines()
    if "Examples::" not in lines:
        return ""
    block: list[str] = []
    for line in lines[lines.index("Examples::") + 1 :]:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return "examples:\n" + "\n".join(f"  {line.strip()}" for line in block if line.strip())


def _add_global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    """Flags accepted before and after the command; the command's copy defaults to SUPPRESS so that
    ``qmixbench -v run`` is not undone by the subparser's own default."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log debug messages")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qmixbench",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qmixbench {__version__}")
    _add_global_flags(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        _add_global_flags(command, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Only the chosen command's module is imported, and it adds its own arguments before parsing.
    command = next((a for a in argv if a in COMMANDS), None)
    module = None
    if command is not None:
        module = importlib.import_module(f"qmixbench.commands.{command}")
        sub_action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub_parser = sub_action.choices[command]
        sub_parser.epilog = examples(module.__doc__)
        module.add_arguments(sub_parser)
    args = parser.parse_args(argv)
    assert module is not None  # argparse has exited unless a valid command was given
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        with interrupt_on_sigterm():  # a background sweep stopped with kill ends like Ctrl-C (qmixbench.interrupts)
            return int(module.main(args) or 0)
    except UsageError as exc:
        print(f"qmixbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run as ``python -m qmixbench.cli`` this file is ``__main__``, a second copy of the module: the
    # commands raise ``qmixbench.cli.UsageError``, which only the imported module's main() catches.
    from qmixbench.cli import main as package_main

    raise SystemExit(package_main())

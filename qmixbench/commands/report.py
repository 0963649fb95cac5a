"""``qmixbench report PATH...``: statistics tables, CSV, learning curves and report.md. Never imports torch.

Examples::

    qmixbench report results/matrix
    qmixbench report results/a results/b --group-by env,algo,config.lr --sort=-return_iqm
    qmixbench report results/reference/papoudakis2021 --published benchmarks/published/papoudakis2021.csv
    qmixbench report results/reference/multigrid-core --algos qmix,vdn,iql --md out/report.md --csv out/report.csv
    qmixbench report results/smoke --columns seeds,return_iqm,iqm_ci_low,iqm_ci_high --csv out.csv --md out/report.md
    qmixbench report results/matrix --references benchmarks/reference-scores.csv --marl-eval results/matrix/marl-eval.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from qmixbench.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="results directories or run directories")
    parser.add_argument(
        "--group-by",
        metavar="COLS",
        help="columns to group runs by (default env,algo, and variant when the runs include a config grid; "
        "any config.<key> works, e.g. config.lr)",
    )
    parser.add_argument(
        "--algos",
        metavar="LIST",
        help="report only these algorithms (comma-separated, as named in the runs); the cross-task aggregates "
        "then take every task these algorithms all ran",
    )
    parser.add_argument("--envs", metavar="LIST", help="report only these env ids (comma-separated)")
    parser.add_argument(
        "--sort", metavar="COL", help="sort the summary by a column; prefix - for descending (e.g. -return_iqm)"
    )
    parser.add_argument(
        "--columns", metavar="COLS", help="summary columns to show (default all; see results/README.md)"
    )
    parser.add_argument(
        "--csv",
        type=Path,
        metavar="PATH",
        help="summary CSV (default PATH/report.csv; PoI beside it as *_improvement.csv)",
    )
    parser.add_argument(
        "--md", type=Path, metavar="PATH", help="Markdown report (default PATH/report.md; PNGs in its curves/ folder)"
    )
    parser.add_argument(
        "--published",
        type=Path,
        metavar="FILE",
        help="a published-numbers CSV (benchmarks/published/): put the paper's value and interval beside ours, "
        "computed with the paper's metric definitions (written to *_published.csv and report.md)",
    )
    parser.add_argument(
        "--references",
        type=Path,
        metavar="FILE",
        help="per-task reference points (random and best return) for normalised scores and the cross-task "
        "aggregates (default: the source tree's benchmarks/reference-scores.csv, when present)",
    )
    parser.add_argument(
        "--marl-eval", type=Path, metavar="FILE", help="also write the runs as a marl-eval raw-data JSON file"
    )
    parser.add_argument("--reps", type=int, default=2000, metavar="N", help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap's random generator (default 0)")
    parser.add_argument(
        "--include-incomplete", action="store_true", help="also score runs that are not done (their last evaluation)"
    )


def print_damaged(damaged: dict[str, str]) -> None:
    """Name each damaged run that was skipped, and why (one line each, on stderr)."""
    for reason in damaged.values():
        print(f"skipped a damaged run: {reason}", file=sys.stderr)
    if damaged:
        print(f"{len(damaged)} damaged run(s) skipped; `qmixbench run ... --resume` runs them again", file=sys.stderr)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _select(tables: tuple[Any, Any], column: str, wanted: str | None, option: str) -> tuple[Any, Any]:
    """Keep the rows of both tables whose ``column`` is in the comma-separated ``wanted`` (None: all).

    A name no run has is an error naming the valid ones, never an empty report."""
    if wanted is None:
        return tables
    names = _split(wanted)
    present = sorted(set(tables[1][column]))
    unknown = [n for n in names if n not in present]
    if unknown or not names:
        raise UsageError(f"{option}: no runs of {', '.join(unknown) or repr(wanted)}; valid: {', '.join(present)}")
    return tuple(t[t[column].isin(names)].reset_index(drop=True) for t in tables)  # type: ignore[return-value]


def _cross_task(args: argparse.Namespace, table: Any) -> tuple[Any, Any, dict[str, Any], str]:
    """(cross-task matrices, aggregate table, reference points, their file) or Nones when no file is there."""
    from qmixbench import cross_task
    from qmixbench.references import DEFAULT_FILE, ReferenceError, load_references

    path = args.references or (DEFAULT_FILE if DEFAULT_FILE.exists() else None)
    if path is None:
        return None, None, {}, ""
    try:
        references = load_references(path)
    except ReferenceError as exc:
        raise UsageError(str(exc)) from exc
    cross = cross_task.score_matrices(table, references, include_incomplete=args.include_incomplete)
    aggregates = cross_task.aggregate_table(cross, reps=args.reps, seed=args.seed) if cross.matrices else None
    try:  # name the file as the user would type it: relative to the working directory when inside it
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    return cross, aggregates, references, shown


def main(args: argparse.Namespace) -> int:
    import json

    from qmixbench import cross_task, health, marl_eval, published, report, results, success
    from qmixbench.recorder import atomic_write_text

    if args.reps < 1:
        raise UsageError(f"--reps must be >= 1 (bootstrap resamples), got {args.reps}")
    damaged: dict[str, str] = {}
    try:
        table = results.load(args.paths, damaged)
        run_table = results.runs(args.paths, damaged)
    except (FileNotFoundError, results.SchemaError) as exc:
        raise UsageError(str(exc)) from exc
    print_damaged(damaged)
    if run_table.empty:
        raise UsageError(f"no {'readable ' if damaged else ''}runs found under {', '.join(map(str, args.paths))}")
    table, run_table = _select((table, run_table), "algo", args.algos, "--algos")
    table, run_table = _select((table, run_table), "env", args.envs, "--envs")
    export = None
    if args.marl_eval:  # before any file is written: an export marl-eval would misread stops the command
        try:
            export = marl_eval.marl_eval_data(table, args.include_incomplete)
        except marl_eval.ExportError as exc:
            raise UsageError(f"--marl-eval: {exc}") from exc
    group_by = _split(args.group_by) if args.group_by else list(report.default_group_by(table))
    try:
        summary = report.summarize(
            table, group_by, reps=args.reps, seed=args.seed, include_incomplete=args.include_incomplete
        )
    except KeyError as exc:
        raise UsageError(exc.args[0]) from exc
    if args.sort:
        column = args.sort.lstrip("-")
        if column not in summary.columns:
            raise UsageError(f"unknown --sort column {column!r}; valid: {', '.join(summary.columns)}")
        summary = summary.sort_values(column, ascending=not args.sort.startswith("-"), kind="stable", ignore_index=True)
    if args.columns:
        columns = _split(args.columns)
        bad = [c for c in columns if c not in summary.columns]
        if bad:
            raise UsageError(f"unknown --columns {', '.join(bad)}; valid: {', '.join(summary.columns)}")
        summary = summary[[c for c in group_by if c not in columns] + columns]
    beside = None
    try:
        studied = published.protocol_metrics(table, include_incomplete=args.include_incomplete)
        if args.published:
            beside = published.compare(
                table, published.load_published(args.published), include_incomplete=args.include_incomplete
            )
    except published.PublishedError as exc:
        raise UsageError(str(exc)) from exc
    cross, aggregates, references, ref_source = _cross_task(args, table)
    poi = report.improvement(table, reps=args.reps, seed=args.seed, include_incomplete=args.include_incomplete)
    wins = success.success_summary(table, reps=args.reps, seed=args.seed, include_incomplete=args.include_incomplete)
    wins_poi = success.success_improvement(
        table, reps=args.reps, seed=args.seed, include_incomplete=args.include_incomplete
    )
    growth = health.td_loss_growth(table)
    unhealthy = health.flagged(growth)
    shown_poi = report.drop_empty_variants(poi)
    diff = report.config_diff(table)

    base = args.paths[0] if args.paths[0].is_dir() else args.paths[0].parent
    csv_path = args.csv or base / "report.csv"
    md_path = args.md or base / "report.md"
    report.write_csv(summary, csv_path)
    report.write_csv(poi, csv_path.with_name(csv_path.stem + "_improvement.csv"))
    report.write_markdown(
        md_path,
        table,
        summary,
        poi,
        diff,
        run_table,
        [str(p) for p in args.paths],
        results.provenance(args.paths),
        reps=args.reps,
        include_incomplete=args.include_incomplete,
    )
    if cross is not None and aggregates is not None:
        report.write_csv(aggregates, csv_path.with_name(csv_path.stem + "_aggregates.csv"))
        report.write_csv(cross.normalised, csv_path.with_name(csv_path.stem + "_normalised.csv"))
        png = cross_task.plot_performance_profile(
            cross, md_path.parent / "performance-profile.png", reps=args.reps, seed=args.seed
        )
        section = cross_task.markdown_section(
            cross, aggregates, references, ref_source, png.name if png else None, args.reps
        )
        atomic_write_text(md_path, md_path.read_text(encoding="utf-8") + "\n" + section)
    if args.marl_eval:
        atomic_write_text(args.marl_eval, json.dumps(export) + "\n")
    if len(wins):
        report.write_csv(wins, csv_path.with_name(csv_path.stem + "_success.csv"))
        report.write_csv(wins_poi, csv_path.with_name(csv_path.stem + "_success_improvement.csv"))
        section = success.markdown_section(wins, wins_poi)
        atomic_write_text(md_path, md_path.read_text(encoding="utf-8") + "\n" + section)
    if len(growth):
        report.write_csv(growth, csv_path.with_name(csv_path.stem + "_health.csv"))
    if len(unhealthy):
        atomic_write_text(md_path, md_path.read_text(encoding="utf-8") + "\n" + health.markdown_section(unhealthy))
    if len(studied):
        report.write_csv(studied, csv_path.with_name(csv_path.stem + "_protocol.csv"))
        atomic_write_text(md_path, md_path.read_text(encoding="utf-8") + "\n" + published.protocol_section(studied))
    if beside is not None:
        report.write_csv(beside, csv_path.with_name(csv_path.stem + "_published.csv"))
        section = published.markdown_section(beside, str(args.published))
        atomic_write_text(md_path, md_path.read_text(encoding="utf-8") + section)

    not_done = run_table[run_table["status"] != "done"]
    print(report.format_table(summary))
    if len(poi):
        print("\nProbability of improvement, P(algo_x > algo_y), 95% CI:")
        print(report.format_table(shown_poi))
    print(
        "\nConfig keys that differ between the algorithms:"
        if len(diff)
        else "\nConfig: the algorithms differ in no key."
    )
    if len(diff):
        print(report.format_table(diff))
    if len(wins):
        print("\nSuccess (win) rate at the final evaluation, 95% CI (P(improvement) on it: report.md):")
        print(report.format_table(report.drop_empty_variants(wins)))
    if len(studied):
        print("\nThe protocol's metrics (its study's definitions and return convention), 95% CI:")
        print(report.format_table(studied))
    if beside is not None:
        print(f"\nPublished ({args.published}) beside ours, the paper's metric definitions:")
        print(report.format_table(beside.drop(columns=["source"])))
    if cross is not None and aggregates is not None:
        print(f"\nAcross {len(cross.tasks)} task(s), normalised scores (0 random, 1 best; {ref_source}), 95% CI:")
        print(report.format_table(report.drop_empty_variants(aggregates)))
    for note in cross.notes if cross is not None else ():
        print(f"note: {note}")
    for line in health.notes(unhealthy, "report.md, learner health"):
        print(line)
    if len(not_done):
        counts = ", ".join(f"{n} {s}" for s, n in not_done["status"].value_counts().items())
        print(f"\nnot scored: {counts} (see `qmixbench list runs`; --include-incomplete scores them)")
    print(f"\nwrote {csv_path}, {md_path}" + (f", {args.marl_eval}" if args.marl_eval else ""))
    return 0

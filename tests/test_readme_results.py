"""The README's result tables say what the committed reference reports say.

"Results in brief" in README.md is written by hand from the reports under ``results/reference/``.
These tests parse each of its tables and compare every number in it with the report file the text
cites, at the precision the README prints (a number printed with d decimals must be within half a
unit of its d-th decimal of the report's value). A reference run that is extended, or a report that
is regenerated with different values, then fails here until the README says the same.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import _markdown as markdown
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REFERENCE = ROOT / "results" / "reference"
NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(k?)(?![\w.])")


def readme_table(header_start: str) -> dict[str, list[str]]:
    """The README table whose header row starts with ``header_start``: {first cell: the other cells}."""
    _header, rows = markdown.table(README.read_text(encoding="utf-8"), header_start)
    return {row[0]: row[1:] for row in rows}


def printed_numbers(text: str) -> list[tuple[float, float]]:
    """Each number in a README cell with the rounding its printed digits allow: [(value, tolerance)]
    ("350k" is 350,000 to the nearest 500)."""
    found = []
    for digits, kilo in NUMBER.findall(text):
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        scale = 1000.0 if kilo else 1.0
        found.append((float(digits) * scale, 0.5 * 10.0**-decimals * scale + 1e-9))
    return found


def assert_cell(text: str, expected: list[float], where: str) -> None:
    printed = printed_numbers(text)
    assert len(printed) == len(expected), (
        f"{where}: README cell {text!r} has {len(printed)} numbers, expected {expected}"
    )
    for (value, tolerance), want in zip(printed, expected):
        assert abs(value - want) <= tolerance, f"{where}: README says {text!r}, the report says {expected}"


def row_for(rows: dict[str, list[str]], label_start: str) -> list[str]:
    matches = [cells for label, cells in rows.items() if label.startswith(label_start)]
    assert len(matches) == 1, f"README table rows starting {label_start!r}: {len(matches)}"
    return matches[0]


def report(suite: str, name: str = "report.csv") -> pd.DataFrame:
    return pd.read_csv(REFERENCE / suite / name, keep_default_na=False, na_values=[""])


def one(frame: pd.DataFrame, **where: str) -> pd.Series:
    rows = frame
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, f"{where}: {len(rows)} rows in the report"
    return rows.iloc[0]


def p_improve(frame: pd.DataFrame, env: str, x: str, y: str) -> list[float]:
    row = one(frame, env=env, algo_x=x, algo_y=y)
    return [row.p_improve, row.ci_low, row.ci_high]


PRESETS = {"QMIX": "qmix", "VDN": "vdn", "IQL": "iql", "CW-QMIX": "cw-qmix", "OW-QMIX": "ow-qmix", "QPLEX": "qplex"}


def test_matrix_table_is_the_matrix_report():
    rows = readme_table("| game | optimum | QMIX |")
    header = ["QMIX", "VDN", "IQL", "CW-QMIX", "OW-QMIX", "QPLEX"]
    summary = report("matrix")
    scores = pd.read_csv(ROOT / "benchmarks" / "reference-scores.csv")
    games = {
        "two-step": "matrix/two-step-v0",
        "Weighted-QMIX one-step": "matrix/wqmix-one-step-v0",
        "climbing": "matrix/climbing-v0",
        "penalty": "matrix/penalty-v0",
    }
    for label, env in games.items():
        cells = row_for(rows, label)
        assert_cell(cells[0], [one(scores, env=env).best_return], f"{env} optimum")
        for name, cell in zip(header, cells[1:]):
            assert_cell(cell, [one(summary, env=env, algo=PRESETS[name]).return_iqm], f"{env} {name}")


def test_multigrid_core_table_is_the_core_report():
    rows = readme_table("| task | budget | QMIX | VDN | IQL | P(QMIX > VDN)")
    summary = report("multigrid-core")
    improvement = report("multigrid-core", "report_improvement.csv")
    tasks = {
        "two-step vault": "multigrid/two-step-vault-v0",
        "collect-8x8": "multigrid/collect-8x8-v0",
        "empty-6x6": "multigrid/empty-6x6-v0",
    }
    for label, env in tasks.items():
        budget, *arms, versus_vdn, versus_iql = row_for(rows, label)
        assert_cell(budget, [one(summary, env=env, algo="qmix").final_env_steps], f"{env} budget")
        for name, cell in zip(["QMIX", "VDN", "IQL"], arms):
            row = one(summary, env=env, algo=PRESETS[name])
            assert row.seeds >= 5, f"{env} {name}: the README's table is over 5 seeds"
            assert_cell(cell, [row.return_iqm, row.iqm_ci_low, row.iqm_ci_high], f"{env} {name}")
        assert_cell(versus_vdn, p_improve(improvement, env, "qmix", "vdn"), f"{env} P(QMIX > VDN)")
        assert_cell(versus_iql, p_improve(improvement, env, "qmix", "iql"), f"{env} P(QMIX > IQL)")


def _seeds_reaching(suite: str, env: str, algo: str, threshold: float) -> int:
    directory = REFERENCE / suite / env.replace("/", "__") / algo
    reached = 0
    for metrics in sorted(directory.glob("seed_*/metrics.csv")):
        success = pd.read_csv(metrics)["eval_success_rate"].dropna()
        reached += bool((success >= threshold).any())
    return reached


def test_multigrid_successors_table_is_the_core_report():
    rows = readme_table("| preset | two-step vault | collect-8x8")
    summary = report("multigrid-core")
    improvement = report("multigrid-core", "report_improvement.csv")
    vault, collect = "multigrid/two-step-vault-v0", "multigrid/collect-8x8-v0"
    for name in ["QMIX", "CW-QMIX", "OW-QMIX", "QPLEX"]:
        algo = PRESETS[name]
        vault_cell, collect_cell, *versus = row_for(rows, name)
        for env, cell in [(vault, vault_cell), (collect, collect_cell)]:
            row = one(summary, env=env, algo=algo)
            assert row.seeds >= 5, f"{env} {name}: the README's table is over 5 seeds"
            expected = [row.return_iqm, row.iqm_ci_low, row.iqm_ci_high]
            if env == collect:
                expected += [_seeds_reaching("multigrid-core", env, algo, 0.9), row.seeds]
            assert_cell(cell, expected, f"{env} {name}")
        for other, cell in zip(["qmix", "vdn", "iql"], versus):
            expected = [] if other == algo else p_improve(improvement, collect, algo, other)
            assert_cell(cell, expected, f"{collect} P({name} > {other})")


def test_multigrid_open_table_is_the_open_report():
    rows = readme_table("| task | QMIX | VDN | IQL | reading |")
    summary = report("multigrid-open")
    for label, cells in rows.items():
        env = f"multigrid/{label}-v0"
        for name, cell in zip(["QMIX", "VDN", "IQL"], cells):
            row = one(summary, env=env, algo=PRESETS[name])
            first = float(row.first_success_steps)
            expected = [row.return_iqm] + ([first] if math.isfinite(first) else [])
            assert_cell(cell, expected, f"{env} {name}")


def test_papoudakis_table_is_the_protocol_report():
    rows = readme_table("| task | random play | QMIX | VDN | IQL | published |")
    metrics = report("papoudakis2021", "report_protocol.csv")
    scores = pd.read_csv(ROOT / "benchmarks" / "reference-scores.csv")
    tasks = {
        "LBF 8x8-2p-2f-coop": "lbf/8x8-2p-2f-coop-v3",
        "MPE Speaker-Listener": "mpe/simple-speaker-listener-v4",
        "MPE Spread": "mpe/simple-spread-v3",
    }
    for label, env in tasks.items():
        random_play, *arms, _published = row_for(rows, label)
        if env in set(scores.env):
            assert_cell(random_play, [one(scores, env=env).random_return], f"{env} random play")
        for name, cell in zip(["QMIX", "VDN", "IQL"], arms):
            best = one(metrics, env=env, algo=PRESETS[name], metric="max_return")
            average = one(metrics, env=env, algo=PRESETS[name], metric="average_return")
            assert_cell(cell, [best.value, best.ci_low, best.ci_high, average.value], f"{env} {name}")


def test_smax_table_is_the_smax_win_rate_report():
    rows = readme_table("| map | QMIX | VDN | IQL | P(QMIX > VDN)")
    success = report("smax", "report_success.csv")
    improvement = report("smax", "report_success_improvement.csv")
    maps = {"3m": "smax/3m-v0", "2s3z": "smax/2s3z-v0", "5m_vs_6m": "smax/5m-vs-6m-v0"}
    for label, env in maps.items():
        *arms, qmix_vdn, qmix_iql, vdn_iql = row_for(rows, label)
        for name, cell in zip(["QMIX", "VDN", "IQL"], arms):
            algo = PRESETS[name]
            row = one(success, env=env, algo=algo)
            reached = _seeds_reaching("smax", env, algo, 0.9)
            assert_cell(cell, [row.success_iqm, row.ci_low, row.ci_high, reached, row.seeds], f"{env} {name}")
        assert_cell(qmix_vdn, p_improve(improvement, env, "qmix", "vdn"), f"{env} P(QMIX > VDN)")
        assert_cell(qmix_iql, p_improve(improvement, env, "qmix", "iql"), f"{env} P(QMIX > IQL)")
        assert_cell(vdn_iql, p_improve(improvement, env, "vdn", "iql"), f"{env} P(VDN > IQL)")


def test_a_cell_that_disagrees_with_its_report_fails():
    assert_cell("0.93 [0.91, 0.94]; 3 of 3", [0.927, 0.906, 0.9375, 3, 3], "example")
    with pytest.raises(AssertionError, match="the report says"):
        assert_cell("0.93 [0.91, 0.94]", [0.927, 0.906, 0.9551], "example")
    with pytest.raises(AssertionError, match="numbers"):
        assert_cell("0.85 (350k)", [0.845], "example")
    assert_cell("0.85 (350k)", [0.845, 350_000], "example")

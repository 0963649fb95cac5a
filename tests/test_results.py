"""Loading run directories into the tidy results table; schema checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from _fake_train import make_results, spec, train

from qmixbench import results
from qmixbench.recorder import METRIC_COLUMNS, atomic_write_json, run_dir


def test_load_is_tidy_with_checked_schema(tmp_path):
    make_results(tmp_path, algos=("qmix", "vdn"), seeds=(0, 1))
    table = results.load([tmp_path])
    assert len(table) == 2 * 2 * 4  # runs x evaluations
    assert list(table.columns[: len(results.SCHEMA)]) == list(results.SCHEMA)
    assert all(c in table.columns for c in results.CONFIG_COLUMNS)
    assert {str(table[c].dtype) for c in ("eval_return_mean", "td_loss")} == {"float64"}
    assert str(table["env_steps"].dtype) == "int64" and str(table["seed"].dtype) == "int64"
    assert set(table["status"]) == {"done"}
    assert set(table["config.mixer.kind"]) == {"qmix", "vdn"}
    assert set(table["config.total_env_steps"]) == {400}
    first = table[(table.algo == "qmix") & (table.seed == 1)]
    assert first["env_steps"].tolist() == [100, 200, 300, 400]
    assert first["eval_return_mean"].iloc[-1] == pytest.approx(8.1)
    results.check_schema(table)


def test_load_of_a_single_run_dir_and_of_nothing(tmp_path):
    make_results(tmp_path, algos=("qmix",), seeds=(0,))
    one = run_dir(tmp_path, "matrix/two-step-v0", "qmix", 0)
    assert len(results.load([one])) == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    table = results.load([empty])
    assert table.empty and list(table.columns[: len(results.SCHEMA)]) == list(results.SCHEMA)
    with pytest.raises(FileNotFoundError, match="no such"):
        results.load([tmp_path / "missing"])


def test_check_schema_rejects_wrong_tables(tmp_path):
    make_results(tmp_path, algos=("qmix",), seeds=(0,))
    table = results.load([tmp_path])
    with pytest.raises(results.SchemaError, match="missing column"):
        results.check_schema(table.drop(columns=["eval_return_mean"]))
    with pytest.raises(results.SchemaError, match="env_steps is float64"):
        results.check_schema(table.astype({"env_steps": "float64"}))
    bad = table.copy()
    bad["status"] = "weird"
    with pytest.raises(results.SchemaError, match="unknown status"):
        results.check_schema(bad)


def test_a_metrics_file_without_required_columns_is_named(tmp_path):
    make_results(tmp_path, algos=("qmix",), seeds=(0,))
    path = run_dir(tmp_path, "matrix/two-step-v0", "qmix", 0) / "metrics.csv"
    path.write_text("env_steps,foo\n100,1\n")
    damaged: dict[str, str] = {}
    assert results.load([tmp_path], damaged).empty
    assert damaged == {str(path.parent): f"{path}: missing column(s) eval_return_mean"}


def test_extra_metric_columns_are_ignored_missing_optional_ones_are_nan(tmp_path):
    make_results(tmp_path, algos=("qmix",), seeds=(0,))
    path = run_dir(tmp_path, "matrix/two-step-v0", "qmix", 0) / "metrics.csv"
    path.write_text("env_steps,eval_return_mean,new_metric\n" + "".join(f"{s},1.5,3\n" for s in (100, 200, 300, 400)))
    table = results.load([tmp_path])
    assert table["eval_return_mean"].tolist() == [1.5] * 4
    assert table["td_loss"].isna().all() and "new_metric" not in table


def test_runs_table_includes_failed_pending_and_interrupted_runs(tmp_path):
    make_results(tmp_path, algos=("qmix",), seeds=(0,))
    with pytest.raises(FloatingPointError):
        train(spec(algo="vdn", mode="nan"), tmp_path)
    # a run whose process died while it was running (pid that does not exist on this host)
    make_results(tmp_path, algos=("iql",), seeds=(0,))
    iql = run_dir(tmp_path, "matrix/two-step-v0", "iql", 0)
    status = json.loads((iql / "status.json").read_text())
    atomic_write_json(iql / "status.json", {**status, "status": "running", "env_steps": 200})
    import socket

    atomic_write_json(
        iql / "job.json",
        {
            "run": {"env": "matrix/two-step-v0", "algo": "iql", "seed": 0},
            "config": {},
            "pid": 2**22 + 12345,
            "host": socket.gethostname(),
        },
    )
    pending = run_dir(tmp_path, "matrix/climbing-v0", "qmix", 3)
    atomic_write_json(
        pending / "job.json", {"run": {"env": "matrix/climbing-v0", "algo": "qmix", "seed": 3}, "config": {}}
    )
    table = results.runs([tmp_path])
    results.check_schema(table, results.RUN_SCHEMA)
    by = {(r.algo, r.seed): r for r in table.itertuples()}
    assert by[("qmix", 0)].status == "done" and by[("qmix", 0)].env_steps == 400 and by[("qmix", 0)].evaluations == 4
    assert by[("vdn", 0)].status == "failed" and by[("vdn", 0)].evaluations == 0
    assert by[("vdn", 0)].error == "FloatingPointError: NaN in TD loss"
    assert by[("iql", 0)].status == "interrupted" and by[("iql", 0)].env_steps == 200
    assert by[("qmix", 3)].status == "pending" and by[("qmix", 3)].env == "matrix/climbing-v0"
    # the tidy table keeps only runs with evaluations, with their status
    assert set(results.load([tmp_path]).groupby("algo")["status"].first().items()) == {
        ("qmix", "done"),
        ("iql", "interrupted"),
    }


def test_final_evaluations_one_row_per_run(tmp_path):
    make_results(tmp_path, algos=("qmix", "vdn"), seeds=(0, 1, 2))
    finals = results.final_evaluations(results.load([tmp_path]))
    assert len(finals) == 6 and set(finals["env_steps"]) == {400}
    assert isinstance(finals, pd.DataFrame) and set(METRIC_COLUMNS) <= set(finals.columns)

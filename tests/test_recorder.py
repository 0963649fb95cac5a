"""Run files: layout, atomic writes, metrics rows and status."""

import csv
import os

import pytest

from qmixbench import recorder
from qmixbench.recorder import METRIC_COLUMNS, RunRecorder, read_status, run_dir, slug


def test_run_dir_layout_and_slugs(tmp_path):
    assert (
        run_dir(tmp_path, "multigrid/empty-8x8-v0", "qmix", 3)
        == tmp_path / "multigrid__empty-8x8-v0" / "qmix" / "seed_3"
    )
    assert "/" not in slug("mpe2.simple_spread_v3:parallel_env?N=3&local_ratio=0")


def test_metrics_csv_is_complete_after_each_eval(tmp_path):
    rec = RunRecorder(tmp_path / "run")
    rec.log_eval({"env_steps": 100, "eval_return_mean": 0.5, "td_loss": float("nan")})
    rec.log_eval({"env_steps": 200, "eval_return_mean": 0.75})
    with (tmp_path / "run" / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert [r["env_steps"] for r in rows] == ["100", "200"]
    assert rows[0]["td_loss"] == "" and rows[1]["eval_return_mean"] == "0.75"
    with pytest.raises(KeyError, match="valid"):
        rec.log_eval({"env_step": 1})


def test_resume_reloads_and_truncates(tmp_path):
    rec = RunRecorder(tmp_path)
    for step in (100, 200, 300):
        rec.log_eval({"env_steps": step})
    again = RunRecorder(tmp_path)
    again.load_metrics()
    again.truncate_metrics(200)
    again.log_eval({"env_steps": 250})
    with (tmp_path / "metrics.csv").open() as fh:
        assert [r["env_steps"] for r in csv.DictReader(fh)] == ["100", "200", "250"]


def test_status_round_trip(tmp_path):
    rec = RunRecorder(tmp_path)
    assert read_status(tmp_path) is None
    rec.set_status("failed", 42, error="ValueError: boom", traceback="Traceback ...")
    status = read_status(tmp_path)
    assert status["status"] == "failed" and status["env_steps"] == 42 and status["finished_at"] is not None
    with pytest.raises(ValueError, match="status must be one of"):
        rec.set_status("crashed")


def test_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "config.json"
    recorder.atomic_write_json(target, {"a": 1})

    def explode(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError):
        recorder.atomic_write_json(target, {"a": 2})
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"], "no temporary file is left behind"


def test_written_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        recorder.atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644

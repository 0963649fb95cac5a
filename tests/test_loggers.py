"""Trackers: every metrics.csv row reaches TensorBoard (read back from the event file), names are
namespaced, a missing package or an unknown name is one clear line."""

from __future__ import annotations

import csv
import importlib.util

import pytest

from qmixbench.loggers import LOGGERS, TRACKER_NAMES, TrackerError, check_loggers, hyperparameters, tracker_metrics
from qmixbench.recorder import METRIC_COLUMNS


def test_every_metrics_column_but_the_step_has_a_namespaced_tracker_name():
    assert set(TRACKER_NAMES) == set(METRIC_COLUMNS) - {"env_steps"}
    assert all(name.split("/")[0] in ("eval", "train", "perf") for name in TRACKER_NAMES.values())
    row = {"env_steps": 8, "eval_return_mean": 7.5, "eval_success_rate": float("nan"), "td_loss": "", "epsilon": "0.5"}
    assert tracker_metrics(row) == {"eval/return_mean": 7.5, "train/epsilon": 0.5}  # NaN and empty cells left out


def test_hyperparameters_are_scalars():
    params = hyperparameters({"run": {"env": "matrix", "env_kwargs": {"k": 3}, "loggers": []}, "config": {"lr": 1e-3}})
    assert params == {"run.env": "matrix", "run.env_kwargs.k": 3, "run.loggers": "[]", "config.lr": 1e-3}


def test_unknown_or_missing_tracker_is_one_line(monkeypatch):
    with pytest.raises(TrackerError, match="unknown logger 'csv'; valid: tensorboard, wandb, mlflow"):
        check_loggers(["csv"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(TrackerError, match=r"--logger wandb needs the wandb package: pip install 'qmixbench\[wandb\]'"):
        check_loggers(["wandb"])


def _scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None or importlib.util.find_spec("torch") is None,
    reason="needs the tensorboard extra (pip install 'qmixbench[tensorboard]') and torch",
)
def test_tensorboard_event_file_holds_every_eval_return(tmp_path):
    import qmixbench

    run_dir = qmixbench.run(
        "matrix/two-step-v0",
        "qmix",
        out=tmp_path,
        steps=120,
        overrides={"eval_interval": 40, "eval_episodes": 2},
        loggers=["tensorboard"],
    )
    with (run_dir / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    scalars = _scalars(run_dir / "tensorboard")
    expected = [(int(r["env_steps"]), float(r["eval_return_mean"])) for r in rows]
    assert len(expected) == 3
    assert [(s, pytest.approx(v)) for s, v in scalars["eval/return_mean"]] == expected
    assert [s for s, _ in scalars["perf/env_steps_per_s"]] == [s for s, _ in expected]
    assert "tensorboard" in LOGGERS

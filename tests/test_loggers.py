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


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None or importlib.util.find_spec("torch") is None,
    reason="needs the tensorboard extra (pip install 'qmixbench[tensorboard]') and torch",
)
def test_a_resumed_run_shows_each_eval_once_in_tensorboard(tmp_path, monkeypatch):
    """Rows logged after the checkpoint are dropped from metrics.csv on resume; TensorBoard must hide
    the same events (purge_step), so its curve equals the CSV's, with no duplicated step."""
    from pathlib import Path

    from qmixbench.algos import resolve_config
    from qmixbench.algos.learner import QLearner
    from qmixbench.config import RunSpec
    from qmixbench.train import train

    overrides = {"total_env_steps": 160, "n_envs": 2, "batch_size": 4, "buffer_size": 32, "eval_interval": 40}
    overrides |= {"eval_episodes": 2, "checkpoint_interval": 64, "hidden_dim": 8}
    config = resolve_config("qmix", overrides, env="matrix/climbing-v0")
    spec = RunSpec("matrix/climbing-v0", "qmix", 3, config, env_kwargs={"episode_limit": 5}, loggers=("tensorboard",))
    calls = {"n": 0}
    original = QLearner.update

    def crash_late(self, batch):
        calls["n"] += 1
        if calls["n"] == 12:  # after the checkpoint at env step 64 and the evaluation at 80
            raise RuntimeError("simulated crash")
        return original(self, batch)

    monkeypatch.setattr(QLearner, "update", crash_late)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(spec, tmp_path, progress=False)
    monkeypatch.setattr(QLearner, "update", original)
    run_dir = Path(train(spec, tmp_path, resume=True, progress=False)["run_dir"])
    with (run_dir / "metrics.csv").open() as fh:
        expected = [(int(r["env_steps"]), float(r["eval_return_mean"])) for r in csv.DictReader(fh)]
    assert [s for s, _ in expected] == [40, 80, 120, 160]
    assert [(s, pytest.approx(v)) for s, v in _scalars(run_dir / "tensorboard")["eval/return_mean"]] == expected

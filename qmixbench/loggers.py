"""Experiment trackers: every ``metrics.csv`` row also goes to TensorBoard, Weights & Biases or MLflow.

``qmixbench run --logger tensorboard`` (or ``wandb``, ``mlflow``; several comma-separated) names the
trackers; the choice travels to each worker in ``RunSpec.loggers`` and is recorded in the run's
``config.json``. ``train()`` opens one :class:`Tracker` per name with the run's resolved config as
hyperparameters and hands it every row it writes to ``metrics.csv``.

Correctness-critical decisions made here:

* **metrics.csv stays the source of truth.** ``report`` reads only the CSV; a tracker is a view. A
  tracker that fails while logging fails the run (a silently missing curve is worse than an error).
* **Names.** CSV columns map to namespaced tracker names in :data:`TRACKER_NAMES` (``eval_return_mean``
  -> ``eval/return_mean``); the x axis is ``env_steps``. NaN cells (no success rate reported, no
  update yet) are left out rather than plotted as gaps or zeros.
* **Resume.** A resumed run drops the CSV rows logged after its checkpoint; TensorBoard hides the
  same events (``purge_step``), while W&B and MLflow start a new tracker run named "... (resumed at
  step N)", since neither lets a run's steps go back. A fresh start deletes the run's old TensorBoard
  files.

Each tracker's package is an optional extra (``pip install 'qmixbench[tensorboard]'``); this module
imports it only when a tracker opens, so it stays torch-free and the CLI can check names up front.
"""

from __future__ import annotations

import abc
import importlib.util
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from qmixbench.config import SpecRecord, flatten
from qmixbench.errors import QmixbenchError

TRACKER_NAMES: dict[str, str] = {
    "episodes": "train/episodes",
    "updates": "train/updates",
    "eval_return_mean": "eval/return_mean",
    "eval_return_std": "eval/return_std",
    "eval_success_rate": "eval/success_rate",
    "eval_episode_len_mean": "eval/episode_len_mean",
    "train_return_mean": "train/return_mean",
    "td_loss": "train/td_loss",
    "epsilon": "train/epsilon",
    "wall_time_s": "perf/wall_time_s",
    "env_steps_per_s": "perf/env_steps_per_s",
}
"""metrics.csv column -> tracker metric name (every column but ``env_steps``, the x axis)."""


class TrackerError(QmixbenchError, ValueError):
    """An unknown tracker name, or a tracker whose package is not installed; one line saying what to do."""


def tracker_metrics(row: dict[str, Any]) -> dict[str, float]:
    """The tracker metrics of one metrics.csv row: namespaced names, NaN and empty cells left out."""
    out: dict[str, float] = {}
    for column, name in TRACKER_NAMES.items():
        value = row.get(column)
        if value in (None, ""):
            continue
        number = float(value)  # type: ignore[arg-type]
        if not math.isnan(number):
            out[name] = number
    return out


def hyperparameters(record: SpecRecord) -> dict[str, str | float | int | bool]:
    """The run record (``{"run": ..., "config": ...}``) flattened to scalar hyperparameters
    (``config.lr``, ``run.env``); lists, dicts and None become JSON text, as trackers take scalars."""
    flat = flatten(dict(record))
    return {k: v if isinstance(v, (str, int, float, bool)) else json.dumps(v) for k, v in flat.items()}


class Tracker(abc.ABC):
    """One tracker run: opened with the run's hyperparameters, then fed every metrics.csv row.

    Args:
        directory: The run directory (trackers that write files write under it).
        name: A readable run name, ``"<algo> <env> seed <k>"``.
        group: The results directory's name, grouping the runs of one sweep.
        hparams: Scalar hyperparameters (:func:`hyperparameters`).
        resume_step: None for a fresh run; else the env step of the checkpoint it resumes from.
    """

    module = ""
    """The package this tracker imports (checked with :func:`check_loggers` before any run starts)."""
    extra = ""
    """The qmixbench extra that installs it."""

    @abc.abstractmethod
    def __init__(
        self, directory: Path, name: str, group: str, hparams: dict[str, Any], resume_step: int | None
    ) -> None: ...

    @abc.abstractmethod
    def log(self, row: dict[str, Any]) -> None:
        """Send one metrics.csv row (at ``row["env_steps"]``)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and close; the tracker receives nothing after it."""


class TensorBoardTracker(Tracker):
    """Event files in ``<run dir>/tensorboard/``: ``tensorboard --logdir RESULTS_DIR`` shows every run."""

    module, extra = "tensorboard", "tensorboard"

    def __init__(
        self, directory: Path, name: str, group: str, hparams: dict[str, Any], resume_step: int | None
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        logdir = directory / "tensorboard"
        if resume_step is None:
            shutil.rmtree(logdir, ignore_errors=True)  # a fresh start: an old attempt's curves are not this run's
        # purge_step hides the events at steps >= it, i.e. those logged after the checkpoint we resume from.
        self.writer = SummaryWriter(str(logdir), purge_step=None if resume_step is None else resume_step + 1)
        if resume_step is None:
            file_writer = self.writer._get_file_writer()
            for summary in hparams_summary(hparams, {}):
                file_writer.add_summary(summary)
            self.writer.add_text("config", "```\n" + json.dumps(hparams, indent=2) + "\n```")

    def log(self, row: dict[str, Any]) -> None:
        step = int(float(row["env_steps"]))
        for name, value in tracker_metrics(row).items():
            self.writer.add_scalar(name, value, global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _resumed_name(name: str, resume_step: int | None) -> str:
    return name if resume_step is None else f"{name} (resumed at step {resume_step})"


class WandbTracker(Tracker):
    """A W&B run per training process (``WANDB_MODE=offline`` works with no network; files in
    ``<run dir>/wandb/``). Project: ``$WANDB_PROJECT``, else ``qmixbench``; group: the results directory."""

    module, extra = "wandb", "wandb"

    def __init__(
        self, directory: Path, name: str, group: str, hparams: dict[str, Any], resume_step: int | None
    ) -> None:
        import wandb

        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "qmixbench"),
            group=group,
            name=_resumed_name(name, resume_step),
            config=hparams,
            dir=str(directory),
            reinit="create_new",  # one process may train several runs (the serial executor)
        )

    def log(self, row: dict[str, Any]) -> None:
        self.run.log({**tracker_metrics(row), "env_steps": int(float(row["env_steps"]))})

    def close(self) -> None:
        self.run.finish()


class MLflowTracker(Tracker):
    """An MLflow run per training process, in ``$MLFLOW_TRACKING_URI`` (else MLflow's default, ``./mlruns``
    or ``mlflow.db`` in the working directory); experiment: the results directory's name."""

    module, extra = "mlflow", "mlflow"

    def __init__(
        self, directory: Path, name: str, group: str, hparams: dict[str, Any], resume_step: int | None
    ) -> None:
        import mlflow

        self.client = mlflow.MlflowClient()
        experiment = self.client.get_experiment_by_name(group)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(group)
        run = self.client.create_run(experiment_id, run_name=_resumed_name(name, resume_step))
        self.run_id = run.info.run_id
        for key, value in hparams.items():
            self.client.log_param(self.run_id, key, str(value)[:6000])  # MLflow caps a param's length

    def log(self, row: dict[str, Any]) -> None:
        step = int(float(row["env_steps"]))
        for name, value in tracker_metrics(row).items():
            self.client.log_metric(self.run_id, name, value, step=step)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


LOGGERS: dict[str, type[Tracker]] = {
    "tensorboard": TensorBoardTracker,
    "wandb": WandbTracker,
    "mlflow": MLflowTracker,
}
"""Tracker name (``--logger``) -> class. metrics.csv is always written and needs no name here."""


def check_loggers(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The tracker names, checked: each registered and its package importable (without importing it).

    Raises:
        TrackerError: naming the unknown tracker and the valid ones, or the extra to install.
    """
    out: list[str] = []
    for name in names:
        name = name.strip()
        if name not in LOGGERS:
            raise TrackerError(f"unknown logger {name!r}; valid: {', '.join(LOGGERS)} (metrics.csv is always written)")
        cls = LOGGERS[name]
        if importlib.util.find_spec(cls.module) is None:
            raise TrackerError(f"--logger {name} needs the {cls.module} package: pip install 'qmixbench[{cls.extra}]'")
        if name not in out:
            out.append(name)
    return tuple(out)


class Trackers:
    """The trackers of one run, fed together; empty when the run names none."""

    def __init__(
        self,
        names: tuple[str, ...],
        directory: Path,
        name: str,
        group: str,
        record: SpecRecord,
        resume_step: int | None,
    ) -> None:
        check_loggers(names)
        params = hyperparameters(record)
        self.trackers: list[Tracker] = []
        try:
            for tracker in names:
                self.trackers.append(LOGGERS[tracker](directory, name, group, params, resume_step))
        except BaseException:
            self.close()
            raise

    def log(self, row: dict[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log(row)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
        self.trackers = []

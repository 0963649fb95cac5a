"""The Python API: train one run, build an env, load a trained policy (``qmixbench.run``,
``qmixbench.make_env``, ``qmixbench.load_policy``); see docs/python-api.md.

``run`` goes through the same path as ``qmixbench run`` (presets, env defaults, protocol, checks,
the results-directory lock, ``job.json``), on the serial executor in this process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qmixbench.errors import QmixbenchError


class RunFailedError(QmixbenchError, RuntimeError):
    """A run that failed; the message is its one-line error (the traceback is in its status.json)."""


def run(
    env: str,
    algo: str = "qmix",
    seed: int = 0,
    *,
    out: Path | str = "results/api",
    steps: int | None = None,
    overrides: dict[str, Any] | None = None,
    protocol: str | None = None,
    loggers: Sequence[str] = (),
    keep_checkpoints: bool = False,
    resume: bool = False,
) -> Path:
    """Train ``algo`` on ``env`` with ``seed`` into ``out``; return the run directory.

    Args:
        env: An env id, family name or entry point, optionally with ``?key=value`` arguments.
        algo: An algorithm preset (``qmixbench.algos.ALGORITHMS``).
        seed: The run's seed.
        out: The results directory (``qmixbench report OUT`` reads it).
        steps: Total env steps (``total_env_steps``); default: the preset's or the env's.
        overrides: Dotted config keys, as ``--set``: ``{"lr": 1e-3, "mixer.embed_dim": 16}``.
        protocol: A named protocol (``qmixbench.protocols``).
        loggers: Trackers that also receive metrics.csv (``qmixbench.loggers.LOGGERS``).
        keep_checkpoints: Keep the finished run's checkpoint.pt with its replay buffer.
        resume: Continue the run in ``out`` if it was interrupted (return at once if it is done).

    Raises:
        RunFailedError: the run failed (its error; the traceback is in the run's status.json).
        qmixbench.config.ConfigError, qmixbench.sweep.SweepError, qmixbench_envs.UnknownEnvError:
            a bad name, key or value (one line saying what is valid).
    """
    from qmixbench import sweep
    from qmixbench.loggers import check_loggers

    settings: dict[str, Any] = dict(overrides or {})
    if steps is not None:
        settings["total_env_steps"] = steps
    (spec,) = sweep.expand([env], [algo], [seed], settings, protocol=protocol)
    spec = dataclasses.replace(spec, loggers=check_loggers(list(loggers)), keep_checkpoints=keep_checkpoints)
    (outcome,) = sweep.execute([spec], out, executor="serial", resume=resume)
    if outcome.status == "failed":
        raise RunFailedError(f"{outcome.run_dir}: {outcome.error}")
    return Path(outcome.run_dir)


def make_env(env: str, **kwargs: Any) -> Any:
    """A PettingZoo ParallelEnv from an env id, family name or entry point (``?key=value`` arguments
    and ``kwargs`` as in ``qmixbench run --env``; ``kwargs`` win)."""
    from qmixbench.adapter import build_env

    return build_env(env, kwargs)

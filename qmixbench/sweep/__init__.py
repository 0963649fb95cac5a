"""Sweeps: expand env x algo x seed (x config-grid variant) into RunSpecs and run them: serially, in a local
process pool, or on Ray.

Each run is an independent job that writes its own run directory (:func:`qmixbench.recorder.run_dir`)
through ``train(spec, out_dir, resume, progress)``; the executor only schedules jobs and reads back
their status, so every executor leaves the same layout.

* :mod:`qmixbench.sweep.expansion`: env names, algorithm presets, seeds and grid points -> RunSpecs
  (:func:`expand`), and the up-front build of each env (:func:`check_envs`);
* :mod:`qmixbench.sweep.jobs`: one run (:func:`run_job`), how a failed one is recorded, and which runs
  are still to do (:func:`plan`, the resume check);
* :mod:`qmixbench.sweep.executors`: the ``serial``, ``process`` and ``ray`` executors behind
  :func:`execute`.

Each module's docstring lists the correctness-critical decisions made there (crash isolation, no
orphans, one command per directory, resume, config grids, hangs, threads).

This package imports no torch and no pandas: only the worker's ``train()`` does.
"""

from __future__ import annotations

from qmixbench.sweep.executors import EXECUTORS, THREAD_ENV, available_cores, execute
from qmixbench.sweep.expansion import (
    MAX_SEED,
    SweepError,
    algorithm_names,
    check_algos,
    check_envs,
    check_seeds,
    default_resolve,
    expand,
    expand_envs,
    parse_seeds,
)
from qmixbench.sweep.jobs import DEFAULT_TRAIN, JOB_FILE, RunOutcome, load_function, plan, run_job

__all__ = [
    "DEFAULT_TRAIN",
    "EXECUTORS",
    "JOB_FILE",
    "MAX_SEED",
    "THREAD_ENV",
    "SweepError",
    "RunOutcome",
    "algorithm_names",
    "available_cores",
    "check_algos",
    "check_envs",
    "check_seeds",
    "default_resolve",
    "execute",
    "expand",
    "expand_envs",
    "load_function",
    "parse_seeds",
    "plan",
    "run_job",
]

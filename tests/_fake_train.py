"""A stand-in for ``qmixbench.train.train`` with the same signature and run-directory layout.

Benchmark, CLI and report tests use it (``train_fn="_fake_train:train"``) so they exercise the
executors, crash isolation and resume in seconds. ``spec.env_kwargs["mode"]`` picks a behaviour:
``ok`` (default), ``raise`` (an exception after the first evaluation), ``nan`` (FloatingPointError
at once), ``die`` (the process exits hard: os._exit), ``slow`` (sleeps ``delay`` s per evaluation),
``hang`` (steps ``_hostile_envs:HangingStep`` through the adapter, whose step never returns),
``interrupt`` (KeyboardInterrupt after the first evaluation, as Ctrl-C would), ``diverge`` (finishes,
but its TD loss grows 1000x from the first evaluation to the last).
The eval return is a deterministic function of algo, seed and step.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from qmixbench.config import RunSpec, to_dict
from qmixbench.recorder import RunRecorder, atomic_write_text, run_dir

FINAL = {"qmix": 8.0, "vdn": 7.0, "iql": 6.0}


def eval_return(algo: str, seed: int, step: int, total: int, lr: float = 5e-4) -> float:
    """The fake's learning curve; a larger ``lr`` than the default 5e-4 adds 1 (grid tests tell variants apart)."""
    return FINAL.get(algo, 5.0) * step / total + 0.1 * seed + (1.0 if lr > 5e-4 else 0.0)


def train(spec: RunSpec, out_dir: str | Path, resume: bool = False, progress: bool = True) -> dict:
    cfg = spec.config
    mode = spec.env_kwargs.get("mode", "ok")
    rec = RunRecorder(run_dir(out_dir, spec.env, spec.algo, spec.seed, spec.variant))
    ckpt = rec.dir / "checkpoint.pt"
    start = 0
    if resume and ckpt.exists():
        start = json.loads(ckpt.read_text())["env_steps"]
        rec.load_metrics()
        rec.truncate_metrics(start)
    else:
        rec.write_config(
            {
                "run": {
                    "env": spec.env,
                    "env_kwargs": spec.env_kwargs,
                    "algo": spec.algo,
                    "seed": spec.seed,
                    "variant": spec.variant,
                },
                "config": to_dict(cfg),
                "env_info": {},
                "provenance": {"commit": "fake", "dirty": False},
            }
        )
    rec.set_status("running", start)
    atomic_write_text(
        rec.dir / "worker.json", json.dumps({"pid": os.getpid(), "omp": os.environ.get("OMP_NUM_THREADS")})
    )
    try:
        if mode == "nan":
            raise FloatingPointError("NaN in TD loss")
        if mode == "hang":
            import numpy as np

            from qmixbench.adapter import make_adapter

            env = make_adapter("_hostile_envs:HangingStep")
            env.reset(seed=0)
            env.step(np.zeros(2, np.int64))
        step = start
        while step < cfg.total_env_steps:
            step = min(step + cfg.eval_interval, cfg.total_env_steps)
            if mode == "raise" and step > cfg.eval_interval:
                raise RuntimeError("env exploded")
            if mode == "interrupt" and step > cfg.eval_interval:
                raise KeyboardInterrupt
            if mode == "die" and step > cfg.eval_interval:
                os._exit(3)
            if mode == "slow":
                time.sleep(float(spec.env_kwargs.get("delay", 0.2)))
            rec.log_eval(
                {
                    "env_steps": step,
                    "episodes": step // 10,
                    "updates": step // 10,
                    "eval_return_mean": eval_return(spec.algo, spec.seed, step, cfg.total_env_steps, cfg.lr),
                    "eval_return_std": 0.5,
                    "eval_success_rate": step / cfg.total_env_steps,
                    "eval_episode_len_mean": 2.0,
                    "train_return_mean": 1.0,
                    "td_loss": 0.1 * 1000.0 ** ((step - cfg.eval_interval) / cfg.total_env_steps)
                    if mode == "diverge"
                    else 0.1,
                    "epsilon": 0.05,
                    "wall_time_s": step / 1000.0,
                    "env_steps_per_s": 1000.0,
                }
            )
            atomic_write_text(ckpt, json.dumps({"env_steps": step}))
    except BaseException as exc:
        import traceback

        rec.set_status(
            "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
            step if mode != "nan" else start,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
        raise
    rec.set_status("done", cfg.total_env_steps)
    return {"env_steps": cfg.total_env_steps}


def spec(
    env: str = "matrix/two-step-v0",
    algo: str = "qmix",
    seed: int = 0,
    total: int = 400,
    interval: int = 100,
    mode: str = "ok",
    variant: str = "",
    **overrides,
) -> RunSpec:
    """A RunSpec with a small budget whose mixer matches ``algo`` (no qmixbench.algos import)."""
    from qmixbench.config import TrainConfig, apply_overrides

    config = apply_overrides(
        TrainConfig(total_env_steps=total, eval_interval=interval), {"mixer.kind": algo, **overrides}
    )
    return RunSpec(
        env=env,
        algo=algo,
        seed=seed,
        config=config,
        env_kwargs={} if mode == "ok" else {"mode": mode},
        variant=variant,
    )


def make_results(
    out: str | Path, envs=("matrix/two-step-v0",), algos=("qmix", "vdn"), seeds=(0, 1, 2), **kwargs
) -> Path:
    """Write a results directory in-process with the fake train: every env x algo x seed."""
    for env in envs:
        for algo in algos:
            for seed in seeds:
                try:
                    train(spec(env, algo, seed, **kwargs), out, progress=False)
                except Exception:
                    pass
    return Path(out)

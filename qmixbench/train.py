"""Train one run (env × algorithm × seed) into its run directory: ``train(spec, out_dir)``.

The loop, top to bottom: K envs step in lockstep (``qmixbench.rollout``); each finished episode goes
into the replay buffer and earns ``updates_per_episode`` learner updates (``qmixbench.algos.learner``);
every ``eval_interval`` env steps (and at the end) the agents are evaluated greedily and decentralised
(``qmixbench.evaluate``) and a row is appended to ``metrics.csv``; every ``checkpoint_interval`` env
steps everything needed to resume is saved. A finished run keeps ``agent.pt`` and ``final.pt`` (the
learner, counters and RNG states, without the replay buffer) and deletes ``checkpoint.pt`` unless
``spec.keep_checkpoints``: a done run is never resumed, and its buffer is most of its disk use.

Seeding and determinism: network initialisation, exploration and replay sampling each draw from their
own generator seeded from the run seed; env resets use seeds derived from it with
``numpy.random.SeedSequence``. On CPU the same seed and config give identical ``metrics.csv`` values
(timing columns aside).

Resuming: at each checkpoint the episodes in progress are cut (stored like truncated episodes, which
bootstrap) and every env is reset with fresh derived seeds, in uninterrupted and resumed runs alike;
a run resumed from a checkpoint therefore continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from qmixbench import provenance
from qmixbench.adapter import EnvInfo, ParallelEnvAdapter, make_adapter
from qmixbench.algos import env_defaults
from qmixbench.algos.exploration import EpsilonSchedule
from qmixbench.algos.learner import QLearner
from qmixbench.algos.mixers import build_mixer
from qmixbench.algos.mixers.base import MixerShape
from qmixbench.algos.networks import AgentNetwork, input_dim
from qmixbench.buffer import EpisodeReplayBuffer
from qmixbench.config import ConfigError, ConfigRecord, RunSpec, TrainConfig, resume_key, spec_record, to_dict
from qmixbench.env_batch import make_env_batch
from qmixbench.evaluate import eval_seeds, run_greedy, save_agent
from qmixbench.loggers import Trackers
from qmixbench.recorder import RunRecorder, atomic_write_bytes, read_json, read_status, run_dir
from qmixbench.rollout import Episode, Rollout

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "qmixbench-checkpoint-v3"
"""v3: the buffer holds only its episodes' real steps, packed (v2: padded rows); v2: the learner keeps
one flat Adam state for all parameters (v1 had one per parameter tensor)."""


def obs_storage_dtype(adapter: ParallelEnvAdapter) -> torch.dtype:
    """uint8 when the env's observation dtype is uint8 or bool (MiniGrid images), else float32.

    The dtype decides, not the declared bounds: the adapter guarantees only that observations fit the
    space's dtype, so a ``Box(0, 10, dtype=int64)`` observing 300 must not be stored as a uint8 (44).
    """
    space = adapter.env.observation_space(adapter.agents[0])
    space = getattr(space, "spaces", {}).get("observation", space)
    dtype = getattr(space, "dtype", None)
    if dtype is not None and np.dtype(dtype) in (np.dtype(np.uint8), np.dtype(bool)):
        return torch.uint8
    return torch.float32


def mixer_shape(info: EnvInfo, input_dim: int, cfg: TrainConfig) -> MixerShape:
    """What a mixer is built from: the env's facts and the agent network's shape."""
    return MixerShape(info.n_agents, info.state_dim, info.n_actions, input_dim, cfg.hidden_dim, cfg.agent)


def _segment_seeds(seed: int, segment: int, k: int) -> list[int]:
    """Reset seeds of the K training envs at the start of segment ``segment`` (0, then one per checkpoint)."""
    return [int(s) for s in np.random.SeedSequence([seed, 0, segment]).generate_state(k)]


class _Run:
    """Everything one run holds in memory; built fresh or restored from a checkpoint."""

    def __init__(self, spec: RunSpec) -> None:
        cfg = self.cfg = spec.config
        self.spec = spec
        self.device = torch.device(cfg.device)
        self.envs = make_env_batch(spec.env, spec.env_kwargs, spec.team_reward, cfg.n_envs, vectorise=cfg.vector_env)
        if self.envs.vectorised:
            log.info("%s: stepping the %d training envs in one vectorised call", spec.env, cfg.n_envs)
        n_eval = min(cfg.n_envs, cfg.eval_episodes)
        # Evaluation plays its seeded episodes one env at a time (qmixbench.evaluate), on either path.
        self.eval_envs = [make_adapter(spec.env, spec.env_kwargs, spec.team_reward) for _ in range(n_eval)]
        info = self.info = self.envs.info
        self.input_dim = input_dim(info.obs_dim, info.n_agents, info.n_actions, cfg.obs_agent_id, cfg.obs_last_action)
        with torch.random.fork_rng(devices=[]):  # initialisation from the run seed, global RNG untouched
            torch.manual_seed(spec.seed)
            agent = AgentNetwork(self.input_dim, info.n_actions, cfg.hidden_dim, cfg.agent).to(self.device)
            mixer = build_mixer(cfg.mixer, mixer_shape(info, self.input_dim, cfg)).to(self.device)
        self.learner = QLearner(agent, mixer, cfg, info.n_actions)
        self.buffer = EpisodeReplayBuffer(
            cfg.buffer_size,
            info.episode_limit or 64,
            info.n_agents,
            info.obs_dim,
            info.state_dim,
            info.n_actions,
            obs_dtype=obs_storage_dtype(self.envs.probe),
            grow=info.episode_limit is None,
        )
        self.rollout = Rollout(
            self.envs,
            agent,
            obs_agent_id=cfg.obs_agent_id,
            obs_last_action=cfg.obs_last_action,
            max_len=info.episode_limit,
        )
        self.epsilon = EpsilonSchedule(cfg.epsilon_start, cfg.epsilon_finish, cfg.epsilon_anneal_steps)
        self.explore_gen = torch.Generator().manual_seed(spec.seed * 2 + 1)
        self.sample_gen = torch.Generator().manual_seed(spec.seed * 2 + 2)
        self.eval_seeds = eval_seeds(spec.seed, cfg.eval_episodes)
        # Counters (all restored on resume).
        self.env_steps = 0
        self.episodes = 0
        self.segment = 0  # checkpoints passed; picks the env reset seeds
        self.next_eval = cfg.eval_interval
        self.next_checkpoint = cfg.checkpoint_interval
        self.update_credit = 0.0
        self.train_returns: list[float] = []  # since the last evaluation
        self.td_losses: list[float] = []  # since the last evaluation
        self.last_eval_step = -1
        self.elapsed_before = 0.0  # wall seconds spent before this process (resume)
        self.time_update = 0.0
        self.time_eval = 0.0

    # -- pieces of the loop -----------------------------------------------------------------------

    def store(self, episodes: list[Episode]) -> None:
        """Put episodes in the buffer; completed ones earn learner updates."""
        for ep in episodes:
            self.buffer.add(ep.obs, ep.state, ep.avail, ep.alive, ep.actions, ep.reward, ep.length, ep.terminated)
            if not ep.cut:
                self.episodes += 1
                self.train_returns.append(ep.ret)
                if self.buffer.can_sample(self.cfg.batch_size):
                    self.update_credit += self.cfg.updates_per_episode

    def learn(self) -> None:
        """Run the learner updates earned so far."""
        t0 = time.perf_counter()
        while self.update_credit >= 1.0:
            self.update_credit -= 1.0
            batch = self.buffer.sample(self.cfg.batch_size, self.sample_gen, self.device)
            self.td_losses.append(self.learner.update(batch))
        self.time_update += time.perf_counter() - t0

    def evaluate(self, wall: float) -> dict[str, Any]:
        """Greedy decentralised evaluation; returns the ``metrics.csv`` row."""
        t0 = time.perf_counter()
        result = run_greedy(
            self.learner.agent,
            self.eval_envs,
            self.eval_seeds,
            obs_agent_id=self.cfg.obs_agent_id,
            obs_last_action=self.cfg.obs_last_action,
        )
        self.time_eval += time.perf_counter() - t0
        row = {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "updates": self.learner.updates,
            **result.summary(),
            "train_return_mean": float(np.mean(self.train_returns)) if self.train_returns else float("nan"),
            "td_loss": float(np.mean(self.td_losses)) if self.td_losses else float("nan"),
            "epsilon": self.epsilon.value(self.env_steps),
            "wall_time_s": wall,
            "env_steps_per_s": self.env_steps / wall if wall > 0 else float("nan"),
        }
        self.train_returns, self.td_losses = [], []
        self.last_eval_step = self.env_steps
        return row

    # -- checkpoints ------------------------------------------------------------------------------

    def checkpoint_bytes(self, wall: float, with_buffer: bool = True) -> bytes:
        """The checkpoint; without the buffer (``final.pt``) it holds the learner but cannot be resumed."""
        data = {
            "format": CHECKPOINT_FORMAT,
            "config": to_dict(self.cfg),
            "learner": self.learner.state_dict(),
            **({"buffer": self.buffer.state_dict()} if with_buffer else {}),
            "rng": {"explore": self.explore_gen.get_state(), "sample": self.sample_gen.get_state()},
            "counters": {
                "env_steps": self.env_steps,
                "episodes": self.episodes,
                "segment": self.segment,
                "next_eval": self.next_eval,
                "next_checkpoint": self.next_checkpoint,
                "update_credit": self.update_credit,
                "train_returns": self.train_returns,
                "td_losses": self.td_losses,
                "last_eval_step": self.last_eval_step,
                "wall": wall,
            },
        }
        buf = io.BytesIO()
        torch.save(data, buf)
        return buf.getvalue()

    def restore(self, path: Path) -> None:
        data = torch.load(path, map_location="cpu", weights_only=True)  # RNG states must stay on the CPU
        found = data.get("format")
        if found != CHECKPOINT_FORMAT:
            if isinstance(found, str) and found.startswith("qmixbench-checkpoint-"):
                raise ValueError(
                    f"{path} was written by another qmixbench version ({found}; this one reads "
                    f"{CHECKPOINT_FORMAT}); start the run again without --resume"
                )
            raise ValueError(f"{path} is not a qmixbench checkpoint")
        self.learner.load_state_dict(data["learner"])
        self.buffer.load_state_dict(data["buffer"])
        self.explore_gen.set_state(data["rng"]["explore"])
        self.sample_gen.set_state(data["rng"]["sample"])
        c = data["counters"]
        self.env_steps, self.episodes, self.segment = c["env_steps"], c["episodes"], c["segment"]
        self.next_eval, self.next_checkpoint = c["next_eval"], c["next_checkpoint"]
        self.update_credit, self.train_returns, self.td_losses = c["update_credit"], c["train_returns"], c["td_losses"]
        self.last_eval_step, self.elapsed_before = c["last_eval_step"], c["wall"]


def _config_record(spec: RunSpec, run: _Run) -> ConfigRecord:
    return ConfigRecord(
        **spec_record(spec),
        rollout="vectorised" if run.envs.vectorised else "one env at a time",
        env_defaults=env_defaults(spec.env),
        env_info=dataclasses.asdict(run.info),
        provenance=provenance.collect(str(run.device)),
    )


def summary_from_rows(rows: list[dict[str, Any]], directory: Path) -> dict[str, Any]:
    """The summary :func:`train` returns, from the last ``metrics.csv`` row."""
    last = rows[-1] if rows else {}

    def num(key: str) -> float:
        value = last.get(key, "")
        return float(value) if value not in ("", None) else float("nan")

    return {
        "eval_return_mean": num("eval_return_mean"),
        "eval_success_rate": num("eval_success_rate"),
        "env_steps": int(num("env_steps")) if rows else 0,
        "wall_time_s": num("wall_time_s"),
        "env_steps_per_s": num("env_steps_per_s"),
        "run_dir": str(directory),
    }


def train(spec: RunSpec, out_dir: Path | str, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train one run into ``run_dir(out_dir, spec.env, spec.algo, spec.seed, spec.variant)``.

    Args:
        spec: What to run; ``spec.config`` must be fully resolved (``qmixbench.algos.resolve_config``).
        out_dir: Results directory.
        resume: Continue from the run's last checkpoint (dropping metrics rows logged after it); a run
            whose status is ``done`` is not retrained. Without a checkpoint the run starts afresh.
        progress: Show a tqdm bar; otherwise log one line per evaluation.

    Returns:
        ``eval_return_mean``, ``eval_success_rate`` (NaN when the env reports none), ``env_steps``,
        ``wall_time_s``, ``env_steps_per_s`` of the final evaluation, and ``run_dir``; a run trained
        here also has ``time_split`` (seconds of this process in env stepping, action selection,
        learner updates and evaluation).

    Raises:
        DivergenceError: The TD loss became NaN/inf (the run's status is then ``failed``). Any other
            exception likewise marks the run failed and is re-raised; KeyboardInterrupt marks it
            ``interrupted``.
    """
    directory = run_dir(out_dir, spec.env, spec.algo, spec.seed, spec.variant)
    recorder = RunRecorder(directory)
    if resume:
        status = read_status(directory)
        if status is not None and status["status"] == "done":
            return summary_from_rows(recorder.load_metrics(), directory)
    run: _Run | None = None
    try:
        torch.set_num_threads(spec.config.torch_threads)
        run = _Run(spec)
        return _train(spec, run, recorder, resume, progress, group=Path(out_dir).resolve().name)
    except BaseException as exc:
        recorder.set_status(
            # Ctrl-C is the user stopping the run, not the run failing; --resume continues either.
            "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
            env_steps=run.env_steps if run else 0,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
        raise


def _train(spec: RunSpec, run: _Run, recorder: RunRecorder, resume: bool, progress: bool, group: str) -> dict[str, Any]:
    cfg: TrainConfig = spec.config
    ckpt = recorder.dir / "checkpoint.pt"
    resumed = resume and ckpt.exists()
    if resumed:
        saved = read_json(recorder.dir / "config.json")
        if resume_key(saved["config"]) != resume_key(to_dict(cfg)) or saved["run"]["env"] != spec.env:
            raise ConfigError(f"{recorder.dir} holds a run with a different config; resume needs the same one")
        try:
            run.restore(ckpt)
        except ValueError:
            raise  # another qmixbench version's checkpoint: not damaged, the message says what to do
        except Exception as exc:  # torch.load and load_state_dict raise many types for a damaged file
            # A damaged checkpoint is re-run from the start, like any other damaged run file; the run
            # object may be half-restored, so it is built afresh.
            log.warning("%s cannot be read (%s: %s); running it again from the start", ckpt, type(exc).__name__, exc)
            run = _Run(spec)
            resume = False
    if resume and ckpt.exists():
        recorder.load_metrics()
        recorder.truncate_metrics(run.env_steps)
        log.info("resuming %s from env step %d", recorder.dir, run.env_steps)
    else:
        recorder.write_config(_config_record(spec, run))
        for stale in ("metrics.csv", "checkpoint.pt", "agent.pt", "final.pt"):
            (recorder.dir / stale).unlink(missing_ok=True)
    trackers = Trackers(
        spec.loggers,
        recorder.dir,
        name=f"{spec.algo} {spec.env} seed {spec.seed}",
        group=group,
        record=spec_record(spec),
        resume_step=run.env_steps if resumed else None,
    )
    try:
        return _loop(spec, run, recorder, trackers, progress)
    finally:
        trackers.close()


def _loop(spec: RunSpec, run: _Run, recorder: RunRecorder, trackers: Trackers, progress: bool) -> dict[str, Any]:
    cfg: TrainConfig = spec.config
    ckpt = recorder.dir / "checkpoint.pt"
    recorder.set_status("running", env_steps=run.env_steps)
    start = time.perf_counter() - run.elapsed_before
    bar = tqdm(
        total=cfg.total_env_steps,
        initial=run.env_steps,
        unit="step",
        disable=not progress,
        leave=False,
        desc=f"{spec.algo} {spec.env} seed {spec.seed}",
        dynamic_ncols=True,
    )
    run.rollout.reset_all(_segment_seeds(spec.seed, run.segment, cfg.n_envs))
    _warn_on_state_scale(run)
    while run.env_steps < cfg.total_env_steps:
        finished = run.rollout.step(run.epsilon.value(run.env_steps), run.explore_gen)
        run.env_steps += cfg.n_envs
        bar.update(cfg.n_envs)
        run.store(finished)
        run.learn()
        if run.env_steps >= run.next_eval:
            _log_eval(run, recorder, trackers, bar, start, progress)
            while run.next_eval <= run.env_steps:
                run.next_eval += cfg.eval_interval
        if run.env_steps >= run.next_checkpoint and run.env_steps < cfg.total_env_steps:
            while run.next_checkpoint <= run.env_steps:
                run.next_checkpoint += cfg.checkpoint_interval
            run.store(run.rollout.cut())
            run.segment += 1
            atomic_write_bytes(ckpt, run.checkpoint_bytes(time.perf_counter() - start))
            run.rollout.reset_all(_segment_seeds(spec.seed, run.segment, cfg.n_envs))
    if run.last_eval_step != run.env_steps:
        _log_eval(run, recorder, trackers, bar, start, progress)
    bar.close()
    _save_agent(run, recorder.dir / "agent.pt")
    wall = time.perf_counter() - start
    atomic_write_bytes(recorder.dir / "final.pt", run.checkpoint_bytes(wall, with_buffer=False))
    if spec.keep_checkpoints:
        atomic_write_bytes(ckpt, run.checkpoint_bytes(wall))
    recorder.set_status("done", env_steps=run.env_steps)
    if not spec.keep_checkpoints:  # only once done: a run killed before this line still resumes from it
        ckpt.unlink(missing_ok=True)
    split = {
        "env_s": run.rollout.time_env,
        "act_s": run.rollout.time_act,
        "update_s": run.time_update,
        "eval_s": run.time_eval,
    }
    log.debug("time split (this process): %s", ", ".join(f"{k} {v:.1f}s" for k, v in split.items()))
    return {**summary_from_rows(recorder.rows, recorder.dir), "time_split": split}


def _warn_on_state_scale(run: _Run) -> None:
    """QMIX's hypernetworks turn the state's scale into the mixing weights' scale: flag large states."""
    if run.cfg.mixer.kind not in ("qmix", "cw-qmix", "ow-qmix", "qplex"):
        return
    peak = float(np.abs(run.rollout.tracks.state[0, 0]).max())  # env 0's first state
    if peak > 10.0:
        log.warning(
            "%s: global state features reach %.0f; QMIX's hypernetworks are sensitive to input scale "
            "(unscaled integer states stopped QMIX from learning on MiniGrid-like tasks), consider a "
            "state scaled to about [-1, 1]",
            run.spec.env,
            peak,
        )


def _log_eval(run: _Run, recorder: RunRecorder, trackers: Trackers, bar: tqdm, start: float, progress: bool) -> None:
    row = run.evaluate(time.perf_counter() - start)
    recorder.log_eval(row)
    trackers.log(row)
    _save_agent(run, recorder.dir / "agent.pt")
    ret, rate = row["eval_return_mean"], row["env_steps_per_s"]
    if progress:
        bar.set_postfix(eval_return=f"{ret:.3g}", steps_per_s=f"{rate:.0f}", refresh=False)
    else:
        success = row["eval_success_rate"]
        log.info(
            "%s %s seed %d: step %d eval return %.3f success %s (%.0f steps/s)",
            run.spec.algo,
            run.spec.env,
            run.spec.seed,
            row["env_steps"],
            ret,
            "n/a" if math.isnan(success) else f"{success:.2f}",
            rate,
        )


def _save_agent(run: _Run, path: Path) -> None:
    save_agent(
        path,
        run.learner.agent,
        input_dim=run.input_dim,
        n_actions=run.info.n_actions,
        obs_agent_id=run.cfg.obs_agent_id,
        obs_last_action=run.cfg.obs_last_action,
        env_info=dataclasses.asdict(run.info),
    )

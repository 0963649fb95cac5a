"""train(): every algorithm end to end at toy size, determinism, resume, NaN handling, and learning.

The learning check is the QMIX paper's two-step game (Section 5): with the paper's uniform exploration
QMIX's greedy policy earns 8 and VDN's 7.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from qmixbench.algos import ALGORITHMS, ENV_DEFAULTS, resolve_config
from qmixbench.algos.learner import DivergenceError, QLearner
from qmixbench.config import ConfigError, RunSpec
from qmixbench.evaluate import load_agent
from qmixbench.recorder import METRIC_COLUMNS, RunRecorder, read_json, read_status
from qmixbench.train import train

torch.set_num_threads(1)
TIMING = ("wall_time_s", "env_steps_per_s")
TOY = {
    "total_env_steps": 96,
    "n_envs": 2,
    "batch_size": 4,
    "buffer_size": 32,
    "eval_interval": 48,
    "eval_episodes": 2,
    "checkpoint_interval": 48,
    "hidden_dim": 8,
    "mixer.embed_dim": 4,
    "mixer.hypernet_embed": 8,
}


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as fh:
        return list(csv.DictReader(fh))


def _values(run: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in _rows(run)]


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_smoke_every_algorithm(tmp_path, algo):
    spec = RunSpec("matrix/two-step-v0", algo, 0, resolve_config(algo, TOY, env="matrix/two-step-v0"))
    summary = train(spec, tmp_path, progress=False)
    run = Path(summary["run_dir"])
    assert read_status(run)["status"] == "done"
    rows = _rows(run)
    assert [int(r["env_steps"]) for r in rows] == [48, 96]
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert summary["env_steps"] == 96 and summary["eval_return_mean"] in (7.0, 8.0, 0.0, 1.0)
    record = read_json(run / "config.json")
    assert record["config"]["mixer"]["kind"] == algo
    assert record["config"]["updates_per_episode"] == 1.0
    assert record["env_defaults"] == ENV_DEFAULTS["matrix/two-step-v0"]
    assert len(record["env_info"]["agent_ids"]) == 2 and record["provenance"]["device"] == "cpu"
    agent, meta = load_agent(run / "agent.pt")
    assert meta["inputs"]["obs_agent_id"] is True
    # Finished: the buffer-free final.pt stays, the checkpoint (replay buffer) is gone.
    assert not (run / "checkpoint.pt").exists()
    final = torch.load(run / "final.pt", weights_only=True)
    assert "buffer" not in final and final["counters"]["env_steps"] == 96 and final["learner"]["agent"]


def test_smoke_options_mlp_lambda_polyak_last_action_standardise(tmp_path):
    overrides = {
        **TOY,
        "agent": "mlp",
        "td_lambda": 0.6,
        "target_tau": 0.05,
        "obs_last_action": True,
        "standardise_rewards": True,
        "double_q": False,
        "updates_per_episode": 2.0,
    }
    spec = RunSpec(
        "matrix/climbing-v0",
        "qmix",
        1,
        resolve_config("qmix", overrides, env="matrix/climbing-v0"),
        env_kwargs={"episode_limit": 4},
    )
    summary = train(spec, tmp_path, progress=True)
    rows = _rows(Path(summary["run_dir"]))
    assert int(rows[-1]["updates"]) > int(rows[-1]["episodes"])  # two updates per episode once sampling starts


def test_smoke_multigrid_default_task(tmp_path):
    pytest.importorskip("minigrid")
    from qmixbench_envs import FAMILY_DEFAULTS

    if "multigrid" not in FAMILY_DEFAULTS:
        pytest.skip("multigrid family not registered")
    spec = RunSpec("multigrid", "qmix", 0, resolve_config("qmix", {**TOY, "total_env_steps": 64}, env="multigrid"))
    summary = train(spec, tmp_path, progress=False)
    assert read_status(summary["run_dir"])["status"] == "done"
    assert 0.0 <= summary["eval_success_rate"] <= 1.0


def _climbing_spec(seed=3) -> RunSpec:
    overrides = {**TOY, "total_env_steps": 160, "eval_interval": 40, "checkpoint_interval": 64}
    return RunSpec(
        "matrix/climbing-v0",
        "qmix",
        seed,
        resolve_config("qmix", overrides, env="matrix/climbing-v0"),
        env_kwargs={"episode_limit": 5},
    )


def test_same_seed_same_metrics(tmp_path):
    a = train(_climbing_spec(), tmp_path / "a", progress=False)
    b = train(_climbing_spec(), tmp_path / "b", progress=False)
    assert _values(Path(a["run_dir"])) == _values(Path(b["run_dir"]))
    c = train(_climbing_spec(seed=4), tmp_path / "c", progress=False)
    assert _values(Path(a["run_dir"])) != _values(Path(c["run_dir"]))


def test_resume_continues_as_if_never_interrupted(tmp_path, monkeypatch):
    full = train(_climbing_spec(), tmp_path / "full", progress=False)
    calls = {"n": 0}
    original = QLearner.update

    def crash_late(self, batch):
        calls["n"] += 1
        if calls["n"] == 12:  # after the first checkpoint (env step 64) and before the end
            raise RuntimeError("simulated crash")
        return original(self, batch)

    monkeypatch.setattr(QLearner, "update", crash_late)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(_climbing_spec(), tmp_path / "cut", progress=False)
    run = Path(full["run_dir"].replace(str(tmp_path / "full"), str(tmp_path / "cut")))
    status = read_status(run)
    assert status["status"] == "failed" and "simulated crash" in status["error"]
    logged = [int(r["env_steps"]) for r in _rows(run)]
    assert logged and logged[-1] > 64  # rows past the checkpoint exist and must be dropped on resume
    monkeypatch.setattr(QLearner, "update", original)
    resumed = train(_climbing_spec(), tmp_path / "cut", resume=True, progress=False)
    assert read_status(run)["status"] == "done"
    assert _values(run) == _values(Path(full["run_dir"]))
    again = train(_climbing_spec(), tmp_path / "cut", resume=True, progress=False)  # done: returns at once
    assert again["eval_return_mean"] == resumed["eval_return_mean"]


def test_keep_checkpoints_keeps_the_final_checkpoint_which_holds_only_real_steps(tmp_path):
    spec = dataclasses.replace(_climbing_spec(), keep_checkpoints=True)
    run = Path(train(spec, tmp_path, progress=False)["run_dir"])
    buffer = torch.load(run / "checkpoint.pt", weights_only=True)["buffer"]
    # Only real steps: L actions and L + 1 observations per stored episode, no empty rows.
    steps = int(buffer["lengths"].sum())
    assert 0 < buffer["size"] == len(buffer["lengths"]) and buffer["actions"].shape[0] == steps
    assert buffer["obs"].shape[0] == steps + buffer["size"]
    assert (run / "final.pt").exists()


def test_checkpoint_of_another_format_is_refused_with_what_to_do(tmp_path):
    from qmixbench.train import _Run

    path = tmp_path / "checkpoint.pt"
    torch.save({"format": "qmixbench-checkpoint-v1"}, path)
    with pytest.raises(ValueError, match=r"another qmixbench version .*without --resume"):
        _Run(_climbing_spec()).restore(path)


def test_nan_loss_fails_the_run_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(QLearner, "loss", lambda self, batch: torch.tensor(float("nan"), requires_grad=True))
    spec = RunSpec("matrix/two-step-v0", "vdn", 0, resolve_config("vdn", TOY, env="matrix/two-step-v0"))
    with pytest.raises(DivergenceError, match="TD loss is nan"):
        train(spec, tmp_path, progress=False)
    status = read_status(tmp_path / "matrix__two-step-v0" / "vdn" / "seed_0")
    assert status["status"] == "failed" and "DivergenceError" in status["error"]


def test_resolve_config_layers_and_errors():
    cfg = resolve_config("iql", {"lr": "1e-3"}, env="matrix")
    assert cfg.mixer.kind == "iql" and cfg.lr == 1e-3
    assert cfg.total_env_steps == ENV_DEFAULTS["matrix/two-step-v0"]["total_env_steps"]
    assert resolve_config("qmix", {"total_env_steps": 7}, env="matrix/two-step-v0").total_env_steps == 7
    assert resolve_config("qmix").total_env_steps == 100_000
    with pytest.raises(ConfigError, match="valid: qmix, vdn, iql, cw-qmix, ow-qmix, qplex"):
        resolve_config("coma")
    # A mixer field applies to the presets whose mixer has it; one that no mixer has is an error.
    assert resolve_config("qmix", {"mixer.embed_dim": 8}).mixer.embed_dim == 8
    assert resolve_config("vdn", {"mixer.embed_dim": 8}).mixer.kind == "vdn"
    with pytest.raises(ConfigError, match="unknown config key 'mixer.embedding'"):
        resolve_config("vdn", {"mixer.embedding": 8})
    # Presets differ only in the mixer.
    a, b = resolve_config("qmix", env="matrix/climbing-v0"), resolve_config("iql", env="matrix/climbing-v0")
    assert a.__class__(**{**vars(a), "mixer": b.mixer}) == b


def _two_step_greedy_returns(algo: str, tmp_path: Path) -> list[float]:
    out = []
    for seed in range(5):
        spec = RunSpec("matrix/two-step-v0", algo, seed, resolve_config(algo, env="matrix/two-step-v0"))
        out.append(train(spec, tmp_path, progress=False)["eval_return_mean"])
    return out


@pytest.mark.parametrize("algo,expected", [("qmix", 8.0), ("vdn", 7.0)])
def test_two_step_game_qmix_earns_8_vdn_7(tmp_path, algo, expected):
    returns = _two_step_greedy_returns(algo, tmp_path)
    assert sum(r == expected for r in returns) >= 4, returns


@pytest.mark.slow
def test_qmix_solves_default_multigrid_task(tmp_path):
    spec = RunSpec("multigrid", "qmix", 0, resolve_config("qmix", env="multigrid"))
    summary = train(spec, tmp_path, progress=False)
    assert summary["eval_success_rate"] >= 0.9, summary


def test_a_new_mixer_is_one_module_and_one_registry_line(tmp_path, monkeypatch):
    """DEVELOPERS.md's recipe: a module with a config and a Mixer, one MIXERS line; then it is an algorithm."""
    from qmixbench.algos.mixers import MIXERS, MixerRef

    monkeypatch.setitem(MIXERS, "toy", MixerRef("_toy_mixer:ScaledSumMixer", "a learned scale times the sum"))
    toy = {k: v for k, v in TOY.items() if not k.startswith("mixer.")}
    cfg = resolve_config("toy", {**toy, "mixer.init_scale": "2.5"}, env="matrix/two-step-v0")
    summary = train(RunSpec("matrix/two-step-v0", "toy", 0, cfg), tmp_path, progress=False)
    run = Path(summary["run_dir"])
    assert read_status(run)["status"] == "done"
    assert read_json(run / "config.json")["config"]["mixer"] == {"kind": "toy", "init_scale": 2.5}
    scale = torch.load(run / "final.pt", weights_only=True)["learner"]["mixer"]["scale"]
    assert scale != 2.5, "the learner trained the new mixer's parameter"
    with pytest.raises(ConfigError, match="mixer.init_scale must be > 0"):
        resolve_config("toy", {"mixer.init_scale": 0})


def test_observations_outside_their_bounds_warn_once_per_run(tmp_path, caplog):
    """Tiny's Box(0, 10) observation is 50 at step 2 of every episode: one warning in the whole run."""
    config = resolve_config("iql", TOY)
    spec = RunSpec(env="_hostile_envs:OutOfBounds?value=50", algo="iql", seed=0, config=config)
    with caplog.at_level("WARNING", logger="qmixbench.rollout"):
        train(spec, tmp_path, progress=False)
    warned = [r.getMessage() for r in caplog.records if r.name == "qmixbench.rollout"]
    assert len(warned) == 1, warned
    assert (
        "agent 'x' observed 50 at feature 0 (episode step 2), outside its observation space's bounds [0, 10]"
        in warned[0]
    )
    caplog.clear()
    clean = RunSpec(env="_hostile_envs:OutOfBounds?value=7", algo="iql", seed=0, config=config)
    with caplog.at_level("WARNING", logger="qmixbench.rollout"):
        train(clean, tmp_path / "clean", progress=False)
    assert not [r for r in caplog.records if r.name == "qmixbench.rollout"]


def test_integer_observations_are_stored_as_uint8_only_when_their_dtype_is_uint8():
    """Box(0, 10, int64) used to be stored as uint8 on its bounds alone, so 300 became 44."""
    from gymnasium import spaces

    from qmixbench.adapter import make_adapter
    from qmixbench.train import obs_storage_dtype

    adapter = make_adapter("_hostile_envs:Tiny")
    assert obs_storage_dtype(adapter) == torch.float32
    adapter.env._obs = {a: spaces.Box(0, 10, (2,), np.int64) for a in adapter.agents}
    assert obs_storage_dtype(adapter) == torch.float32
    assert obs_storage_dtype(make_adapter("multigrid/empty-5x5-v0")) == torch.uint8


def test_resume_over_a_damaged_checkpoint_runs_again_from_the_start(tmp_path):
    """A checkpoint.pt cut short (a full disk, a copy interrupted) is re-run, not a failure on every --resume."""
    config = resolve_config("vdn", TOY, env="matrix/two-step-v0")
    spec = RunSpec("matrix/two-step-v0", "vdn", 0, config, keep_checkpoints=True)  # a checkpoint to damage
    clean = train(spec, tmp_path / "clean", progress=False)
    damaged = train(spec, tmp_path / "damaged", progress=False)
    ckpt = Path(damaged["run_dir"]) / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    RunRecorder(Path(damaged["run_dir"])).set_status("interrupted", env_steps=48)  # as if stopped mid-run
    again = train(spec, tmp_path / "damaged", resume=True, progress=False)
    assert read_status(Path(again["run_dir"]))["status"] == "done"
    assert _values(Path(again["run_dir"])) == _values(Path(clean["run_dir"])), "the same run as a fresh one"

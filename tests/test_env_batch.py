"""The batched rollout path: a vector env gives exactly the episodes of the same envs stepped one at a time.

The vector env here is ``_fake_vector_env.FakeVectorEnv`` (pure numpy: K envs behind the VectorEnv
protocol's arrays), so the test runs without JAX; SMAX's own vector env is checked against its
``ParallelEnv`` step for step in ``tests/external/test_smax.py``, and through training in
``tests/external/test_smax_rollout.py``.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _fake_vector_env import FakeVectorEnv, vector_of
from test_adapter import ToyEnv, ToyEnvWithState

from qmixbench.adapter import EnvCompatibilityError, ParallelEnvAdapter
from qmixbench.algos import resolve_config
from qmixbench.algos.networks import AgentNetwork, input_dim
from qmixbench.config import RunSpec
from qmixbench.env_batch import AdapterBatch, VectorBatch, make_env_batch
from qmixbench.rollout import Episode, Rollout
from qmixbench.train import train
from qmixbench_envs import ENV_SPECS, EnvSpec, make, make_vector, offers_vector

torch.set_num_threads(1)

CASES: dict[str, Any] = {
    # b terminated at step 2, a truncated at 4: the episode is truncated and bootstraps from a only.
    "agent-finishes-early": lambda: ToyEnvWithState(b_ends_at=2, limit=4, mask_in="info"),
    # b terminated at step 3 of 3, a truncated there; summed rewards; masks in observation dicts.
    "both-end-on-the-last-step": lambda: ToyEnvWithState(b_ends_at=3, limit=3, mask_in="obs"),
    "limit-terminates-shared-reward": lambda: ToyEnvWithState(limit=5, limit_terminates=True, shared=True),
    "no-state-concatenated-obs": lambda: ToyEnv(b_ends_at=1, limit=3),
    # Seeded random starts, uint8 observations, success flags, variable episode lengths.
    "multigrid-random-starts": lambda: make("multigrid/empty-random-5x5-v0"),
    "matrix-climbing": lambda: make("matrix/climbing-v0", episode_limit=5),
}


def _rollouts(factory: Any, k: int) -> tuple[Rollout, Rollout, FakeVectorEnv]:
    """The same agent network over K envs stepped one at a time, and over K envs as one vector env."""
    serial = AdapterBatch([ParallelEnvAdapter(factory(), env_id="case") for _ in range(k)])
    vec = vector_of(factory, k)
    batched = VectorBatch(vec, ParallelEnvAdapter(factory(), env_id="case"))
    info = serial.info
    torch.manual_seed(0)
    agent = AgentNetwork(input_dim(info.obs_dim, info.n_agents, info.n_actions, True, True), info.n_actions, 8)

    def rollout(envs: Any) -> Rollout:
        return Rollout(envs, agent, obs_agent_id=True, obs_last_action=True, max_len=info.episode_limit)

    return rollout(serial), rollout(batched), vec


def _play(rollout: Rollout, steps: int) -> list[Episode]:
    """``steps`` lockstep steps (exploring, then half greedy), cut once half way as a checkpoint does."""
    gen = torch.Generator().manual_seed(1)
    rollout.reset_all([11, 12, 13])
    episodes: list[Episode] = []
    for t in range(steps):
        episodes += rollout.step(1.0 if t < steps // 2 else 0.5, gen)
        if t == steps // 2:
            episodes += rollout.cut()
            rollout.reset_all([21, 22, 23])
    return episodes


def _assert_same(a: Episode, b: Episode, where: str) -> None:
    for name in ("obs", "state", "avail", "alive", "actions", "reward"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, f"{where}: {name} dtype"
        np.testing.assert_array_equal(x, y, err_msg=f"{where}: {name}")
    assert (a.length, a.terminated, a.cut, a.ret) == (b.length, b.terminated, b.cut, b.ret), where
    assert a.success == b.success or (math.isnan(a.success) and math.isnan(b.success)), where


@pytest.mark.parametrize("case", sorted(CASES))
def test_vector_env_gives_exactly_the_episodes_of_envs_stepped_one_at_a_time(case: str) -> None:
    serial, batched, vec = _rollouts(CASES[case], k=3)
    one_at_a_time, vectorised = _play(serial, 60), _play(batched, 60)
    assert vec.steps == 60, "the batched rollout must step its envs through the vector env"
    assert len(one_at_a_time) == len(vectorised) >= 10
    for i, (a, b) in enumerate(zip(one_at_a_time, vectorised)):
        _assert_same(a, b, f"{case} episode {i}")
    ended = [ep for ep in one_at_a_time if not ep.cut]
    assert any(ep.cut for ep in one_at_a_time)
    # The cases cover what they say: a bootstrap mask naming only the truncated agent, terminations,
    # success flags of both values, masked actions.
    if case == "agent-finishes-early":
        assert all(ep.alive[ep.length].tolist() == [True, False] and not ep.terminated for ep in ended)
        assert all(ep.alive[3].tolist() == [True, False] and not ep.avail[:, :, 0].all() for ep in ended)
    if case == "limit-terminates-shared-reward":
        assert all(ep.terminated and not ep.alive[ep.length].any() and ep.ret == 15.0 for ep in ended)
    if case == "multigrid-random-starts":
        assert {ep.success for ep in ended} == {0.0, 1.0}
        assert len({ep.obs[0].tobytes() for ep in ended}) > 1, "random starts: the seeds must matter"


def test_finished_agents_observe_zeros_with_every_action_available_on_both_paths() -> None:
    # ToyEnv's b finishes at step 1; afterwards the env sends nothing for b and the fake vector env sends
    # junk rows (observation 7, no action available, reward 100): the VectorBatch must ignore them
    # exactly as the adapter ignores the absent dict entries.
    serial, batched, _ = _rollouts(lambda: ToyEnv(b_ends_at=1, limit=3, mask_in="info"), k=3)
    a, b = _play(serial, 10), _play(batched, 10)
    ep = a[0]
    assert ep.alive[1:3, 1].tolist() == [False, False] and ep.avail[2, 1].all() and not ep.obs[2, 1].any()
    assert ep.ret == 1.0 + 2.0 + 1.0 + 1.0  # b's 2 on the step it finished, then a's 1 a step
    for i, (x, y) in enumerate(zip(a, b)):
        _assert_same(x, y, f"episode {i}")


def test_vector_env_with_other_agents_is_refused() -> None:
    vec = vector_of(lambda: ToyEnvWithState(), 2)
    vec.possible_agents = ["b", "a"]
    with pytest.raises(EnvCompatibilityError, match=r"agents \['b', 'a'\] differ from the env's \['a', 'b'\]"):
        VectorBatch(vec, ParallelEnvAdapter(ToyEnvWithState(), env_id="toy"))


def test_registry_names_vector_envs_without_importing_them() -> None:
    assert offers_vector("smax/3m-v0") and offers_vector("smax")  # a family name resolves to its default
    assert not offers_vector("multigrid/empty-5x5-v0") and not offers_vector("matrix/two-step-v0")
    with pytest.raises(ValueError, match=r"matrix/two-step-v0 offers no vector env; ids that do: smax/2s3z-v0"):
        make_vector("matrix/two-step-v0", 4)
    # Building the training envs of a family without a vector env (or with it switched off) imports no JAX.
    code = (
        "import sys\n"
        "from qmixbench.env_batch import make_env_batch\n"
        "batch = make_env_batch('multigrid', None, 'auto', 4, vectorise=True)\n"
        "assert not batch.vectorised and batch.num_envs == 4\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'jaxmarl')]\n"
        "assert not bad, bad[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


TOY = {
    "total_env_steps": 96,
    "batch_size": 4,
    "buffer_size": 32,
    "eval_interval": 48,
    "eval_episodes": 2,
    "checkpoint_interval": 48,
    "hidden_dim": 8,
    "mixer.embed_dim": 4,
    "mixer.hypernet_embed": 8,
    "epsilon_anneal_steps": 64,
}


def _train(env: str, out: Path, **overrides: Any) -> tuple[list[dict[str, str]], dict]:
    spec = RunSpec(env, "qmix", 0, resolve_config("qmix", {**TOY, **overrides}, env=env))
    run = Path(train(spec, out, progress=False)["run_dir"])
    with (run / "metrics.csv").open() as fh:
        rows = [
            {k: v for k, v in row.items() if k not in ("wall_time_s", "env_steps_per_s")} for row in csv.DictReader(fh)
        ]
    return rows, json.loads((run / "config.json").read_text())


def test_training_takes_the_batched_path_when_the_env_offers_it_and_learns_the_same(tmp_path, monkeypatch) -> None:
    # A registered id whose vector_entry_point is the fake vector env of the same toy env.
    env = "test/toy-vector-v0"
    spec = EnvSpec(
        env,
        "test_adapter:ToyEnvWithState",
        {"b_ends_at": 3, "limit": 5},
        vector_entry_point="_fake_vector_env:toy_vector",
    )
    monkeypatch.setitem(ENV_SPECS, env, spec)
    assert make_env_batch(env, None, "auto", 3, vectorise=True).vectorised
    assert not make_env_batch(env, None, "auto", 3, vectorise=False).vectorised
    assert not make_env_batch(env, None, "auto", 1, vectorise=True).vectorised  # nothing to batch
    vectorised, record = _train(env, tmp_path / "vec", n_envs=3)
    one_at_a_time, record_serial = _train(env, tmp_path / "serial", n_envs=3, vector_env=False)
    assert (record["rollout"], record_serial["rollout"]) == ("vectorised", "one env at a time")
    assert len(vectorised) == 2 and vectorised == one_at_a_time  # losses, returns, episodes: all equal
    # ?key=value arguments reach the vector env as they reach the env.
    batch = make_env_batch(f"{env}?limit=2", None, "auto", 2, vectorise=True)
    assert isinstance(batch, VectorBatch) and batch.vec.envs[0]._limit == 2  # type: ignore[attr-defined]


def test_resume_may_switch_the_path_and_read_a_config_written_before_vector_env(tmp_path, monkeypatch) -> None:
    from qmixbench.algos.learner import QLearner

    env = "test/toy-vector-v0"
    spec = EnvSpec(
        env, "test_adapter:ToyEnvWithState", {"b_ends_at": 3}, vector_entry_point="_fake_vector_env:toy_vector"
    )
    monkeypatch.setitem(ENV_SPECS, env, spec)
    full, _ = _train(env, tmp_path / "full", n_envs=3, eval_interval=24)
    calls = {"n": 0}
    original = QLearner.update

    def crash_late(self: QLearner, batch: Any) -> float:
        calls["n"] += 1
        if calls["n"] == int(full[-1]["updates"]):  # the last update: after the checkpoint at env step 48
            raise RuntimeError("simulated crash")
        return original(self, batch)

    monkeypatch.setattr(QLearner, "update", crash_late)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train(env, tmp_path / "cut", n_envs=3, eval_interval=24)
    monkeypatch.setattr(QLearner, "update", original)
    run = next((tmp_path / "cut").rglob("checkpoint.pt")).parent
    with (run / "metrics.csv").open() as fh:
        assert int(list(csv.DictReader(fh))[-1]["env_steps"]) == 72  # a row past the checkpoint: resume drops it
    record = json.loads((run / "config.json").read_text())
    del record["config"]["vector_env"]  # as a run started before the switch existed wrote it
    (run / "config.json").write_text(json.dumps(record))
    cfg = resolve_config("qmix", {**TOY, "n_envs": 3, "eval_interval": 24, "vector_env": False}, env=env)
    train(RunSpec(env, "qmix", 0, cfg), tmp_path / "cut", resume=True, progress=False)
    with (run / "metrics.csv").open() as fh:
        resumed = [
            {k: v for k, v in r.items() if k not in ("wall_time_s", "env_steps_per_s")} for r in csv.DictReader(fh)
        ]
    assert resumed == full

"""SMAX's batched training path: K battles in one vectorised call give the per-env path's episodes exactly.

Exact agreement is expected, and tested, because SMAX is deterministic given its seeds: env k's JAX key
is ``PRNGKey(seed)`` at a seeded reset and is split at every reset and step, in the vector env as in
``SMAXParallelEnv`` (``test_smax.py`` checks the two step for step), and a reset without a seed
continues that env's own key in both. The vmapped step computes the same float32 values as the
unbatched one on the CPU (the step-for-step test compares them bit for bit).

Skipped, naming the extra, when jaxmarl is not installed; slow (compiles SMAX's batched functions).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("jaxmarl", reason="jaxmarl is not installed: pip install 'qmixbench[smax]'")

from qmixbench.algos.networks import AgentNetwork, input_dim
from qmixbench.cli import main
from qmixbench.env_batch import make_env_batch
from qmixbench.recorder import run_dir
from qmixbench.rollout import Episode, Rollout

pytestmark = pytest.mark.slow

ENV = "smax/3m-v0"
MOVE_EAST, STOP = 1, 4


def _attacker(obs_dim: int, n_agents: int, n_actions: int) -> AgentNetwork:
    """A network whose greedy action is fixed by its output bias: attack (enemy 0 first), else move east.

    The heuristic enemies win some of these battles and lose others, so win flags of both values occur.
    """
    net = AgentNetwork(input_dim(obs_dim, n_agents, n_actions, True, False), n_actions, 8)
    with torch.no_grad():
        net.fc2.weight.zero_()
        net.fc2.bias.copy_(torch.tensor([0.0, 5.0, 0.0, 0.0, -1.0] + [10.0 - j for j in range(n_actions - 5)]))
    return net


def _play(vectorise: bool, steps: int) -> tuple[list[Episode], bool]:
    envs = make_env_batch(ENV, {"max_steps": 13}, "auto", 4, vectorise=vectorise)
    info = envs.info
    agent = _attacker(info.obs_dim, info.n_agents, info.n_actions)
    rollout = Rollout(envs, agent, obs_agent_id=True, obs_last_action=False, max_len=info.episode_limit)
    gen = torch.Generator().manual_seed(0)
    rollout.reset_all([100, 101, 102, 103])
    episodes: list[Episode] = []
    for t in range(steps):
        # Greedy attackers (wins and losses), then some exploration. These battles take 11-17 steps,
        # so the 13-step limit truncates some of them.
        episodes += rollout.step(0.0 if t < steps // 2 else 0.3, gen)
    return episodes, envs.vectorised


def test_batched_smax_rollout_gives_the_episodes_of_envs_stepped_one_at_a_time() -> None:
    one_at_a_time, serial_flag = _play(vectorise=False, steps=160)
    vectorised, vector_flag = _play(vectorise=True, steps=160)
    assert (serial_flag, vector_flag) == (False, True)
    assert len(one_at_a_time) == len(vectorised) >= 8
    for i, (a, b) in enumerate(zip(one_at_a_time, vectorised)):
        for name in ("obs", "state", "avail", "alive", "actions", "reward"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"episode {i}: {name}")
        assert (a.length, a.terminated, a.ret, a.success) == (b.length, b.terminated, b.ret, b.success), i
    # What the comparison covered: wins (return 2), losses, time-limit truncations (bootstrapped).
    assert {ep.success for ep in one_at_a_time} == {0.0, 1.0}
    assert not any(math.isnan(ep.success) for ep in one_at_a_time)
    assert any(ep.success == 1.0 and ep.ret == pytest.approx(2.0, abs=1e-5) for ep in one_at_a_time)
    truncated = [ep for ep in one_at_a_time if not ep.terminated]
    assert truncated and all(ep.length == 13 and ep.alive[13].all() for ep in truncated)
    assert all(not ep.alive[ep.length].any() for ep in one_at_a_time if ep.terminated)


def _metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as fh:
        return [{k: v for k, v in r.items() if k not in ("wall_time_s", "env_steps_per_s")} for r in csv.DictReader(fh)]


def test_qmixbench_run_trains_on_the_batched_path_and_learns_what_the_per_env_path_learns(tmp_path: Path) -> None:
    common = ["--algos", "qmix", "--seeds", "0", "--steps", "400", "--executor", "serial"]
    sets = ["n_envs=4", "eval_interval=200", "eval_episodes=4", "batch_size=4", "epsilon_anneal_steps=200"]
    env = f"{ENV}?max_steps=30"
    runs = {}
    for name, extra in (("vectorised", []), ("serial", ["vector_env=false"])):
        argv = ["run", "--env", env, *common, "--out", str(tmp_path / name)]
        for item in sets + extra:
            argv += ["--set", item]
        assert main(argv) == 0
        runs[name] = run_dir(tmp_path / name, env, "qmix", 0, "")
    record = json.loads((runs["vectorised"] / "config.json").read_text())
    assert record["rollout"] == "vectorised" and record["config"]["vector_env"] is True
    assert json.loads((runs["serial"] / "config.json").read_text())["rollout"] == "one env at a time"
    rows = _metrics(runs["vectorised"])
    assert [int(r["env_steps"]) for r in rows] == [200, 400] and rows[-1]["td_loss"] not in ("", "nan")
    # Same seeds, same episodes: returns, losses and greedy evaluation agree to the last digit.
    assert rows == _metrics(runs["serial"])

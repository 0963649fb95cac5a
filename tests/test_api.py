"""The Python API: docs/python-api.md's example runs as written; a loaded policy acts as evaluation does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qmixbench  # noqa: E402
from qmixbench.evaluate import eval_seeds  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_the_docs_example_trains_loads_and_rolls_out(tmp_path, monkeypatch, capsys):
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)
    assert (tmp_path / "results/api-demo/matrix__two-step-v0/qmix/seed_0/agent.pt").exists()
    # QMIX finds the two-step game's optimum (8) at this budget (see tests/test_train.py), and the
    # decentralised policy plays it: 7 or less would mean the inputs or hidden states are wired wrong.
    assert scope["team_return"] == 8.0 and "return 8.0" in capsys.readouterr().out


def test_policy_replays_the_runs_last_evaluation(tmp_path):
    """An independent check of the wiring: the policy on the run's own evaluation seeds, stepped through
    the raw PettingZoo env, scores the last eval_return_mean that metrics.csv recorded."""
    run_dir = qmixbench.run(
        "multigrid/empty-5x5-v0",
        "qmix",
        seed=1,
        out=tmp_path,
        steps=400,
        overrides={"eval_interval": 400, "eval_episodes": 4, "n_envs": 4, "batch_size": 4, "obs_last_action": True},
    )
    policy = qmixbench.load_policy(run_dir / "agent.pt")
    env = qmixbench.make_env("multigrid/empty-5x5-v0")
    returns = []
    for seed in eval_seeds(1, 4):
        observations, infos = env.reset(seed=seed)
        policy.reset()
        total = 0.0
        while env.agents:
            observations, rewards, _, _, infos = env.step(policy.act(observations, infos))
            total += rewards[policy.agents[0]]  # multigrid's reward is shared
        returns.append(total)
    last = (run_dir / "metrics.csv").read_text().splitlines()
    header, row = last[0].split(","), last[-1].split(",")
    assert np.mean(returns) == pytest.approx(float(row[header.index("eval_return_mean")]), abs=1e-9)


def test_policy_honours_action_masks_and_keeps_hidden_state_per_agent(tmp_path):
    run_dir = qmixbench.run("matrix/two-step-v0", "qmix", seed=0, out=tmp_path, steps=200)
    policy = qmixbench.load_policy(run_dir)
    obs = {a: np.zeros(policy.obs_dim, np.float32) for a in policy.agents}
    policy.reset()
    only_1 = {a: {"action_mask": np.array([0, 1], np.int8)} for a in policy.agents}
    assert policy.act(obs, only_1) == dict.fromkeys(policy.agents, 1)
    policy.reset()
    policy.act({policy.agents[0]: obs[policy.agents[0]]})  # only agent_0 steps: only its state moves
    assert policy.hidden[policy.agents[1]].abs().sum() == 0 and policy.hidden[policy.agents[0]].abs().sum() > 0
    with pytest.raises(ValueError, match="allows no action"):
        policy.act(obs, {policy.agents[0]: {"action_mask": np.array([0, 0])}})


def test_import_qmixbench_imports_no_torch_and_exposes_the_api():
    code = (
        "import sys, qmixbench\n"
        "assert 'torch' not in sys.modules, 'import qmixbench imported torch'\n"
        "env = qmixbench.make_env('matrix/two-step-v0')\n"
        "assert 'torch' not in sys.modules, 'make_env imported torch'\n"
        "assert callable(qmixbench.run) and callable(qmixbench.load_policy)\n"
        "print(qmixbench.__version__, sorted(env.possible_agents))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == qmixbench.__version__

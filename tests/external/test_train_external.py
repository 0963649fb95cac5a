"""QMIX end to end on every registered external env and on the docs' own-env example (slow: ~2 min).

A few thousand env steps through the real ``train()``: proves the pipeline (adapter, padding, masks,
truncation, state) runs, not that anything is learned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmixbench.algos import resolve_config
from qmixbench.config import RunSpec
from qmixbench.train import train
from qmixbench_envs import ENV_SPECS

pytestmark = pytest.mark.slow

EXTERNAL_IDS = sorted(i for i, spec in ENV_SPECS.items() if ".external." in spec.entry_point)
PACKAGE = {
    "mpe": ("mpe2", "mpe"),
    "sisl": ("scipy", "sisl"),
    "lbf": ("lbforaging", "lbf"),
    "rware": ("rware", "rware"),
    "smax": ("jaxmarl", "smax"),
}
STEPS = 2000


def _train(env: str, out: Path) -> tuple[dict, dict]:
    overrides = {
        "total_env_steps": STEPS,
        "n_envs": 2,
        "eval_interval": STEPS,
        "eval_episodes": 2,
        "checkpoint_interval": STEPS,
        "batch_size": 8,
        "buffer_size": 100,
        "epsilon_anneal_steps": STEPS,
    }
    spec = RunSpec(env=env, algo="qmix", seed=0, config=resolve_config("qmix", overrides, env=env))
    summary = train(spec, out, progress=False)
    config = json.loads((Path(summary["run_dir"]) / "config.json").read_text())
    return summary, config


@pytest.mark.parametrize("env_id", EXTERNAL_IDS)
def test_qmix_runs_end_to_end(env_id: str, tmp_path: Path) -> None:
    module, extra = PACKAGE[env_id.split("/")[0]]
    pytest.importorskip(module, reason=f"{module} is not installed: pip install 'qmixbench[{extra}]'")
    summary, config = _train(env_id, tmp_path)
    assert summary["env_steps"] >= STEPS
    assert summary["eval_return_mean"] == summary["eval_return_mean"]  # not NaN
    info = config["env_info"]
    assert info["team_reward"] == ("sum" if env_id.startswith(("lbf/", "rware/")) else "shared")
    assert info["state_source"] == "env"


def test_qmix_runs_on_the_docs_example(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "my_env.py"
    summary, config = _train(f"{example}:MeetEnv?size=5", tmp_path)
    assert summary["env_steps"] >= STEPS and config["env_info"]["team_reward"] == "shared"

"""`qmixbench eval` and `qmixbench explain` through ``qmixbench.cli.main`` on a toy trained run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qmixbench.algos import resolve_config
from qmixbench.cli import main
from qmixbench.config import RunSpec
from qmixbench.train import train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def two_step_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    cfg = resolve_config(
        "qmix",
        {"total_env_steps": 400, "eval_interval": 200, "checkpoint_interval": 200, "batch_size": 8},
        env="matrix/two-step-v0",
    )
    return Path(train(RunSpec("matrix/two-step-v0", "qmix", 0, cfg), out, progress=False)["run_dir"])


def test_eval_replays_decentralised(two_step_run, capsys):
    assert main(["eval", str(two_step_run), "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 greedy decentralised episodes" in out and "success rate" in out


def test_saved_agent_holds_only_the_agent_weights(two_step_run):
    """The learner keeps all parameters in one buffer; agent.pt must not carry the mixer's along."""
    data = torch.load(two_step_run / "agent.pt", weights_only=True)
    for name, tensor in data["state_dict"].items():
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size(), name


def test_eval_gif_on_env_without_rgb_array_is_a_usage_error(two_step_run, capsys, tmp_path):
    pytest.importorskip("imageio")
    assert main(["eval", str(two_step_run), "--gif", str(tmp_path / "x.gif")]) == 2
    assert "rgb_array" in capsys.readouterr().err


def test_eval_gif_without_imageio_names_the_extra(two_step_run, capsys, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_imageio(name, *args, **kwargs):
        if name.startswith("imageio"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_imageio)
    assert main(["eval", str(two_step_run), "--gif", str(tmp_path / "x.gif")]) == 2
    assert "pip install qmixbench[gif]" in capsys.readouterr().err


def test_eval_writes_a_gif_of_a_multigrid_episode(tmp_path, capsys):
    pytest.importorskip("imageio")
    from qmixbench_envs import FAMILY_DEFAULTS

    if "multigrid" not in FAMILY_DEFAULTS:
        pytest.skip("multigrid family not registered")
    cfg = resolve_config(
        "qmix",
        {"total_env_steps": 32, "n_envs": 2, "batch_size": 2, "eval_episodes": 2, "hidden_dim": 8},
        env="multigrid",
    )
    run = Path(train(RunSpec("multigrid", "qmix", 0, cfg), tmp_path, progress=False)["run_dir"])
    gif = tmp_path / "episode.gif"
    assert main(["eval", str(run), "--episodes", "2", "--gif", str(gif)]) == 0
    assert gif.stat().st_size > 0 and "wrote" in capsys.readouterr().out


def test_explain_prints_learned_and_true_tables(two_step_run, capsys):
    assert main(["explain", str(two_step_run)]) == 0
    out = capsys.readouterr().out
    for part in ("state 1", "state 2A", "state 2B", "learned Q_tot (qmix)", "true values", "agent_0 Q"):
        assert part in out


def test_eval_and_explain_reject_a_non_run(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert main(["explain", str(tmp_path)]) == 2
    assert "not a" in capsys.readouterr().err

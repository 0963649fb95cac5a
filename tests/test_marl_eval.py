"""The marl-eval export read back by marl-eval itself, and the names marl-eval would misread refused.

The round trip runs where ``marl_eval`` (PyPI: ``id-marl-eval``) is importable and is skipped otherwise;
the name rules are checked without it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _fake_train import make_results, spec, train

from qmixbench import marl_eval, results
from qmixbench.cli import main

GRID_VARIANT = "lr=0.001,mixer.embed_dim=64"  # a two-key grid variant: its name has a comma


def _results(tmp_path):
    """Two matrix tasks x qmix, vdn and a two-key qmix grid variant x seeds 0-2, with the fake train.

    The fake's return at the final evaluation (400 env steps) is FINAL[algo] + 0.1 seed, +1 for the
    variant's larger lr (tests/_fake_train.py); evaluations are at 100, 200, 300 and 400 env steps.
    """
    envs = ("matrix/two-step-v0", "matrix/climbing-v0")
    make_results(tmp_path, envs=envs, algos=("qmix", "vdn"), seeds=(0, 1, 2))
    for env in envs:
        for seed in (0, 1, 2):
            train(spec(env, "qmix", seed, variant=GRID_VARIANT, lr=1e-3), tmp_path)
    return results.load([tmp_path])


def test_grid_variants_are_named_without_commas(tmp_path):
    data = marl_eval.marl_eval_data(_results(tmp_path))
    assert sorted(data["matrix"]["two-step-v0"]) == ["qmix", "qmix[lr=0.001;mixer.embed_dim=64]", "vdn"]


def test_names_that_marl_eval_would_merge_are_refused(tmp_path):
    table = _results(tmp_path)
    shouting = table.assign(algo=table["algo"].replace({"vdn": "QMIX"}))  # "QMIX" and "qmix" are one name there
    with pytest.raises(marl_eval.ExportError, match="algorithms 'QMIX' and 'qmix' would become one in marl-eval"):
        marl_eval.marl_eval_data(shouting)
    semicolon = table.assign(variant=table["variant"].replace({"": "lr=0.001;mixer.embed_dim=64"}))
    with pytest.raises(marl_eval.ExportError, match=r"algorithms 'qmix\[lr=0.001,mixer.embed_dim=64\]' and"):
        marl_eval.marl_eval_data(semicolon)
    tasks = table.assign(env=table["env"].replace({"matrix/climbing-v0": "matrix/Two-Step-v0"}))
    with pytest.raises(marl_eval.ExportError, match="tasks 'matrix/Two-Step-v0' and 'matrix/two-step-v0'"):
        marl_eval.marl_eval_data(tasks)


def test_the_report_command_refuses_a_merging_export_before_writing_anything(tmp_path, capsys):
    for variant in (GRID_VARIANT, GRID_VARIANT.replace(",", ";")):  # one name once commas are semicolons
        train(spec("matrix/two-step-v0", "qmix", 0, variant=variant, lr=1e-3), tmp_path)
    export = tmp_path / "me.json"
    assert main(["report", str(tmp_path), "--reps", "20", "--marl-eval", str(export)]) == 2
    err = capsys.readouterr().err
    assert "--marl-eval: algorithms 'qmix[lr=0.001,mixer.embed_dim=64]' and 'qmix[lr=0.001;mixer.embed_dim=64]'" in err
    assert not export.exists() and not (tmp_path / "report.md").exists()


def test_marl_eval_reads_the_export_with_its_own_pipeline(tmp_path):
    try:
        from marl_eval.utils.data_processing_utils import create_matrices_for_rliable, data_process_pipeline
        from marl_eval.utils.diagnose_data_errors import DiagnoseData
    except ImportError as exc:
        pytest.skip(f"marl-eval is not importable here ({exc}); `pip install id-marl-eval` runs this round trip")
    path = tmp_path / "marl-eval.json"
    path.write_text(json.dumps(marl_eval.marl_eval_data(_results(tmp_path / "runs"))))
    raw = json.loads(path.read_text())

    assert DiagnoseData(raw).check_data() == {
        "matrix": dict.fromkeys(
            ["valid_algorithms", "valid_algorithm_names", "valid_runs", "valid_steps", "valid_metrics"], True
        )
    }
    processed = data_process_pipeline(raw_data=raw, metrics_to_normalize=["return"])
    # On a format error the pipeline prints it and hands back the raw data, without its "extra" summary.
    extra = processed["extra"]
    assert extra["environment_list"] == {"matrix": ["climbing-v0", "two-step-v0"]}
    assert extra["number_of_runs"] == 3 and extra["number_of_steps"] == 4
    assert extra["evaluation_interval"] == {"matrix": 100}
    matrices, curves = create_matrices_for_rliable(
        processed, environment_name="matrix", metrics_to_normalize=["return"]
    )

    # By hand: per task, marl-eval min-max normalises over every step of every run of every algorithm:
    # lowest vdn seed 0 at 100 steps (7 x 100/400 = 1.75), highest the variant's seed 2 at the end (8 + 0.2 + 1).
    low, high = 1.75, 9.2
    final = {"qmix": 8.0, "vdn": 7.0, "qmix[lr=0.001;mixer.embed_dim=64]": 9.0}
    assert sorted(matrices["mean_norm_return"]) == sorted(final)
    for algorithm, value in final.items():
        by_seed = np.array([value + 0.1 * seed for seed in range(3)])
        expected = np.repeat(((by_seed - low) / (high - low + 1e-6))[:, None], 2, axis=1)  # (R=3 runs, T=2 tasks)
        np.testing.assert_allclose(matrices["mean_norm_return"][algorithm], expected, rtol=1e-12)
        assert curves["mean_norm_return"][algorithm].shape == (3, 2, 4)  # runs x tasks x evaluations

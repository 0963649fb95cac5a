"""QMIX's successors do what their papers show on the Weighted-QMIX matrix game, where QMIX and VDN cannot.

The payoff [[8, -12, -12], [-12, 0, 0], [-12, 0, 0]] with uniformly random joint actions (as both papers'
matrix-game experiments): a monotone (QMIX) or additive (VDN) fit of it ranks the optimum (0, 0) below
the zeros, so their greedy joint action earns 0; Weighted QMIX's weighting (Rashid et al. 2020) and
QPLEX's joint-action-dependent advantage weights (Wang et al. 2021) recover the 8.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from qmixbench import sweep
from qmixbench.algos import resolve_config
from qmixbench.config import RunSpec
from qmixbench.train import train

ENV = "matrix/wqmix-one-step-v0"


def _greedy_return(algo: str, seed: int, tmp_path: Path, **overrides: object) -> float:
    spec = RunSpec(ENV, algo, seed, resolve_config(algo, dict(overrides), env=ENV))
    return float(train(spec, tmp_path, progress=False)["eval_return_mean"])


@pytest.mark.parametrize(("algo", "expected"), [("cw-qmix", 8.0), ("ow-qmix", 8.0), ("qmix", 0.0)])
def test_weighting_recovers_the_optimum_that_qmix_misses(tmp_path, algo, expected):
    # 1,500 uniform episodes: Weighted QMIX settles within 1k (measured); QMIX never ranks (0, 0) first.
    steps = {"total_env_steps": 1_500, "eval_interval": 1_500, "checkpoint_interval": 1_500}
    assert _greedy_return(algo, 0, tmp_path, **steps) == expected


@pytest.mark.slow
def test_matrix_game_presets_over_five_seeds(tmp_path):
    """The issue's evidence at the env's recommended defaults: 8 in >= 4 of 5 seeds for CW-QMIX, OW-QMIX
    and QPLEX; never for QMIX and VDN."""
    algos = ["qmix", "vdn", "cw-qmix", "ow-qmix", "qplex"]
    specs = sweep.expand([ENV], algos, [0, 1, 2, 3, 4])
    outcomes = sweep.execute(specs, tmp_path, workers=2)
    finals: dict[str, list[float]] = {}
    for outcome in outcomes:
        assert outcome.status == "done", outcome.error
        with open(Path(outcome.run_dir) / "metrics.csv") as fh:
            last = list(csv.DictReader(fh))[-1]
        finals.setdefault(outcome.algo, []).append(float(last["eval_return_mean"]))
    for algo in ("cw-qmix", "ow-qmix", "qplex"):
        assert sum(r == 8.0 for r in finals[algo]) >= 4, (algo, finals[algo])
    for algo in ("qmix", "vdn"):
        assert not any(r == 8.0 for r in finals[algo]), (algo, finals[algo])

"""`qmixbench report` and `list`, and the results/stats/report/suite/grid/cross-task modules and every module of the
sweep package, never import torch (nor JAX).

Checked in a fresh interpreter, since this test process may have imported torch already.
"""

from __future__ import annotations

import subprocess
import sys

from _fake_train import make_results

CODE = """
import importlib
import pkgutil
import sys
from qmixbench import cross_task, grid, marl_eval, references, report, results, stats, suite, sweep
swept = [importlib.import_module(m.name).__name__ for m in pkgutil.walk_packages(sweep.__path__, "qmixbench.sweep.")]
assert "qmixbench.sweep.executors" in swept, swept
from qmixbench.cli import main
path = sys.argv[1]
codes = [main(["report", path, "--reps", "50"]), main(["list", "envs"]), main(["list", "algos"]), main(["list", "runs", path])]
assert codes == [0, 0, 0, 0], codes
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print("TORCH-LOADED:", loaded[:5])
jax = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "jaxmarl"))
print("JAX-LOADED:", jax[:5])
"""


def test_report_list_results_stats_never_import_torch(tmp_path):
    make_results(tmp_path, algos=("qmix", "vdn"), seeds=(0, 1))
    proc = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "TORCH-LOADED: []" in proc.stdout, proc.stdout[-2000:]
    assert "JAX-LOADED: []" in proc.stdout, proc.stdout[-2000:]  # the smax extra's JAX, listed in `list envs`

"""One module per multigrid task; each module's docstring documents the task."""

from qmixbench_envs.multigrid.tasks.collect import CollectEnv
from qmixbench_envs.multigrid.tasks.empty import EmptyEnv
from qmixbench_envs.multigrid.tasks.heavy_box import HeavyBoxEnv
from qmixbench_envs.multigrid.tasks.key_door import KeyDoorEnv
from qmixbench_envs.multigrid.tasks.red_blue_doors import RedBlueDoorsEnv
from qmixbench_envs.multigrid.tasks.two_step_vault import TwoStepVaultEnv

__all__ = ["CollectEnv", "EmptyEnv", "HeavyBoxEnv", "KeyDoorEnv", "RedBlueDoorsEnv", "TwoStepVaultEnv"]

"""The multi-agent MiniGrid port: minigrid's world objects and encodings, N agents, PettingZoo parallel API.

``base.MultiGridEnv`` holds the rules every task shares (action order, views, state, reward and
termination conventions); ``tasks/`` holds one small module per task, whose docstring is its page.
"""

from qmixbench_envs.multigrid.base import MultiGridEnv
from qmixbench_envs.multigrid.tasks import (
    CollectEnv,
    EmptyEnv,
    HeavyBoxEnv,
    KeyDoorEnv,
    RedBlueDoorsEnv,
    TwoStepVaultEnv,
)

__all__ = ["CollectEnv", "EmptyEnv", "HeavyBoxEnv", "KeyDoorEnv", "MultiGridEnv", "RedBlueDoorsEnv", "TwoStepVaultEnv"]

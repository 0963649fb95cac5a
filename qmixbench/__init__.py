"""qmixbench: benchmark QMIX, VDN and IQL on PettingZoo parallel envs with honest statistics.

The Python API (docs/python-api.md)::

    import qmixbench
    run_dir = qmixbench.run("matrix/two-step-v0", "qmix", seed=0, out="results/api")
    policy = qmixbench.load_policy(run_dir)
    env = qmixbench.make_env("matrix/two-step-v0")

The names load on first use, so ``import qmixbench`` (and ``qmixbench report``/``list``) never imports
torch. ``run``, not ``train``: ``qmixbench.train`` is the training module's name, and importing it
would replace a function of that name on this package.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API: dict[str, str] = {
    "run": "qmixbench.api",
    "make_env": "qmixbench.api",
    "RunFailedError": "qmixbench.api",
    "QmixbenchError": "qmixbench.errors",
    "load_policy": "qmixbench.policy",
    "Policy": "qmixbench.policy",
}
"""Public name -> the module that defines it (imported when the name is first used)."""

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'qmixbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])

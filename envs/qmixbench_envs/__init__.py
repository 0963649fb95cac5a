"""qmixbench's environments: a multi-agent MiniGrid port and matrix games, as PettingZoo ParallelEnvs.

Also registers thin factories for external cooperative envs (MPE, SISL, LBF, RWARE; see
``qmixbench_envs.external``), whose packages are optional extras imported only when made.

Imports numpy, gymnasium, pettingzoo and minigrid only: never torch, never ``qmixbench``.

Conventions qmixbench's own envs (``multigrid/*``, ``matrix/*``) follow; the learner's adapter
relies on the first two for every env, and external envs may lack a notion of success:

* ``metadata["team_reward"] == "shared"``: every agent's reward entry is the team reward itself, so
  the team's reward is that value, not the sum over agents.
* ``terminations`` mean the episode ended by success or failure (no bootstrap); ``truncations``
  mean the step limit was hit (the learner bootstraps). Never both for one cause.
* On the last step ``infos[agent]["success"]`` is a bool saying whether the team solved the task.
* ``state()`` has a fixed shape given by ``state_space``; it is for centralised training only.

A family may also offer a vector env (K copies stepped in one call, arrays with a leading K axis):
see ``qmixbench_envs.vector`` and ``EnvSpec.vector_entry_point``.
"""

from qmixbench_envs.registry import (
    ENV_SPECS,
    FAMILY_DEFAULTS,
    EnvSpec,
    UnknownEnvError,
    make,
    make_vector,
    offers_vector,
    resolve_id,
)

__all__ = [
    "ENV_SPECS",
    "FAMILY_DEFAULTS",
    "EnvSpec",
    "UnknownEnvError",
    "make",
    "make_vector",
    "offers_vector",
    "resolve_id",
]

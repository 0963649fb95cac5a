"""Cooperative envs from other packages, as PettingZoo ParallelEnvs that follow qmixbench's conventions.

Each factory imports its package only when called; a missing package raises :class:`MissingExtraError`
naming the extra to install. Nothing here imports torch or ``qmixbench``.

| registered id | factory | extra | agents | team reward | state |
|---|---|---|---|---|---|
| ``mpe/simple-spread-v3`` | ``mpe:simple_spread`` (N=3, local_ratio=0) | ``mpe`` | 3 | shared | mpe2's ``state()`` (54,) |
| ``mpe/simple-speaker-listener-v4`` | ``mpe:simple_speaker_listener`` | ``mpe`` | 2, heterogeneous | shared | (14,) |
| ``mpe/simple-reference-v3`` | ``mpe:simple_reference`` (local_ratio=0) | ``mpe`` | 2 | shared | (42,) |
| ``sisl/pursuit-v5`` | ``sisl:pursuit`` | ``sisl`` | 8 pursuers | shared | map (16, 16, 3) |
| ``lbf/8x8-2p-2f-coop-v3`` etc. | ``lbf:foraging`` | ``lbf`` | 2-4 | sum | concatenated observations |
| ``rware/tiny-2ag-v2`` etc. | ``rware:warehouse`` | ``rware`` | 2-4 | sum | global image (C, H, W) |
| ``smax/3m-v0`` etc. | ``smax:smax`` (``map_name``) | ``smax`` | 3-8 allies | shared | JaxMARL's world state scaled to [0, 1] |

Ids carry the upstream env's own name and version (``simple_spread_v3`` -> ``mpe/simple-spread-v3``,
lbforaging's ``Foraging-8x8-2p-2f-coop-v3`` -> ``lbf/8x8-2p-2f-coop-v3``); kwargs fixed by an id are
in ``qmixbench_envs.registry.ENV_SPECS``.

Why native parallel wrappers for MPE and pursuit: mpe2 and ``pettingzoo.sisl`` are AEC-native and
their ``parallel_env()`` is ``aec_to_parallel`` over the AEC env, one AEC step (with its bookkeeping)
per agent. The wrappers here step the same scenario code once per joint action: measured here with
random actions, simple_spread ~3.8k env-steps/s against ~1.9k, pursuit ~300 against ~190. They also
declare the team-reward convention (``metadata["team_reward"]``). They are checked step for step
against the upstream ``parallel_env()`` in ``tests/external``.

Termination vs truncation (the learner bootstraps from a truncated step and not from a terminated one):

* lbforaging 2.0.0 and rware 2.0.0 return their time limit as ``terminated=True, truncated=False``.
  LBF: its episode ends when all food is collected (``env.field.sum() == 0``, a real termination) or
  when ``current_step >= max_episode_steps``; the wrapper reads ``field`` after the step, so an end
  with food left is a truncation. RWARE has no terminal state at all: it ends only at ``max_steps`` or
  ``max_inactivity_steps`` (steps without a delivery), both time limits, so every end is a truncation.
* SMAX ends on its time limit with ``done``; its wrapper reports that as a truncation unless a team was
  wiped out on that step.
* mpe2 and pursuit report the time limit as truncation already; where a terminal state (all evaders
  caught; spread's ``terminate_on_success``) falls on the last allowed step, these wrappers report a
  truncation, as upstream does.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ModuleNotFoundError):
    """An optional package is not installed; the message names the qmixbench extra that installs it."""


def import_optional(module: str, extra: str, package: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``pip install 'qmixbench[extra]'``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"{package} is not installed (import of {module!r} failed: no module {exc.name!r}); "
            f"install it with: pip install 'qmixbench[{extra}]'",
            name=exc.name,
        ) from exc

"""The one env registry: ids of the form ``namespace/name-vN`` mapped to factories.

``ENV_SPECS`` is a single dict literal; importing this module imports no env code (entry points are
strings resolved on ``make``), so ``qmixbench list envs`` and the report stay fast.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any

from pettingzoo import ParallelEnv

from qmixbench_envs.vector import VectorEnv


@dataclass(frozen=True)
class EnvSpec:
    """A registered environment."""

    id: str
    """Registered id, ``namespace/name-vN``; bump N on any change to dynamics, reward or observation."""
    entry_point: str
    """``module:callable`` returning a ``pettingzoo.ParallelEnv``; resolved lazily by :func:`make`."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments the id fixes; ``make(id, **kw)`` may override them."""
    summary: str = ""
    """One line: what coordination the task needs."""
    describe: str = ""
    """Optional ``module:callable`` taking the id's kwargs and returning its facts (``agents``, ``obs_shape``,
    ``state_shape``, ``n_actions``, ``episode_limit``, ``team_reward``) without building the env: for
    envs whose construction is costly (SMAX compiles JAX code), so that listing ids stays fast."""
    vector_entry_point: str = ""
    """Optional ``module:callable`` taking ``num_envs`` and the id's kwargs and returning a
    :class:`qmixbench_envs.vector.VectorEnv` of that many copies, each stepping exactly as the env of
    ``entry_point`` does: the batched path of qmixbench's rollout. "" when the family offers none."""


ENV_SPECS: dict[str, EnvSpec] = {
    spec.id: spec
    for spec in (
        EnvSpec(
            "matrix/two-step-v0",
            "qmixbench_envs.matrix:TwoStepEnv",
            summary="QMIX paper's two-step game: agent 1 picks the game; optimum 8 needs non-linear mixing",
        ),
        EnvSpec(
            "matrix/climbing-v0",
            "qmixbench_envs.matrix:MatrixGameEnv",
            {"game": "climbing"},
            summary="climbing game over 25 steps: optimum (11) hides behind -30 miscoordination penalties",
        ),
        EnvSpec(
            "matrix/penalty-v0",
            "qmixbench_envs.matrix:MatrixGameEnv",
            {"game": "penalty", "k": 100.0},
            summary="penalty game over 25 steps: two optima (10) with penalty -k if the agents disagree",
        ),
        EnvSpec(
            "matrix/wqmix-one-step-v0",
            "qmixbench_envs.matrix:MatrixGameEnv",
            {"game": "wqmix", "episode_limit": 1},
            summary="Weighted QMIX one-step game: optimum 8 amid -12s; QMIX and VDN both miss it",
        ),
        # External packages (optional extras; see qmixbench_envs.external): ids keep upstream versions.
        EnvSpec(
            "mpe/simple-spread-v3",
            "qmixbench_envs.external.mpe:simple_spread",
            {"N": 3, "local_ratio": 0.0, "max_cycles": 25},
            summary="[mpe] 3 agents cover 3 landmarks without colliding; shared reward, 25 steps",
        ),
        EnvSpec(
            "mpe/simple-speaker-listener-v4",
            "qmixbench_envs.external.mpe:simple_speaker_listener",
            {"max_cycles": 25},
            summary="[mpe] a mute listener moves to the landmark that a static speaker names; heterogeneous",
        ),
        EnvSpec(
            "mpe/simple-reference-v3",
            "qmixbench_envs.external.mpe:simple_reference",
            {"local_ratio": 0.0, "max_cycles": 25},
            summary="[mpe] 2 agents each tell the other which landmark to reach; shared reward",
        ),
        EnvSpec(
            "sisl/pursuit-v5",
            "qmixbench_envs.external.sisl:pursuit",
            summary="[sisl] 8 pursuers surround 30 random evaders on 16x16; shared reward, 500 steps",
        ),
        EnvSpec(
            "lbf/8x8-2p-2f-coop-v3",
            "qmixbench_envs.external.lbf:foraging",
            {"players": 2, "field_size": 8, "max_num_food": 2, "coop": True},
            summary="[lbf] 2 agents must load each food together; 50 steps, truncated",
        ),
        EnvSpec(
            "lbf/8x8-2p-3f-v3",
            "qmixbench_envs.external.lbf:foraging",
            {"players": 2, "field_size": 8, "max_num_food": 3},
            summary="[lbf] 2 agents, 3 foods, some need both agents' levels; 50 steps",
        ),
        EnvSpec(
            "lbf/10x10-3p-3f-v3",
            "qmixbench_envs.external.lbf:foraging",
            {"players": 3, "field_size": 10, "max_num_food": 3},
            summary="[lbf] 3 agents, 3 foods on 10x10; 50 steps",
        ),
        EnvSpec(
            "rware/tiny-2ag-v2",
            "qmixbench_envs.external.rware:warehouse",
            {"size": "tiny", "n_agents": 2},
            summary="[rware] 2 robots deliver requested shelves; sparse individual rewards, 500 steps",
        ),
        EnvSpec(
            "rware/tiny-4ag-v2",
            "qmixbench_envs.external.rware:warehouse",
            {"size": "tiny", "n_agents": 4},
            summary="[rware] 4 robots in the tiny warehouse: congestion; 500 steps",
        ),
        EnvSpec(
            "rware/small-4ag-v2",
            "qmixbench_envs.external.rware:warehouse",
            {"size": "small", "n_agents": 4},
            summary="[rware] 4 robots, small warehouse (2x3 shelf blocks); 500 steps",
        ),
        EnvSpec(
            "smax/3m-v0",
            "qmixbench_envs.external.smax:smax",
            {"map_name": "3m"},
            summary="[smax] 3 marines against 3 heuristic marines: focus fire; 100 steps",
            describe="qmixbench_envs.external.smax:describe",
            vector_entry_point="qmixbench_envs.external.smax:smax_vector",
        ),
        EnvSpec(
            "smax/8m-v0",
            "qmixbench_envs.external.smax:smax",
            {"map_name": "8m"},
            summary="[smax] 8 marines a side: focus fire at scale; 100 steps",
            describe="qmixbench_envs.external.smax:describe",
            vector_entry_point="qmixbench_envs.external.smax:smax_vector",
        ),
        EnvSpec(
            "smax/2s3z-v0",
            "qmixbench_envs.external.smax:smax",
            {"map_name": "2s3z"},
            summary="[smax] 2 stalkers + 3 zealots a side: mixed units, zealots shield stalkers",
            describe="qmixbench_envs.external.smax:describe",
            vector_entry_point="qmixbench_envs.external.smax:smax_vector",
        ),
        EnvSpec(
            "smax/3s5z-v0",
            "qmixbench_envs.external.smax:smax",
            {"map_name": "3s5z"},
            summary="[smax] 3 stalkers + 5 zealots a side: mixed units, 8 agents",
            describe="qmixbench_envs.external.smax:describe",
            vector_entry_point="qmixbench_envs.external.smax:smax_vector",
        ),
        EnvSpec(
            "smax/5m-vs-6m-v0",
            "qmixbench_envs.external.smax:smax",
            {"map_name": "5m_vs_6m"},
            summary="[smax] 5 marines against 6: outnumbered, needs focus fire and kiting",
            describe="qmixbench_envs.external.smax:describe",
            vector_entry_point="qmixbench_envs.external.smax:smax_vector",
        ),
        EnvSpec(
            "smax/3s-vs-5z-v0",
            "qmixbench_envs.external.smax:smax",
            {"map_name": "3s_vs_5z"},
            summary="[smax] 3 stalkers against 5 zealots: kiting (stalkers outrange zealots)",
            describe="qmixbench_envs.external.smax:describe",
            vector_entry_point="qmixbench_envs.external.smax:smax_vector",
        ),
        EnvSpec(
            "smax/smacv2-5-units-v0",
            "qmixbench_envs.external.smax:smax",
            {"map_name": "smacv2_5_units"},
            summary="[smax] SMACv2-style 5 v 5: random unit types and start positions each episode",
            describe="qmixbench_envs.external.smax:describe",
            vector_entry_point="qmixbench_envs.external.smax:smax_vector",
        ),
        # Multi-agent MiniGrid (qmixbench_envs/multigrid/tasks/*: each module's docstring is the task's page).
        EnvSpec(
            "multigrid/empty-5x5-v0",
            "qmixbench_envs.multigrid.tasks.empty:EmptyEnv",
            {"size": 5},
            summary="navigation sanity: any agent reaching the goal wins; agents must not block each other",
        ),
        EnvSpec(
            "multigrid/empty-6x6-v0",
            "qmixbench_envs.multigrid.tasks.empty:EmptyEnv",
            {"size": 6},
            summary="navigation sanity: any agent reaching the goal wins; agents must not block each other",
        ),
        EnvSpec(
            "multigrid/empty-8x8-v0",
            "qmixbench_envs.multigrid.tasks.empty:EmptyEnv",
            {"size": 8},
            summary="navigation sanity: any agent reaching the goal wins; agents must not block each other",
        ),
        EnvSpec(
            "multigrid/empty-16x16-v0",
            "qmixbench_envs.multigrid.tasks.empty:EmptyEnv",
            {"size": 16},
            summary="navigation sanity: any agent reaching the goal wins; agents must not block each other",
        ),
        EnvSpec(
            "multigrid/empty-random-5x5-v0",
            "qmixbench_envs.multigrid.tasks.empty:EmptyEnv",
            {"size": 5, "random_start": True},
            summary="navigation from random starts: corners look alike in a 7x7 view; memory helps",
        ),
        EnvSpec(
            "multigrid/empty-random-6x6-v0",
            "qmixbench_envs.multigrid.tasks.empty:EmptyEnv",
            {"size": 6, "random_start": True},
            summary="navigation from random starts: corners look alike in a 7x7 view; memory helps",
        ),
        EnvSpec(
            "multigrid/red-blue-doors-6x6-v0",
            "qmixbench_envs.multigrid.tasks.red_blue_doors:RedBlueDoorsEnv",
            {"size": 6},
            summary="ordering: the red door must be opened before the blue one, by any agents",
        ),
        EnvSpec(
            "multigrid/red-blue-doors-8x8-v0",
            "qmixbench_envs.multigrid.tasks.red_blue_doors:RedBlueDoorsEnv",
            {"size": 8},
            summary="ordering: the red door must be opened before the blue one, by any agents",
        ),
        EnvSpec(
            "multigrid/key-door-6x6-v0",
            "qmixbench_envs.multigrid.tasks.key_door:KeyDoorEnv",
            {"size": 6},
            summary="tool use: one agent fetches the key and unlocks the door every agent must pass",
        ),
        EnvSpec(
            "multigrid/key-door-8x8-v0",
            "qmixbench_envs.multigrid.tasks.key_door:KeyDoorEnv",
            {"size": 8},
            summary="tool use: one agent fetches the key and unlocks the door every agent must pass",
        ),
        EnvSpec(
            "multigrid/heavy-box-7x7-v0",
            "qmixbench_envs.multigrid.tasks.heavy_box:HeavyBoxEnv",
            {"size": 7},
            summary="joint action: two agents in a row must push the box together onto the target",
        ),
        EnvSpec(
            "multigrid/collect-8x8-v0",
            "qmixbench_envs.multigrid.tasks.collect:CollectEnv",
            {"size": 8, "n_balls": 4},
            summary="collection: the team gathers all 4 balls; splitting the room pays",
        ),
        EnvSpec(
            "multigrid/two-step-vault-v0",
            "qmixbench_envs.multigrid.tasks.two_step_vault:TwoStepVaultEnv",
            summary="two-step game in the grid: call off (7) or both lift gold together (8); VDN undervalues the raid",
        ),
    )
}

FAMILY_DEFAULTS: dict[str, str] = {
    "matrix": "matrix/two-step-v0",
    "mpe": "mpe/simple-spread-v3",
    "sisl": "sisl/pursuit-v5",
    "lbf": "lbf/8x8-2p-2f-coop-v3",
    "rware": "rware/tiny-2ag-v2",
    "smax": "smax/3m-v0",
    # The task whose table shows a true difference between QMIX and VDN within the main job's ~10 minutes
    # (`qmixbench run --env multigrid --algos qmix,vdn`): the QMIX paper's two-step game in the grid, where
    # QMIX's state-dependent mixing earns 8 and VDN's additive value settles for 7
    # (results/reference/multigrid-core/). The calibration's other solved tasks need 100k-200k env steps
    # per run, or all three algorithms solve them alike.
    "multigrid": "multigrid/two-step-vault-v0",
}
"""A family name alone (``--env multigrid``) names its default task."""


class UnknownEnvError(KeyError):
    """An env id that is neither registered nor a family name."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def resolve_id(env_id: str) -> str:
    """Return the registered id for ``env_id``, expanding family names; raise with close matches."""
    env_id = FAMILY_DEFAULTS.get(env_id, env_id)
    if env_id in ENV_SPECS:
        return env_id
    known = sorted(ENV_SPECS) + sorted(FAMILY_DEFAULTS)
    close = difflib.get_close_matches(env_id, known, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"registered: {', '.join(known)}"
    raise UnknownEnvError(f"unknown env id {env_id!r}; {hint} (`qmixbench list envs` lists them all)")


def _load(entry_point: str) -> Any:
    module_name, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def make(env_id: str, **kwargs: Any) -> ParallelEnv:
    """Build a registered env: ``make("multigrid/empty-8x8-v0", n_agents=3)``."""
    spec = ENV_SPECS[resolve_id(env_id)]
    return _load(spec.entry_point)(**{**spec.kwargs, **kwargs})


def offers_vector(env_id: str) -> bool:
    """Whether the registered ``env_id`` (or family name) has a vector env (no env code is imported)."""
    return bool(ENV_SPECS[resolve_id(env_id)].vector_entry_point)


def make_vector(env_id: str, num_envs: int, **kwargs: Any) -> VectorEnv:
    """Build ``num_envs`` copies of a registered env as one vector env: ``make_vector("smax/3m-v0", 8)``.

    Raises ``ValueError`` when the id's family offers no vector env (see :func:`offers_vector`).
    """
    spec = ENV_SPECS[resolve_id(env_id)]
    if not spec.vector_entry_point:
        with_vector = sorted(i for i, s in ENV_SPECS.items() if s.vector_entry_point)
        raise ValueError(f"{spec.id} offers no vector env; ids that do: {', '.join(with_vector)}")
    return _load(spec.vector_entry_point)(num_envs=num_envs, **{**spec.kwargs, **kwargs})

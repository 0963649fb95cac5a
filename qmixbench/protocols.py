"""Named protocols: published training and evaluation settings for an env family, per algorithm.

A protocol reproduces a study's setup on a family of tasks (every LBF task, every MPE task: never one
task), so other tasks of the family are checked with the same settings. It is applied by
:func:`qmixbench.algos.resolve_config` after the env's recommended defaults and before the user's
overrides (suite ``[overrides]``, ``--set``), and its name is recorded in each run's ``config.json``
(``run.protocol``). Select one with ``qmixbench run --protocol NAME`` or ``protocol = "NAME"`` in a
suite. Torch-free.

``papoudakis2021``: Papoudakis, Christianos, Schäfer, Albrecht, "Benchmarking Multi-Agent Deep
Reinforcement Learning Algorithms in Cooperative Tasks", NeurIPS Datasets and Benchmarks 2021
(arXiv:2006.07869; EPyMARL). Sources read for each value are cited next to it:

* [P15] the paper's Section 4.1 as quoted in the EPyMARL issue tracker, uoe-agents/epymarl#15: "we
  train off-policy algorithms for two million steps ... We evaluate off-policy algorithms every
  50,000 steps ... a total of 40 evaluations are executed during the training of each algorithm".
* [E] the study's code base, uoe-agents/epymarl ``src/config/envs/gymma.yaml`` (the LBF and MPE env
  config; the authors point to its ``test_interval`` in #15): ``test_greedy: True``,
  ``test_nepisode: 100``, ``test_interval: 50000``.

Deviations (papoudakis2021):

* **Per-algorithm hyperparameters are not set.** The paper tuned hidden size, learning rate, network
  type (GRU/FC), target updates (hard interval or soft tau), reward standardisation and the epsilon
  schedule per algorithm and environment, and lists them in its appendix tables. No copy of those
  tables could be read when this protocol was written (the paper's full text was not reachable and
  no public source quoting them for IQL, VDN or QMIX was found), and values are never filled from
  memory. So the three algorithms share the family's recommended settings
  (:data:`qmixbench.algos.ENV_DEFAULTS`: a feed-forward agent and standardised rewards for ``lbf/*``
  and ``mpe/*``, TD(λ) 0.6 for ``lbf/*``, calibrated by qmixbench on the study's tasks), which the
  protocol leaves in place; add each per-algorithm value with its table and page once read.
* **Parallel environments.** EPyMARL's off-policy runs step one environment (``batch_size_run: 1``);
  qmixbench steps ``n_envs`` in lockstep with the same updates per collected episode.
* ``checkpoint_interval`` is qmixbench's own (no counterpart in the paper): a checkpoint holds the
  whole replay buffer, so it is written once per evaluation rather than every 5,000 steps.
* Our evaluations start at ``eval_interval`` (40 over 2M steps, as [P15] counts); EPyMARL also
  evaluates before training (``t_env = 0``), which enters its "average return".
"""

from __future__ import annotations

from typing import Any

from qmixbench.config import ConfigError

_PAPOUDAKIS2021_BUDGET_AND_EVALUATION: dict[str, Any] = {
    "total_env_steps": 2_000_000,  # [P15] off-policy algorithms: two million steps (MPE as LBF)
    "eval_interval": 50_000,  # [P15] evaluate every 50,000 steps; [E] test_interval 50000
    "eval_episodes": 100,  # [E] test_nepisode: 100 (greedy, test_greedy: True)
    "checkpoint_interval": 50_000,  # qmixbench's, not the paper's: one per evaluation
}
"""What [P15] and [E] fix for every algorithm and family; the per-algorithm tables (see Deviations)
would add to it, entry by entry below."""

PROTOCOLS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "papoudakis2021": {
        family: {algo: dict(_PAPOUDAKIS2021_BUDGET_AND_EVALUATION) for algo in ("qmix", "vdn", "iql")}
        for family in ("lbf", "mpe")
    },
}
"""Protocol name -> env family (the id's namespace: ``lbf``, ``mpe``) -> algorithm -> dotted
:class:`~qmixbench.config.TrainConfig` overrides; every value cites its source where it is written."""


RETURN_CONVENTIONS: dict[str, dict[str, str]] = {
    "papoudakis2021": {
        # EPyMARL's gym wrapper, the study's LBF path (uoe-agents/epymarl src/envs/__init__.py,
        # _GymmaWrapper.step: ``return float(sum(reward)), ...``): the team return is the sum over agents.
        "lbf": "sum",
        # "the returns that are presented in the paper for the MPE tasks are divided by the number of
        # agents" (G. Papoudakis, uoe-agents/epymarl#29): per agent.
        "mpe": "mean",
    },
}
"""Protocol name -> env family -> how the study reports a team's return on the family's tasks: ``sum``
over agents or ``mean`` (per agent), the ``convention`` of :mod:`qmixbench.published`. ``qmixbench
report`` computes the study's metrics of runs trained under a protocol in this convention. Every
protocol names one for each family it covers (checked by the tests)."""


def env_family(env: str) -> str:
    """The family of an env string: its registered id's namespace (``lbf/8x8-2p-2f-coop-v3`` -> ``lbf``;
    the alias ``lbf`` -> ``lbf``); arguments after ``?`` are ignored.

    Raises:
        ConfigError: an entry point (``module:factory``), which belongs to no family.
    """
    name = env.partition("?")[0].strip()
    if ":" in name:
        raise ConfigError(f"env {name!r} is an entry point, not a registered id: a protocol covers env families")
    try:
        from qmixbench_envs import resolve_id

        name = resolve_id(name)
    except (ImportError, KeyError):
        pass  # an unregistered id still names its family by its namespace
    return name.partition("/")[0]


def protocol_overrides(name: str, algo: str, env: str) -> dict[str, Any]:
    """The TrainConfig overrides protocol ``name`` sets for ``algo`` on ``env``'s family.

    Args:
        name: A :data:`PROTOCOLS` key, e.g. ``papoudakis2021``.
        algo: An algorithm preset name (``qmix``, ``vdn``, ``iql``).
        env: A registered env id or family alias, optionally with ``?key=value`` arguments.

    Returns:
        A new dict of dotted TrainConfig keys to values.

    Raises:
        ConfigError: unknown protocol, an env family or algorithm the protocol does not cover; the
            message lists what is valid.
    """
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; valid: {', '.join(PROTOCOLS)}")
    families = PROTOCOLS[name]
    family = env_family(env)
    if family not in families:
        raise ConfigError(
            f"protocol {name!r} does not cover env {env!r} (family {family!r}); it covers the families: "
            f"{', '.join(families)}"
        )
    per_algo = families[family]
    if algo not in per_algo:
        raise ConfigError(
            f"protocol {name!r} does not cover algorithm {algo!r} on {family}; covered: {', '.join(per_algo)}"
        )
    return dict(per_algo[algo])


def check_protocol(name: str) -> str:
    """Return ``name`` if it is a :data:`PROTOCOLS` key; else raise ConfigError listing the valid ones."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; valid: {', '.join(PROTOCOLS)}")
    return name


__all__ = ["PROTOCOLS", "RETURN_CONVENTIONS", "check_protocol", "env_family", "protocol_overrides"]

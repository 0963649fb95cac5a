"""Mixers, one module each, and :data:`MIXERS`, the one registry of them (and of the algorithm presets).

An algorithm preset *is* a mixer: QMIX, VDN, IQL and QMIX's successors share the agent network,
learning rate, exploration and budget, and differ only in how agent Q-values become the trained value
(and, for Weighted QMIX, in the loss). So the registry key is both ``--algos NAME`` and ``mixer.kind``.

Adding a mixer (see DEVELOPERS.md): a module here holding a frozen config dataclass that subclasses
:class:`~qmixbench.config.MixerConfig` (a docstring per field, range checks in ``check``) and a
:class:`~qmixbench.algos.mixers.base.Mixer` subclass (its ``config_class``, ``from_config`` and ``mix``;
``bootstrap`` or ``td_loss`` where its target or loss differs), plus one line in :data:`MIXERS`.

This ``__init__`` imports no torch: ``qmixbench list algos`` and the report read :data:`MIXERS` cheaply;
a mixer's module (and torch) is imported when its config or network is first needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

from qmixbench.config import ConfigError, MixerConfig

if TYPE_CHECKING:
    from qmixbench.algos.mixers.base import Mixer, MixerShape


class MixerRef(NamedTuple):
    """Where a mixer lives, and what it is in one line."""

    target: str
    """``module:Class`` of the :class:`~qmixbench.algos.mixers.base.Mixer` subclass."""
    summary: str
    """One line for ``qmixbench list algos``."""


MIXERS: dict[str, MixerRef] = {
    "qmix": MixerRef("qmixbench.algos.mixers.qmix:QMixer", "monotone hypernetwork mixer (Rashid et al. 2018)"),
    "vdn": MixerRef("qmixbench.algos.mixers.vdn:VDNMixer", "sum of agent Qs (Sunehag et al. 2018)"),
    "iql": MixerRef("qmixbench.algos.mixers.independent:IndependentMixer", "independent Q-learning, team reward"),
    "cw-qmix": MixerRef("qmixbench.algos.mixers.wqmix:WQMixer", "centrally-weighted QMIX (Rashid et al. 2020)"),
    "ow-qmix": MixerRef("qmixbench.algos.mixers.wqmix:WQMixer", "optimistically-weighted QMIX (Rashid et al. 2020)"),
    "qplex": MixerRef("qmixbench.algos.mixers.qplex:QPLEXMixer", "duplex dueling mixer (Wang et al. 2021)"),
}
"""Every mixer (= algorithm preset) by name."""


def mixer_class(kind: str) -> type[Mixer]:
    """The :class:`~qmixbench.algos.mixers.base.Mixer` subclass registered as ``kind``."""
    if kind not in MIXERS:
        raise ConfigError(f"unknown mixer {kind!r}; valid: {', '.join(MIXERS)}")
    module, _, name = MIXERS[kind].target.partition(":")
    cls: type[Mixer] = getattr(importlib.import_module(module), name)
    return cls


def config_class(kind: str) -> type[MixerConfig]:
    """The config dataclass of the mixer ``kind``."""
    return mixer_class(kind).config_class


def build_mixer(config: MixerConfig, shape: MixerShape) -> Mixer:
    """The mixer that ``config`` (its ``kind`` and fields) describes, for an env and agent of ``shape``."""
    return mixer_class(config.kind).from_config(config, shape)


__all__ = ["MIXERS", "MixerRef", "build_mixer", "config_class", "mixer_class"]

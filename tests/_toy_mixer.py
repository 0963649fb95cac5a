"""A mixer defined outside the package, registered the way DEVELOPERS.md says: a module and one line."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from qmixbench.algos.mixers.base import Mixer, MixerInput, MixerShape
from qmixbench.config import ConfigError, MixerConfig


@dataclass(frozen=True)
class ScaledSumConfig(MixerConfig):
    """Q_tot = c · Σ_i Q_i with a learned c, started at ``init_scale``."""

    kind: str = "toy"
    """``toy``."""
    init_scale: float = 1.0
    """Initial value of the learned scale c (> 0)."""

    def check(self) -> None:
        if not self.init_scale > 0:
            raise ConfigError(f"mixer.init_scale must be > 0, got {self.init_scale}")


class ScaledSumMixer(Mixer):
    """A learned scale times VDN's sum."""

    config_class = ScaledSumConfig

    def __init__(self, init_scale: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))

    @classmethod
    def from_config(cls, config: MixerConfig, shape: MixerShape) -> ScaledSumMixer:
        assert isinstance(config, ScaledSumConfig)
        return cls(config.init_scale)

    def mix(self, x: MixerInput) -> torch.Tensor:
        return self.scale * x.q.sum(-1)

"""VDN: Q_tot is the sum of the agents' Q-values.

Reference: Sunehag et al. 2018, "Value-Decomposition Networks for Cooperative Multi-Agent Learning",
AAMAS, Section 3.

Implementation details:
    * No parameters; the state is ignored. Dead agents' Q-values are 0 (the learner zeroes them).

Deviations from the paper:
    * None in the function computed. Agents share one network with a one-hot id (the paper also
      studied unshared agents).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qmixbench.algos.mixers.base import Mixer, MixerInput, MixerShape
from qmixbench.config import MixerConfig


@dataclass(frozen=True)
class VDNConfig(MixerConfig):
    """VDN has no settings of its own."""

    kind: str = "vdn"
    """``vdn``."""


class VDNMixer(Mixer):
    """VDN: Q_tot = Σ_i Q_i."""

    config_class = VDNConfig

    @classmethod
    def from_config(cls, config: MixerConfig, shape: MixerShape) -> VDNMixer:
        return cls()

    def forward(self, q: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Mix: q (..., N) -> Q_tot (...); ``state`` is ignored."""
        return q.sum(-1)

    def mix(self, x: MixerInput) -> torch.Tensor:
        return self(x.q)

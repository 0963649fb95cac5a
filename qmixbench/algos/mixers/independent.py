"""IQL: no mixing; each agent learns its own Q from the team reward.

Reference: Tan 1993, "Multi-agent reinforcement learning: independent vs. cooperative agents", ICML;
with the shared team reward and parameter sharing as in PyMARL's IQL.

Implementation details:
    * :meth:`IndependentMixer.mix` returns the agents' Q-values unchanged, (..., N); the loss is the
      masked MSE over (step, live agent) terms of each agent's own TD target r_t + γ Q_i(τ_{t+1}, a*).
    * An agent's target stops where the agent leaves: an exit is terminal for that agent, in the
      one-step target and in the λ-return alike (see ``qmixbench.algos.mixers.base``).

Deviations from the paper:
    * Parameter sharing with a one-hot agent id (PyMARL), not independent tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qmixbench.algos.mixers.base import Mixer, MixerInput, MixerShape
from qmixbench.config import MixerConfig


@dataclass(frozen=True)
class IQLConfig(MixerConfig):
    """IQL has no settings of its own."""

    kind: str = "iql"
    """``iql``."""


class IndependentMixer(Mixer):
    """IQL's 'mixer': the identity over agents, so every agent has its own TD loss."""

    config_class = IQLConfig
    per_agent = True

    @classmethod
    def from_config(cls, config: MixerConfig, shape: MixerShape) -> IndependentMixer:
        return cls()

    def mix(self, x: MixerInput) -> torch.Tensor:
        return x.q

"""QMIX's monotone hypernetwork mixer.

Reference: Rashid et al. 2018, "QMIX: Monotonic Value Function Factorisation for Deep Multi-Agent
Reinforcement Learning", ICML, Section 4.

Implementation details:
    * QMixer: Q_tot = w2(s)ᵀ ELU(W1(s)ᵀ q + b1(s)) + V(s), with W1 (N, E) and w2 (E, 1) produced by
      hypernetworks of the global state s and made non-negative with ``abs``, so dQ_tot/dQ_i ≥ 0
      (tested by autograd). b1 is a linear function of s, V(s) a 2-layer MLP (E hidden units), as in
      PyMARL. ``hypernet_layers=2`` (default) gives the weight hypernetworks a hidden layer of
      ``hypernet_embed`` units with ReLU; 1 makes them linear.
    * The first layers of the four hypernetworks read the same state, so they are one ``nn.Linear``
      (one matmul instead of four); this is the same function as four separate layers.

Deviations from the paper:
    * None in the function computed. PyMARL's ``abs`` (not the paper's "absolute activation" variants)
      and EPyMARL's 2-layer hypernetworks (64 units) are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from qmixbench.algos.mixers.base import Mixer, MixerInput, MixerShape, check_positive
from qmixbench.algos.networks import wide_linear
from qmixbench.config import ConfigError, MixerConfig


@dataclass(frozen=True)
class QMixConfig(MixerConfig):
    """QMIX's mixing network (defaults: EPyMARL's QMIX config)."""

    kind: str = "qmix"
    """``qmix``."""
    embed_dim: int = 32
    """Width E of the mixing layer."""
    hypernet_layers: int = 2
    """Layers in each weight hypernetwork: 1 (linear) or 2 (one hidden layer)."""
    hypernet_embed: int = 64
    """Hidden units of a 2-layer hypernetwork."""

    def check(self) -> None:
        check_positive(self, "embed_dim", "hypernet_embed")
        if self.hypernet_layers not in (1, 2):
            raise ConfigError(f"mixer.hypernet_layers must be 1 or 2, got {self.hypernet_layers}")


class QMixer(Mixer):
    """QMIX's monotone mixing network; see the module docstring."""

    config_class = QMixConfig

    def __init__(
        self, n_agents: int, state_dim: int, embed_dim: int = 32, hypernet_layers: int = 2, hypernet_embed: int = 64
    ) -> None:
        """Build the mixer.

        Args:
            n_agents: N.
            state_dim: S, global-state features.
            embed_dim: E, width of the mixing layer.
            hypernet_layers: 1 (linear hypernetworks) or 2 (one hidden layer of ``hypernet_embed``).
            hypernet_embed: Hidden units of 2-layer hypernetworks.
        """
        super().__init__()
        if hypernet_layers not in (1, 2):
            raise ValueError(f"hypernet_layers must be 1 or 2, got {hypernet_layers}")
        self.n_agents, self.embed_dim, self.two_layer = n_agents, embed_dim, hypernet_layers == 2
        n, e = n_agents, embed_dim
        if self.two_layer:
            # Fused first layers: [hyper_w1 hidden | hyper_w2 hidden | b1 | V hidden].
            self.split = (hypernet_embed, hypernet_embed, e, e)
            self.hyper_in = nn.Linear(state_dim, sum(self.split))
            self.hyper_w1 = nn.Linear(hypernet_embed, n * e)
            self.hyper_w2 = nn.Linear(hypernet_embed, e)
        else:
            self.split = (n * e, e, e, e)
            self.hyper_in = nn.Linear(state_dim, sum(self.split))
        self.v_out = nn.Linear(e, 1)

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Mix: q (..., N) and state (..., S) -> Q_tot (...)."""
        lead = q.shape[:-1]
        q = q.reshape(-1, self.n_agents, 1)  # (M, N, 1)
        pre = wide_linear(state.reshape(q.shape[0], -1), self.hyper_in)  # (M, sum(split))
        a, b, b1, v = pre.split(self.split, dim=-1)
        if self.two_layer:
            a, b = self.hyper_w1(F.relu(a)), self.hyper_w2(F.relu(b))
        w1 = a.abs().view(-1, self.n_agents, self.embed_dim)  # (M, N, E)
        w2 = b.abs()  # (M, E)
        # Per-sample (1, N) @ (N, E) products as broadcast multiply-sums: M tiny bmm's cost far more.
        hidden = F.elu((q * w1).sum(1).add_(b1))  # (M, E)
        v = self.v_out(F.relu(v))  # (M, 1)
        q_tot = (hidden * w2).sum(-1).add_(v.squeeze(-1))  # (M,)
        return q_tot.view(lead)

    @classmethod
    def from_config(cls, config: MixerConfig, shape: MixerShape) -> QMixer:
        assert isinstance(config, QMixConfig)
        return cls(shape.n_agents, shape.state_dim, config.embed_dim, config.hypernet_layers, config.hypernet_embed)

    def mix(self, x: MixerInput) -> torch.Tensor:
        return self(x.q, x.state)

"""Mixers that turn per-agent Q-values into Q_tot: QMIX's monotone hypernetwork mixer and VDN's sum.

References:
    * QMIX: Rashid et al. 2018, "QMIX: Monotonic Value Function Factorisation for Deep Multi-Agent
      Reinforcement Learning", ICML, Section 4.
    * VDN: Sunehag et al. 2018, "Value-Decomposition Networks for Cooperative Multi-Agent Learning",
      AAMAS.

Implementation details:
    * QMixer: Q_tot = w2(s)ᵀ ELU(W1(s)ᵀ q + b1(s)) + V(s), with W1 (N, E) and w2 (E, 1) produced by
      hypernetworks of the global state s and made non-negative with ``abs``, so dQ_tot/dQ_i ≥ 0
      (tested by autograd). b1 is a linear function of s, V(s) a 2-layer MLP (E hidden units), as in
      PyMARL. ``hypernet_layers=2`` (default) gives the weight hypernetworks a hidden layer of
      ``hypernet_embed`` units with ReLU; 1 makes them linear.
    * The first layers of the four hypernetworks read the same state, so they are one ``nn.Linear``
      (one matmul instead of four); this is the same function as four separate layers.
    * VDNMixer: Q_tot = Σ_i Q_i; it has no parameters and ignores the state.

Deviations from the paper:
    * None in the function computed. PyMARL's ``abs`` (not the paper's "absolute activation" variants)
      and EPyMARL's 2-layer hypernetworks (64 units) are used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from qmixbench.algos.networks import wide_linear


class QMixer(nn.Module):
    """QMIX's monotone mixing network; see the module docstring."""

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


class VDNMixer(nn.Module):
    """VDN: Q_tot is the sum of the agents' Q-values."""

    def forward(self, q: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Mix: q (..., N) -> Q_tot (...); ``state`` is ignored."""
        return q.sum(-1)


def build_mixer(
    kind: str, n_agents: int, state_dim: int, embed_dim: int = 32, hypernet_layers: int = 2, hypernet_embed: int = 64
) -> nn.Module | None:
    """The mixer for ``MixerConfig.kind``: ``qmix``, ``vdn`` or ``none`` (IQL: returns None)."""
    if kind == "qmix":
        return QMixer(n_agents, state_dim, embed_dim, hypernet_layers, hypernet_embed)
    if kind == "vdn":
        return VDNMixer()
    if kind == "none":
        return None
    raise ValueError(f"unknown mixer kind {kind!r}; valid: qmix, vdn, none")

"""QPLEX: duplex dueling multi-agent Q-learning.

Reference: Wang et al. 2021, "QPLEX: Duplex Dueling Multi-Agent Q-Learning", ICLR; the authors' code
(wjh720/QPLEX, ``modules/mixers/dmaq_general.py``, ``dmaq_si_weight.py``,
``learners/dmaq_qatten_learner.py``, ``config/algs/qplex.yaml``).

QPLEX writes Q_tot in dueling form, Q_tot = V_tot(s) + A_tot(s, u) with V_tot = Σ_i V_i and
A_tot = Σ_i λ_i(s, u) A_i, where A_i = Q_i - max_a Q_i ≤ 0 and λ_i > 0. The greedy joint action of
the agents is then the greedy joint action of Q_tot (the IGM principle), while λ's dependence on the
joint action lets Q_tot represent non-monotone payoffs that QMIX cannot.

Implementation details (as ``DMAQer`` with ``DMAQ_SI_Weight``, the ``dmaq`` mixer of ``qplex.yaml``):
    * Transformation: Q'_i = w_i(s) Q_i + b_i(s) and V'_i = w_i(s) max_a Q_i + b_i(s), with
      w(s) = |MLP(s)| + 1e-10 and b(s) = MLP(s), each Linear(S, ``hypernet_embed``), ReLU, Linear(N).
      The max is over available actions.
    * λ_i(s, u) = Σ_k (|key_k(s)| + 1e-10) σ(agents_k(s))_i σ(action_k([s, onehot(u)]))_i over
      ``num_kernel`` heads, each extractor an MLP of ``adv_hypernet_layers`` layers of
      ``adv_hypernet_embed`` units (the K heads run as batched matmuls, :class:`ParallelMLP`); onehot(u) is the joint action, N·A features.
    * Q_tot = Σ_i Q'_i + Σ_i (λ_i - 1) stopgrad(Q'_i - V'_i) (``is_minus_one``), which equals
      Σ_i V'_i + Σ_i λ_i A'_i in value; the advantage is detached as in the authors' code, so the agent
      Qs learn through the first sum and λ through the second.
    * Target: Q_tot of the target networks at the bootstrap actions (double Q: chosen by the online
      agents), with V'_i from the target agents' max, as the authors' learner.
    * Agents that are not alive contribute nothing (their Q'_i, V'_i and A'_i are zeroed).
    * Defaults of ``qplex.yaml`` (the authors' config for the matrix games): ``hypernet_embed`` 64,
      ``adv_hypernet_layers`` 3, ``adv_hypernet_embed`` 64, ``num_kernel`` 10.

Deviations from the paper:
    * Adam instead of RMSprop and the run's shared learning rate, as for every preset here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from qmixbench.algos.mixers.base import Mixer, MixerInput, MixerShape, check_positive
from qmixbench.config import ConfigError, MixerConfig


@dataclass(frozen=True)
class QPLEXConfig(MixerConfig):
    """QPLEX's duplex dueling mixer (defaults: the authors' ``qplex.yaml``)."""

    kind: str = "qplex"
    """``qplex``."""
    hypernet_embed: int = 64
    """Hidden units of the transformation networks w(s) and b(s)."""
    num_kernel: int = 10
    """Heads K of the advantage weights λ."""
    adv_hypernet_layers: int = 3
    """Layers (1, 2 or 3) of each key/agent/action extractor of λ."""
    adv_hypernet_embed: int = 64
    """Hidden units of the extractors when they have more than one layer."""

    def check(self) -> None:
        check_positive(self, "hypernet_embed", "num_kernel", "adv_hypernet_embed")
        if self.adv_hypernet_layers not in (1, 2, 3):
            raise ConfigError(f"mixer.adv_hypernet_layers must be 1, 2 or 3, got {self.adv_hypernet_layers}")


class ParallelMLP(nn.Module):
    """K independent MLPs of the same widths, run as batched matmuls: x (M, in) -> (M, K, out).

    The same function as K separate ``nn.Sequential(Linear, ReLU, ..., Linear)`` (and initialised like
    ``nn.Linear``: U(-1/sqrt(in), 1/sqrt(in)) for weights and biases), in a few ``baddbmm`` calls
    instead of 3 K small layers; QPLEX's λ has 3 such stacks of K = 10 heads.
    """

    def __init__(self, k: int, n_in: int, n_out: int, layers: int, embed: int) -> None:
        super().__init__()
        widths = [n_in] + [embed] * (layers - 1) + [n_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            bound = 1.0 / w_in**0.5
            self.weights.append(nn.Parameter(torch.empty(k, w_in, w_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(k, 1, w_out).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weights[0].shape[0]
        h = x.unsqueeze(0).expand(k, *x.shape)  # (K, M, in)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)  # (K, M, out)
            if i < last:
                h = h.relu()
        return h.transpose(0, 1)  # (M, K, out)


class QPLEXMixer(Mixer):
    """QPLEX's mixer; see the module docstring."""

    config_class = QPLEXConfig

    def __init__(
        self,
        n_agents: int,
        state_dim: int,
        n_actions: int,
        hypernet_embed: int = 64,
        num_kernel: int = 10,
        adv_hypernet_layers: int = 3,
        adv_hypernet_embed: int = 64,
    ) -> None:
        """Build the transformation networks and the K-head advantage-weight extractors."""
        super().__init__()
        n, s, e = n_agents, state_dim, hypernet_embed
        self.n_agents, self.n_actions = n, n_actions
        self.hyper_w = nn.Sequential(nn.Linear(s, e), nn.ReLU(), nn.Linear(e, n))
        self.hyper_b = nn.Sequential(nn.Linear(s, e), nn.ReLU(), nn.Linear(e, n))
        k, layers, embed = num_kernel, adv_hypernet_layers, adv_hypernet_embed
        self.keys = ParallelMLP(k, s, 1, layers, embed)
        self.agents = ParallelMLP(k, s, n, layers, embed)
        self.actions = ParallelMLP(k, s + n * n_actions, n, layers, embed)

    @classmethod
    def from_config(cls, config: MixerConfig, shape: MixerShape) -> QPLEXMixer:
        assert isinstance(config, QPLEXConfig)
        return cls(
            shape.n_agents,
            shape.state_dim,
            shape.n_actions,
            config.hypernet_embed,
            config.num_kernel,
            config.adv_hypernet_layers,
            config.adv_hypernet_embed,
        )

    def weights(self, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """λ (..., N) > 0 from state (..., S) and the joint action (..., N) long."""
        lead = actions.shape[:-1]
        s = state.reshape(-1, state.shape[-1])  # (M, S)
        joint = F.one_hot(actions.reshape(s.shape[0], -1), self.n_actions).flatten(-2).to(s.dtype)  # (M, N*A)
        data = torch.cat([s, joint], -1)  # (M, S + N*A)
        heads = (self.keys(s).abs() + 1e-10) * torch.sigmoid(self.agents(s)) * torch.sigmoid(self.actions(data))
        return heads.sum(1).view(*lead, self.n_agents)  # Σ over the K heads of (M, K, N)

    def mix(self, x: MixerInput) -> torch.Tensor:
        w = self.hyper_w(x.state).abs() + 1e-10  # (..., N)
        b = self.hyper_b(x.state)  # (..., N)
        v_i = x.q_all.detach().masked_fill(~x.avail, float("-inf")).amax(-1)  # (..., N) max over available
        v_i = torch.where(x.alive.bool(), v_i, torch.zeros_like(v_i))
        q_t = (w * x.q + b) * x.alive  # (..., N) Q'_i
        v_t = (w * v_i + b) * x.alive  # (..., N) V'_i
        lam = self.weights(x.state, x.actions)  # (..., N)
        return q_t.sum(-1) + ((lam - 1.0) * (q_t - v_t).detach()).sum(-1)

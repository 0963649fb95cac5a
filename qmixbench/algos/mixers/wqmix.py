"""Weighted QMIX: centrally-weighted (CW-QMIX) and optimistically-weighted (OW-QMIX).

Reference: Rashid et al. 2020, "Weighted QMIX: Expanding Monotonic Value Function Factorisation for
Deep Multi-Agent Reinforcement Learning", NeurIPS; the authors' code (oxwhirl/wqmix,
``src/learners/max_q_learner.py``, ``src/config/algs/cw_qmix.yaml``).

QMIX's monotone Q_tot is a projection of the true joint value; an unweighted projection can put the
best joint action's value below worse ones (the one-step game [[8,-12,-12],[-12,0,0],[-12,0,0]]).
Weighted QMIX trains the monotone Q_tot with a weighted loss that gives full weight to the joint
actions that matter and weight α to the rest, and bootstraps from an unrestricted central estimate Q̂*.

Implementation details (as ``max_q_learner.py``):
    * Networks: the QMIX agent network and monotone mixer (:class:`~qmixbench.algos.mixers.qmix.QMixer`),
      plus Q̂*: a central agent network of the agent network's kind and width (its own parameters,
      one output per action: ``central_action_embed`` = 1) and a feed-forward central mixer,
      [s, Q̂_1..Q̂_N] -> 3 x (Linear(``central_embed_dim``), ReLU) -> Linear(1), plus V(s): Linear(S,
      ``central_embed_dim``), ReLU, Linear(1). Q̂* is not monotone.
    * Target action û*(s) = each agent's greedy action under the online QMIX agent network (available
      actions only); target y = r + γ (1 - terminated) Q̂*_target(s', û*(s')). The QMIX target networks
      are not used (``double_q`` is implied: the action is chosen online, evaluated by the target Q̂*).
    * Losses: Σ w (Q_tot - y)² / Σ mask for QMIX and Σ (Q̂*(s, u) - y)² / Σ mask for Q̂*, summed with
      weight 1 each; y and w are constants (no gradient).
    * CW: w = 1 where the taken joint action is û*(s) (every live agent greedy) or y > Q̂*_target(s, û*(s)),
      else α. OW: w = 1 where Q_tot(s, u) < y, else α. Both comparisons strict, as the code.
    * α (``alpha``) = 0.1, the ``w`` of the authors' ``cw_qmix.yaml`` and their predator-prey runs.
    * TD(λ) follows the run's ``td_lambda`` (shared by every preset), applied to Q̂*_target's values as
      PyMARL2 does; with the default 0 the target is one-step, as the authors' code.

Deviations from the paper:
    * Adam instead of RMSprop and the run's shared learning rate, as for every preset here.
    * The central agent has the agent network's kind (GRU or MLP) and width; the authors' code uses a
      GRU with ``rnn_hidden_dim`` (64, the default width here too).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from qmixbench.algos.exploration import masked_greedy
from qmixbench.algos.mixers.base import Mixer, MixerInput, MixerShape, TDContext, check_positive
from qmixbench.algos.mixers.qmix import QMixConfig, QMixer
from qmixbench.algos.networks import AgentNetwork, unroll_pair
from qmixbench.config import ConfigError, MixerConfig


@dataclass(frozen=True)
class WQMixConfig(QMixConfig):
    """Weighted QMIX: the QMIX mixer's fields, α and the central estimator's width."""

    kind: str = "cw-qmix"
    """``cw-qmix`` (centrally weighted) or ``ow-qmix`` (optimistically weighted)."""
    alpha: float = 0.1
    """α, the weight of the down-weighted joint actions, in (0, 1] (1 = plain QMIX loss with Q̂* targets)."""
    central_embed_dim: int = 256
    """Width of the central mixer's three hidden layers and of its V(s) head."""

    def check(self) -> None:
        super().check()
        check_positive(self, "central_embed_dim")
        if not 0.0 < self.alpha <= 1.0:
            raise ConfigError(f"mixer.alpha must be in (0, 1], got {self.alpha}")


class CentralMixer(nn.Module):
    """Q̂*'s feed-forward (non-monotone) mixer: MLP([s, q]) + V(s)."""

    def __init__(self, n_agents: int, state_dim: int, embed_dim: int) -> None:
        super().__init__()
        e = embed_dim
        self.net = nn.Sequential(
            nn.Linear(state_dim + n_agents, e), nn.ReLU(), nn.Linear(e, e), nn.ReLU(), nn.Linear(e, e), nn.ReLU(),
            nn.Linear(e, 1),
        )  # fmt: skip
        self.v = nn.Sequential(nn.Linear(state_dim, e), nn.ReLU(), nn.Linear(e, 1))

    def forward(self, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """q (..., N), state (..., S) -> Q̂* (...)."""
        return (self.net(torch.cat([state, q], -1)) + self.v(state)).squeeze(-1)


class WQMixer(Mixer):
    """QMIX's monotone mixer trained with Weighted QMIX's loss, and the central Q̂* it bootstraps from."""

    config_class = WQMixConfig

    def __init__(
        self,
        n_agents: int,
        state_dim: int,
        input_dim: int,
        n_actions: int,
        *,
        optimistic: bool,
        alpha: float = 0.1,
        embed_dim: int = 32,
        hypernet_layers: int = 2,
        hypernet_embed: int = 64,
        central_embed_dim: int = 256,
        agent_hidden_dim: int = 64,
        agent_kind: str = "gru",
    ) -> None:
        """Build the QMIX mixer, the central agent network and the central mixer.

        Args:
            n_agents: N.
            state_dim: S.
            input_dim: I, the agent network's input features (the central agent reads the same).
            n_actions: A.
            optimistic: OW-QMIX's weighting; else CW-QMIX's.
            alpha: α.
            embed_dim, hypernet_layers, hypernet_embed: the QMIX mixer's.
            central_embed_dim: the central mixer's width.
            agent_hidden_dim, agent_kind: the central agent network's width and kind.
        """
        super().__init__()
        self.optimistic, self.alpha = optimistic, alpha
        self.qmix = QMixer(n_agents, state_dim, embed_dim, hypernet_layers, hypernet_embed)
        self.central_agent = AgentNetwork(input_dim, n_actions, agent_hidden_dim, agent_kind)
        self.central_mixer = CentralMixer(n_agents, state_dim, central_embed_dim)

    @classmethod
    def from_config(cls, config: MixerConfig, shape: MixerShape) -> WQMixer:
        assert isinstance(config, WQMixConfig)
        return cls(
            shape.n_agents,
            shape.state_dim,
            shape.input_dim,
            shape.n_actions,
            optimistic=config.kind == "ow-qmix",
            alpha=config.alpha,
            embed_dim=config.embed_dim,
            hypernet_layers=config.hypernet_layers,
            hypernet_embed=config.hypernet_embed,
            central_embed_dim=config.central_embed_dim,
            agent_hidden_dim=shape.hidden_dim,
            agent_kind=shape.agent,
        )

    def mix(self, x: MixerInput) -> torch.Tensor:
        """The monotone Q_tot (what the decentralised greedy policy maximises)."""
        return self.qmix(x.q, x.state)

    def td_loss(self, ctx: TDContext, target: Mixer) -> torch.Tensor:
        assert isinstance(target, WQMixer)
        b = ctx.batch
        t1 = b.obs.shape[1]
        bsz, n = b.obs.shape[0], b.obs.shape[2]
        alive = b.alive.float()  # (B, T+1, N); index L is the bootstrap mask
        mask = b.filled  # (B, T)
        q_central, q_central_target = unroll_pair(self.central_agent, target.central_agent, ctx.inputs)
        assert q_central_target is not None
        q_central = q_central.view(t1, bsz, n, -1).transpose(0, 1)  # (B, T+1, N, A)
        q_central_target = q_central_target.view(t1, bsz, n, -1).transpose(0, 1)  # (B, T+1, N, A)
        with torch.no_grad():
            greedy = masked_greedy(ctx.q.detach(), b.avail)  # (B, T+1, N): û* under the online QMIX agents
            q_star_greedy = q_central_target.gather(-1, greedy.unsqueeze(-1)).squeeze(-1) * alive  # (B, T+1, N)
            v_next = target.central_mixer(q_star_greedy[:, 1:], b.state[:, 1:])  # (B, T)
            y = ctx.returns(v_next)  # (B, T)
        chosen = ctx.chosen()
        q_tot = self.qmix(chosen.q, chosen.state)  # (B, T)
        q_taken_central = q_central[:, :-1].gather(-1, b.actions.unsqueeze(-1)).squeeze(-1) * chosen.alive
        q_star = self.central_mixer(q_taken_central, chosen.state)  # (B, T)
        with torch.no_grad():
            if self.optimistic:
                full = q_tot < y
            else:
                live = chosen.alive.bool()
                is_greedy = ((b.actions == greedy[:, :-1]) | ~live).all(-1)  # (B, T)
                q_star_at_greedy = target.central_mixer(q_star_greedy[:, :-1], chosen.state)  # (B, T)
                full = is_greedy | (y > q_star_at_greedy)
            w = torch.where(full, 1.0, self.alpha)  # (B, T)
        denom = mask.sum().clamp(min=1.0)
        qmix_loss = (w * mask * (q_tot - y) ** 2).sum() / denom
        central_loss = (mask * (q_star - y) ** 2).sum() / denom
        return qmix_loss + central_loss

"""The mixer interface: what the learner hands a mixer, and the TD loss a mixer trains with.

The learner (:class:`~qmixbench.algos.learner.QLearner`) knows nothing of any particular mixer. It runs
the agent networks, picks the bootstrap actions (double Q), standardises rewards, and builds a
:class:`TDContext`; the mixer's :meth:`Mixer.td_loss` turns that into the loss. The default
:meth:`Mixer.td_loss` is the QMIX/VDN/IQL loss; a mixer that changes the loss (Weighted QMIX's weights
and its central estimator) overrides it, and a mixer whose target value differs from its online value
(QPLEX) overrides :meth:`Mixer.bootstrap`.

Correctness-critical decisions made here:

* Agents that are not alive at a step contribute Q = 0 to the mixer, on both sides of the TD target,
  and no per-agent loss terms; their actions are ignored.
* The bootstrap mask at the last index L of an episode is the ``alive`` row stored there (the agents
  whose values the target bootstraps from; see ``qmixbench.buffer``).
* Per-agent (IQL) targets stop at the agent's own exit: its continuation factor is
  ``(1 - terminated_t) * alive_{t+1}``, so neither the one-step target nor the λ-return adds team
  rewards earned after the agent left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from qmixbench.buffer import EpisodeBatch
from qmixbench.config import ConfigError, MixerConfig


def check_positive(config: MixerConfig, *names: str) -> None:
    """For a mixer config's ``check()``: raise :class:`ConfigError` naming the first field of ``names`` that is not > 0."""
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ConfigError(f"mixer.{name} must be > 0, got {value}")


@dataclass(frozen=True)
class MixerShape:
    """Facts about the env and the agent network that a mixer is built from (never from the config)."""

    n_agents: int
    """N."""
    state_dim: int
    """S, global-state features."""
    n_actions: int
    """A."""
    input_dim: int
    """I, features of one agent's network input (observation, id, last action)."""
    hidden_dim: int
    """H of the agent network (a mixer with its own agent-like network may reuse it)."""
    agent: str
    """The agent network's kind, ``gru`` or ``mlp``."""


@dataclass
class MixerInput:
    """What a mixer may read for a batch of steps; leading dims ``...`` are (B, T) in the learner."""

    q: torch.Tensor
    """(..., N) agent Q of the chosen actions; 0 for agents that are not alive."""
    state: torch.Tensor
    """(..., S) global state."""
    q_all: torch.Tensor
    """(..., N, A) agent Q over all actions (unavailable ones included: read ``avail``)."""
    actions: torch.Tensor
    """(..., N) long, the chosen actions."""
    avail: torch.Tensor
    """(..., N, A) bool, available actions."""
    alive: torch.Tensor
    """(..., N) float, 1 for agents alive at the step."""


@dataclass
class TDContext:
    """One batch as the learner prepared it for the loss."""

    batch: EpisodeBatch
    """The sampled episodes."""
    inputs: torch.Tensor
    """(T+1, B*N, I) agent-network inputs, time-major (for mixers with networks of their own)."""
    q: torch.Tensor
    """(B, T+1, N, A) online agent Q, with grad."""
    q_target_next: torch.Tensor
    """(B, T, N, A) target agent Q of steps 1..T, no grad."""
    a_next: torch.Tensor
    """(B, T, N) bootstrap actions at steps 1..T: greedy among the available ones (double Q: by the
    online network)."""
    returns: Callable[[torch.Tensor], torch.Tensor]
    """Bootstrap values (B, T) or, per agent, (B, T, N) -> TD targets of the same shape: one-step or
    λ-returns of the (standardised) team reward, stopping at termination (and, per agent, at exit)."""

    def chosen(self) -> MixerInput:
        """The online side: the taken actions at steps 0..T-1 (with grad)."""
        b = self.batch
        alive = b.alive[:, :-1].float()  # (B, T, N)
        q_taken = self.q[:, :-1].gather(-1, b.actions.unsqueeze(-1)).squeeze(-1) * alive  # (B, T, N)
        return MixerInput(q_taken, b.state[:, :-1], self.q[:, :-1], b.actions, b.avail[:, :-1], alive)

    def bootstrap(self) -> MixerInput:
        """The target side: the bootstrap actions at steps 1..T under the target agent network."""
        b = self.batch
        alive = b.alive[:, 1:].float()  # (B, T, N)
        q_next = self.q_target_next.gather(-1, self.a_next.unsqueeze(-1)).squeeze(-1) * alive  # (B, T, N)
        return MixerInput(q_next, b.state[:, 1:], self.q_target_next, self.a_next, b.avail[:, 1:], alive)

    def mask(self, per_agent: bool) -> torch.Tensor:
        """(B, T), or (B, T, N) per agent: 1 where a real step (of a live agent) enters the loss."""
        if per_agent:
            return self.batch.filled.unsqueeze(-1) * self.batch.alive[:, :-1]
        return self.batch.filled


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ mask (pred - target)² / Σ mask: the mean over real terms only."""
    err = (pred - target) * mask
    return (err * err).sum() / mask.sum().clamp(min=1.0)


class Mixer(nn.Module):
    """Base class of every mixer: the interface the learner uses. Subclasses are plain ``nn.Module``s
    with numeric constructor arguments; :meth:`from_config` maps their config onto them."""

    config_class: ClassVar[type[MixerConfig]]
    """The mixer's frozen config dataclass (a :class:`~qmixbench.config.MixerConfig` subclass)."""
    per_agent: ClassVar[bool] = False
    """True when the 'mixed' value keeps the agent dimension (IQL): (B, T, N) instead of (B, T)."""

    @classmethod
    def from_config(cls, config: MixerConfig, shape: MixerShape) -> Mixer:
        """Build the mixer from its config and the env/agent facts."""
        raise NotImplementedError

    def mix(self, x: MixerInput) -> torch.Tensor:
        """Q_tot (...), or per agent (..., N)."""
        raise NotImplementedError

    def bootstrap(self, x: MixerInput) -> torch.Tensor:
        """The value the TD target bootstraps from, computed by the target copy of this mixer at the
        bootstrap actions; by default the same function as :meth:`mix`."""
        return self.mix(x)

    def td_loss(self, ctx: TDContext, target: Mixer) -> torch.Tensor:
        """The loss of one batch (scalar, with grad); ``target`` is this mixer's target copy.

        Default: masked MSE between the mixed value of the taken actions and the TD target built from
        the target mixer's value of the bootstrap actions (QMIX, VDN, IQL).
        """
        with torch.no_grad():
            targets = ctx.returns(target.bootstrap(ctx.bootstrap()))  # (B, T) or (B, T, N)
        return masked_mse(self.mix(ctx.chosen()), targets, ctx.mask(self.per_agent))

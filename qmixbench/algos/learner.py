"""QLearner: the one TD learner behind every preset (QMIX, VDN, IQL, Weighted QMIX, QPLEX), which
differ only in the mixer (``qmixbench.algos.mixers``) and, through the mixer's loss hook, in the loss.

References:
    * QMIX: Rashid et al. 2018, ICML (Algorithm 1, Section 4); the PyMARL ``QLearner``.
    * VDN: Sunehag et al. 2018, AAMAS. IQL: Tan 1993, "Multi-agent reinforcement learning:
      independent vs. cooperative agents", with the team reward (as in PyMARL).
    * Double Q-learning: van Hasselt et al. 2016. TD(λ) and Adam for QMIX: Hu et al. 2021
      ("Rethinking the Implementation Tricks and Monotonicity Constraint in Cooperative MARL", PyMARL2).

Implementation details:
    * One forward of the online agent network over the whole batch (B·N sequences, T+1 steps) gives
      both Q(τ_t, ·) for the taken actions and, with double Q, the argmax at t+1; one no-grad forward of
      the target network gives the bootstrap values. Nothing loops over agents or episodes.
    * Target: y_t = r_t + γ (1 - terminated_t) Q_tot^target(s_{t+1}, argmax_a Q^online(τ_{t+1}, a)),
      with unavailable actions masked to -inf before the argmax. Truncated episodes have
      terminated = 0 at their last step and bootstrap from the stored last observation.
    * Loss: the mixer's ``td_loss`` (``qmixbench.algos.mixers.base``); by default the MSE between Q_tot
      and y over real (unpadded) steps only: Σ mask (Q_tot - y)² / Σ mask. IQL: the same loss on each
      agent's own Q with the team reward, over live agents, its target stopping at the agent's exit.
    * Dead agents (alive = 0) contribute Q = 0 to the mixer, on both sides of the TD target, and no IQL
      loss terms; their actions are ignored.
    * TD(λ) (``td_lambda`` > 0): the λ-return of the double-Q target values, computed backwards over
      the batch, as PyMARL2's ``build_td_lambda_targets``.
    * Reward standardisation (optional): rewards divided by a running standard deviation of the
      sampled rewards (no mean shift; see Deviations).
    * Gradient-norm clipping, Adam (fused kernel when available), hard target copies every
      ``target_update_interval`` updates or Polyak averaging with ``target_tau``.
    * Flat parameter storage: the agent's and the mixer's parameters are views into one contiguous
      buffer, and so are their gradients (:func:`flatten_parameters`); the targets' likewise. Adam,
      gradient clipping, zeroing and target copies then run once on one tensor instead of once per
      parameter (14-16 tensors for QMIX), which shortens every update (figures: docs/algorithms.md).
      Adam and clipping are elementwise / global-norm operations, so the result is the same as
      per-parameter Adam and ``clip_grad_norm_`` (tested against them in ``tests/algos/test_learner.py``).
    * A non-finite TD loss raises :class:`DivergenceError` at once (the run is recorded as failed).

Deviations from the paper:
    * Adam (lr 5e-4) instead of RMSprop, following EPyMARL/PyMARL2.
    * Double-Q targets by default (PyMARL's code does this; the paper does not mention it).
    * Reward standardisation divides by the running std only. EPyMARL also subtracts the mean, which
      in episodic tasks changes the optimal policy (a constant reward shift rewards or punishes living).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from qmixbench.algos.exploration import masked_greedy
from qmixbench.algos.mixers.base import Mixer, TDContext
from qmixbench.algos.networks import AgentNetwork, build_inputs, unroll_pair
from qmixbench.buffer import EpisodeBatch
from qmixbench.config import TrainConfig
from qmixbench.errors import QmixbenchError


class DivergenceError(QmixbenchError, FloatingPointError):
    """The TD loss became NaN or infinite."""


class RunningStd:
    """Running variance of a stream of numbers (Chan et al.'s parallel update)."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0.0, 0.0, 0.0

    def update(self, values: torch.Tensor) -> None:
        n = float(values.numel())
        if n == 0:
            return
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        delta, total = mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.m2 += m2 + delta**2 * self.count * n / total
        self.count = total

    @property
    def std(self) -> float:
        return max((self.m2 / self.count) ** 0.5, 1e-4) if self.count > 1 else 1.0

    def state_dict(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, data: dict[str, float]) -> None:
        self.count, self.mean, self.m2 = data["count"], data["mean"], data["m2"]


def flatten_parameters(params: list[torch.Tensor], with_grad: bool) -> torch.Tensor:
    """Make ``params`` views into one new contiguous buffer (their values kept) and return the buffer.

    With ``with_grad`` the buffer is returned as an ``nn.Parameter`` whose ``.grad`` is a second buffer
    that every parameter's ``.grad`` is a view of. Autograd accumulates into an existing ``.grad`` in place,
    so after ``backward`` the buffer's ``.grad`` holds all gradients: zero it before each backward and never
    set the parameters' grads to None (that would detach them from the buffer). Call it after the networks
    are on their device; moving them afterwards would break the views.
    """
    flat = torch.cat([p.detach().reshape(-1) for p in params])  # (P,) all parameters, in order
    grad = torch.zeros_like(flat) if with_grad else None
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat[offset : offset + n].view_as(p)
        if grad is not None:
            p.grad = grad[offset : offset + n].view_as(p)
        offset += n
    if grad is None:
        return flat
    buffer = nn.Parameter(flat)  # shares flat's storage, so the optimizer's in-place steps reach the views
    buffer.grad = grad
    return buffer


class QLearner:
    """Trains a shared agent network and a mixer from sampled episode batches; see the module docstring."""

    def __init__(self, agent: AgentNetwork, mixer: Mixer, config: TrainConfig, n_actions: int) -> None:
        """Build the learner; the networks are moved nowhere (place them on the device first).

        Args:
            agent: The online agent network.
            mixer: The online mixer (:mod:`qmixbench.algos.mixers`); IQL's is the identity.
            config: The run's config; the learner reads its learning fields (lr, gamma, grad_clip,
                double_q, target updates, td_lambda, standardise_rewards, agent inputs).
            n_actions: A.
        """
        self.agent, self.mixer, self.config = agent, mixer, config
        self.target_agent = copy.deepcopy(agent).requires_grad_(False)
        self.target_mixer = copy.deepcopy(mixer).requires_grad_(False)
        self.n_actions = n_actions
        # One buffer for all trained parameters (and one for their gradients), one for the targets'.
        self.flat_params = flatten_parameters([*agent.parameters(), *mixer.parameters()], with_grad=True)
        self.flat_target = flatten_parameters(
            [*self.target_agent.parameters(), *self.target_mixer.parameters()], with_grad=False
        )
        fused = self.flat_params.device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.Adam(
            [self.flat_params], lr=config.lr, fused=fused, foreach=None if fused else True
        )
        self.reward_std = RunningStd()
        self.updates = 0

    # -- the update -------------------------------------------------------------------------------

    def _inputs(self, batch: EpisodeBatch) -> torch.Tensor:
        """Agent inputs, time-major and flattened over episodes and agents: (T+1, B*N, I)."""
        last = None
        if self.config.obs_last_action:
            last = torch.cat([torch.full_like(batch.actions[:, :1], -1), batch.actions], dim=1)  # (B, T+1, N)
            last = last.transpose(0, 1)  # (T+1, B, N)
        # Built time-major directly (build_inputs' cat writes its output contiguous): one copy, not two.
        x = build_inputs(batch.obs.transpose(0, 1), last, self.n_actions, self.config.obs_agent_id)  # (T+1, B, N, I)
        t1, b, n, i = x.shape
        return x.reshape(t1, b * n, i)

    def context(self, batch: EpisodeBatch) -> TDContext:
        """Run the agent networks on ``batch`` and prepare what the mixer's loss needs."""
        x = self._inputs(batch)
        b, t1, n = batch.obs.shape[:3]
        q, q_target = unroll_pair(self.agent, self.target_agent, x, 1)  # (T+1, B*N, A), (T, B*N, A)
        assert q_target is not None
        q = q.view(t1, b, n, -1).transpose(0, 1)  # (B, T+1, N, A)
        q_target_next = q_target.view(t1 - 1, b, n, -1).transpose(0, 1)  # (B, T, N, A)
        with torch.no_grad():
            chooser = q[:, 1:].detach() if self.config.double_q else q_target_next
            a_next = masked_greedy(chooser, batch.avail[:, 1:])  # (B, T, N)
            reward = batch.reward  # (B, T)
            if self.config.standardise_rewards:
                self.reward_std.update(reward[batch.filled.bool()])
                reward = reward / self.reward_std.std
        return TDContext(batch, x, q, q_target_next, a_next, lambda v: self.returns(batch, reward, v))

    def returns(self, batch: EpisodeBatch, reward: torch.Tensor, v_next: torch.Tensor) -> torch.Tensor:
        """TD targets from bootstrap values ``v_next``: (B, T) team values, or (B, T, N) per agent.

        One-step: y_t = r_t + γ c_t V_{t+1}; with ``td_lambda`` > 0 the λ-return. The continuation
        factor c_t is 1 - terminated_t, and per agent also alive_{t+1}: an agent's exit ends its own
        return (the one-step target already treats it as terminal; the λ-return must too, or it would
        add team rewards earned after the agent left).
        """
        not_done = 1.0 - batch.terminated  # (B, T)
        if v_next.dim() == 3:
            reward = reward.unsqueeze(-1)  # (B, T, 1)
            not_done = not_done.unsqueeze(-1) * batch.alive[:, 1:]  # (B, T, N)
        if self.config.td_lambda > 0.0:
            return self._lambda_returns(reward, not_done, v_next, batch.filled)
        return reward + self.config.gamma * not_done * v_next

    def td_targets(
        self, batch: EpisodeBatch, q: torch.Tensor, q_target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """TD targets and loss mask of the default (QMIX/VDN/IQL) loss, from given agent Qs (no grad).

        Args:
            batch: The batch.
            q: (B, T+1, N, A) online Q.
            q_target: (B, T+1, N, A) target Q.

        Returns:
            targets: (B, T) for a mixer, (B, T, N) for IQL.
            mask: same shape; 1 where a real step (and, for IQL, a live agent) contributes.
        """
        with torch.no_grad():
            chooser = q[:, 1:] if self.config.double_q else q_target[:, 1:]
            a_next = masked_greedy(chooser, batch.avail[:, 1:])
            reward = batch.reward / self.reward_std.std if self.config.standardise_rewards else batch.reward
            ctx = TDContext(batch, torch.empty(0), q, q_target[:, 1:], a_next, lambda v: self.returns(batch, reward, v))
            targets = ctx.returns(self.target_mixer.bootstrap(ctx.bootstrap()))
        return targets, ctx.mask(self.mixer.per_agent)

    def _lambda_returns(
        self, reward: torch.Tensor, not_done: torch.Tensor, v_next: torch.Tensor, filled: torch.Tensor
    ) -> torch.Tensor:
        """λ-returns G_t = r_t + γ c_t [(1-λ) V_{t+1} + λ G_{t+1}], G past the episode's end = V."""
        lam, gamma, t_len = self.config.td_lambda, self.config.gamma, reward.shape[1]
        has_next = filled[:, 1:]  # (B, T-1): step t+1 is real
        if v_next.dim() == 3:
            has_next = has_next.unsqueeze(-1)
        out = torch.empty_like(v_next)  # (B, T) with a mixer, (B, T, N) for IQL (reward (B, T, 1) broadcasts)
        g = reward[:, -1] + gamma * not_done[:, -1] * v_next[:, -1]
        out[:, -1] = g
        for t in range(t_len - 2, -1, -1):
            g_next = has_next[:, t] * g + (1 - has_next[:, t]) * v_next[:, t]
            g = reward[:, t] + gamma * not_done[:, t] * ((1 - lam) * v_next[:, t] + lam * g_next)
            out[:, t] = g
        return out

    def loss(self, batch: EpisodeBatch) -> torch.Tensor:
        """The mixer's TD loss of one batch (scalar, with grad)."""
        return self.mixer.td_loss(self.context(batch), self.target_mixer)

    def update(self, batch: EpisodeBatch) -> float:
        """One gradient step on ``batch``; returns the TD loss.

        Raises:
            DivergenceError: The loss is NaN or infinite.
        """
        loss = self.loss(batch)
        value = float(loss.detach())
        if value != value or value in (float("inf"), float("-inf")):
            raise DivergenceError(
                f"TD loss is {value} at learner update {self.updates + 1}; lower lr, keep grad_clip, "
                "or enable standardise_rewards"
            )
        grad = self.flat_params.grad
        assert grad is not None
        grad.zero_()  # not set to None: the parameters' grads are views of it (flatten_parameters)
        loss.backward()
        # clip_grad_norm_'s rule (scale by max_norm / (norm + 1e-6), capped at 1) on the one gradient
        # buffer, in three tensor ops instead of its per-device grouping machinery.
        norm = torch.linalg.vector_norm(grad)
        grad.mul_(torch.clamp(self.config.grad_clip / (norm + 1e-6), max=1.0))
        self.optimizer.step()
        self.updates += 1
        self._update_targets()
        return value

    @torch.no_grad()
    def _update_targets(self) -> None:
        if self.config.target_tau > 0.0:
            self.flat_target.lerp_(self.flat_params, self.config.target_tau)
        elif self.updates % self.config.target_update_interval == 0:
            self.flat_target.copy_(self.flat_params)

    # -- checkpointing ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, object]:
        return {
            "agent": self.agent.state_dict(),
            "mixer": self.mixer.state_dict(),
            "target_agent": self.target_agent.state_dict(),
            "target_mixer": self.target_mixer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "reward_std": self.reward_std.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, data: dict[str, object]) -> None:
        self.agent.load_state_dict(data["agent"])  # type: ignore[arg-type]
        self.target_agent.load_state_dict(data["target_agent"])  # type: ignore[arg-type]
        self.mixer.load_state_dict(data["mixer"] or {})  # type: ignore[arg-type]
        self.target_mixer.load_state_dict(data["target_mixer"] or {})  # type: ignore[arg-type]
        self.optimizer.load_state_dict(data["optimizer"])  # type: ignore[arg-type]
        self.reward_std.load_state_dict(data["reward_std"])  # type: ignore[arg-type]
        self.updates = int(data["updates"])  # type: ignore[call-overload]

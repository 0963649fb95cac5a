"""The agent network shared by all agents (parameter sharing), GRU or feed-forward.

Reference: Rashid et al. 2018, "QMIX: Monotonic Value Function Factorisation for Deep Multi-Agent
Reinforcement Learning", ICML, Section 4 and Appendix B (the PyMARL ``RNNAgent``).

Implementation details:
    * Input per agent: its flattened observation, then a one-hot agent id, then (optionally) its
      previous action one-hot; the input is built by :func:`build_inputs` for both the rollout and the
      learner, so both see exactly the same features.
    * ``gru``: Linear(I, H) -> ReLU -> GRUCell(H, H) -> Linear(H, A), as PyMARL's ``RNNAgent``.
      ``mlp``: Linear(I, H) -> ReLU -> Linear(H, H) -> ReLU -> Linear(H, A), as EPyMARL's agent
      with ``use_rnn: False``.
    * The learner unrolls whole episodes with :meth:`AgentNetwork.unroll`: the input layers run once
      over every step of every sequence (one matmul), and only the recurrence ``h @ W_hh`` runs per
      step, in :class:`GRUSequence`, an autograd function with a hand-written backward (about 8 tensor
      ops a step in each direction instead of autograd's ~20). Its gradient is tested against
      autograd through ``nn.GRUCell`` (``tests/algos/test_networks.py``).
    * The rollout steps with :meth:`AgentNetwork.step`, which uses the same ``nn.GRUCell`` weights.

Deviations from the paper:
    * The previous action is not an input by default (``obs_last_action=False``, EPyMARL's default;
      PyMARL used it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _WideLinear(torch.autograd.Function):
    """``F.linear`` for a layer that widens (in < out features), with the faster weight-gradient product.

    Autograd computes a linear layer's weight gradient as ``grad.T @ x`` (out x rows @ rows x in). When
    in < out, ``(x.T @ grad).T`` is the same matrix (equal up to float rounding; tested), and with MKL on
    the development machine the faster product at the learner's shapes (agent input layer, QMIX state
    layer). The input gradient is computed only when the input requires one.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        return torch.addmm(bias, x, weight.t())  # (R, out)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        x, weight = ctx.saved_tensors  # (R, in), (out, in)
        d_x = grad.mm(weight) if ctx.needs_input_grad[0] else None
        return d_x, x.t().mm(grad).t(), grad.sum(0)


def wide_linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(x)`` for 2-D ``x`` (R, in); the faster backward of :class:`_WideLinear` when in < out."""
    if layer.in_features >= layer.out_features or not torch.is_grad_enabled():
        return F.linear(x, layer.weight, layer.bias)
    return _WideLinear.apply(x, layer.weight, layer.bias)


class GRUSequence(torch.autograd.Function):
    """The GRU recurrence over whole sequences from a zero state, for P stacked networks, fused backward.

    Gate order r, z, n as ``torch.nn.GRUCell``: r = σ(gi_r + gh_r), z = σ(gi_z + gh_z),
    n = tanh(gi_n + r * gh_n), h' = (1 - z) * n + z * h, with gi = x @ W_ih.T + b_ih computed outside
    for every step in one matmul, and gh = h @ W_hh.T + b_hh. P = 2 runs the online and the target
    network in the same loop (one batched matmul per gate group per step for both); only network 0
    (the online one) gets gradients.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        gi: torch.Tensor,
        w_hh: torch.Tensor,
        b_hh: torch.Tensor,
        gi_target: torch.Tensor | None = None,
        w_hh_target: torch.Tensor | None = None,
        b_hh_target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the recurrence.

        Args:
            gi: (T, M, 3H) input projections; M = sequences (B * N).
            w_hh: (3H, H) recurrent weights.
            b_hh: (3H,) recurrent biases.
            gi_target: Optional second network's (T, M, 3H) projections (no gradient).
            w_hh_target: Its recurrent weights.
            b_hh_target: Its recurrent biases.

        Returns:
            (T, P, M, H) hidden state after each step, P = 2 with a target network, else 1.
        """
        if gi_target is not None and w_hh_target is not None and b_hh_target is not None:
            gi, w_hh, b_hh = (
                torch.stack([gi, gi_target], 1),
                torch.stack([w_hh, w_hh_target]),
                torch.stack([b_hh, b_hh_target]),
            )
        else:
            gi, w_hh, b_hh = gi.unsqueeze(1), w_hh.unsqueeze(0), b_hh.unsqueeze(0)
        t_len, p, m, h3 = gi.shape
        h1, h2 = h3 // 3, 2 * (h3 // 3)
        gi_rz = gi[..., :h2] + b_hh[:, None, :h2]  # (T, P, M, 2H): the r and z biases folded in once
        gi_n2 = gi[..., h2:] * 2.0  # (T, P, M, H): tanh(a) = 2σ(2a) - 1, and CPU tanh is ~3x slower than σ
        w_rz_t = w_hh[:, :h2].transpose(1, 2)  # (P, H, 2H)
        w_n_t = w_hh[:, h2:].transpose(1, 2)  # (P, H, H)
        b_n = b_hh[:, None, h2:]  # (P, 1, H)
        hs = gi.new_empty(t_len, p, m, h1)  # (T, P, M, H)
        ghn = gi.new_empty(t_len, p, m, h1)  # (T, P, M, H): h @ W_hn.T + b_hn, needed by backward
        n = gi.new_empty(t_len, p, m, h1)  # (T, P, M, H)
        h = gi.new_zeros(p, m, h1)  # (P, M, H)
        for t in range(t_len):
            rz = torch.baddbmm(gi_rz[t], h, w_rz_t, out=gi_rz[t]).sigmoid_()  # (P, M, 2H), kept for backward
            torch.baddbmm(b_n, h, w_n_t, out=ghn[t])
            torch.addcmul(gi_n2[t], rz[..., :h1], ghn[t], value=2.0, out=n[t]).sigmoid_().mul_(2.0).sub_(1.0)
            h = torch.lerp(n[t], h, rz[..., h1:], out=hs[t])  # n + z * (h - n)
        ctx.save_for_backward(hs[:, 0], gi_rz[:, 0], n[:, 0], ghn[:, 0], w_hh[0])
        return hs

    @staticmethod
    def backward(ctx, d_hs_all: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None, None, None]:  # type: ignore[override]
        hs, rz, n, ghn, w_hh = ctx.saved_tensors  # network 0's: (T, M, ·)
        t_len, m, h1 = hs.shape
        r, z = rz[..., :h1], rz[..., h1:]
        h_prev = torch.cat([hs.new_zeros(1, m, h1), hs[:-1]])  # (T, M, H)
        # Per-step factors independent of the carried gradient dh, for all steps at once:
        # dL/d(n_pre) = dh * k_n, dL/d(z_pre) = dh * k_z, dL/d(r_pre) = dL/d(n_pre) * ghn * r(1-r),
        # dL/d(gh_n) = dL/d(n_pre) * r.
        k_n = (1 - z) * (1 - n * n)
        k = torch.cat([k_n * ghn * r * (1 - r), (h_prev - n) * z * (1 - z), k_n * r], dim=-1)  # (T, M, 3H)
        k3 = k.view(t_len, m, 3, h1)
        d_hs = d_hs_all[:, 0].contiguous()  # (T, M, H)
        d_gh = hs.new_empty(t_len, m, 3 * h1)  # (T, M, 3H): gradient of h @ W_hh.T + b_hh
        dh_all = hs.new_empty(t_len, m, h1)  # (T, M, H): dL/dh_t including the future
        dh_all[t_len - 1] = d_hs[t_len - 1]
        for t in range(t_len - 1, -1, -1):
            dh = dh_all[t]
            torch.mul(dh.unsqueeze(1), k3[t], out=d_gh[t].view(m, 3, h1))
            if t > 0:
                torch.addcmul(d_hs[t - 1], dh, z[t], out=dh_all[t - 1]).addmm_(d_gh[t], w_hh)
        d_gi = torch.cat([d_gh[..., : 2 * h1], dh_all * k_n], dim=-1)  # (T, M, 3H)
        d_gh_flat = d_gh.view(-1, 3 * h1)  # (T*M, 3H)
        d_w_hh = d_gh_flat.t() @ h_prev.view(-1, h1)  # (3H, H)
        return d_gi, d_w_hh, d_gh_flat.sum(0), None, None, None


class AgentNetwork(nn.Module):
    """Per-agent Q-network shared by all agents; see the module docstring."""

    def __init__(self, input_dim: int, n_actions: int, hidden_dim: int = 64, kind: str = "gru") -> None:
        """Build the network.

        Args:
            input_dim: I, features per agent (observation + id one-hot + optional last action).
            n_actions: A, discrete actions.
            hidden_dim: H, hidden units.
            kind: ``gru`` or ``mlp``.
        """
        super().__init__()
        if kind not in ("gru", "mlp"):
            raise ValueError(f"kind must be 'gru' or 'mlp', got {kind!r}")
        self.kind = kind
        self.hidden_dim = hidden_dim
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.rnn: nn.Module = nn.GRUCell(hidden_dim, hidden_dim) if kind == "gru" else nn.Linear(hidden_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, n_actions)

    def init_hidden(self, batch: int) -> torch.Tensor:
        """Zero hidden state, (batch, H) (unused by ``mlp`` but kept so callers need no branch)."""
        return self.fc1.weight.new_zeros(batch, self.hidden_dim)

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step for M agents: x (M, I), h (M, H) -> Q (M, A), next h (M, H)."""
        x = F.linear(x, self.fc1.weight, self.fc1.bias).relu_()
        if self.kind == "gru":
            h = self.rnn(x, h)
        else:
            h = F.linear(x, self.rnn.weight, self.rnn.bias).relu_()  # type: ignore[arg-type]
        return F.linear(h, self.fc2.weight, self.fc2.bias), h

    def unroll(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values of M sequences from a zero hidden state: x (T, M, I) -> Q (T, M, A)."""
        return unroll_pair(self, None, x)[0]


def unroll_pair(
    online: AgentNetwork, target: AgentNetwork | None, x: torch.Tensor, target_from: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Q-values of the online network (with grad) and the target network (without) on the same inputs.

    The GRU recurrences of both run in one loop (:class:`GRUSequence` with P = 2).

    Args:
        online: The online agent network.
        target: Its target copy, or None.
        x: (T, M, I) inputs.
        target_from: First step whose target Q is returned (the learner bootstraps from steps 1..T
            only); a feed-forward target network then runs on those steps alone.

    Returns:
        Online Q (T, M, A) and target Q (T - target_from, M, A) or None.
    """
    if not isinstance(online.rnn, nn.GRUCell):
        return _unroll_pair_mlp(online, target, x, target_from)
    h_online = F.relu(online.fc1(x))  # (T, M, H)
    h_target = None
    cell = online.rnn
    gi = F.linear(h_online, cell.weight_ih, cell.bias_ih)  # (T, M, 3H)
    target_args: tuple[torch.Tensor | None, ...] = (None, None, None)
    if target is not None:
        with torch.no_grad():
            assert isinstance(target.rnn, nn.GRUCell)
            t_cell = target.rnn
            gi_target = F.linear(F.relu(target.fc1(x)), t_cell.weight_ih, t_cell.bias_ih)
            target_args = (gi_target, t_cell.weight_hh.detach(), t_cell.bias_hh.detach())
    hs = GRUSequence.apply(gi, cell.weight_hh, cell.bias_hh, *target_args)  # (T, P, M, H)
    h_online = hs[:, 0]
    h_target = hs[target_from:, 1] if target is not None else None
    q = online.fc2(h_online)  # (T, M, A)
    if target is None or h_target is None:
        return q, None
    with torch.no_grad():
        return q, target.fc2(h_target)


def _unroll_pair_mlp(
    online: AgentNetwork, target: AgentNetwork | None, x: torch.Tensor, target_from: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`unroll_pair` for the feed-forward agent: 2-D matmuls over all rows, ReLUs in place.

    In-place ReLU on a fresh ``addmm`` output is the same function (``addmm``'s backward does not read
    its output, and ReLU's backward reads its result); it saves an allocation and a pass per layer.
    """
    t_len, m, i = x.shape
    x2 = x.reshape(t_len * m, i)
    h = wide_linear(x2, online.fc1).relu_()
    h = F.linear(h, online.rnn.weight, online.rnn.bias).relu_()  # type: ignore[arg-type]
    q = F.linear(h, online.fc2.weight, online.fc2.bias).view(t_len, m, -1)
    if target is None:
        return q, None
    with torch.no_grad():
        xt = x2[target_from * m :]  # steps target_from.. (contiguous: x is time-major)
        h = F.linear(xt, target.fc1.weight, target.fc1.bias).relu_()
        h = F.linear(h, target.rnn.weight, target.rnn.bias).relu_()  # type: ignore[arg-type]
        return q, F.linear(h, target.fc2.weight, target.fc2.bias).view(t_len - target_from, m, -1)


def input_dim(obs_dim: int, n_agents: int, n_actions: int, obs_agent_id: bool, obs_last_action: bool) -> int:
    """I: features per agent of :func:`build_inputs`."""
    return obs_dim + (n_agents if obs_agent_id else 0) + (n_actions if obs_last_action else 0)


def build_inputs(
    obs: torch.Tensor, last_actions: torch.Tensor | None, n_actions: int, obs_agent_id: bool
) -> torch.Tensor:
    """Agent-network inputs from observations.

    Args:
        obs: (..., N, O) float observations.
        last_actions: (..., N) long previous actions (0 at an episode's first step is replaced by a zero
            one-hot by the caller passing -1), or None when the last action is not an input.
        n_actions: A.
        obs_agent_id: Whether to append the one-hot agent id.

    Returns:
        (..., N, I) float inputs.
    """
    parts = [obs]
    n_agents = obs.shape[-2]
    if obs_agent_id:
        parts.append(torch.eye(n_agents, dtype=obs.dtype, device=obs.device).expand(*obs.shape[:-1], n_agents))
    if last_actions is not None:
        one_hot = F.one_hot(last_actions.clamp(min=0), n_actions).to(obs.dtype)  # (..., N, A)
        parts.append(one_hot * (last_actions >= 0).unsqueeze(-1).to(obs.dtype))
    return torch.cat(parts, dim=-1) if len(parts) > 1 else obs

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


class GRUSequence(torch.autograd.Function):
    """The GRU recurrence over a whole sequence, from a zero initial state, with a fused backward.

    ``gi`` holds the input projections ``x_t @ W_ih.T + b_ih`` of every step, computed outside in one
    matmul. Gate order r, z, n as ``torch.nn.GRUCell``: r = σ(gi_r + gh_r), z = σ(gi_z + gh_z),
    n = tanh(gi_n + r * gh_n), h' = (1 - z) * n + z * h with gh = h @ W_hh.T + b_hh.
    """

    @staticmethod
    def forward(ctx, gi: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Run the recurrence.

        Args:
            gi: (T, M, 3H) input projections, M = sequences (B * N).
            w_hh: (3H, H) recurrent weights.
            b_hh: (3H,) recurrent bias.

        Returns:
            (T, M, H) hidden state after each step.
        """
        t_len, m, h3 = gi.shape
        h2 = 2 * (h3 // 3)
        gi_rz = gi[..., :h2] + b_hh[:h2]  # (T, M, 2H): the r and z biases folded in once
        w_rz_t, w_n_t, b_n = w_hh[:h2].t(), w_hh[h2:].t(), b_hh[h2:]
        hs = gi.new_empty(t_len, m, h3 // 3)  # (T, M, H)
        ghn = gi.new_empty(t_len, m, h3 // 3)  # (T, M, H): h @ W_hn.T + b_hn, needed by backward
        n = gi.new_empty(t_len, m, h3 // 3)  # (T, M, H)
        h = gi.new_zeros(m, h3 // 3)  # (M, H)
        for t in range(t_len):
            rz = torch.addmm(gi_rz[t], h, w_rz_t, out=gi_rz[t]).sigmoid_()  # (M, 2H), stored over gi_rz
            torch.addmm(b_n, h, w_n_t, out=ghn[t])
            torch.addcmul(gi[t, :, h2:], rz[:, : h2 // 2], ghn[t], out=n[t]).tanh_()
            h = torch.lerp(n[t], h, rz[:, h2 // 2 :], out=hs[t])  # n + z * (h - n)
        ctx.save_for_backward(hs, gi_rz, n, ghn, w_hh)
        return hs

    @staticmethod
    def backward(ctx, d_hs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        hs, rz, n, ghn, w_hh = ctx.saved_tensors
        t_len, m, h_dim = hs.shape
        r, z = rz[..., :h_dim], rz[..., h_dim:]
        h_prev = torch.cat([hs.new_zeros(1, m, h_dim), hs[:-1]])  # (T, M, H)
        # Per-step factors that do not depend on the carried gradient, computed for all steps at once.
        k_n = (1 - z) * (1 - n * n)  # dL/d(n_pre) = dh * k_n
        k_z = (h_prev - n) * z * (1 - z)  # dL/d(z_pre) = dh * k_z
        k_r = ghn * r * (1 - r)  # dL/d(r_pre) = dL/d(n_pre) * k_r
        d_gh = hs.new_empty(t_len, m, 3 * h_dim)  # (T, M, 3H): gradient of h @ W_hh.T + b_hh
        d_gin = hs.new_empty(t_len, m, h_dim)  # (T, M, H): gradient of gi's n part
        d_hs = d_hs.contiguous()
        dh = d_hs[t_len - 1].clone()  # (M, H): dL/dh_t, carried backwards
        for t in range(t_len - 1, -1, -1):
            dn_pre = torch.mul(dh, k_n[t], out=d_gin[t])
            torch.mul(dh, k_z[t], out=d_gh[t, :, h_dim : 2 * h_dim])
            torch.mul(dn_pre, k_r[t], out=d_gh[t, :, :h_dim])
            torch.mul(dn_pre, r[t], out=d_gh[t, :, 2 * h_dim :])
            if t > 0:
                dh = torch.addcmul(d_hs[t - 1], dh, z[t]).addmm_(d_gh[t], w_hh)
        d_gi = torch.cat([d_gh[..., : 2 * h_dim], d_gin], dim=-1)  # (T, M, 3H)
        d_gh_flat = d_gh.view(-1, 3 * h_dim)  # (T*M, 3H)
        d_w_hh = d_gh_flat.t() @ h_prev.view(-1, h_dim)  # (3H, H)
        return d_gi, d_w_hh, d_gh_flat.sum(0)


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
        x = F.relu(self.fc1(x))
        h = self.rnn(x, h) if self.kind == "gru" else F.relu(self.rnn(x))
        return self.fc2(h), h

    def unroll(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values of M sequences from a zero hidden state: x (T, M, I) -> Q (T, M, A)."""
        x = F.relu(self.fc1(x))  # (T, M, H)
        if isinstance(self.rnn, nn.GRUCell):
            gi = F.linear(x, self.rnn.weight_ih, self.rnn.bias_ih)  # (T, M, 3H)
            h = GRUSequence.apply(gi, self.rnn.weight_hh, self.rnn.bias_hh)  # (T, M, H)
        else:
            h = F.relu(self.rnn(x))
        return self.fc2(h)


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

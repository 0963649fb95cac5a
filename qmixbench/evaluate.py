"""Greedy, decentralised evaluation: the agent network alone, on each agent's own observation and id.

No mixer, no global state and no exploration: what a deployed team would do. K envs run in lockstep
with one batched network call per step; episode j is reset with ``seeds[j]``, so every evaluation of a
run (and every algorithm with the same seed) meets the same episodes.

Also loads and saves ``agent.pt``, the one file a trained team needs to act.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qmixbench.adapter import ParallelEnvAdapter
from qmixbench.algos.exploration import masked_greedy
from qmixbench.algos.networks import AgentNetwork, build_inputs
from qmixbench.recorder import atomic_write_bytes

AGENT_FORMAT = "qmixbench-agent-v1"


@dataclass
class EvalResult:
    """Per-episode outcomes of one evaluation, in episode order."""

    returns: list[float] = field(default_factory=list)
    """Undiscounted team return of each episode."""
    successes: list[float] = field(default_factory=list)
    """1/0 per episode where the env reported ``success``, else NaN."""
    lengths: list[int] = field(default_factory=list)
    """Steps of each episode."""
    frames: list[np.ndarray] = field(default_factory=list)
    """RGB frames of the first episode when rendering was asked for."""

    def summary(self) -> dict[str, float]:
        """Mean/std return, success rate (NaN when the env reports none) and mean episode length."""
        known = [s for s in self.successes if not math.isnan(s)]
        return {
            "eval_return_mean": float(np.mean(self.returns)),
            "eval_return_std": float(np.std(self.returns)),
            "eval_success_rate": float(np.mean(known)) if known else float("nan"),
            "eval_episode_len_mean": float(np.mean(self.lengths)),
        }


@torch.inference_mode()
def run_greedy(
    agent: AgentNetwork,
    adapters: list[ParallelEnvAdapter],
    seeds: list[int],
    *,
    obs_agent_id: bool,
    obs_last_action: bool,
    render: bool = False,
) -> EvalResult:
    """Play ``len(seeds)`` greedy episodes over the envs in lockstep.

    Args:
        agent: The trained agent network.
        adapters: K envs (K may exceed the episodes; extra envs stay idle).
        seeds: Reset seed of each episode.
        obs_agent_id: Inputs include the one-hot agent id.
        obs_last_action: Inputs include the previous action.
        render: Collect ``rgb_array`` frames of episode 0 (played on env 0).

    Returns:
        The per-episode outcomes.
    """
    info = adapters[0].info
    n, a = info.n_agents, info.n_actions
    k_envs = min(len(adapters), len(seeds))
    device = next(agent.parameters()).device
    obs = np.zeros((k_envs, n, info.obs_dim), np.float32)  # (K, N, O)
    avail = np.ones((k_envs, n, a), bool)  # (K, N, A)
    last = np.full((k_envs, n), -1, np.int64)  # (K, N)
    hidden = agent.init_hidden(k_envs * n)  # (K*N, H)
    episode_of = [-1] * k_envs  # which episode each env plays; -1 = idle
    ret, length = np.zeros(k_envs), np.zeros(k_envs, np.int64)
    n_eps = len(seeds)
    returns, successes, lengths = [0.0] * n_eps, [float("nan")] * n_eps, [0] * n_eps
    frames: list[np.ndarray] = []
    next_ep = 0

    def begin(k: int) -> None:
        nonlocal next_ep
        episode_of[k] = next_ep
        obs[k], _, avail[k] = adapters[k].reset(seed=int(seeds[next_ep]))
        last[k], ret[k], length[k] = -1, 0.0, 0
        hidden[k * n : (k + 1) * n] = 0.0
        if render and next_ep == 0:
            frames.append(_frame(adapters[k]))
        next_ep += 1

    for k in range(k_envs):
        begin(k)
    while any(e >= 0 for e in episode_of):
        x = build_inputs(
            torch.from_numpy(obs).to(device),
            torch.from_numpy(last).to(device) if obs_last_action else None,
            a,
            obs_agent_id,
        ).reshape(k_envs * n, -1)  # (K*N, I)
        q, hidden = agent.step(x, hidden)
        actions = (
            masked_greedy(q, torch.from_numpy(avail).to(device).reshape(k_envs * n, a)).view(k_envs, n).cpu().numpy()
        )
        for k in range(k_envs):
            ep = episode_of[k]
            if ep < 0:
                continue
            obs[k], _, avail[k], reward, terminated, truncated, step_info = adapters[k].step(actions[k])
            last[k] = actions[k]
            ret[k] += reward
            length[k] += 1
            if render and ep == 0:
                frames.append(_frame(adapters[k]))
            if terminated or truncated:
                returns[ep], lengths[ep] = float(ret[k]), int(length[k])
                if "success" in step_info:
                    successes[ep] = float(step_info["success"])
                episode_of[k] = -1
                if next_ep < n_eps:
                    begin(k)
    return EvalResult(returns, successes, lengths, frames)


def _frame(adapter: ParallelEnvAdapter) -> np.ndarray:
    frame = adapter.env.render()
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise ValueError(f"{adapter.info.env_id} did not render an RGB array (render_mode='rgb_array' unsupported?)")
    return frame


def eval_seeds(seed: int, episodes: int) -> list[int]:
    """Reset seeds of a run's evaluation episodes: fixed per run seed, disjoint from training seeds."""
    return [int(s) for s in np.random.SeedSequence([seed, 1]).generate_state(episodes)]


def save_agent(
    path: Path | str,
    agent: AgentNetwork,
    *,
    input_dim: int,
    n_actions: int,
    obs_agent_id: bool,
    obs_last_action: bool,
    env_info: dict[str, Any],
) -> None:
    """Write ``agent.pt`` atomically: weights plus what is needed to rebuild and feed the network."""
    data = {
        "format": AGENT_FORMAT,
        # Clones: the learner's parameters are views of one flat buffer, which torch.save would store whole.
        "state_dict": {k: v.detach().cpu().clone() for k, v in agent.state_dict().items()},
        "network": {"input_dim": input_dim, "n_actions": n_actions, "hidden_dim": agent.hidden_dim, "kind": agent.kind},
        "inputs": {"obs_agent_id": obs_agent_id, "obs_last_action": obs_last_action},
        "env_info": env_info,
    }
    buf = io.BytesIO()
    torch.save(data, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_agent(path: Path | str, device: str = "cpu") -> tuple[AgentNetwork, dict[str, Any]]:
    """Rebuild the agent network from ``agent.pt``; returns it (eval mode) and the file's metadata."""
    data = torch.load(path, map_location=device, weights_only=True)
    if data.get("format") != AGENT_FORMAT:
        raise ValueError(f"{path} is not a qmixbench agent file (format {data.get('format')!r})")
    agent = AgentNetwork(**data["network"]).to(device)
    agent.load_state_dict(data["state_dict"])
    agent.eval()
    return agent, data

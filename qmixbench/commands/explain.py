"""``qmixbench explain RUN_DIR``: a matrix-game run's learned Q_tot and agent Qs beside the true payoffs.

Examples::

    qmixbench run --env matrix/two-step-v0 --algos qmix,vdn --seeds 0 --out results/two-step
    qmixbench explain results/two-step/matrix__two-step-v0/qmix/seed_0

As Table 1 of the QMIX paper (Rashid et al. 2018) for the two-step game: for each state, the learned
Q_tot of every joint action (rows: agent_0's action, columns: agent_1's), each agent's own Q-values
(what it acts on, decentralised), and the true values. It shows why VDN's additive Q_tot settles for
7 in the two-step game where QMIX's monotone mixing finds 8.

The learned values come from the run's final.pt (agent network and mixer); recurrent agents are
unrolled along the path that reaches each state. As in ``qmixbench eval``, a run whose env is an
entry point needs ``--trust-entry-points`` or the same env named with ``--env``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from qmixbench.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qmixbench.commands.eval import add_trust_arguments

    parser.add_argument("run_dir", type=Path, help="a run directory of a matrix game (matrix/*)")
    add_trust_arguments(parser)


def _nodes(env: Any, gamma: float) -> list[tuple[str, list[tuple[int, int]], np.ndarray, str]]:
    """(name, joint actions from reset to the state, true values, what the true values are)."""
    from qmixbench_envs.matrix import TWO_STEP_2A_PAYOFF, TWO_STEP_2B, MatrixGameEnv, TwoStepEnv

    if isinstance(env, TwoStepEnv):
        first = gamma * np.array([[TWO_STEP_2A_PAYOFF] * 2, [TWO_STEP_2B.max()] * 2])
        return [
            ("state 1", [], first, f"optimal return discounted once (γ = {gamma:g})"),
            ("state 2A", [(0, 0)], np.full((2, 2), TWO_STEP_2A_PAYOFF), "payoff"),
            ("state 2B", [(1, 0)], TWO_STEP_2B, "payoff"),
        ]
    if isinstance(env, MatrixGameEnv):
        return [("step 1", [], env.payoff, f"per-step payoff (played {env.max_steps} times)")]
    raise UsageError(f"explain works on matrix games (matrix/*); this run's env is {type(env).__name__}")


def _table(title: str, m: np.ndarray) -> list[str]:
    a = m.shape[0]
    lines = [title, "        " + "".join(f"a1={j:<7d}" for j in range(m.shape[1]))]
    lines += [f"  a0={i:<2d} " + "".join(f"{m[i, j]:<10.2f}" for j in range(m.shape[1])) for i in range(a)]
    return lines


def explain(run_dir: Path, trust_entry_points: bool = False, env: str | None = None) -> str:
    """The text ``qmixbench explain`` prints for ``run_dir`` (see ``--trust-entry-points`` and ``--env``)."""
    import torch

    from qmixbench.algos.mixers import build_mixer
    from qmixbench.algos.mixers.base import MixerInput
    from qmixbench.algos.networks import build_inputs
    from qmixbench.commands.eval import make_run_adapter, read_agent, read_run_record
    from qmixbench.config import TrainConfig, from_dict
    from qmixbench.train import mixer_shape

    for name in ("config.json", "agent.pt"):
        if not (run_dir / name).exists():
            raise UsageError(f"{run_dir} is not a finished run directory (no {name})")
    # final.pt: a done run's learner; checkpoint.pt: what runs written before final.pt existed kept.
    state_file = next((run_dir / n for n in ("final.pt", "checkpoint.pt") if (run_dir / n).exists()), None)
    if state_file is None:
        raise UsageError(f"{run_dir} is not a finished run directory (no final.pt)")
    run, cfg = read_run_record(run_dir, trust_entry_points, env)
    adapter = make_run_adapter(run)
    nodes = _nodes(getattr(adapter.env, "unwrapped", adapter.env), float(cfg["gamma"]))
    agent, meta = read_agent(run_dir / "agent.pt")
    info = adapter.info
    config: TrainConfig = from_dict(TrainConfig, cfg)
    mixer = build_mixer(config.mixer, mixer_shape(info, meta["network"]["input_dim"], config))
    try:
        ckpt = torch.load(state_file, map_location="cpu", weights_only=True)
        mixer.load_state_dict(ckpt["learner"]["mixer"] or {})
    except Exception as exc:  # torch raises many types for a damaged, foreign or older file
        raise UsageError(f"{state_file}: not a readable checkpoint of this mixer ({type(exc).__name__})") from None
    a = info.n_actions
    lines = [
        f"{run['algo']} on {run['env']} (seed {run['seed']}): learned values beside the true ones",
        "rows: agent_0's action a0, columns: agent_1's action a1",
        "",
    ]
    for name, path, true, what in nodes:
        obs, state, _ = adapter.reset(seed=0)
        seq_obs, last = [obs], [np.full(info.n_agents, -1)]
        for joint in path:
            obs, state, *_ = adapter.step(np.array(joint))
            seq_obs.append(obs)
            last.append(np.array(joint))
        with torch.no_grad():
            x = build_inputs(
                torch.as_tensor(np.stack(seq_obs)),
                torch.as_tensor(np.stack(last)) if meta["inputs"]["obs_last_action"] else None,
                a,
                meta["inputs"]["obs_agent_id"],
            )
            q = agent.unroll(x)[-1]  # (N, A): each agent's Q at this state
            lines.append(f"== {name} ==")
            if not mixer.per_agent:
                joint_actions = torch.stack(torch.meshgrid(torch.arange(a), torch.arange(a), indexing="ij"), -1)
                q_grid = torch.stack(torch.meshgrid(q[0], q[1], indexing="ij"), -1)  # (A, A, N)
                q_all = q.expand(a, a, -1, -1)  # (A, A, N, A)
                inputs = MixerInput(
                    q_grid,
                    torch.as_tensor(state).expand(a, a, -1),
                    q_all,
                    joint_actions,  # (A, A, N)
                    torch.ones_like(q_all, dtype=torch.bool),
                    torch.ones_like(q_grid),
                )
                lines += _table(f"learned Q_tot ({config.mixer.kind})", mixer.mix(inputs).numpy())
            else:
                lines.append("learned Q_tot: none (IQL has no mixer; each agent learns its own Q)")
        lines += _table(f"true values ({what})", np.asarray(true))
        for i, agent_id in enumerate(info.agent_ids):
            lines.append(f"{agent_id} Q: " + "  ".join(f"a={j}: {v:.2f}" for j, v in enumerate(q[i].tolist())))
        best = tuple(int(v) for v in q.argmax(-1).tolist())
        lines.append(
            f"decentralised greedy joint action {best}: true value {np.asarray(true)[best]:.2f} "
            f"(best {np.max(true):.2f})"
        )
        lines.append("")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    print(explain(args.run_dir, args.trust_entry_points, args.env))
    return 0

"""A trained team as a policy on PettingZoo observation dicts: ``load_policy(run_dir).act(observations)``.

Decentralised, as in evaluation (:mod:`qmixbench.evaluate`): each agent's action comes from the
shared agent network applied to that agent's own observation, its one-hot id and (when the run used
it) its own previous action, with its own recurrent hidden state; no mixer, no global state. Call
:meth:`Policy.reset` at the start of every episode.

Correctness-critical decisions made here:

* **Inputs as in training.** Observations are flattened to float32 and zero-padded to the run's
  observation size (as :class:`qmixbench.adapter.ParallelEnvAdapter` pads envs with heterogeneous
  spaces); the agent id is the agent's index in the training env's ``possible_agents``.
* **Action masks** are read where the adapter reads them: a dict observation's ``"action_mask"``, or
  ``infos[agent]["action_mask"]``; actions past a mask's length are unavailable. Without a mask every
  one of the network's actions may be chosen.
* **Greedy.** Ties go to the lowest action, as in evaluation (``masked_greedy``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from qmixbench.algos.exploration import masked_greedy
from qmixbench.algos.networks import AgentNetwork
from qmixbench.evaluate import load_agent


class Policy:
    """Greedy decentralised actions for a team; see the module docstring.

    Attributes:
        agents: The agent names it acts for, in the training env's ``possible_agents`` order.
    """

    def __init__(self, network: AgentNetwork, metadata: dict[str, Any], device: str = "cpu") -> None:
        info = metadata["env_info"]
        self.network = network
        self.device = torch.device(device)
        self.agents: tuple[str, ...] = tuple(info["agent_ids"])
        self.obs_dim: int = int(info["obs_dim"])
        self.n_actions: int = int(metadata["network"]["n_actions"])
        self.obs_agent_id: bool = bool(metadata["inputs"]["obs_agent_id"])
        self.obs_last_action: bool = bool(metadata["inputs"]["obs_last_action"])
        self.reset()

    def reset(self) -> None:
        """Forget the episode: zero every agent's hidden state and previous action."""
        self.hidden = {agent: self.network.init_hidden(1) for agent in self.agents}  # each (1, H)
        self.last_action = dict.fromkeys(self.agents, -1)

    def _inputs(self, agent: str, observation: Any) -> torch.Tensor:
        """(1, I) network input of one agent, laid out as ``build_inputs``: obs, id one-hot, last action one-hot."""
        obs = np.zeros(self.obs_dim, np.float32)  # (O,)
        flat = np.ravel(np.asarray(observation, np.float32))
        if flat.size > self.obs_dim:
            raise ValueError(f"{agent}: observation of {flat.size} features; this policy was trained on {self.obs_dim}")
        obs[: flat.size] = flat
        parts = [obs]
        if self.obs_agent_id:
            parts.append(np.eye(len(self.agents), dtype=np.float32)[self.agents.index(agent)])
        if self.obs_last_action:
            one_hot = np.zeros(self.n_actions, np.float32)
            if self.last_action[agent] >= 0:
                one_hot[self.last_action[agent]] = 1.0
            parts.append(one_hot)
        return torch.from_numpy(np.concatenate(parts)).unsqueeze(0).to(self.device)

    @torch.inference_mode()
    def act(self, observations: dict[str, Any], infos: dict[str, Any] | None = None) -> dict[str, int]:
        """Actions for the agents in ``observations`` (a PettingZoo parallel env's dict).

        Args:
            observations: Agent name -> observation (an array, or a dict with ``"observation"`` and
                ``"action_mask"``).
            infos: The env's infos; ``infos[agent]["action_mask"]`` is honoured when present.

        Returns:
            Agent name -> action (int), for every agent in ``observations``.
        """
        actions: dict[str, int] = {}
        for agent, value in observations.items():
            if agent not in self.hidden:
                raise KeyError(f"unknown agent {agent!r}; this policy acts for {', '.join(self.agents)}")
            mask = None
            if isinstance(value, dict):
                mask = value.get("action_mask")
                value = value["observation"]
            info = (infos or {}).get(agent) or {}
            if "action_mask" in info:
                mask = info["action_mask"]
            avail = torch.ones(1, self.n_actions, dtype=torch.bool, device=self.device)  # (1, A)
            if mask is not None:
                given = torch.as_tensor(np.asarray(mask, bool)[: self.n_actions], device=self.device)
                avail.zero_()
                avail[0, : len(given)] = given
                if not avail.any():
                    raise ValueError(f"{agent}: the action mask allows no action")
            q, self.hidden[agent] = self.network.step(self._inputs(agent, value), self.hidden[agent])  # (1, A)
            action = int(masked_greedy(q, avail)[0])
            self.last_action[agent] = action
            actions[agent] = action
        return actions


def load_policy(path: Path | str, device: str = "cpu") -> Policy:
    """The policy of a trained run: ``path`` is its run directory or its ``agent.pt``.

    Raises:
        FileNotFoundError: no agent.pt there (the run has not evaluated yet).
        ValueError: the file is not a qmixbench agent file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "agent.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such agent file (a run writes agent.pt at its first evaluation)")
    network, metadata = load_agent(path, device)
    return Policy(network, metadata, device)

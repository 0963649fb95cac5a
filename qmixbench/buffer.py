"""Episode replay buffer: whole episodes in preallocated tensors, sampled as padded batches.

Layout: every field has a leading (C, ...) capacity axis and a time axis; an episode of length L
occupies steps 0..L-1 of its row (L+1 for per-step observations, which include the observation after
the last action, needed to bootstrap a truncated episode). Steps past L are padding, marked by
``filled`` = 0 and masked out of the loss.

Correctness-critical conventions (written by :meth:`EpisodeReplayBuffer.add`):

* ``alive[t]`` says which agents act at step t. At index L (after the last action) it is the mask of
  agents whose values the TD target bootstraps from, as the env reported it: nobody after a
  termination; after a truncation the agents that were truncated (not terminated) on the last step;
  after a cut (a checkpoint) the agents still acting. Their real last observations are at index L.
* ``terminated`` is 1 only at the last step of an episode that terminated; a truncated episode's last
  step has ``terminated`` 0 and therefore bootstraps.
* Rows are overwritten oldest-first once the buffer is full (a ring).

Memory: tensors are allocated with ``torch.empty``, so pages the buffer has not written yet cost no
RAM; observations of integer-valued envs (MiniGrid's uint8 images) are stored as uint8. When an env
states no episode limit, the time axis grows on demand (doubling) as longer episodes arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class EpisodeBatch:
    """One episode (B = 1) or a sampled batch, as tensors; T = the longest episode in it."""

    obs: torch.Tensor
    """(B, T+1, N, O) float observations."""
    state: torch.Tensor
    """(B, T+1, S) float global states."""
    avail: torch.Tensor
    """(B, T+1, N, A) bool available actions."""
    alive: torch.Tensor
    """(B, T+1, N) bool; see the module docstring for index L."""
    actions: torch.Tensor
    """(B, T, N) long actions taken."""
    reward: torch.Tensor
    """(B, T) float team rewards."""
    terminated: torch.Tensor
    """(B, T) float, 1 at the last step of a terminated episode."""
    filled: torch.Tensor
    """(B, T) float, 1 on real steps, 0 on padding."""


class EpisodeReplayBuffer:
    """A ring of whole episodes in preallocated tensors; see the module docstring."""

    def __init__(
        self,
        capacity: int,
        max_len: int,
        n_agents: int,
        obs_dim: int,
        state_dim: int,
        n_actions: int,
        obs_dtype: torch.dtype = torch.float32,
        grow: bool = False,
    ) -> None:
        """Allocate the buffer.

        Args:
            capacity: C, episodes held.
            max_len: T, the longest episode (the env's episode limit, or a first guess when ``grow``).
            n_agents: N.
            obs_dim: O.
            state_dim: S.
            n_actions: A.
            obs_dtype: Storage dtype of observations (uint8 for integer-valued observations).
            grow: Whether longer episodes than ``max_len`` may arrive (the time axis then doubles).
        """
        self.capacity, self.grow = capacity, grow
        self.n_agents, self.obs_dim, self.state_dim, self.n_actions = n_agents, obs_dim, state_dim, n_actions
        self.obs_dtype = obs_dtype
        self.size = 0  # episodes held
        self.pos = 0  # next row to write
        self._allocate(max_len)

    def _allocate(self, max_len: int) -> None:
        c, n = self.capacity, self.n_agents
        self.max_len = max_len
        self.obs = torch.empty(c, max_len + 1, n, self.obs_dim, dtype=self.obs_dtype)  # (C, T+1, N, O)
        self.state = torch.empty(c, max_len + 1, self.state_dim)  # (C, T+1, S)
        self.avail = torch.empty(c, max_len + 1, n, self.n_actions, dtype=torch.bool)  # (C, T+1, N, A)
        self.alive = torch.empty(c, max_len + 1, n, dtype=torch.bool)  # (C, T+1, N)
        self.actions = torch.empty(c, max_len, n, dtype=torch.long)  # (C, T, N)
        self.reward = torch.empty(c, max_len)  # (C, T)
        self.terminated = torch.empty(c, max_len)  # (C, T)
        self.lengths = torch.zeros(c, dtype=torch.long)  # (C,)

    def _grow_to(self, length: int) -> None:
        new_len = self.max_len
        while new_len < length:
            new_len *= 2
        old = {k: getattr(self, k) for k in ("obs", "state", "avail", "alive", "actions", "reward", "terminated")}
        lengths = self.lengths
        self._allocate(new_len)
        self.lengths = lengths
        for key, value in old.items():
            dst = getattr(self, key)
            dst[: self.size, : value.shape[1]] = value[: self.size]
            dst[: self.size, value.shape[1] :] = self._PADDING[key]  # as add() pads (avail True), so a
            # checkpoint, which rebuilds padding the same way, restores these rows bit for bit

    def add(
        self,
        obs: np.ndarray,
        state: np.ndarray,
        avail: np.ndarray,
        alive: np.ndarray,
        actions: np.ndarray,
        reward: np.ndarray,
        length: int,
        terminated: bool,
    ) -> None:
        """Store one finished (or cut) episode of ``length`` steps.

        Args:
            obs: (≥L+1, N, O) observations; rows past L are ignored.
            state: (≥L+1, S) states.
            avail: (≥L+1, N, A) available actions.
            alive: (≥L+1, N) alive flags as the env reported them, index L the bootstrap mask (cleared
                here when the episode terminated).
            actions: (≥L, N) actions.
            reward: (≥L,) team rewards.
            length: L, steps taken.
            terminated: Whether the episode terminated (no bootstrap) rather than being truncated or cut.
        """
        if length > self.max_len:
            if not self.grow:
                raise ValueError(f"episode of {length} steps exceeds the buffer's episode limit {self.max_len}")
            self._grow_to(length)
        row, L, T = self.pos, length, self.max_len
        self.obs[row, : L + 1] = torch.from_numpy(obs[: L + 1])
        self.obs[row, L + 1 :] = 0
        self.state[row, : L + 1] = torch.from_numpy(state[: L + 1])
        self.state[row, L + 1 :] = 0
        self.avail[row, : L + 1] = torch.from_numpy(avail[: L + 1])
        self.avail[row, L + 1 :] = True
        # Index L: who the target bootstraps from, as the rollout recorded it (see the module docstring).
        self.alive[row, : L + 1] = torch.from_numpy(alive[: L + 1])
        if terminated:
            self.alive[row, L] = False
        self.alive[row, L + 1 :] = False
        self.actions[row, :L] = torch.from_numpy(actions[:L])
        self.actions[row, L:] = 0
        self.reward[row, :L] = torch.from_numpy(reward[:L])
        self.reward[row, L:] = 0
        self.terminated[row, :T] = 0
        self.terminated[row, L - 1] = float(terminated)
        self.lengths[row] = L
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def can_sample(self, batch_size: int) -> bool:
        return self.size >= batch_size

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu") -> EpisodeBatch:
        """Sample ``batch_size`` distinct episodes uniformly, cut to the longest of them."""
        idx = torch.randperm(self.size, generator=generator)[:batch_size]  # (B,)
        return self.gather(idx, device)

    def gather(self, idx: torch.Tensor, device: torch.device | str = "cpu") -> EpisodeBatch:
        """The episodes at rows ``idx`` (B,), cut to the longest of them."""
        lengths = self.lengths[idx]
        t = int(lengths.max())
        steps = torch.arange(t)
        filled = (steps.unsqueeze(0) < lengths.unsqueeze(1)).float()  # (B, T)

        def take(x: torch.Tensor, n: int) -> torch.Tensor:
            return x[:, :n].index_select(0, idx).to(device, non_blocking=True)

        return EpisodeBatch(
            obs=take(self.obs, t + 1).float(),
            state=take(self.state, t + 1),
            avail=take(self.avail, t + 1),
            alive=take(self.alive, t + 1),
            actions=take(self.actions, t),
            reward=take(self.reward, t),
            terminated=take(self.terminated, t),
            filled=filled.to(device),
        )

    _PER_STEP = ("obs", "state", "avail", "alive")
    """Fields with L+1 entries per episode (they include the observation after the last action)."""
    _PADDING = {"obs": 0, "state": 0, "avail": True, "alive": False, "actions": 0, "reward": 0, "terminated": 0}
    """What :meth:`add` writes past an episode's end; a restored buffer holds exactly the same."""

    def _step_masks(self, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-step mask (n, T+1), per-action mask (n, T)) of the real steps of episodes of ``lengths``."""
        t = int(lengths.max()) if len(lengths) else 0
        steps = torch.arange(t + 1).unsqueeze(0)
        return steps <= lengths.unsqueeze(1), steps[:, :t] < lengths.unsqueeze(1)

    def state_dict(self) -> dict[str, Any]:
        """The held episodes for a checkpoint: only their real steps, packed end to end.

        Each field is stored as (sum of episode lengths (+1 per episode for per-step fields), ...):
        neither the rows the buffer has not filled nor the padding past each episode's end, which
        :meth:`load_state_dict` rebuilds as :meth:`add` writes it.
        """
        n = self.size
        lengths = self.lengths[:n].clone()
        per_step, per_action = self._step_masks(lengths)
        return {
            "size": n,
            "pos": self.pos,
            "max_len": self.max_len,
            "lengths": lengths,
            **{
                k: getattr(self, k)[:n, : per_step.shape[1] if k in self._PER_STEP else per_action.shape[1]][
                    per_step if k in self._PER_STEP else per_action
                ].clone()
                for k in self._PADDING
            },
        }

    def load_state_dict(self, data: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output into this (freshly built) buffer."""
        n = int(data["size"])
        if int(data["max_len"]) != self.max_len:
            self._allocate(int(data["max_len"]))
        self.size, self.pos = n, int(data["pos"])
        lengths: torch.Tensor = data["lengths"]
        self.lengths[:n] = lengths
        per_step, per_action = self._step_masks(lengths)
        for key, pad in self._PADDING.items():
            mask = per_step if key in self._PER_STEP else per_action
            dst = getattr(self, key)
            dst[:n] = pad
            dst[:n, : mask.shape[1]][mask] = data[key]

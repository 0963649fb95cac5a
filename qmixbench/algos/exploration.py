"""ε-greedy action selection over available actions, and the linear ε schedule (PyMARL's).

Implementation details:
    * Unavailable actions get Q = -inf before the greedy argmax, and weight 0 in the random draw, so
      neither branch ever picks one.
    * A random action is the argmax of uniform noise over the available actions, for all envs and
      agents at once, drawn from the caller's CPU ``torch.Generator`` (no global RNG), so the draws
      do not depend on the learner's device.
    * ε anneals linearly in env steps from ``start`` to ``finish`` over ``anneal_steps``, then stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class EpsilonSchedule:
    """Linear ε decay in env steps."""

    start: float
    """ε at step 0."""
    finish: float
    """ε from ``anneal_steps`` on."""
    anneal_steps: int
    """Env steps of the linear decay."""

    def value(self, env_steps: int) -> float:
        """ε after ``env_steps`` env steps."""
        if env_steps >= self.anneal_steps:
            return self.finish
        frac = env_steps / max(1, self.anneal_steps)
        return self.start + frac * (self.finish - self.start)


def masked_greedy(q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Greedy actions among the available ones: q (..., A), avail (..., A) bool -> (...) long."""
    return q.masked_fill(~avail, float("-inf")).argmax(-1)


def select_actions(q: np.ndarray, avail: np.ndarray, epsilon: float, generator: torch.Generator) -> np.ndarray:
    """ε-greedy actions: q (M, A) float, avail (M, A) bool -> (M,) int64; random picks are uniform over avail.

    In numpy on the CPU: the rollout calls this every step on a few dozen rows, where each torch op's
    dispatch costs more than its work. The draws come from the torch ``generator`` (two
    ``torch.rand`` calls), and numpy's argmax, like torch's, returns the first maximum, so the
    actions are those of the torch formulation ``q.masked_fill(~avail, -inf).argmax(-1)`` etc. (tested).
    """
    greedy = np.where(avail, q, -np.inf).argmax(-1)  # (M,)
    if epsilon <= 0.0:
        return greedy
    noise = torch.rand(q.shape, generator=generator).numpy()  # (M, A)
    random = np.where(avail, noise, np.float32(-1.0)).argmax(-1)
    explore = torch.rand(q.shape[0], generator=generator).numpy() < np.float32(epsilon)  # (M,)
    return np.where(explore, random, greedy)

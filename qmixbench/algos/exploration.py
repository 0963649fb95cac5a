"""ε-greedy action selection over available actions, and the linear ε schedule (PyMARL's).

Implementation details:
    * Unavailable actions get Q = -inf before the greedy argmax, and weight 0 in the random draw, so
      neither branch ever picks one.
    * A random action is the argmax of uniform noise over the available actions: one op for all
      envs and agents, drawn from the caller's CPU ``torch.Generator`` (no global RNG), so the draws
      do not depend on the learner's device.
    * ε anneals linearly in env steps from ``start`` to ``finish`` over ``anneal_steps``, then stays.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def select_actions(q: torch.Tensor, avail: torch.Tensor, epsilon: float, generator: torch.Generator) -> torch.Tensor:
    """ε-greedy actions: q (M, A), avail (M, A) bool -> (M,) long; random picks are uniform over avail."""
    greedy = masked_greedy(q, avail)
    if epsilon <= 0.0:
        return greedy
    # Drawn on the generator's device (the CPU) and moved: the same draws whatever device the net is on.
    noise = torch.rand(q.shape, generator=generator).to(q.device)  # (M, A)
    random = noise.masked_fill(~avail, -1.0).argmax(-1)
    explore = torch.rand(q.shape[0], generator=generator).to(q.device) < epsilon  # (M,)
    return torch.where(explore, random, greedy)

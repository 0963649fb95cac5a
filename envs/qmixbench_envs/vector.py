"""Vector envs: K copies of one registered env stepped in one call, arrays with a leading K axis in and out.

A family whose envs can be stepped in batch (SMAX: one ``jax.jit(jax.vmap(step))`` call for K battles)
offers a vector env next to its ``ParallelEnv``: a factory named by ``EnvSpec.vector_entry_point`` in the
registry, called as ``factory(num_envs=K, **the id's kwargs)`` (:func:`qmixbench_envs.registry.make_vector`).
qmixbench's rollout then steps its K training envs with one call instead of K.

The contract is PettingZoo's parallel API as arrays, so that the learner's adapter applies the same
rules (team reward, terminated vs truncated, bootstrap mask, agents that finish early) to both:

* **Agent order** is ``possible_agents``, identical to the ``ParallelEnv``'s; N agents, A actions (the
  largest action space; padded actions marked unavailable), O observation features (flattened).
* **Equivalence**: env k of a vector env reset with seed s and then given actions ``a_1, a_2, ...``
  returns exactly (bit for bit) what the family's ``ParallelEnv`` returns after ``reset(seed=s)`` and the
  same actions; a reset without a seed continues env k's own random stream exactly as
  ``ParallelEnv.reset()`` without a seed does. The rollout's equality of batched and one-at-a-time
  episodes rests on this; a family tests it step for step.
* **No auto-reset**: an env whose episode ended (no agent left active) keeps its last frame until
  ``reset(mask=...)`` names it, and must be reset before the next ``step`` (a vector env may refuse
  that step with an error, as SMAX's does).
* Rows of agents that are not active (finished on an earlier step, or never started) are ignored by
  the adapter in ``obs``, ``avail``, ``rewards`` and the end flags, as absent dict entries are.

Imports numpy only: a family's vector env imports its own heavy packages (JAX) when it is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = ["VectorEnv", "VectorFrame", "VectorStep"]


class VectorFrame(NamedTuple):
    """What the K envs show after a reset or a step."""

    obs: np.ndarray
    """(K, N, O) observations, each agent's flattened (any real dtype; the adapter reads float32)."""
    state: np.ndarray | None
    """(K, S) global state, what ``ParallelEnv.state()`` returns; None when the env has no ``state()``."""
    avail: np.ndarray
    """(K, N, A) bool or 0/1 ints: the available actions (all ones where the env gives no masks)."""
    active: np.ndarray
    """(K, N) bool: the agents in ``env.agents`` now, i.e. those that act on the next step."""


class VectorStep(NamedTuple):
    """One step's outcome: ``ParallelEnv.step``'s dicts as arrays."""

    frame: VectorFrame
    """Observations, state, masks and active agents after the step."""
    rewards: np.ndarray
    """(K, N) each agent's reward (float64, or float32 where the env's rewards are float32 values)."""
    terminations: np.ndarray
    """(K, N) bool: the agent's episode ended in a terminal state."""
    truncations: np.ndarray
    """(K, N) bool: the agent's episode was cut (a time limit)."""
    success: np.ndarray | None
    """(K,) bool, read on the step an episode ends: the team solved the task (``infos[agent]["success"]``);
    None when the family reports no success."""


@runtime_checkable
class VectorEnv(Protocol):
    """K copies of one env, stepped together; see the module docstring for the contract."""

    num_envs: int
    """K."""
    possible_agents: list[str]
    """The agents, in the order of every N axis (the ``ParallelEnv``'s ``possible_agents``)."""

    def reset(self, seeds: Sequence[int] | None = None, mask: np.ndarray | None = None) -> VectorFrame:
        """Reset the envs where ``mask`` (K,) bool (None: all), env k with ``seeds[k]``; return all K frames.

        ``seeds`` holds K entries (those outside the mask are ignored); None continues each env's own
        random stream. Rows outside the mask are the envs' current frames.
        """
        ...

    def step(self, actions: np.ndarray) -> VectorStep:
        """Step every env with ``actions`` (K, N) ints; envs whose episode ended must be reset first."""
        ...

    def close(self) -> None:
        """Release what the envs hold."""
        ...

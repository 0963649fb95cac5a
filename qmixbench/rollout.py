"""Collect training episodes from K environments stepped in lockstep, one batched network call a step.

Each step: the K envs' observations (K, N, O) become one (K*N, I) input, the shared agent network runs
once, ε-greedy picks all K*N actions at once (unavailable actions masked), then the K envs step: one
vectorised call where the env offers a vector env, else one env after the other (``qmixbench.env_batch``;
the two give identical episodes). Envs whose episode ended hand back an :class:`Episode` each, are reset
together (without a seed: each continues its own random stream) and have their recurrent state
zeroed; the others carry on. Nothing loops over agents.

The episodes in progress live in preallocated (K, T, ...) numpy arrays (grown by doubling when the env
has no episode limit), written for all K envs at once and copied out when an episode ends.

Observations that leave their space's declared bounds are logged once per run, as a warning: they are
checked a whole episode at a time when it ends (one vectorised comparison, not one per step).
Observations outside their space's dtype never get here: the adapter refuses them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from qmixbench.adapter import ParallelEnvAdapter, obs_bounds
from qmixbench.algos.exploration import select_actions
from qmixbench.algos.networks import AgentNetwork, build_inputs
from qmixbench.env_batch import AdapterBatch, EnvBatch

log = logging.getLogger(__name__)


@dataclass
class Episode:
    """One finished (or cut) episode; arrays may be longer than ``length`` (only the prefix counts)."""

    obs: np.ndarray
    """(≥L+1, N, O) float32."""
    state: np.ndarray
    """(≥L+1, S) float32."""
    avail: np.ndarray
    """(≥L+1, N, A) bool."""
    alive: np.ndarray
    """(≥L+1, N) bool."""
    actions: np.ndarray
    """(≥L, N) int64."""
    reward: np.ndarray
    """(≥L,) float32 team rewards."""
    length: int
    """L: steps taken."""
    terminated: bool
    """Ended by termination (no bootstrap)."""
    cut: bool
    """Cut short by the trainer (at a checkpoint), not ended by the env."""
    ret: float
    """Undiscounted team return."""
    success: float
    """1.0 / 0.0 when the env reported ``success``, else NaN."""


class _Tracks:
    """Preallocated arrays of the K episodes in progress: (K, capacity, ...), step t of env k at [k, t]."""

    NAMES = ("obs", "state", "avail", "alive", "actions", "reward")

    def __init__(self, k: int, cap: int, n: int, o: int, s: int, a: int) -> None:
        self.obs = np.zeros((k, cap + 1, n, o), np.float32)
        self.state = np.zeros((k, cap + 1, s), np.float32)
        self.avail = np.ones((k, cap + 1, n, a), bool)
        self.alive = np.zeros((k, cap + 1, n), bool)
        self.actions = np.zeros((k, cap, n), np.int64)
        self.reward = np.zeros((k, cap), np.float32)
        self.t = np.zeros(k, np.int64)  # (K,) steps taken in each episode
        self.ret = np.zeros(k, np.float64)  # (K,) undiscounted returns so far

    @property
    def cap(self) -> int:
        return self.actions.shape[1]

    def grow(self) -> None:
        """Double the capacity of every env's arrays (episodes of envs without an episode limit)."""
        for name in self.NAMES:
            old = getattr(self, name)
            new = np.zeros((old.shape[0], old.shape[1] * 2, *old.shape[2:]), old.dtype)
            if name == "avail":
                new[:] = True
            new[:, : old.shape[1]] = old
            setattr(self, name, new)


class Rollout:
    """K envs in lockstep driven by one shared agent network; see the module docstring."""

    def __init__(
        self,
        envs: EnvBatch | list[ParallelEnvAdapter],
        agent: AgentNetwork,
        *,
        obs_agent_id: bool,
        obs_last_action: bool,
        max_len: int | None,
    ) -> None:
        """Set up.

        Args:
            envs: The K training envs (same env id and kwargs): an :class:`~qmixbench.env_batch.EnvBatch`
                (possibly one vectorised call for all K), or a list of adapters stepped one at a time.
            agent: The online agent network (read, never trained here).
            obs_agent_id: Append one-hot agent ids to inputs.
            obs_last_action: Append previous actions to inputs.
            max_len: The env's episode limit, or None (episode arrays then grow on demand).
        """
        self.envs: EnvBatch = AdapterBatch(envs) if isinstance(envs, list) else envs
        info = self.envs.info
        self.agent, self.info = agent, info
        self.obs_agent_id, self.obs_last_action = obs_agent_id, obs_last_action
        self.k, self.n, self.a = self.envs.num_envs, info.n_agents, info.n_actions
        self.device = next(agent.parameters()).device
        self.tracks = _Tracks(self.k, max_len or 64, self.n, info.obs_dim, info.state_dim, self.a)
        self.grow = max_len is None
        self._rows = np.arange(self.k)
        self._bounds = obs_bounds(self.envs.probe)  # None once warned: one warning a run
        self.obs = np.zeros((self.k, self.n, info.obs_dim), np.float32)  # (K, N, O) current observations
        self.avail = np.ones((self.k, self.n, self.a), bool)  # (K, N, A)
        self.last_actions = np.full((self.k, self.n), -1, np.int64)  # (K, N); -1 = none yet
        self.hidden = agent.init_hidden(self.k * self.n)  # (K*N, H)
        # Without last actions, the inputs are [obs | one-hot id] (build_inputs): the id part is written
        # once here and only the observations are copied in each step.
        self._x: torch.Tensor | None = None
        if not obs_last_action:
            o = info.obs_dim
            self._x = build_inputs(
                torch.zeros(self.k, self.n, o, device=self.device), None, self.a, obs_agent_id
            )  # (K, N, I)
            self._x_obs = self._x[..., :o]
        self.time_env = 0.0  # seconds in env.step / reset
        self.time_act = 0.0  # seconds building inputs, in the network and in action selection

    def _reset(self, seeds: list[int] | None, mask: np.ndarray) -> None:
        """Reset the envs where ``mask`` (K,) and start their episodes (seeds None: each env's own stream)."""
        t0 = time.perf_counter()
        frame = self.envs.reset(seeds, mask)
        self.time_env += time.perf_counter() - t0
        tr = self.tracks
        tr.t[mask], tr.ret[mask] = 0, 0.0
        tr.obs[mask, 0], tr.state[mask, 0] = frame.obs[mask], frame.state[mask]
        tr.avail[mask, 0], tr.alive[mask, 0] = frame.avail[mask], frame.alive[mask]
        self.obs[mask], self.avail[mask] = frame.obs[mask], frame.avail[mask]
        self.last_actions[mask] = -1
        for k in np.flatnonzero(mask):
            self.hidden[k * self.n : (k + 1) * self.n] = 0.0

    def reset_all(self, seeds: list[int]) -> None:
        """Start a fresh episode in every env, env k reset with ``seeds[k]``."""
        self._reset([int(s) for s in seeds], np.ones(self.k, bool))

    @torch.no_grad()
    def act(self, epsilon: float, generator: torch.Generator) -> np.ndarray:
        """ε-greedy actions (K, N) for the current observations; advances the recurrent state."""
        if self._x is not None:
            self._x_obs.copy_(torch.from_numpy(self.obs))
            x = self._x.view(self.k * self.n, -1)  # (K*N, I)
        else:
            obs = torch.from_numpy(self.obs).to(self.device)  # (K, N, O)
            last = torch.from_numpy(self.last_actions).to(self.device)
            x = build_inputs(obs, last, self.a, self.obs_agent_id).reshape(self.k * self.n, -1)  # (K*N, I)
        q, self.hidden = self.agent.step(x, self.hidden)  # (K*N, A)
        avail = self.avail.reshape(self.k * self.n, self.a)  # (K*N, A)
        return select_actions(q.cpu().numpy(), avail, epsilon, generator).reshape(self.k, self.n)

    def step(self, epsilon: float, generator: torch.Generator) -> list[Episode]:
        """Step every env once; return the episodes that ended, in env order (their envs are already reset)."""
        t0 = time.perf_counter()
        actions = self.act(epsilon, generator)  # (K, N)
        t1 = time.perf_counter()
        self.time_act += t1 - t0
        tr = self.tracks
        if (tr.t >= tr.cap).any():
            if not self.grow:
                raise RuntimeError(f"{self.info.env_id} ran past its stated episode limit {tr.cap}")
            tr.grow()
        out = self.envs.step(actions)
        self.time_env += time.perf_counter() - t1
        frame, rows = out.frame, self._rows
        t = tr.t = tr.t + 1  # (K,)
        tr.actions[rows, t - 1], tr.reward[rows, t - 1] = actions, out.reward
        tr.obs[rows, t], tr.state[rows, t] = frame.obs, frame.state
        tr.avail[rows, t], tr.alive[rows, t] = frame.avail, frame.alive
        tr.ret += out.reward
        self.obs[:], self.avail[:], self.last_actions[:] = frame.obs, frame.avail, actions
        ended = out.terminated | out.truncated  # (K,)
        if not ended.any():
            return []
        # Index L holds the bootstrap mask: the agents whose last observation has a value (truncated
        # ones), not the empty set of agents still acting.
        tr.alive[ended, t[ended]] = out.bootstrap[ended]
        done = [
            self._finish(int(k), bool(out.terminated[k]), cut=False, success=float(out.success[k]))
            for k in np.flatnonzero(ended)
        ]
        self._reset(None, ended)  # each env continues its own random stream, as it would alone
        return done

    def _warn_out_of_bounds(self, k: int) -> None:
        """Log once when an observation of env k's episode lies outside its space's declared bounds."""
        assert self._bounds is not None
        low, high = self._bounds  # (N, O)
        L = int(self.tracks.t[k])
        obs = self.tracks.obs[k, : L + 1]  # (L+1, N, O)
        alive = self.tracks.alive[k, : L + 1]
        seen = alive.copy()  # (L+1, N): alive, or finished on that step (a real last observation)
        seen[1:] |= alive[:L]
        outside = ((obs < low) | (obs > high)) & seen[..., None]
        if outside.any():
            t, i, o = np.unravel_index(outside.argmax(), outside.shape)
            log.warning(
                "%s: agent %r observed %g at feature %d (episode step %d), outside its observation space's "
                "bounds [%g, %g]; training uses it as it is (reported once per run)",
                self.info.env_id,
                self.info.agent_ids[i],
                obs[t, i, o],
                o,
                t,
                low[i, o],
                high[i, o],
            )
            self._bounds = None

    def _finish(self, k: int, terminated: bool, cut: bool, success: float) -> Episode:
        """Copy env k's episode out of the track arrays (its env is reset by the caller, not here)."""
        tr = self.tracks
        L = int(tr.t[k])
        if self._bounds is not None:
            self._warn_out_of_bounds(k)
        return Episode(
            tr.obs[k, : L + 1].copy(),
            tr.state[k, : L + 1].copy(),
            tr.avail[k, : L + 1].copy(),
            tr.alive[k, : L + 1].copy(),
            tr.actions[k, :L].copy(),
            tr.reward[k, :L].copy(),
            L,
            terminated,
            cut,
            float(tr.ret[k]),
            success,
        )

    def cut(self) -> list[Episode]:
        """Hand back the episodes in progress, cut (bootstrapped like truncations); call ``reset_all`` next."""
        return [self._finish(k, False, cut=True, success=float("nan")) for k in range(self.k) if self.tracks.t[k] > 0]

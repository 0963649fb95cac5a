"""Collect training episodes from K environments stepped in lockstep, one batched network call a step.

Each step: the K envs' observations (K, N, O) become one (K*N, I) input, the shared agent network runs
once, ε-greedy picks all K*N actions at once (unavailable actions masked), then each env steps. An env
whose episode ends hands back a :class:`Episode`, is reset at once and its recurrent state zeroed;
the others carry on. Only the env stepping loops over envs; nothing loops over agents.

The per-env episode arrays are preallocated numpy arrays (grown by doubling when the env has no
episode limit) and copied into the replay buffer when the episode ends.

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


class _Track:
    """Preallocated arrays of one env's episode in progress."""

    def __init__(self, cap: int, n: int, o: int, s: int, a: int) -> None:
        self.obs = np.zeros((cap + 1, n, o), np.float32)
        self.state = np.zeros((cap + 1, s), np.float32)
        self.avail = np.ones((cap + 1, n, a), bool)
        self.alive = np.zeros((cap + 1, n), bool)
        self.actions = np.zeros((cap, n), np.int64)
        self.reward = np.zeros(cap, np.float32)
        self.t = 0
        self.ret = 0.0

    @property
    def cap(self) -> int:
        return self.actions.shape[0]

    def grow(self) -> None:
        for name in ("obs", "state", "avail", "alive", "actions", "reward"):
            old = getattr(self, name)
            new = (
                np.zeros((old.shape[0] * 2, *old.shape[1:]), old.dtype)
                if name != "avail"
                else np.ones((old.shape[0] * 2, *old.shape[1:]), bool)
            )
            new[: old.shape[0]] = old
            setattr(self, name, new)


class Rollout:
    """K envs in lockstep driven by one shared agent network; see the module docstring."""

    def __init__(
        self,
        adapters: list[ParallelEnvAdapter],
        agent: AgentNetwork,
        *,
        obs_agent_id: bool,
        obs_last_action: bool,
        max_len: int | None,
    ) -> None:
        """Set up.

        Args:
            adapters: The K training envs (same env id and kwargs).
            agent: The online agent network (read, never trained here).
            obs_agent_id: Append one-hot agent ids to inputs.
            obs_last_action: Append previous actions to inputs.
            max_len: The env's episode limit, or None (episode arrays then grow on demand).
        """
        info = adapters[0].info
        self.adapters, self.agent, self.info = adapters, agent, info
        self.obs_agent_id, self.obs_last_action = obs_agent_id, obs_last_action
        self.k, self.n, self.a = len(adapters), info.n_agents, info.n_actions
        self.device = next(agent.parameters()).device
        cap = max_len or 64
        self.tracks = [_Track(cap, self.n, info.obs_dim, info.state_dim, self.a) for _ in adapters]
        self.grow = max_len is None
        self._bounds = obs_bounds(adapters[0])  # None once warned: one warning a run
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

    def _begin(self, k: int, seed: int | None) -> None:
        t0 = time.perf_counter()
        obs, state, avail = self.adapters[k].reset(seed=seed)
        self.time_env += time.perf_counter() - t0
        tr = self.tracks[k]
        tr.t, tr.ret = 0, 0.0
        tr.obs[0], tr.state[0], tr.avail[0] = obs, state, avail
        tr.alive[0] = self.adapters[k].alive
        self.obs[k], self.avail[k] = obs, avail
        self.last_actions[k] = -1
        self.hidden[k * self.n : (k + 1) * self.n] = 0.0

    def reset_all(self, seeds: list[int]) -> None:
        """Start a fresh episode in every env, env k reset with ``seeds[k]``."""
        for k in range(self.k):
            self._begin(k, int(seeds[k]))

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
        """Step every env once; return the episodes that ended (their envs are already reset)."""
        t0 = time.perf_counter()
        actions = self.act(epsilon, generator)  # (K, N)
        t1 = time.perf_counter()
        self.time_act += t1 - t0
        done: list[Episode] = []
        for k, adapter in enumerate(self.adapters):
            tr = self.tracks[k]
            if tr.t >= tr.cap:
                if not self.grow:
                    raise RuntimeError(f"{self.info.env_id} ran past its stated episode limit {tr.cap}")
                tr.grow()
            obs, state, avail, reward, terminated, truncated, info = adapter.step(actions[k])
            t = tr.t = tr.t + 1
            tr.actions[t - 1], tr.reward[t - 1] = actions[k], reward
            tr.obs[t], tr.state[t], tr.avail[t], tr.alive[t] = obs, state, avail, info["alive"]
            tr.ret += reward
            self.obs[k], self.avail[k], self.last_actions[k] = obs, avail, actions[k]
            if terminated or truncated:
                # Index L holds the bootstrap mask: the agents whose last observation has a value
                # (truncated ones), not the empty set of agents still acting.
                tr.alive[t] = info["bootstrap"]
                success = float(info["success"]) if "success" in info else float("nan")
                done.append(self._finish(k, terminated, cut=False, success=success))
        self.time_env += time.perf_counter() - t1
        return done

    def _warn_out_of_bounds(self, tr: _Track) -> None:
        """Log once when an observation of this episode lies outside its space's declared bounds."""
        assert self._bounds is not None
        low, high = self._bounds  # (N, O)
        L = tr.t
        obs = tr.obs[: L + 1]  # (L+1, N, O)
        seen = tr.alive[: L + 1].copy()  # (L+1, N): alive, or finished on that step (a real last observation)
        seen[1:] |= tr.alive[:L]
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
        tr = self.tracks[k]
        L = tr.t
        if self._bounds is not None:
            self._warn_out_of_bounds(tr)
        ep = Episode(
            tr.obs[: L + 1].copy(),
            tr.state[: L + 1].copy(),
            tr.avail[: L + 1].copy(),
            tr.alive[: L + 1].copy(),
            tr.actions[:L].copy(),
            tr.reward[:L].copy(),
            L,
            terminated,
            cut,
            tr.ret,
            success,
        )
        if not cut:
            self._begin(k, None)
        return ep

    def cut(self) -> list[Episode]:
        """Hand back the episodes in progress, cut (bootstrapped like truncations); call ``reset_all`` next."""
        return [self._finish(k, False, cut=True, success=float("nan")) for k, tr in enumerate(self.tracks) if tr.t > 0]

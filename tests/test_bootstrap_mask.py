"""The end of an episode: who the TD target bootstraps from, through adapter, rollout and buffer.

Hand-made cases on the toy env of ``test_adapter``: an agent terminated on the last step while its
teammate is truncated there bootstraps nobody but the teammate; an agent reported terminated *and*
truncated on one step is terminated (Gymnasium's rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_adapter import ToyEnvWithState

from qmixbench.adapter import ParallelEnvAdapter

torch = pytest.importorskip("torch")


class BothFlagsEnv(ToyEnvWithState):
    """At the limit every agent is reported terminated and truncated at once."""

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        obs, rewards, terms, truncs, infos = super().step(actions)
        if self.t >= self._limit:
            terms = dict.fromkeys(terms, True)
            truncs = dict.fromkeys(truncs, True)
        return obs, rewards, terms, truncs, infos


def test_terminated_and_truncated_on_one_step_is_termination() -> None:
    ad = ParallelEnvAdapter(BothFlagsEnv(limit=2), env_id="toy")
    ad.reset(seed=0)
    ad.step(np.array([1, 1]))
    *_, terminated, truncated, info = ad.step(np.array([1, 1]))
    assert (terminated, truncated) == (True, False), "a terminal state has no future value to bootstrap"
    assert info["bootstrap"].tolist() == [False, False]


def test_bootstrap_mask_names_the_truncated_agents_only() -> None:
    # b is terminated on the last step (t = 2), a is truncated there: the episode is truncated, and
    # only a's last observation has a value.
    ad = ParallelEnvAdapter(ToyEnvWithState(b_ends_at=2, limit=2), env_id="toy")
    ad.reset(seed=0)
    ad.step(np.array([1, 1]))
    *_, terminated, truncated, info = ad.step(np.array([1, 1]))
    assert (terminated, truncated) == (False, True)
    assert info["alive"].tolist() == [False, False]
    assert info["bootstrap"].tolist() == [True, False]


def test_rollout_stores_the_bootstrap_mask_at_the_last_index() -> None:
    from qmixbench.algos.networks import AgentNetwork, input_dim
    from qmixbench.buffer import EpisodeReplayBuffer
    from qmixbench.rollout import Rollout

    ad = ParallelEnvAdapter(ToyEnvWithState(b_ends_at=2, limit=2), env_id="toy")
    info = ad.info
    agent = AgentNetwork(input_dim(info.obs_dim, 2, info.n_actions, True, False), info.n_actions, 8)
    rollout = Rollout([ad], agent, obs_agent_id=True, obs_last_action=False, max_len=info.episode_limit)
    rollout.reset_all([0])
    gen = torch.Generator().manual_seed(0)
    episodes = rollout.step(1.0, gen) + rollout.step(1.0, gen)
    assert len(episodes) == 1
    ep = episodes[0]
    assert ep.alive[1].tolist() == [True, True]  # both acted at the last step...
    assert ep.alive[2].tolist() == [True, False]  # ...and only a (truncated) bootstraps
    buf = EpisodeReplayBuffer(4, 4, 2, info.obs_dim, info.state_dim, info.n_actions)
    buf.add(ep.obs, ep.state, ep.avail, ep.alive, ep.actions, ep.reward, length=ep.length, terminated=ep.terminated)
    assert buf.gather(torch.tensor([0])).alive[0, 2].tolist() == [True, False]

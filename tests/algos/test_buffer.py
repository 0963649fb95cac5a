"""Episode replay buffer: ring wrap-around, padding, bootstrap masks, growth, checkpoint round trip."""

import numpy as np
import torch

from qmixbench.buffer import EpisodeReplayBuffer


def _episode(length: int, marker: float, n=2, o=3, s=4, a=2):
    obs = np.full((length + 1, n, o), marker, np.float32)
    state = np.full((length + 1, s), marker, np.float32)
    avail = np.ones((length + 1, n, a), bool)
    alive = np.ones((length + 1, n), bool)
    alive[length] = True  # the rollout's bootstrap mask at index L: both agents were truncated
    actions = np.ones((length, n), np.int64)
    reward = np.full(length, marker, np.float32)
    return obs, state, avail, alive, actions, reward


def test_wrap_around_keeps_the_newest_episodes():
    buf = EpisodeReplayBuffer(capacity=3, max_len=5, n_agents=2, obs_dim=3, state_dim=4, n_actions=2)
    for i, length in enumerate([5, 2, 3, 1, 4]):
        buf.add(*_episode(length, float(i + 1)), length=length, terminated=True)
    assert buf.size == 3 and buf.pos == 2
    # Rows 0 and 1 were overwritten by episodes 4 and 5; row 2 still holds episode 3.
    assert buf.reward[0, 0] == 4 and buf.reward[1, 0] == 5 and buf.reward[2, 0] == 3
    batch = buf.gather(torch.tensor([0, 2]))
    assert batch.reward.shape == (2, 3)  # cut to the longest sampled episode (3 steps)
    assert batch.filled.tolist() == [[1, 0, 0], [1, 1, 1]]
    assert batch.reward[0].tolist() == [4, 0, 0]  # old episode 1's steps were cleared, not left behind
    assert batch.obs[0, 2:].abs().sum() == 0
    assert batch.terminated.tolist() == [[1, 0, 0], [0, 0, 1]]


def test_truncated_episode_bootstraps_from_the_reported_agents():
    buf = EpisodeReplayBuffer(capacity=3, max_len=4, n_agents=2, obs_dim=3, state_dim=4, n_actions=2)
    buf.add(*_episode(2, 1.0), length=2, terminated=False)
    buf.add(*_episode(2, 2.0), length=2, terminated=True)
    mixed = _episode(2, 3.0)
    mixed[3][1] = [True, True]  # both acted at the last step...
    mixed[3][2] = [True, False]  # ...agent 1 was terminated on it, agent 0 truncated: only 0 bootstraps
    buf.add(*mixed, length=2, terminated=False)
    b = buf.gather(torch.tensor([0, 1, 2]))
    assert b.terminated.tolist() == [[0, 0], [0, 1], [0, 0]]
    assert b.alive[0, 2].all() and not b.alive[1, 2].any()
    assert b.alive[2, 2].tolist() == [True, False], "index L is the env's bootstrap mask, not a copy of L-1"


def test_grows_when_no_episode_limit_and_round_trips():
    buf = EpisodeReplayBuffer(
        capacity=4, max_len=2, n_agents=2, obs_dim=3, state_dim=4, n_actions=2, obs_dtype=torch.uint8, grow=True
    )
    buf.add(*_episode(2, 1.0), length=2, terminated=True)
    buf.add(*_episode(5, 2.0), length=5, terminated=True)
    assert buf.max_len == 8
    assert buf.gather(torch.tensor([0])).reward.tolist() == [[1.0, 1.0]]
    other = EpisodeReplayBuffer(
        capacity=4, max_len=2, n_agents=2, obs_dim=3, state_dim=4, n_actions=2, obs_dtype=torch.uint8, grow=True
    )
    other.load_state_dict(buf.state_dict())
    a, b = buf.gather(torch.tensor([0, 1])), other.gather(torch.tensor([0, 1]))
    for field in ("obs", "state", "avail", "alive", "actions", "reward", "terminated", "filled"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert a.obs.dtype == torch.float32 and buf.obs.dtype == torch.uint8


def test_checkpoint_holds_only_real_steps_and_restores_every_row_as_written():
    buf = EpisodeReplayBuffer(capacity=100, max_len=10, n_agents=2, obs_dim=3, state_dim=4, n_actions=2)
    for i, length in enumerate([3, 1, 7]):
        buf.add(*_episode(length, float(i + 1)), length=length, terminated=i == 1)
    data = buf.state_dict()
    # Hand count: 3 + 1 + 7 = 11 actions and 11 + 3 = 14 observations; no empty row, no padding.
    assert data["obs"].shape == (14, 2, 3) and data["state"].shape == (14, 4)
    assert data["actions"].shape == (11, 2) and data["reward"].tolist() == [1.0] * 3 + [2.0] + [3.0] * 7
    other = EpisodeReplayBuffer(capacity=100, max_len=10, n_agents=2, obs_dim=3, state_dim=4, n_actions=2)
    other.load_state_dict(data)
    assert (other.size, other.pos) == (3, 3)
    for field in ("obs", "state", "avail", "alive", "actions", "reward", "terminated", "lengths"):
        # Whole rows, padding included: what the learner samples after a resume is bit for bit the same.
        assert torch.equal(getattr(buf, field)[:3], getattr(other, field)[:3]), field

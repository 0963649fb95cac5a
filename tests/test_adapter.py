"""ParallelEnvAdapter on small hand-made ParallelEnvs: every rule of qmixbench/adapter.py's docstring."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qmixbench import adapter as adapter_module
from qmixbench.adapter import EnvCompatibilityError, ParallelEnvAdapter


class ToyEnv(ParallelEnv):
    """Two agents ``a`` and ``b``; everything the adapter must handle is a constructor switch.

    Rewards: ``a`` gets 1 and ``b`` gets 2 a step (or both 3 with ``shared=True``). ``b`` is terminated
    after ``b_ends_at`` steps; the episode ends by truncation at ``limit`` steps (termination with
    ``limit_terminates``). Observations are [t, agent index] (+ zeros up to the agent's shape).
    No ``state()``: :class:`ToyEnvWithState` adds one.
    """

    metadata = {"name": "toy", "render_modes": []}

    def __init__(
        self,
        hetero: bool = False,
        mask_in: str | None = None,
        b_ends_at: int | None = None,
        limit: int = 4,
        limit_terminates: bool = False,
        shared: bool = False,
        continuous: bool = False,
    ) -> None:
        self.possible_agents = ["a", "b"]
        self.agents: list[str] = []
        obs_shapes = {"a": (2,), "b": (4,) if hetero else (2,)}
        n_actions = {"a": 2, "b": 3 if hetero else 2}
        self._mask_in = mask_in
        self._obs_spaces: dict[str, spaces.Space] = {}
        for agent in self.possible_agents:
            box = spaces.Box(0.0, 100.0, obs_shapes[agent], np.float32)
            if mask_in == "obs":
                mask_space = spaces.Box(0, 1, (n_actions[agent],), np.int8)
                self._obs_spaces[agent] = spaces.Dict({"observation": box, "action_mask": mask_space})
            else:
                self._obs_spaces[agent] = box
        self._act_spaces: dict[str, spaces.Space] = {
            agent: spaces.Box(-1.0, 1.0, (2,)) if continuous else spaces.Discrete(n_actions[agent])
            for agent in self.possible_agents
        }
        self._n_actions = n_actions
        self._b_ends_at, self._limit, self._limit_terminates = b_ends_at, limit, limit_terminates
        self._shared = shared
        self.metadata = {**self.metadata, "team_reward": "shared" if shared else "sum"}
        self.render_mode = None
        self.max_steps = limit
        self.t = 0
        self.received: list[dict[str, Any]] = []

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def _obs(self, agent: str) -> Any:
        shape = self._obs_spaces[agent]
        box = shape["observation"] if isinstance(shape, spaces.Dict) else shape
        o = np.zeros(box.shape, np.float32)
        o[0], o[1] = self.t, self.possible_agents.index(agent)
        if self._mask_in == "obs":
            return {"observation": o, "action_mask": self._mask(agent)}
        return o

    def _mask(self, agent: str) -> np.ndarray:
        mask = np.ones(self._n_actions[agent], np.int8)
        mask[0] = 0  # action 0 is never available
        return mask

    def _infos(self, agents: list[str]) -> dict[str, dict]:
        if self._mask_in == "info":
            return {a: {"action_mask": self._mask(a)} for a in agents}
        return {a: {} for a in agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.t = 0
        self.agents = list(self.possible_agents)
        return {a: self._obs(a) for a in self.agents}, self._infos(self.agents)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        self.received.append(dict(actions))
        self.t += 1
        live = list(self.agents)
        rewards = {a: 3.0 if self._shared else {"a": 1.0, "b": 2.0}[a] for a in live}
        at_limit = self.t >= self._limit
        terms = {a: at_limit and self._limit_terminates for a in live}
        truncs = {a: at_limit and not self._limit_terminates for a in live}
        if "b" in live and self._b_ends_at is not None and self.t >= self._b_ends_at:
            terms["b"], truncs["b"] = True, False
        obs = {a: self._obs(a) for a in live}
        self.agents = [a for a in live if not (terms[a] or truncs[a])]
        return obs, rewards, terms, truncs, self._infos(live)


class ToyEnvWithState(ToyEnv):
    """ToyEnv with a global state: [t, live agents, 1]."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state_space = spaces.Box(0.0, 100.0, (3,), np.float32)

    def state(self) -> np.ndarray:
        return np.array([self.t, len(self.agents), 1.0], np.float32)


def _adapter(with_state: bool = True, team_reward: str = "auto", **kwargs: Any) -> ParallelEnvAdapter:
    env = ToyEnvWithState(**kwargs) if with_state else ToyEnv(**kwargs)
    return ParallelEnvAdapter(env, env_id="toy", team_reward=team_reward)


def test_arrays_follow_possible_agents_order() -> None:
    ad = _adapter()
    obs, state, avail = ad.reset(seed=0)
    assert ad.info.agent_ids == ("a", "b") and ad.info.n_agents == 2
    assert obs.dtype == np.float32 and obs.shape == (2, 2)
    np.testing.assert_array_equal(obs[:, 1], [0, 1])  # row i is possible_agents[i]
    assert state.shape == (3,) and ad.info.state_source == "env"
    assert avail.dtype == bool and avail.all()
    assert ad.info.episode_limit == 4


def test_heterogeneous_spaces_are_padded_and_padded_actions_masked() -> None:
    ad = _adapter(hetero=True)
    assert ad.info.obs_dim == 4 and ad.info.n_actions == 3
    obs, _, avail = ad.reset(seed=0)
    assert obs.shape == (2, 4)
    np.testing.assert_array_equal(obs[0], [0, 0, 0, 0])  # a's (2,) observation padded with zeros
    np.testing.assert_array_equal(avail, [[True, True, False], [True, True, True]])
    obs, _, avail, *_ = ad.step(np.array([1, 2]))
    np.testing.assert_array_equal(obs[0], [1, 0, 0, 0])
    np.testing.assert_array_equal(obs[1], [1, 1, 0, 0])
    assert not avail[0, 2]


@pytest.mark.parametrize("mask_in", ["obs", "info"])
def test_action_masks_read_from_observation_dicts_and_infos(mask_in: str) -> None:
    ad = _adapter(mask_in=mask_in, hetero=mask_in == "info")
    obs, _, avail = ad.reset(seed=0)
    assert obs.shape[1] == ad.info.obs_dim
    assert not avail[:, 0].any()  # masked by the env
    assert avail[0, 1] and avail[1, 1]
    if mask_in == "info":
        assert not avail[0, 2]  # padding stays masked as well


def test_agent_finishing_early_is_masked_and_not_revived() -> None:
    env = ToyEnvWithState(b_ends_at=2, limit=4)
    ad = ParallelEnvAdapter(env, env_id="toy")
    ad.reset(seed=0)
    _, _, _, reward, terminated, truncated, info = ad.step(np.array([1, 1]))
    assert info["alive"].tolist() == [True, True] and reward == 3.0
    obs, _, avail, reward, terminated, truncated, info = ad.step(np.array([1, 1]))
    assert info["alive"].tolist() == [True, False]
    assert not (terminated or truncated)
    np.testing.assert_array_equal(obs[1], [2, 1])  # its real last observation, on the step it finished
    obs, _, avail, reward, terminated, truncated, info = ad.step(np.array([1, 1]))
    assert reward == 1.0  # only a is rewarded
    np.testing.assert_array_equal(obs[1], [0, 0])  # dead: zeros from now on
    assert avail[1].all()  # its action is ignored, any is "available"
    assert env.received[-1] == {"a": 1}  # a dead agent's action is not sent
    assert info["alive"].tolist() == [True, False]
    *_, terminated, truncated, info = ad.step(np.array([1, 1]))
    assert truncated and not terminated  # a's time limit ended the episode
    assert info["alive"].tolist() == [False, False]
    ad.reset(seed=1)
    _, _, _, _, _, _, info = ad.step(np.array([1, 1]))
    assert info["alive"].tolist() == [True, True]  # a new episode brings everyone back


def test_truncation_vs_termination() -> None:
    ad = _adapter(limit=2)
    ad.reset(seed=0)
    assert ad.step(np.array([1, 1]))[4:6] == (False, False)
    assert ad.step(np.array([1, 1]))[4:6] == (False, True)  # time limit: truncated, bootstrap
    ad = _adapter(limit=2, limit_terminates=True)
    ad.reset(seed=0)
    ad.step(np.array([1, 1]))
    assert ad.step(np.array([1, 1]))[4:6] == (True, False)
    # b terminated earlier, a truncated last: the episode is truncated (the last finisher decides).
    ad = _adapter(b_ends_at=1, limit=2)
    ad.reset(seed=0)
    ad.step(np.array([1, 1]))
    assert ad.step(np.array([1, 1]))[4:6] == (False, True)
    # everyone terminated: terminated.
    ad = _adapter(b_ends_at=1, limit=2, limit_terminates=True)
    ad.reset(seed=0)
    ad.step(np.array([1, 1]))
    assert ad.step(np.array([1, 1]))[4:6] == (True, False)


def test_team_reward_sum_vs_shared_and_override() -> None:
    ad = _adapter()
    ad.reset(seed=0)
    assert ad.info.team_reward == "sum" and ad.step(np.array([1, 1]))[3] == 3.0  # 1 + 2
    ad = _adapter(shared=True)
    ad.reset(seed=0)
    assert ad.info.team_reward == "shared" and ad.step(np.array([1, 1]))[3] == 3.0  # not 6
    ad = _adapter(shared=True, team_reward="sum")
    ad.reset(seed=0)
    assert ad.info.team_reward == "sum" and ad.step(np.array([1, 1]))[3] == 6.0
    ad = _adapter(team_reward="shared")
    ad.reset(seed=0)
    assert ad.info.team_reward == "shared" and ad.step(np.array([1, 1]))[3] == 1.5  # mean of 1 and 2
    with pytest.raises(ValueError, match="team_reward"):
        _adapter(team_reward="mean")


def test_state_fallback_concatenates_observations_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    adapter_module._WARNED_NO_STATE.discard("toy")
    with caplog.at_level(logging.WARNING, logger="qmixbench.adapter"):
        ads = [_adapter(with_state=False) for _ in range(3)]
    warnings = [r for r in caplog.records if "concatenation" in r.getMessage()]
    assert len(warnings) == 1 and "toy has no state()" in warnings[0].getMessage()
    ad = ads[0]
    assert ad.info.state_source == "concat_obs" and ad.info.state_dim == 4
    obs, state, _ = ad.reset(seed=0)
    np.testing.assert_array_equal(state, obs.reshape(-1))


def test_state_without_state_space_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    class NoStateSpace(ToyEnv):
        def state(self) -> np.ndarray:
            return np.zeros(3, np.float32)

    adapter_module._WARNED_NO_STATE.discard("toy")
    with caplog.at_level(logging.WARNING, logger="qmixbench.adapter"):
        ad = ParallelEnvAdapter(NoStateSpace(), env_id="toy")
    assert ad.info.state_source == "concat_obs"
    assert "defines state() but no state_space" in caplog.text


def test_state_fallback_through_padding_wrappers() -> None:
    # SuperSuit's wrappers forward state(); the adapter must look at the env below them.
    ad = _adapter(hetero=True, with_state=False)
    assert ad.info.state_source == "concat_obs" and ad.info.state_dim == 8
    obs, state, _ = ad.reset(seed=0)
    np.testing.assert_array_equal(state, obs.reshape(-1))
    ad = _adapter(hetero=True)
    assert ad.info.state_source == "env" and ad.reset(seed=0)[1].shape == (3,)


def test_continuous_action_space_is_refused() -> None:
    with pytest.raises(EnvCompatibilityError, match="continuous actions are not supported"):
        _adapter(continuous=True)


def test_unpaddable_heterogeneous_observations_are_refused() -> None:
    env = ToyEnvWithState(hetero=True)
    env._obs_spaces["b"] = spaces.Box(0.0, 1.0, (2, 2), np.float32)
    with pytest.raises(EnvCompatibilityError, match="rank or dtype"):
        ParallelEnvAdapter(env)


def test_duck_typed_env_without_parallel_env_base_class() -> None:
    class Duck:
        """Has the ParallelEnv methods but does not subclass it (and has no state())."""

        metadata = {"name": "duck"}

        def __init__(self) -> None:
            self.inner = ToyEnv()
            self.possible_agents = self.inner.possible_agents

        @property
        def agents(self) -> list[str]:
            return self.inner.agents

        def observation_space(self, agent: str) -> spaces.Space:
            return self.inner.observation_space(agent)

        def action_space(self, agent: str) -> spaces.Space:
            return self.inner.action_space(agent)

        def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
            return self.inner.reset(seed=seed)

        def step(self, actions: dict) -> tuple:
            return self.inner.step(actions)

    ad = ParallelEnvAdapter(Duck(), env_id="duck")  # type: ignore[arg-type]
    assert ad.info.state_source == "concat_obs"
    obs, state, _ = ad.reset(seed=0)
    assert ad.step(np.array([1, 1]))[3] == 3.0


@pytest.mark.parametrize(("value", "shown"), [(300, "300"), (-1, "-1"), (2.5, "2.5")])
def test_an_observation_its_dtype_cannot_hold_is_refused_not_wrapped(value, shown):
    """A uint8 Box env that emits 300 would be stored as 44 (300 mod 256) by the replay buffer."""
    from qmixbench.adapter import make_adapter

    assert np.array([300, -1], np.int64).astype(np.uint8).tolist() == [44, 255]  # what wrapping did
    env = make_adapter(f"_hostile_envs:WideObs?value={value}")
    obs, _, _ = env.reset(seed=0)
    obs, *_ = env.step(np.zeros(2, np.int64))  # step 1: values 1 and 0, in range although sent as int64
    assert obs[:, 0].tolist() == [1.0, 1.0]
    with pytest.raises(EnvCompatibilityError) as info:
        env.step(np.zeros(2, np.int64))
    message = str(info.value)
    assert message.startswith(f"_hostile_envs:WideObs?value={value}: agent 'x' observed {shown}, which its")
    assert "dtype uint8 cannot hold (integers in [0, 255])" in message and "\n" not in message


def test_observations_in_their_own_dtype_are_not_checked(monkeypatch):
    """The hot path: an env that emits its space's dtype (MiniGrid's uint8 images) pays no range check."""
    from qmixbench.adapter import make_adapter

    env = make_adapter("multigrid/empty-5x5-v0")
    monkeypatch.setattr(ParallelEnvAdapter, "_check_obs_range", lambda *a: pytest.fail("checked"))
    env.reset(seed=0)
    env.step(np.zeros(env.info.n_agents, np.int64))


def test_obs_bounds_only_where_an_observation_can_leave_them():
    from qmixbench.adapter import make_adapter, obs_bounds

    low, high = obs_bounds(make_adapter("_hostile_envs:Tiny"))
    assert low.shape == high.shape == (2, 2) and low.max() == 0 and high.min() == 10
    assert obs_bounds(make_adapter("multigrid/empty-5x5-v0")) is None  # Box(0, 255, uint8): the dtype's range
    assert obs_bounds(make_adapter("mpe/simple-spread-v3")) is None  # unbounded

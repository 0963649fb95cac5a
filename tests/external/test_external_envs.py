"""The external adapters (qmixbench_envs.external): upstream equivalence, end flags, state, missing extras.

Each test skips with the extra to install when its package is missing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from qmixbench_envs import ENV_SPECS
from qmixbench_envs.external import MissingExtraError

EXTERNAL_IDS = sorted(i for i, spec in ENV_SPECS.items() if ".external." in spec.entry_point)


def _needs(module: str, extra: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is not installed: pip install 'qmixbench[{extra}]'")


def _random_actions(env: Any, rng: np.random.Generator) -> dict[str, int]:
    return {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}


def _compare_rollouts(ours: Any, upstream: Any, steps: int, seed: int) -> int:
    """Step both envs with the same seeds and actions; assert identical outputs; return episodes ended."""
    rng = np.random.default_rng(seed)
    ended = 0
    obs_a, _ = ours.reset(seed=seed)
    obs_b, _ = upstream.reset(seed=seed)
    for t in range(steps):
        assert ours.agents == upstream.agents, f"step {t}"
        for agent in obs_a:
            np.testing.assert_array_equal(obs_a[agent], obs_b[agent], err_msg=f"step {t} {agent}")
        np.testing.assert_array_equal(ours.state(), upstream.state(), err_msg=f"state, step {t}")
        if not ours.agents:
            ended += 1
            episode_seed = int(rng.integers(2**31))
            obs_a, _ = ours.reset(seed=episode_seed)
            obs_b, _ = upstream.reset(seed=episode_seed)
            continue
        actions = _random_actions(ours, rng)
        obs_a, rew_a, term_a, trunc_a, _ = ours.step(actions)
        obs_b, rew_b, term_b, trunc_b, _ = upstream.step(actions)
        assert rew_a.keys() == rew_b.keys()
        for agent in rew_a:
            assert rew_a[agent] == pytest.approx(float(rew_b[agent]), abs=1e-9), f"reward, step {t} {agent}"
        assert term_a == term_b and trunc_a == trunc_b, f"flags, step {t}"
    return ended


@pytest.mark.parametrize(
    ("factory", "module", "kwargs"),
    [
        ("simple_spread", "simple_spread_v3", {"N": 3, "local_ratio": 0.0}),
        ("simple_spread", "simple_spread_v3", {"N": 2, "local_ratio": 0.5}),
        ("simple_speaker_listener", "simple_speaker_listener_v4", {}),
        ("simple_reference", "simple_reference_v3", {"local_ratio": 0.0}),
    ],
)
def test_mpe_steps_exactly_like_upstream_parallel_env(factory: str, module: str, kwargs: dict) -> None:
    _needs("mpe2", "mpe")
    import importlib

    from qmixbench_envs.external import mpe

    upstream = importlib.import_module(f"mpe2.{module}").parallel_env(max_cycles=10, **kwargs)
    ours = getattr(mpe, factory)(max_cycles=10, **kwargs)
    assert _compare_rollouts(ours, upstream, steps=60, seed=3) >= 4


def test_mpe_team_reward_declaration() -> None:
    _needs("mpe2", "mpe")
    from qmixbench_envs.external import mpe

    assert mpe.simple_spread().metadata["team_reward"] == "shared"
    assert mpe.simple_spread(local_ratio=0.5).metadata["team_reward"] == "sum"
    env = mpe.simple_spread()
    env.reset(seed=0)
    _, rewards, *_ = env.step(dict.fromkeys(env.agents, 0))
    assert len(set(rewards.values())) == 1  # local_ratio=0: every agent gets the global reward
    with pytest.raises(ValueError, match="discrete actions"):
        mpe.simple_spread(continuous_actions=True)


def test_mpe_spread_reward_has_no_collision_term_at_local_ratio_0() -> None:
    """Two agents overlapping: the reward is minus the summed landmark distances, computed
    here by hand from the positions after the step, with no -1 per collision (mpe2 weighs its collision
    penalty by ``local_ratio``); at ``local_ratio`` 0.5 the same collision costs each colliding agent."""
    _needs("mpe2", "mpe")
    from qmixbench_envs.external import mpe

    for local_ratio in (0.0, 0.5):
        env = mpe.simple_spread(N=3, local_ratio=local_ratio)
        env.reset(seed=0)
        world = env._raw.world
        world.agents[1].state.p_pos = world.agents[0].state.p_pos + 0.05  # overlapping: a collision
        _, rewards, *_ = env.step(dict.fromkeys(env.agents, 0))  # no-op: nobody moves apart
        spread = -sum(
            min(float(np.linalg.norm(a.state.p_pos - lm.state.p_pos)) for a in world.agents) for lm in world.landmarks
        )
        if local_ratio == 0.0:
            assert all(r == pytest.approx(spread, abs=1e-9) for r in rewards.values())
        else:
            assert rewards["agent_0"] == pytest.approx(0.5 * spread - 0.5, abs=1e-9)


def test_pursuit_steps_exactly_like_upstream_parallel_env() -> None:
    _needs("pettingzoo.sisl.pursuit.pursuit_base", "sisl")
    from pettingzoo.sisl.pursuit.pursuit import parallel_env

    from qmixbench_envs.external import sisl

    kwargs = {"max_cycles": 8, "n_evaders": 6, "n_pursuers": 4, "x_size": 8, "y_size": 8}
    assert _compare_rollouts(sisl.pursuit(**kwargs), parallel_env(**kwargs), steps=30, seed=5) >= 2


def test_pursuit_end_flags_and_success() -> None:
    _needs("pettingzoo.sisl.pursuit.pursuit_base", "sisl")
    from qmixbench_envs.external import sisl

    env = sisl.pursuit(max_cycles=3)
    env.reset(seed=0)
    for _ in range(3):
        _, _, terms, truncs, infos = env.step(dict.fromkeys(env.agents, 4))
    assert all(truncs.values()) and not any(terms.values()) and not env.agents
    assert all(info["success"] is False for info in infos.values())


def _lbf(**kwargs: Any) -> Any:
    _needs("lbforaging", "lbf")
    from qmixbench_envs.external import lbf

    return lbf.foraging(**kwargs)


def test_lbf_time_limit_is_a_truncation() -> None:
    env = _lbf(max_episode_steps=5)
    env.reset(seed=0)
    for _ in range(5):
        _, _, terms, truncs, infos = env.step(dict.fromkeys(env.agents, 0))  # stand still
    assert all(truncs.values()) and not any(terms.values())  # lbforaging itself says terminated
    assert all(info["success"] is False for info in infos.values())
    assert not env.agents


def test_lbf_collecting_all_food_is_a_termination() -> None:
    env = _lbf(max_num_food=1, coop=True)
    env.reset(seed=0)
    game = env.unwrapped_gym
    game.field[:] = 0
    game.field[3, 3] = 2  # one food of level 2 (coop: needs both level-1+ agents)
    game.players[0].position, game.players[1].position = (3, 2), (3, 4)
    game._gen_valid_moves()
    _, rewards, terms, truncs, infos = env.step({"agent_0": 5, "agent_1": 5})  # both load
    assert all(terms.values()) and not any(truncs.values())
    assert sum(rewards.values()) == pytest.approx(1.0)  # normalised: all food = 1
    assert all(info["success"] is True for info in infos.values())


def test_lbf_state_and_action_masks() -> None:
    env = _lbf(action_masks=True)
    obs, infos = env.reset(seed=1)
    np.testing.assert_array_equal(env.state(), np.concatenate([obs["agent_0"], obs["agent_1"]]))
    assert env.state_space.contains(env.state())
    for info in infos.values():
        mask = info["action_mask"]
        assert mask.shape == (6,) and mask[0] == 1  # "none" is always valid


def _rware(**kwargs: Any) -> Any:
    _needs("rware", "rware")
    from qmixbench_envs.external import rware

    return rware.warehouse(**kwargs)


def test_rware_every_end_is_a_truncation() -> None:
    env = _rware(max_steps=4)
    env.reset(seed=0)
    for _ in range(4):
        _, _, terms, truncs, _ = env.step(dict.fromkeys(env.agents, 2))
    assert all(truncs.values()) and not any(terms.values()) and not env.agents
    env = _rware(max_steps=100, max_inactivity_steps=3)
    env.reset(seed=0)
    for _ in range(3):
        _, _, terms, truncs, _ = env.step(dict.fromkeys(env.agents, 0))
    assert all(truncs.values()) and not any(terms.values())


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_rware_state_is_the_global_image_with_agents_in_place(size: str) -> None:
    env = _rware(size=size, n_agents=3)
    env.reset(seed=2)
    env.step(dict.fromkeys(env.agents, 1))
    state = env.state()
    game = env.unwrapped_gym
    assert state.shape == env.state_space.shape == (6, *game.grid_size) and env.state_space.contains(state)
    shelves, requests, agents, goals, direction, load = state
    for agent in game.agents:
        assert agents[agent.y, agent.x] == 1.0
        assert direction[agent.y, agent.x] == agent.dir.value + 1
        assert load[agent.y, agent.x] == float(agent.carrying_shelf is not None)
    assert agents.sum() == len(game.agents) and (direction > 0).sum() == len(game.agents)
    assert goals.sum() == len(game.goals) and requests.sum() == game.request_queue_size


def test_rware_team_reward_follows_reward_type() -> None:
    assert _rware().metadata["team_reward"] == "sum"
    assert _rware(reward_type="global").metadata["team_reward"] == "shared"
    with pytest.raises(ValueError, match="reward_type must be one of"):
        _rware(reward_type="team")


FACTORIES: list[tuple[str, str, str]] = [
    ("mpe", "simple_spread", "mpe2.simple_spread_v3"),
    ("mpe", "simple_speaker_listener", "mpe2.simple_speaker_listener_v4"),
    ("mpe", "simple_reference", "mpe2.simple_reference_v3"),
    ("sisl", "pursuit", "pettingzoo.sisl.pursuit.pursuit_base"),
    ("lbf", "foraging", "lbforaging.foraging.environment"),
    ("rware", "warehouse", "rware.warehouse"),
    ("smax", "smax", "jaxmarl.environments.smax"),
    ("smax", "smax", "jax"),
]


@pytest.mark.parametrize(("extra", "factory", "module"), FACTORIES)
def test_missing_package_raises_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, extra: str, factory: str, module: str
) -> None:
    import importlib

    external = importlib.import_module(f"qmixbench_envs.external.{'sisl' if extra == 'sisl' else extra}")
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    build: Callable[[], Any] = getattr(external, factory)
    with pytest.raises(MissingExtraError, match=rf"pip install 'qmixbench\[{extra}\]'"):
        build()


def test_every_external_id_is_covered_here() -> None:
    families = {i.split("/")[0] for i in EXTERNAL_IDS}
    assert families == {"mpe", "sisl", "lbf", "rware", "smax"}  # smax: tests/external/test_smax.py

"""The SMAX family (qmixbench_envs.external.smax): rewards by hand, end flags, dead allies, state, batching.

Skipped, naming the extra, when jaxmarl is not installed. Each map's functions compile once per process
(a few seconds), so these tests use ``3m`` only; the other maps run PettingZoo's tests in
``tests/envs/test_conformance.py`` (marked slow).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from qmixbench_envs import ENV_SPECS

pytest.importorskip("jaxmarl", reason="jaxmarl is not installed: pip install 'qmixbench[smax]'")

from qmixbench_envs.external import smax

STOP = 4
N_ENEMIES = 3
N_TYPES = 6
UNIT_FEATURES = 4 + N_TYPES  # health, x, y, cooldown, type one-hot


def _scripted(infos: dict, agents: list[str]) -> dict[str, int]:
    """Attack the first enemy in range, else move east (towards the enemy's side), else stop."""
    actions = {}
    for agent in agents:
        mask = infos[agent]["action_mask"]
        targets = np.flatnonzero(mask[5:])
        actions[agent] = int(5 + targets[0]) if len(targets) else (1 if mask[1] else STOP)
    return actions


def _episode(env, seed: int, policy) -> tuple[float, list]:
    obs, infos = env.reset(seed=seed)
    ret, trace = 0.0, []
    while env.agents:
        agents = list(env.agents)
        obs, rewards, terms, truncs, infos = env.step(policy(infos, agents))
        assert len(set(rewards.values())) == 1
        ret += rewards[agents[0]]
        trace.append((obs, terms, truncs, infos, env.state().copy()))
    return ret, trace


def _enemy_health(state: np.ndarray) -> np.ndarray:
    """Enemies' health fractions from the state's per-unit blocks (allies first)."""
    units = state[: 2 * N_ENEMIES * UNIT_FEATURES].reshape(2 * N_ENEMIES, UNIT_FEATURES)
    return units[N_ENEMIES:, 0]


def test_won_episode_returns_two_and_lost_one_returns_the_enemy_health_removed() -> None:
    env = smax.smax("3m")
    outcomes = set()
    for seed in range(6):
        ret, trace = _episode(env, seed, _scripted)
        _, terms, truncs, infos, state = trace[-1]
        success = infos["ally_0"]["success"]
        assert all(info["success"] == success for info in infos.values())
        assert all("success" not in info for step in trace[:-1] for info in step[3].values())
        if terms["ally_0"]:
            # Reward: enemy health lost / full health, summed and divided by 3 enemies, + 1 for a win.
            expected = (1.0 - _enemy_health(state)).sum() / N_ENEMIES + (1.0 if success else 0.0)
            assert ret == pytest.approx(expected, abs=1e-5)
            if success:
                assert ret == pytest.approx(2.0, abs=1e-5)
            outcomes.add(success)
    assert outcomes == {True, False}, "the scripted policy should both win and lose on these seeds"


def test_time_limit_is_a_truncation_and_not_a_success() -> None:
    env = smax.smax("3m", max_steps=3)  # the teams start ~16 apart: no one dies in 3 steps
    ret, trace = _episode(env, 0, lambda infos, agents: dict.fromkeys(agents, STOP))
    assert len(trace) == 3
    _, terms, truncs, infos, _ = trace[-1]
    assert truncs == dict.fromkeys(env.possible_agents, True)
    assert terms == dict.fromkeys(env.possible_agents, False)
    assert infos["ally_0"]["success"] is False


def test_dead_allies_stay_with_zero_observation_and_only_stop_available() -> None:
    env = smax.smax("3m")
    only_stop = np.eye(5 + N_ENEMIES, dtype=np.int8)[STOP]
    seen_dead = False
    for seed in range(4):
        # Standing still: the heuristic enemies walk over and shoot, so allies die one by one.
        _, trace = _episode(env, seed, lambda infos, agents: dict.fromkeys(agents, STOP))
        for obs, _, _, infos, state in trace:
            units = state[: 2 * N_ENEMIES * UNIT_FEATURES].reshape(2 * N_ENEMIES, UNIT_FEATURES)
            assert set(obs) == set(env.possible_agents)  # nobody leaves before the end
            for i, agent in enumerate(env.possible_agents):
                if units[i, 0] == 0.0:  # ally i's health in the state
                    seen_dead = True
                    assert not obs[agent].any()
                    np.testing.assert_array_equal(infos[agent]["action_mask"], only_stop)
        assert trace[-1][3]["ally_0"]["success"] is False
    assert seen_dead


def test_state_is_jaxmarls_world_state_scaled() -> None:
    env = smax.smax("3m")
    inner = env._core.upstream._env
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(30):
        raw = np.asarray(inner.get_world_state(env._env_state.state))
        n_units = 2 * N_ENEMIES
        units = raw[: n_units * UNIT_FEATURES].reshape(n_units, UNIT_FEATURES)
        types = raw[n_units * UNIT_FEATURES + n_units :].astype(int)
        expected = units.copy()
        expected[:, 1:3] = units[:, 1:3] / 32.0  # 32x32 map
        base_cooldown = np.asarray(inner.unit_type_weapon_cooldowns)[types]
        expected[:, 3] = np.clip(units[:, 3] / base_cooldown, 0.0, 1.0) * (units[:, 0] > 0)
        want = np.concatenate([expected.reshape(-1), raw[n_units * UNIT_FEATURES :][:n_units], types / 5.0])
        np.testing.assert_allclose(env.state(), want, atol=1e-6)
        if not env.agents:
            env.reset(seed=3)
        env.step({a: int(rng.integers(5 + N_ENEMIES)) for a in env.agents})


@pytest.mark.slow  # compiles the batched functions (~20 s on a loaded 2-core machine)
def test_vector_env_matches_single_envs_step_for_step() -> None:
    k, seeds = 3, [5, 6, 7]
    vec = smax.smax_vector("3m", num_envs=k)
    singles = [smax.smax("3m") for _ in range(k)]
    frame = vec.reset(seeds)
    for env, seed, obs in zip(singles, seeds, frame.obs):
        np.testing.assert_array_equal(obs, np.stack(list(env.reset(seed=seed)[0].values())))
    rng, ended_total = np.random.default_rng(0), 0
    for t in range(200):
        actions = np.array([[rng.choice(np.flatnonzero(m)) for m in frame.avail[i]] for i in range(k)])
        out = vec.step(actions)
        for i, env in enumerate(singles):
            obs, rewards, terms, truncs, infos = env.step(dict(zip(env.possible_agents, actions[i].tolist())))
            np.testing.assert_array_equal(out.frame.obs[i], np.stack(list(obs.values())), err_msg=f"step {t}")
            np.testing.assert_array_equal(out.frame.state[i], env.state(), err_msg=f"step {t}")
            # The dicts as arrays (the vector env protocol): one row per ally, in possible_agents order.
            assert out.rewards[i].tolist() == [rewards[a] for a in env.possible_agents]
            assert out.terminations[i].tolist() == [terms[a] for a in env.possible_agents]
            assert out.truncations[i].tolist() == [truncs[a] for a in env.possible_agents]
            assert out.frame.active[i].tolist() == [a in env.agents for a in env.possible_agents]
            if "success" in infos["ally_0"]:
                assert out.success[i] == infos["ally_0"]["success"]
        ended = ~out.frame.active.any(axis=1)
        frame = out.frame
        if ended.any():
            ended_total += int(ended.sum())
            new_seeds = rng.integers(2**31, size=k).tolist()
            frame = vec.reset(new_seeds, mask=ended)
            for i, env in enumerate(singles):
                if ended[i]:
                    obs = env.reset(seed=new_seeds[i])[0]
                    np.testing.assert_array_equal(frame.obs[i], np.stack(list(obs.values())))
                else:  # the envs left running keep their frame
                    np.testing.assert_array_equal(frame.avail[i], out.frame.avail[i])
                    np.testing.assert_array_equal(frame.state[i], env.state())
    assert ended_total >= 3
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 3\)"):
        vec.step(np.zeros((2, 3), int))


@pytest.mark.slow
def test_vector_env_refuses_to_step_an_ended_env() -> None:
    vec = smax.smax_vector("3m", num_envs=3, max_steps=1)  # the limit is not compiled in: no new compile
    vec.reset([0, 1, 2])
    out = vec.step(np.full((3, 3), STOP))
    assert out.truncations.all() and not out.terminations.any() and not out.frame.active.any()
    with pytest.raises(RuntimeError, match=r"envs \[0, 1, 2\] have ended"):
        vec.step(np.full((3, 3), STOP))
    vec.reset([3, 4, 5], mask=np.array([True, False, True]))
    with pytest.raises(RuntimeError, match=r"envs \[1\] have ended"):
        vec.step(np.full((3, 3), STOP))


def test_seed_is_the_jax_key() -> None:
    import jax

    for seed in (0, 1, 2**31 - 1):
        np.testing.assert_array_equal(smax.key_from_seed(seed), np.asarray(jax.random.PRNGKey(seed)))
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64\)"):
        smax.key_from_seed(-1)


def test_bad_arguments_say_what_is_valid() -> None:
    with pytest.raises(ValueError, match="unknown SMAX map '3M'; known maps: 3m, 8m"):
        smax.smax("3M")
    with pytest.raises(ValueError, match="attack_mode must be one of"):
        smax.smax("3m", attack_mode="weakest")
    with pytest.raises(TypeError, match="unknown argument.* max_step; valid: map_name, max_steps"):
        smax.smax("3m", max_step=10)


def test_map_table_and_describe_match_jaxmarl_and_the_built_env() -> None:
    from jaxmarl.environments.smax import smax_env

    assert {name: (s.num_allies, s.num_enemies) for name, s in smax_env.MAP_NAME_TO_SCENARIO.items()} == smax.MAPS
    env = smax.smax("3m", max_steps=40)
    facts = smax.describe("3m", max_steps=40)
    assert facts["agents"] == env.possible_agents
    assert facts["obs_shape"] == env.observation_space("ally_0").shape
    assert facts["state_shape"] == env.state_space.shape
    assert facts["n_actions"] == env.action_space("ally_0").n
    assert (facts["episode_limit"], facts["team_reward"]) == (env.max_steps, env.metadata["team_reward"])


def test_registered_ids_cover_the_issue_maps() -> None:
    maps = {spec.kwargs["map_name"] for i, spec in ENV_SPECS.items() if i.startswith("smax/")}
    assert {"3m", "8m", "2s3z", "3s5z", "5m_vs_6m"} <= maps
    assert any(m.startswith("smacv2") for m in maps)
    assert maps <= set(smax.MAPS)


def test_jax_stays_out_of_the_other_import_paths() -> None:
    # Every other family built and stepped, the registry listed: no jax (nor jaxmarl) in sys.modules.
    code = (
        "import sys, qmixbench_envs\n"
        "for env_id in qmixbench_envs.ENV_SPECS:\n"
        "    if env_id.startswith('smax/'): continue\n"
        "    try:\n"
        "        env = qmixbench_envs.make(env_id)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    env.reset(seed=0); env.state()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'jaxmarl', 'flax')]\n"
        "assert not bad, bad[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=180)

"""Matrix games pay what the papers say."""

import pytest

import qmixbench_envs


def play(env, joint_actions):
    env.reset(seed=0)
    total, last = 0.0, None
    for a0, a1 in joint_actions:
        _, rewards, terms, truncs, infos = env.step({"agent_0": a0, "agent_1": a1})
        assert rewards["agent_0"] == rewards["agent_1"], "the team reward is shared"
        total += rewards["agent_0"]
        last = (terms, truncs, infos)
    return total, last


@pytest.mark.parametrize(
    ("first", "second", "payoff"),
    [(0, (0, 0), 7), (0, (1, 1), 7), (1, (0, 0), 0), (1, (0, 1), 1), (1, (1, 0), 1), (1, (1, 1), 8)],
)
def test_two_step_game(first, second, payoff):
    env = qmixbench_envs.make("matrix/two-step-v0")
    total, (terms, truncs, infos) = play(env, [(first, 1 - first), second])
    assert total == payoff
    assert all(terms.values()) and not any(truncs.values())
    assert infos["agent_0"]["success"] == (payoff == 8)
    assert env.agents == []


def test_climbing_optimum_and_termination():
    env = qmixbench_envs.make("matrix/climbing-v0")
    total, (terms, truncs, infos) = play(env, [(0, 0)] * 25)
    assert total == 275 and infos["agent_0"]["success"]
    assert all(terms.values()) and not any(truncs.values()), "the game's fixed length is a termination"
    total, _ = play(env, [(1, 1)] * 25)
    assert total == 175


@pytest.mark.parametrize("k", [0.0, 25.0, 100.0])
def test_penalty_k(k):
    env = qmixbench_envs.make("matrix/penalty-v0", k=k)
    assert play(env, [(0, 0)])[0] == -k
    assert play(env, [(0, 2)] * 25)[0] == 250
    assert play(env, [(1, 1)] * 25)[0] == 50


def test_wqmix_one_step():
    env = qmixbench_envs.make("matrix/wqmix-one-step-v0")
    assert play(env, [(0, 0)])[0] == 8
    assert play(env, [(0, 1)])[0] == -12
    assert env.max_steps == 1


def test_bad_arguments_say_what_is_valid():
    with pytest.raises(ValueError, match="valid: climbing, penalty, wqmix"):
        qmixbench_envs.make("matrix/climbing-v0", game="prisoners")
    with pytest.raises(ValueError, match="square"):
        qmixbench_envs.make("matrix/climbing-v0", payoff=[[1, 2, 3]])

"""Every registered env id against PettingZoo's own conformance tests, SuperSuit, and a determinism check.

PettingZoo's ``parallel_seed_test`` stops after one step, so seeding is also checked through the AEC
``seed_test`` and a two-env, several-hundred-step comparison here (layouts after reset included).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import supersuit as ss
from pettingzoo.test import api_test, parallel_api_test, seed_test, state_test
from pettingzoo.utils.conversions import parallel_to_aec

from qmixbench_envs import ENV_SPECS, FAMILY_DEFAULTS, UnknownEnvError, make

SLOW_IDS = {i for i in ENV_SPECS if i.startswith("smax/") and i != FAMILY_DEFAULTS["smax"]}
"""SMAX maps compile their JAX step on first use (~5-15 s each); the family default stays in the fast run."""
ENV_IDS = [pytest.param(i, marks=pytest.mark.slow) if i in SLOW_IDS else i for i in sorted(ENV_SPECS)]
OWN_FAMILIES = ("multigrid/", "matrix/")
"""Families implemented in qmixbench_envs itself (the external adapters wrap other packages' envs)."""
DETERMINISM_STEPS = 400


def _cycles(env_id: str, own: int) -> int:
    """Cycles for PettingZoo's tests: full for qmixbench's envs, fewer for wrapped external ones (slow, and
    checked step for step against upstream in their own tests)."""
    return own if env_id.startswith(OWN_FAMILIES) else min(own, 150)


def _make(env_id: str, **kwargs):
    """``make(env_id)``, skipping the test when the id's optional package (an extra) is not installed."""
    try:
        return make(env_id, **kwargs)
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("qmixbench"):
            raise
        pytest.skip(f"{env_id}: optional package missing ({err})")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_parallel_api(env_id: str) -> None:
    parallel_api_test(_make(env_id), num_cycles=_cycles(env_id, 1000))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_aec_api(env_id: str) -> None:
    api_test(parallel_to_aec(_make(env_id)), num_cycles=_cycles(env_id, 1000))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_aec_seed(env_id: str) -> None:
    _make(env_id)
    seed_test(lambda: parallel_to_aec(make(env_id)), num_cycles=_cycles(env_id, 500))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_state(env_id: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # state_test only warns about all-zero, NaN or odd-shaped states
        state_test(parallel_to_aec(_make(env_id)), make(env_id))


def _rollout(env_id: str, seed: int, steps: int) -> list:
    """Random play with resets (seeded from one generator): every output, to compare across runs."""
    env, rng = _make(env_id), np.random.default_rng(seed)
    obs, infos = env.reset(seed=seed)
    trace = [("reset", obs, infos, env.state())]
    for _ in range(steps):
        actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
        out = env.step(actions)
        trace.append(("step", *out, env.state()))
        _check_step(env, env_id.startswith(OWN_FAMILIES), *out)
        if not env.agents:
            obs, infos = env.reset(seed=int(rng.integers(2**31)))
            trace.append(("reset", obs, infos, env.state()))
    return trace


def _check_step(env, own: bool, obs, rewards, terminations, truncations, infos) -> None:
    for agent, o in obs.items():
        assert env.observation_space(agent).contains(o), f"{agent}'s observation is outside its space"
    assert env.state_space.contains(env.state())
    assert env.metadata["team_reward"] in ("shared", "sum")
    if env.metadata["team_reward"] == "shared":
        assert len(set(rewards.values())) == 1, f"team reward must be shared: {rewards}"
    assert all(np.isfinite(float(r)) for r in rewards.values())
    if own:
        assert all(type(r) is float for r in rewards.values())
    for agent in obs:
        assert not (terminations[agent] and truncations[agent]), "terminated and truncated on one step"
        last = terminations[agent] or truncations[agent]
        if "success" in infos[agent]:
            assert last, "infos['success'] belongs on the last step only"
            assert isinstance(infos[agent]["success"], bool)
        else:  # external envs without a notion of success report none (the runner records NaN)
            assert not (own and last), "qmixbench's own envs report infos['success'] on the last step"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_episodes(env_id: str) -> None:
    steps = _cycles(env_id, DETERMINISM_STEPS)
    first, second = _rollout(env_id, 7, steps), _rollout(env_id, 7, steps)
    assert len(first) == len(second)
    for t, (a, b) in enumerate(zip(first, second)):
        for x, y in zip(a, b):
            _assert_same(x, y, f"step {t}")


def _assert_same(x, y, where: str) -> None:
    """Equal values, through nested dicts (infos hold per-agent dicts of arrays, e.g. action masks)."""
    if isinstance(x, dict):
        assert isinstance(y, dict) and x.keys() == y.keys(), where
        for k in x:
            _assert_same(x[k], y[k], f"{where}, {k}")
    else:
        np.testing.assert_array_equal(x, y, err_msg=where)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_seed_reproduces_layout(env_id: str) -> None:
    env = _make(env_id)
    env.reset(seed=3)
    layout = env.state()
    env.step({a: 2 for a in env.agents})
    env.reset(seed=99)
    env.reset(seed=3)
    np.testing.assert_array_equal(env.state(), layout)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_supersuit_wrappers(env_id: str) -> None:
    env = ss.agent_indicator_v0(ss.pad_action_space_v0(ss.pad_observations_v0(_make(env_id))))
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        assert env.state().shape == env.state_space.shape
        if not env.agents:
            obs, _ = env.reset()
        # Every env here gives all agents one action space, so padding adds no out-of-range actions.
        obs, *_ = env.step({a: int(env.action_space(a).sample()) for a in env.agents})
        for a, o in obs.items():
            space = env.observation_space(a)
            if np.unique(space.high).size == 1:
                assert space.contains(o)
            else:  # SuperSuit 3.11's agent_indicator_v0 declares min(high) but writes max(high)
                assert o.shape == space.shape and o.dtype == space.dtype


def test_env_package_needs_neither_torch_nor_qmixbench() -> None:
    code = (
        "import sys, qmixbench_envs\n"
        f"for env_id in sorted(set(qmixbench_envs.ENV_SPECS) - set({sorted(SLOW_IDS)!r})):\n"
        "    try:\n"
        "        env = qmixbench_envs.make(env_id)\n"
        "    except ModuleNotFoundError as err:  # an optional extra that is not installed\n"
        "        if (err.name or '').startswith('qmixbench'): raise\n"
        "        continue\n"
        "    env.reset(seed=0); env.state()\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'qmixbench.')) or m == 'qmixbench']\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_unknown_id_lists_close_matches() -> None:
    with pytest.raises(UnknownEnvError, match="multigrid/empty-8x8-v0"):
        make("multigrid/empty-8x8-v1")
    with pytest.raises(UnknownEnvError, match="multigrid/key-door-8x8-v0"):
        make("multigrid/keydoor-8x8-v0")


def test_family_defaults_are_registered() -> None:
    assert FAMILY_DEFAULTS["multigrid"] in ENV_SPECS
    assert make("multigrid").possible_agents == ["agent_0", "agent_1"]

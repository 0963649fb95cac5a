"""``qmixbench check``: the table, the exit status, and fixes for envs that break the rules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qmixbench.check import FAIL, PASS, SKIP, WARN, check_env, failed, format_table
from qmixbench.cli import main

BROKEN_ENVS = textwrap.dedent(
    '''
    import numpy as np
    from gymnasium import spaces
    from pettingzoo import ParallelEnv


    class Base(ParallelEnv):
        """Two agents, 3 steps, truncated; observation [t, t]."""

        metadata = {"name": "base", "render_modes": []}
        render_mode = None
        possible_agents = ["x", "y"]

        def __init__(self):
            self.agents = []
            self._obs = {a: spaces.Box(0.0, 10.0, (2,), np.float32) for a in self.possible_agents}
            self._act = {a: spaces.Discrete(2) for a in self.possible_agents}
            self.t = 0

        def observation_space(self, agent):
            return self._obs[agent]

        def action_space(self, agent):
            return self._act[agent]

        def reset(self, seed=None, options=None):
            self.t, self.agents = 0, list(self.possible_agents)
            return {a: np.full(2, self.t, np.float32) for a in self.agents}, {a: {} for a in self.agents}

        def step(self, actions):
            self.t += 1
            done = self.t >= 3
            live = list(self.agents)
            self.agents = [] if done else live
            obs = {a: np.full(2, self.t, np.float32) for a in live}
            return obs, dict.fromkeys(live, 1.0), dict.fromkeys(live, False), dict.fromkeys(live, done), {a: {} for a in live}


    class FreshSpaces(Base):
        def observation_space(self, agent):
            return spaces.Box(0.0, 10.0, (2,), np.float32)  # a new object each call


    class Continuous(Base):
        def __init__(self):
            super().__init__()
            self._act = {a: spaces.Box(-1.0, 1.0, (2,)) for a in self.possible_agents}


    class Nondeterministic(Base):
        def reset(self, seed=None, options=None):
            obs, infos = super().reset(seed=seed)
            return {a: np.random.uniform(0, 10, 2).astype(np.float32) for a in obs}, infos
    '''
)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("envs") / "broken_envs.py"
    path.write_text(BROKEN_ENVS)
    return path


def _by_name(results: list) -> dict:
    return {r.name: r for r in results}


def test_a_good_env_passes_with_a_state_fallback_warning(broken: Path) -> None:
    results = check_env(f"{broken}:Base", num_cycles=10)
    by = _by_name(results)
    assert not failed(results)
    assert by["global state"].status == WARN and "concatenated observations" in by["global state"].detail
    assert by["state_test"].status == SKIP
    assert by["adapter episodes"].status == PASS and "3 steps truncated" in by["adapter episodes"].detail
    assert by["parallel_api_test"].status == PASS and by["seed_test (parallel_to_aec)"].status == PASS


def test_space_objects_must_be_cached(broken: Path) -> None:
    by = _by_name(check_env(f"{broken}:FreshSpaces", num_cycles=10))
    assert by["parallel_api_test"].status == FAIL
    assert "same object every call" in by["parallel_api_test"].fix


def test_continuous_actions_fail_with_the_reason(broken: Path) -> None:
    by = _by_name(check_env(f"{broken}:Continuous", num_cycles=10))
    assert (
        by["discrete actions"].status == FAIL
        and "continuous actions are not supported" in by["discrete actions"].detail
    )
    assert by["adapter episodes"].status == SKIP


def test_nondeterminism_is_caught_by_seed_test(broken: Path) -> None:
    by = _by_name(check_env(f"{broken}:Nondeterministic", num_cycles=10))
    assert by["seed_test (parallel_to_aec)"].status == FAIL
    assert "seeded by reset(seed=...)" in by["seed_test (parallel_to_aec)"].fix


def test_unbuildable_env_fails_first_and_skips_the_rest() -> None:
    results = check_env("no_such_module_abc:make")
    assert results[0].status == FAIL and "no module named 'no_such_module_abc'" in results[0].detail
    assert all(r.status == SKIP for r in results[1:])


def test_cli_exit_status_and_table(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    assert main(["check", "--env", "matrix/two-step-v0", "--cycles", "10"]) == 0
    out = capsys.readouterr().out
    assert "parallel_api_test" in out and "all checks passed" in out
    assert main(["check", "--env", f"{broken}:Continuous", "--cycles", "10"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "check(s) failed" in out
    assert main(["check", "--env", "matrix/climbing-v0", "--set", "episode_limit=3", "--cycles", "5"]) == 0
    assert "3 steps" in capsys.readouterr().out
    assert main(["check", "--env", "matrix/climbing-v0", "--set", "oops"]) == 2
    assert "--set" in capsys.readouterr().err


def test_format_table_shows_fixes_under_failures() -> None:
    from qmixbench.check import CheckResult

    table = format_table([CheckResult("a", PASS, "fine"), CheckResult("bb", FAIL, "broken", "do this")])
    lines = table.splitlines()
    assert lines[2].startswith("a ") and "fine" in lines[2]
    assert lines[3].startswith("bb") and "FAIL" in lines[3] and lines[4].strip() == "fix: do this"

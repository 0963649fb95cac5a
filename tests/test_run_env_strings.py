"""`qmixbench run --env` takes entry points and ?key=value arguments, not only registered ids."""

import pytest

from qmixbench.algos import ENV_DEFAULTS, env_defaults
from qmixbench.commands.run import _split
from qmixbench.entry_points import EnvSpecError
from qmixbench.sweep import expand_envs
from qmixbench_envs import FAMILY_DEFAULTS, UnknownEnvError


def test_entry_points_and_arguments_pass_through():
    envs = expand_envs(["examples/my_env.py:MeetEnv?size=5", "multigrid?n_agents=3", "matrix/climbing-v0"])
    assert envs == [
        "examples/my_env.py:MeetEnv?size=5",
        FAMILY_DEFAULTS["multigrid"] + "?n_agents=3",
        "matrix/climbing-v0",
    ]


def test_bad_entry_points_fail_before_any_run():
    with pytest.raises(EnvSpecError):
        expand_envs(["examples/my_env.py:NoSuchEnv"])
    with pytest.raises(UnknownEnvError, match="cannot take arguments"):
        expand_envs(["multigrid/*?n_agents=3"])
    with pytest.raises(UnknownEnvError, match="did you mean"):
        expand_envs(["multigrd?n_agents=3"])


def test_env_defaults_apply_to_a_registered_id_with_arguments():
    assert env_defaults("matrix/two-step-v0?render_mode=ansi") == env_defaults("matrix/two-step-v0") != {}


def test_a_family_entry_applies_under_the_ids_own_entry(monkeypatch):
    monkeypatch.setitem(ENV_DEFAULTS, "matrix/*", {"td_lambda": 0.5, "lr": 1e-3})
    monkeypatch.setitem(ENV_DEFAULTS, "matrix/climbing-v0", {"lr": 2e-3})
    assert env_defaults("matrix/climbing-v0") == {"td_lambda": 0.5, "lr": 2e-3}
    assert env_defaults("matrix?render_mode=ansi")["td_lambda"] == 0.5  # the family alias's default task
    assert env_defaults("examples/my_env.py:MeetEnv") == {}  # an entry point belongs to no family


def test_comma_split_keeps_brackets_and_quotes_together():
    assert _split("a?x=[1,2],b, c?s='p,q'") == ["a?x=[1,2]", "b", "c?s='p,q'"]

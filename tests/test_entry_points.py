"""Naming envs: registered ids and module:factory entry points with ?key=value arguments."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qmixbench.adapter import build_env, make_adapter
from qmixbench.entry_points import EnvSpecError, parse_env_string
from qmixbench_envs import UnknownEnvError

MATRIX = "qmixbench_envs.matrix:MatrixGameEnv"


def test_parse_values_as_json_python_literals_or_strings() -> None:
    name, kwargs = parse_env_string('m.n:f?a=3&b=0.5&c=true&d=null&e=[1, 2]&f="x y"&g=False&h=None&i=plain&j={"k": 1}')
    assert name == "m.n:f"
    assert kwargs == {
        "a": 3,
        "b": 0.5,
        "c": True,
        "d": None,
        "e": [1, 2],
        "f": "x y",
        "g": False,
        "h": None,
        "i": "plain",
        "j": {"k": 1},
    }
    assert type(kwargs["a"]) is int
    assert parse_env_string("matrix/climbing-v0") == ("matrix/climbing-v0", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("?a=1", "no id or module:factory"),
        ("m:f?", "nothing after '?'"),
        ("m:f?a", "'a' is not key=value"),
        ("m:f?1a=2", "'1a=2' is not key=value"),
        ("m:f?a=1&a=2", "'a' is given twice"),
        ("m:f?a=[1, 2", "value of 'a' is not valid JSON"),
        ('m:f?a="open', "value of 'a' is not valid JSON"),
    ],
)
def test_parse_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(EnvSpecError, match=message.replace("[", r"\[").replace("?", r"\?")):
        parse_env_string(text)


def test_entry_point_with_arguments_builds_the_env() -> None:
    env = build_env(f"{MATRIX}?game=penalty&k=50&episode_limit=3")
    assert env.max_steps == 3
    # env_kwargs override the string's arguments.
    assert build_env(f"{MATRIX}?game=penalty&episode_limit=3", {"episode_limit": 5}).max_steps == 5


def test_registered_id_takes_arguments_too() -> None:
    assert build_env("matrix/climbing-v0").max_steps == 25
    assert build_env("matrix/climbing-v0?episode_limit=7").max_steps == 7
    assert make_adapter("matrix/climbing-v0?episode_limit=7").info.episode_limit == 7
    with pytest.raises(UnknownEnvError, match="did you mean matrix/climbing-v0"):
        build_env("matrix/climbing-v9")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("not_a_module_xyz:f", "no module named 'not_a_module_xyz'; is it installed"),
        ("qmixbench_envs.matrix:MatrixGameEnvv", "has no attribute 'MatrixGameEnvv'; did you mean MatrixGameEnv"),
        ("qmixbench_envs.matrix:PAYOFFS", "is a dict, not a callable"),
        (f"{MATRIX}?gmae=penalty", "unexpected keyword argument 'gmae'"),
        ("qmixbench_envs.matrix", "an entry point is written module:factory"),
        (":f", "expected module:factory"),
        ("pettingzoo.utils.conversions:parallel_to_aec", "missing a required argument: 'par_env'"),
        ("gymnasium.envs.classic_control.cartpole:CartPoleEnv", "not a pettingzoo.ParallelEnv .a gymnasium.Env"),
        ("missing/dir/env.py:make", "no such file 'missing/dir/env.py'"),
    ],
)
def test_entry_point_errors_name_what_is_wrong(env: str, message: str) -> None:
    with pytest.raises((EnvSpecError, UnknownEnvError), match=message):
        build_env(env)


def test_missing_package_of_an_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "mpe2", None)
    with pytest.raises(EnvSpecError, match=r"pip install 'qmixbench\[mpe\]'"):
        build_env("mpe2:parallel_env")


def test_aec_env_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "aec_env.py"
    path.write_text(
        textwrap.dedent(
            """
            from pettingzoo.utils.conversions import parallel_to_aec
            from qmixbench_envs.matrix import TwoStepEnv

            def make():
                return parallel_to_aec(TwoStepEnv())
            """
        )
    )
    with pytest.raises(EnvSpecError, match="returned an AEC env.*aec_to_parallel"):
        build_env(f"{path}:make")


def test_python_file_entry_point(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        textwrap.dedent(
            """
            from qmixbench_envs.matrix import MatrixGameEnv

            def make(length=2, game="climbing"):
                return MatrixGameEnv(game=game, episode_limit=length)
            """
        )
    )
    assert build_env(f"{path}:make?length=4").max_steps == 4
    assert build_env(f"{path}:make").max_steps == 2  # loaded once, reused

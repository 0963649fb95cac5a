"""Suite TOML files: parsing, errors that name file/key/valid keys, precedence, the shipped suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmixbench import sweep
from qmixbench.suite import SuiteError, load_suite

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def resolve(algo, env, overrides):
    """Stand-in for qmixbench.algos.resolve_config without env defaults."""
    from qmixbench.algos import resolve_config

    return resolve_config(algo, overrides)  # env=None: no env defaults


FULL = """
name = "demo"
description = "a demo"
envs = ["matrix/two-step-v0", "matrix/climbing-v0"]
algos = ["qmix", "vdn"]
seeds = [3, 4]
[budget]
env_steps = 1000
[eval]
interval = 250
episodes = 8
[overrides]
lr = 0.001
mixer.embed_dim = 16
[env."matrix/climbing-v0"]
budget = { env_steps = 5000 }
overrides = { lr = 0.002 }
kwargs = { k = 3 }
team_reward = "sum"
"""


def test_load_and_expand_with_precedence(tmp_path):
    suite = load_suite(write(tmp_path, FULL))
    assert (suite.name, suite.envs, suite.algos, suite.seeds) == (
        "demo",
        ("matrix/two-step-v0", "matrix/climbing-v0"),
        ("qmix", "vdn"),
        (3, 4),
    )
    assert suite.overrides == {
        "lr": 0.001,
        "mixer.embed_dim": 16,
        "total_env_steps": 1000,
        "eval_interval": 250,
        "eval_episodes": 8,
    }
    specs = sweep.expand(suite.envs, suite.algos, suite.seeds, {"eval_episodes": 2}, suite=suite, resolve=resolve)
    assert len(specs) == 2 * 2 * 2
    two_step = [s for s in specs if s.env == "matrix/two-step-v0"][0]
    climbing = [s for s in specs if s.env == "matrix/climbing-v0"][0]
    assert (two_step.config.total_env_steps, two_step.config.lr, two_step.config.mixer.embed_dim) == (1000, 0.001, 16)
    assert (climbing.config.total_env_steps, climbing.config.lr, climbing.config.eval_interval) == (5000, 0.002, 250)
    assert climbing.env_kwargs == {"k": 3} and climbing.team_reward == "sum" and two_step.env_kwargs == {}
    assert {s.config.eval_episodes for s in specs} == {2}  # the command line wins over the suite


def test_defaults_seeds_and_name(tmp_path):
    suite = load_suite(write(tmp_path, 'envs = ["matrix"]\nalgos = ["qmix"]\n', "mine.toml"))
    assert suite.name == "mine" and suite.seeds == (0, 1, 2) and suite.overrides == {}
    # The same syntax and meaning as --seeds: "0-4" is seeds 0 to 4, [5] and "5" are seed 5.
    assert load_suite(write(tmp_path, 'envs = ["matrix"]\nalgos = "qmix"\nseeds = "0-4"\n')).seeds == (0, 1, 2, 3, 4)
    assert load_suite(write(tmp_path, 'envs = ["matrix"]\nalgos = "qmix"\nseeds = "5"\n')).seeds == (5,)
    assert load_suite(write(tmp_path, 'envs = ["matrix"]\nalgos = "qmix"\nseeds = [5]\n')).seeds == (5,)


def test_glob_and_family_sections(tmp_path):
    suite = load_suite(
        write(
            tmp_path,
            """
envs = ["matrix/*"]
algos = ["qmix"]
[env."matrix/*"]
overrides = { lr = 0.1, gamma = 0.5 }
[env."matrix/climbing-v0"]
overrides = { lr = 0.2 }
[env."matrix"]
overrides = { gamma = 0.9 }
""",
        )
    )
    specs = {s.env: s.config for s in sweep.expand(suite.envs, suite.algos, [0], suite=suite, resolve=resolve)}
    assert set(specs) == {"matrix/two-step-v0", "matrix/climbing-v0", "matrix/penalty-v0", "matrix/wqmix-one-step-v0"}
    assert (specs["matrix/climbing-v0"].lr, specs["matrix/climbing-v0"].gamma) == (0.2, 0.5)  # exact id wins
    assert (specs["matrix/two-step-v0"].lr, specs["matrix/two-step-v0"].gamma) == (
        0.1,
        0.9,
    )  # family name = default task
    assert specs["matrix/penalty-v0"].lr == 0.1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\nbudgett = 3\n',
            "unknown key 'budgett'; valid keys: name, description, envs, algos, seeds, protocol, budget, eval, overrides, grid, env",
        ),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\n[budget]\nsteps = 3\n',
            "unknown key 'budget.steps'; valid keys in budget: env_steps",
        ),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\n[eval]\nn = 3\n',
            "unknown key 'eval.n'; valid keys in eval: interval, episodes",
        ),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\n[overrides]\nlrr = 3\n',
            "unknown config key 'lrr'; valid keys: total_env_steps",
        ),
        ('envs = ["matrix"]\nalgos = ["qmix"]\n[overrides]\nlr = "fast"\n', "lr: "),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\n[env.matrix]\nkwarg = {}\n',
            'unknown key \'env."matrix".kwarg\'; valid keys in env."matrix": budget, eval, overrides, kwargs, team_reward',
        ),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\n[env.matrix]\noverrides = { mixer.embedd = 1 }\n',
            "[env.\"matrix\".overrides] unknown config key 'mixer.embedd'",
        ),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\n[env.matrix]\nteam_reward = "max"\n',
            "team_reward must be one of auto, shared, sum",
        ),
        ('envs = ["matrix"\nalgos = ["qmix"]\n', "malformed TOML"),
        ('algos = ["qmix"]\n', "missing required key 'envs'"),
        ('envs = []\nalgos = ["qmix"]\n', "envs must be a non-empty list of strings"),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\nseeds = [0, "1"]\n',
            'seeds must be a list of ints or a string such as "0-4"',
        ),
        (
            'envs = ["matrix"]\nalgos = ["qmix"]\nseeds = 5\n',
            'seeds = 5 is ambiguous; write seeds = "0-4" for seeds 0 to 4, or seeds = [5] for seed 5',
        ),
        ('envs = ["matrix"]\nalgos = ["qmix"]\nseeds = "4-0"\n', "range '4-0' runs backwards"),
    ],
)
def test_errors_name_file_key_and_valid_keys(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(tmp_path / "nope.toml")


@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_suites_load_and_expand(path):
    suite = load_suite(path)
    specs = sweep.expand(suite.envs, suite.algos, suite.seeds, suite=suite)
    assert len(specs) == len(sweep.expand_envs(suite.envs)) * len(suite.algos) * len(suite.seeds)
    # presets differ only in the mixer: within an env every algorithm has the same non-mixer config
    for env in {s.env for s in specs}:
        configs = {s.algo: s.config for s in specs if s.env == env}
        stripped = {a: c.__class__(**{**c.__dict__, "mixer": None}) for a, c in configs.items()}
        assert len({repr(c) for c in stripped.values()}) == 1, env


def test_required_suites_exist():
    assert {"smoke.toml", "matrix.toml", "multigrid-core.toml"} <= {p.name for p in BENCHMARKS.glob("*.toml")}
    core = load_suite(BENCHMARKS / "multigrid-core.toml")
    from qmixbench_envs import ENV_SPECS

    every_task = {i for i in ENV_SPECS if i.startswith("multigrid/")}
    assert set(sweep.expand_envs(core.envs)) < every_task  # the calibrated tasks some algorithm solves
    assert set(core.algos) == {"qmix", "vdn", "iql"} and len(core.seeds) == 5
    full = load_suite(BENCHMARKS / "multigrid-full.toml")
    assert set(sweep.expand_envs(full.envs)) == every_task and {"qmix", "vdn", "iql"} <= set(full.algos)

"""Named protocols: per-family settings, their place in config resolution, the CLI and suite keys."""

from __future__ import annotations

import json

import pytest

from qmixbench import sweep
from qmixbench.algos import env_defaults, resolve_config
from qmixbench.cli import main
from qmixbench.config import ConfigError, TrainConfig, apply_overrides
from qmixbench.protocols import PROTOCOLS, env_family, protocol_overrides
from qmixbench.suite import SuiteError, load_suite

LBF = "lbf/8x8-2p-2f-coop-v3"


def test_every_protocol_setting_is_a_valid_config_key():
    for families in PROTOCOLS.values():
        for per_algo in families.values():
            for overrides in per_algo.values():
                apply_overrides(TrainConfig(), overrides)  # raises on an unknown key or a bad value


def test_settings_are_per_family_not_per_task():
    assert protocol_overrides("papoudakis2021", "qmix", LBF) == protocol_overrides(
        "papoudakis2021", "qmix", "lbf/10x10-3p-3f-v3"
    )
    assert env_family("mpe?N=3") == env_family("mpe/simple-speaker-listener-v4") == "mpe"


def test_protocol_sits_between_env_defaults_and_user_overrides():
    plain = resolve_config("vdn", env=LBF)
    chosen = resolve_config("vdn", env=LBF, protocol="papoudakis2021")
    family = env_defaults(LBF)  # the lbf family's recommended settings, shared by every algorithm
    assert (plain.agent, plain.td_lambda) == (family["agent"], family["td_lambda"])
    assert plain.eval_episodes == TrainConfig().eval_episodes  # which the env defaults leave alone
    assert (chosen.total_env_steps, chosen.eval_interval, chosen.eval_episodes) == (2_000_000, 50_000, 100)
    assert (chosen.agent, chosen.td_lambda) == (family["agent"], family["td_lambda"])  # the protocol is silent there
    assert resolve_config("vdn", {"eval_episodes": 7}, env=LBF, protocol="papoudakis2021").eval_episodes == 7
    assert chosen.mixer.kind == "vdn"  # the preset survives


def test_a_protocol_value_beats_the_env_default_for_the_same_key(monkeypatch):
    # The shipped protocol and lbf/* defaults agree on every key they share (2M, 50k), so give the
    # protocol a value the family defaults also set, and a different one, to see which wins.
    family = env_defaults(LBF)
    assert "td_lambda" in family
    other = 0.25 if family["td_lambda"] != 0.25 else 0.5
    per_algo = {**PROTOCOLS["papoudakis2021"]["lbf"]["vdn"], "td_lambda": other}
    monkeypatch.setitem(PROTOCOLS["papoudakis2021"]["lbf"], "vdn", per_algo)
    assert resolve_config("vdn", env=LBF, protocol="papoudakis2021").td_lambda == other
    assert resolve_config("vdn", env=LBF).td_lambda == family["td_lambda"]  # without it, the family's
    assert resolve_config("vdn", {"td_lambda": 0.9}, env=LBF, protocol="papoudakis2021").td_lambda == 0.9


@pytest.mark.parametrize(
    ("name", "algo", "env", "message"),
    [
        ("nope", "qmix", LBF, "unknown protocol 'nope'; valid: papoudakis2021"),
        ("papoudakis2021", "qmix", "matrix/two-step-v0", "does not cover env .* covers the families: lbf, mpe"),
        ("papoudakis2021", "qmix", "mymod:make_env", "entry point"),
        ("papoudakis2021", "maddpg", LBF, "does not cover algorithm 'maddpg'"),
    ],
)
def test_bad_protocol_requests_say_what_is_valid(name, algo, env, message):
    with pytest.raises(ConfigError, match=message):
        protocol_overrides(name, algo, env)


def test_expand_records_the_protocol_in_each_spec_and_job_file(tmp_path):
    specs = sweep.expand([LBF], ["qmix"], [0], protocol="papoudakis2021")
    assert specs[0].protocol == "papoudakis2021" and specs[0].config.eval_episodes == 100
    assert sweep.expand([LBF], ["qmix"], [0])[0].protocol == ""
    with pytest.raises(sweep.SweepError):
        sweep.expand([LBF], ["qmix"], [0], resolve=lambda a, e, o: TrainConfig(), protocol="papoudakis2021")


def test_run_cli_takes_protocol_and_records_it(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["run", "--env", LBF, "--algos", "iql", "--seeds", "0", "--protocol", "papoudakis2021"]
    small = ["--steps", "200", "--set", "eval_interval=100", "--out", str(out), "--train-fn", "_fake_train:train"]
    assert main([*argv, *small]) == 0
    job = json.loads(next(out.rglob("job.json")).read_text())
    assert job["run"]["protocol"] == "papoudakis2021"
    assert job["config"]["eval_episodes"] == 100 and job["config"]["total_env_steps"] == 200  # --steps wins
    capsys.readouterr()
    assert main(["run", "--env", "matrix", "--protocol", "papoudakis2021", *small[4:]]) == 2
    assert "does not cover env" in capsys.readouterr().err


def test_suite_protocol_key(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'envs = ["{LBF}"]\nalgos = ["qmix"]\nprotocol = "papoudakis2021"\n')
    assert load_suite(path).protocol == "papoudakis2021"
    path.write_text(f'envs = ["{LBF}"]\nalgos = ["qmix"]\nprotocol = "papers"\n')
    with pytest.raises(SuiteError, match="unknown protocol 'papers'; valid: papoudakis2021"):
        load_suite(path)


def test_every_protocol_names_a_return_convention_for_each_family_it_covers():
    from qmixbench.protocols import PROTOCOLS, RETURN_CONVENTIONS
    from qmixbench.published import CONVENTIONS

    for name, families in PROTOCOLS.items():
        assert set(RETURN_CONVENTIONS[name]) == set(families), name
        assert set(RETURN_CONVENTIONS[name].values()) <= set(CONVENTIONS), name

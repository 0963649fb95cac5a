"""Every registered external env passes ``qmixbench check`` (skipped, naming the extra, when its package is missing)."""

from __future__ import annotations

import pytest

from qmixbench.check import FAIL, check_env, format_table
from qmixbench_envs import ENV_SPECS, FAMILY_DEFAULTS

SLOW_IDS = {i for i in ENV_SPECS if i.startswith("smax/") and i != FAMILY_DEFAULTS["smax"]}
"""SMAX maps compile their JAX step on first use (~5-15 s each); the family default stays in the fast run."""
EXTERNAL_IDS = [
    pytest.param(i, marks=pytest.mark.slow) if i in SLOW_IDS else i
    for i, spec in sorted(ENV_SPECS.items())
    if ".external." in spec.entry_point
]
PACKAGE = {
    "mpe": ("mpe2", "mpe"),
    "sisl": ("scipy", "sisl"),
    "lbf": ("lbforaging", "lbf"),
    "rware": ("rware", "rware"),
    "smax": ("jaxmarl", "smax"),
}


@pytest.mark.parametrize("env_id", EXTERNAL_IDS)
def test_registered_external_env_passes_check(env_id: str) -> None:
    module, extra = PACKAGE[env_id.split("/")[0]]
    pytest.importorskip(module, reason=f"{module} is not installed: pip install 'qmixbench[{extra}]'")
    results = check_env(env_id, num_cycles=30)
    assert not [r for r in results if r.status == FAIL], format_table(results)


def test_upstream_entry_point_passes_check() -> None:
    pytest.importorskip("mpe2", reason="mpe2 is not installed: pip install 'qmixbench[mpe]'")
    results = check_env("mpe2.simple_spread_v3:parallel_env?N=3&local_ratio=0&max_cycles=25", num_cycles=30)
    assert not [r for r in results if r.status == FAIL], format_table(results)
    episodes = next(r for r in results if r.name == "adapter episodes")
    assert "team reward sum" in episodes.detail  # mpe2 declares nothing: the sum rule applies

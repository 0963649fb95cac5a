"""The multigrid catalogue in envs/README.md lists every registered task with the budget the code uses.

Its "recommended budget" column is read by users choosing a budget, and it is written by hand: here it
is compared with ``qmixbench.algos.env_defaults`` (what ``qmixbench run`` trains for), so changing a
task's budget in the code without the catalogue, or registering a task without a row, fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import _markdown as markdown

from qmixbench.algos import env_defaults
from qmixbench.config import TrainConfig
from qmixbench_envs.registry import ENV_SPECS

CATALOGUE = Path(__file__).resolve().parents[1] / "envs" / "README.md"


def _catalogue_rows() -> dict[str, dict[str, str]]:
    header, rows = markdown.table(CATALOGUE.read_text(encoding="utf-8"), "| id | picture | agents |")
    by_id = {}
    for cells in rows:
        env_id = re.match(r"`([^`]+)`", cells[0])
        assert env_id, f"catalogue row without a `id`: {cells[0]!r}"
        by_id[env_id.group(1)] = dict(zip(header, cells))
    return by_id


def _steps(text: str) -> int:
    number = re.fullmatch(r"(\d+(?:\.\d+)?)([kM])", text)
    assert number, f"budget {text!r} is not like 100k or 1M"
    return int(float(number.group(1)) * {"k": 1_000, "M": 1_000_000}[number.group(2)])


def test_every_registered_multigrid_task_has_a_catalogue_row():
    registered = {env_id for env_id in ENV_SPECS if env_id.startswith("multigrid/")}
    assert registered == set(_catalogue_rows())


def test_recommended_budget_is_what_run_trains_for():
    default = TrainConfig().total_env_steps
    for env_id, row in _catalogue_rows().items():
        expected = env_defaults(env_id).get("total_env_steps", default)
        assert _steps(row["recommended budget"]) == expected, env_id

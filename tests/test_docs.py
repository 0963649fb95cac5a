"""User docs are timeless and self-contained; the package metadata builds without deprecated forms."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USER_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.mark.parametrize("path", USER_DOCS, ids=lambda p: p.name)
def test_user_docs_carry_no_commits_dates_or_outside_files(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"\bcommits? [0-9a-f]{7,40}\b", text), "commit hashes belong in benchmarks/ records"
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dated measurements belong in benchmarks/ records"
    assert "FIELD-NOTES" not in text


def test_license_is_an_spdx_string_and_the_version_has_one_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert isinstance(project["license"], str)  # the table form prints setuptools deprecation warnings
    assert "version" in project["dynamic"] and "version" not in project

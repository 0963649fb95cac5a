"""docs/own-env.md's example: the env passes `qmixbench check`, and the doc's training code runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qmixbench.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "own-env.md"


def test_example_env_passes_check(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for command in re.findall(r"^qmixbench check (.+)$", DOC.read_text(), flags=re.M):
        env = command.split("--env ", 1)[1].strip().strip("'")
        assert main(["check", "--env", env, "--cycles", "20"]) == 0, capsys.readouterr().out
        assert "all checks passed" in capsys.readouterr().out


def test_doc_training_code_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    monkeypatch.chdir(ROOT)
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), flags=re.S).group(1)
    assert "STEPS = 20_000" in code
    code = code.replace("STEPS = 20_000", "STEPS = 400").replace('"results/meet"', repr(str(tmp_path)))
    exec(compile(code, str(DOC), "exec"), {})
    printed = capsys.readouterr().out.split("\n")
    assert printed[0].startswith("qmix ") and printed[1].startswith("vdn ")
    assert len(list(tmp_path.glob("*/*/seed_0/config.json"))) == 2

"""Shared pytest hooks: skip what needs torch where torch is not installed.

The torch-free tox envs (py310, py312, py313, deps-*) install qmixbench without the ``train`` extra
and run the same ``tests/`` tree. Tests that need torch are found and skipped here, so authors need
nothing beyond one of these (any is enough):

* a module that imports torch or a torch-only part of qmixbench at module level
  (``import torch``, ``from qmixbench.train import ...``, ``from qmixbench import algos``,
  ``qmixbench.algos``/``buffer``/``rollout``/``train``/``evaluate``, see ``TORCH_MODULES``) is
  skipped whole, found by reading its source (``ast``), before pytest imports it;
* a test function (or test method) whose body imports one of those modules is skipped alone;
* ``@pytest.mark.torch`` (or ``pytestmark = pytest.mark.torch``) for anything else that needs torch
  at run time, e.g. a CLI test whose ``qmixbench run`` imports the learner inside ``main``;
* ``pytest.importorskip("torch")`` works as usual.

Why a source scan and not "skip on ImportError": the torch-free envs exist to prove that the env
package, config, results, statistics and report code never import torch. A report test that
fails because ``qmixbench.report`` pulled in torch by accident must fail there, not be skipped;
only a test that *says* it needs torch is skipped.

``QMIXBENCH_REQUIRE_TORCH=1`` (set by the full-suite tox env and ``.ci/run``) turns a missing torch
into an error, so a broken install can never pass as "all torch tests skipped".
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
from pathlib import Path

import pytest

TORCH_MODULES = (
    "torch",
    "qmixbench.algos",
    "qmixbench.buffer",
    "qmixbench.rollout",
    "qmixbench.train",
    "qmixbench.evaluate",
)
"""Modules that import torch when imported; a test importing one of them needs torch."""

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _needs_torch(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in TORCH_MODULES)


def _imports_torch(node: ast.AST) -> bool:
    """Whether ``node`` (one statement) is an import of a torch-needing module."""
    if isinstance(node, ast.Import):
        return any(_needs_torch(alias.name) for alias in node.names)
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if _needs_torch(node.module):
            return True
        # ``from qmixbench import algos, train``
        return any(_needs_torch(f"{node.module}.{alias.name}") for alias in node.names)
    return False


def _module_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run at import, descending into top-level ``if``/``try``/``with`` blocks."""
    out: list[ast.stmt] = []
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            out.extend(_module_level_statements(getattr(stmt, field, []) or []))
        for handler in getattr(stmt, "handlers", []) or []:
            out.extend(_module_level_statements(handler.body))
    return out


@functools.cache
def _scan(path: Path) -> tuple[bool, frozenset[str]]:
    """Return (module imports torch at import time, names of test functions that import it)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return False, frozenset()  # let pytest report the real error
    at_import = any(_imports_torch(s) for s in _module_level_statements(tree.body))
    functions: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(_imports_torch(n) for n in ast.walk(node)):
                functions.add(node.name)
    return at_import, frozenset(functions)


def pytest_configure(config: pytest.Config) -> None:
    if not HAS_TORCH and os.environ.get("QMIXBENCH_REQUIRE_TORCH") == "1":
        raise pytest.UsageError(
            "QMIXBENCH_REQUIRE_TORCH=1 but torch is not importable: install with "
            "`pip install -c constraints.txt -e '.[dev]'` (torch==2.13.0)"
        )


class _TorchSkippedModule(pytest.Module):
    """Stands in for a test module that imports torch: collecting it reports one skip."""

    def collect(self):  # type: ignore[override]
        pytest.skip(f"torch is not installed; {self.path.name} imports a torch-only module")


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if HAS_TORCH or module_path.suffix != ".py" or module_path.name == "conftest.py":
        return None
    if _scan(module_path)[0]:
        return _TorchSkippedModule.from_parent(parent, path=module_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAS_TORCH:
        return
    skip = pytest.mark.skip(reason="torch is not installed (torch-free env)")
    for item in items:
        if item.get_closest_marker("torch") is not None:
            item.add_marker(skip)
            continue
        name = getattr(item, "originalname", None) or item.name
        path = getattr(item, "path", None)
        if path is not None and path.suffix == ".py" and name in _scan(Path(path))[1]:
            item.add_marker(skip)

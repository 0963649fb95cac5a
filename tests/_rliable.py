"""rliable's ``library`` module for the tests that compare against it, or a skip that says exactly why not.

``rliable.metrics`` (point estimates) needs only numpy and scipy; ``rliable.library`` (bootstrap
intervals, performance profiles) imports ``arch.bootstrap`` when it is imported. Under pandas 3 no
arch release works with it: arch 7.2.0 fails on import (it decorates a method with pandas'
``deprecate_kwarg``, whose signature pandas 3 changed), and arch 8.0, which imports, no longer accepts
the ``random_state`` keyword rliable 1.2.0's ``StratifiedBootstrap`` passes it (so rliable 1.2.0
requires arch < 8). The comparisons that need only ``rliable.metrics`` run regardless.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType

import pytest


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def rliable_library() -> ModuleType:
    """Return ``rliable.library``; skip the test when rliable is missing or its arch does not import."""
    pytest.importorskip("rliable", reason="rliable is not installed")
    try:
        import arch.bootstrap  # noqa: F401  (what rliable.library imports first)
    except Exception as exc:
        pytest.skip(
            f"rliable.library imports arch.bootstrap, which fails here with arch {_version('arch')} and pandas "
            f"{_version('pandas')} ({type(exc).__name__}: {exc}); rliable {_version('rliable')} requires arch < 8"
        )
    from rliable import library  # any other failure here is a real one: let it fail the test

    return library

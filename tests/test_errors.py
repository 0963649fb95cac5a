"""Every error qmixbench defines derives from ``qmixbench.QmixbenchError`` and keeps its built-in base."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import qmixbench
from qmixbench.errors import QmixbenchError


def _project_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a qmixbench module that imports here (torch ones need torch)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(qmixbench.__path__, "qmixbench."):
        if info.name.endswith("__main__"):  # importing it runs the CLI
            continue
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # torch (or ray) absent in a torch-free env: nothing to check there
            if exc.name not in ("torch", "ray"):
                raise
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{value.__name__}"] = value
    return found


def test_every_project_error_is_a_qmixbench_error():
    found = _project_exceptions()
    assert "qmixbench.config.ConfigError" in found and "qmixbench.cli.UsageError" in found
    outside = [name for name, cls in found.items() if not issubclass(cls, QmixbenchError)]
    assert outside == [], f"not derived from QmixbenchError: {outside}"


def test_the_base_is_public_and_catches_a_bad_config_without_losing_valueerror():
    from qmixbench.config import ConfigError, TrainConfig, from_dict

    assert qmixbench.QmixbenchError is QmixbenchError
    with pytest.raises(QmixbenchError) as info:
        from_dict(TrainConfig, {"lr_typo": 1.0})
    assert isinstance(info.value, ValueError) and isinstance(info.value, ConfigError)

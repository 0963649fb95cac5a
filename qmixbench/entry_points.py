"""Naming an env: registered ids and ``module:factory`` entry points, each with keyword arguments.

An env is named by a registered id (``mpe/simple-spread-v3``), a family name (``multigrid``), or an
entry point ``module:factory`` / ``path/to/file.py:factory``, where ``factory`` is any callable (a
function or a ``ParallelEnv`` class) returning a ``pettingzoo.ParallelEnv``. Either form takes keyword
arguments after ``?``, joined by ``&``::

    mpe2.simple_spread_v3:parallel_env?N=3&local_ratio=0
    mpe/simple-spread-v3?N=4
    examples/my_env.py:MyEnv?size=5&name=big

Values are read as JSON (``3``, ``0.5``, ``true``, ``null``, ``[1, 2]``, ``"text"``); ``True``,
``False`` and ``None`` are accepted too; anything else is a plain string (no ``&`` inside a value).
Arguments given separately (``env_kwargs``) override those in the string, which override a registered
id's own. A ``.py`` file is loaded as a module of its own (its folder is not added to ``sys.path``).

Every failure is an :class:`EnvSpecError` that names the part that is wrong and what would fix it.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from pettingzoo import AECEnv, ParallelEnv

from qmixbench.errors import QmixbenchError


class EnvSpecError(QmixbenchError, ValueError):
    """An env string (entry point or keyword arguments) names nothing that can be built; says why."""


EXTRA_FOR_PACKAGE: dict[str, str] = {"mpe2": "mpe", "pymunk": "sisl", "lbforaging": "lbf", "rware": "rware"}
"""Top-level packages installed by a qmixbench extra, for ``pip install 'qmixbench[extra]'`` hints."""


def parse_env_string(text: str) -> tuple[str, dict[str, Any]]:
    """Split ``name?key=value&key=value`` into the name and keyword arguments (see the module docstring).

    >>> parse_env_string("mpe2.simple_spread_v3:parallel_env?N=3&local_ratio=0")
    ('mpe2.simple_spread_v3:parallel_env', {'N': 3, 'local_ratio': 0})
    """
    name, sep, query = text.partition("?")
    name = name.strip()
    if not name:
        raise EnvSpecError(f"env {text!r}: no id or module:factory before '?'")
    kwargs: dict[str, Any] = {}
    if sep:
        if not query.strip():
            raise EnvSpecError(f"env {text!r}: nothing after '?'; expected key=value&key=value")
        for item in query.split("&"):
            key, eq, raw = item.partition("=")
            key = key.strip()
            if not eq or not key.isidentifier():
                raise EnvSpecError(f"env {text!r}: argument {item!r} is not key=value (a Python identifier = a value)")
            if key in kwargs:
                raise EnvSpecError(f"env {text!r}: argument {key!r} is given twice")
            kwargs[key] = _parse_value(text, key, raw)
    return name, kwargs


_PY_LITERALS: dict[str, Any] = {"True": True, "False": False, "None": None}


def _parse_value(text: str, key: str, raw: str) -> Any:
    value = raw.strip()
    if value in _PY_LITERALS:
        return _PY_LITERALS[value]
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        if value[:1] in ("[", "{", '"'):
            raise EnvSpecError(f"env {text!r}: value of {key!r} is not valid JSON ({exc.msg}): {value!r}") from None
        return value


def _missing_module_hint(missing: str | None) -> str:
    top = (missing or "").split(".")[0]
    if missing == top and top in EXTRA_FOR_PACKAGE:
        return f"install it with: pip install 'qmixbench[{EXTRA_FOR_PACKAGE[top]}]'"
    return "is it installed in this environment and importable (on PYTHONPATH)?"


def _import_file(path_text: str, entry_point: str) -> Any:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise EnvSpecError(f"entry point {entry_point!r}: no such file {path_text!r}")
    module_name = f"_qmixbench_file_{path.stem}_{abs(hash(str(path))) % 10**8}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise EnvSpecError(f"entry point {entry_point!r}: cannot load {path_text!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before exec: dataclasses and pickle look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def load_factory(entry_point: str) -> Any:
    """Resolve ``module:factory`` or ``path/to/file.py:factory`` to the callable it names."""
    module_part, sep, attr = entry_point.rpartition(":")
    if not sep or not module_part or not attr:
        raise EnvSpecError(
            f"entry point {entry_point!r}: expected module:factory, e.g. mpe2.simple_spread_v3:parallel_env"
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module = _import_file(module_part, entry_point)
    else:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            where = "" if exc.name == module_part else f" (needed while importing {module_part!r})"
            raise EnvSpecError(
                f"entry point {entry_point!r}: no module named {exc.name!r}{where}; {_missing_module_hint(exc.name)}"
            ) from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_") and callable(getattr(target, n, None))]
            close = difflib.get_close_matches(part, names, n=3)
            hint = (
                f"did you mean {', '.join(close)}?" if close else f"callables there: {', '.join(names[:15]) or 'none'}"
            )
            raise EnvSpecError(f"entry point {entry_point!r}: {module_part!r} has no attribute {part!r}; {hint}")
        target = getattr(target, part)
    if not callable(target):
        raise EnvSpecError(f"entry point {entry_point!r}: {attr!r} is a {type(target).__name__}, not a callable")
    return target


def _looks_parallel(env: Any) -> bool:
    return all(hasattr(env, a) for a in ("possible_agents", "reset", "step", "observation_space", "action_space"))


def call_factory(factory: Any, kwargs: dict[str, Any], name: str) -> ParallelEnv:
    """Call an env factory with ``kwargs`` after checking they fit its signature; check what it returns."""
    try:
        signature: inspect.Signature | None = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins and C callables have none
        signature = None
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            raise EnvSpecError(f"env {name!r}: {exc}; the factory's parameters are {signature}") from None
    try:
        env = factory(**kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        raise EnvSpecError(f"env {name!r}: {exc}") from exc
    if isinstance(env, AECEnv):
        raise EnvSpecError(
            f"env {name!r} returned an AEC env ({type(env).__name__}); qmixbench needs a ParallelEnv: use the "
            "package's parallel_env, or wrap it with pettingzoo.utils.aec_to_parallel if all agents act every cycle"
        )
    if not isinstance(env, ParallelEnv) and not _looks_parallel(env):
        import gymnasium

        what = f"{type(env).__module__}.{type(env).__name__}"
        hint = ""
        if isinstance(env, gymnasium.Env):
            hint = (
                " (a gymnasium.Env; wrap a multi-agent gymnasium env with Tuple spaces in "
                "qmixbench_envs.external.gym_tuple.TupleGymParallelEnv)"
            )
        raise EnvSpecError(f"env {name!r} returned a {what}, not a pettingzoo.ParallelEnv{hint}")
    return env


# -- trust ---------------------------------------------------------------------------------------

TRUST_FLAG = "--trust-entry-points"


class UntrustedEntryPointError(EnvSpecError):
    """An entry point named by a file (a run directory, a suite) that the user has not allowed."""


def entry_point_name(env: str) -> str | None:
    """The ``module:factory`` part of an env string, or None for a registered id or family name."""
    name = env.partition("?")[0].strip()
    return name if ":" in name else None


def check_trusted(env: object, source: str, *, trusted: bool, given: str | None = None, env_flag: bool = False) -> None:
    """Refuse to import an entry point that a file names unless the user asked for it.

    Building an env from an entry point imports its module and calls its factory with the file's
    keyword arguments: code chosen by whoever wrote the file (``subprocess:getoutput`` with
    ``{"cmd": ...}`` runs a shell command). A registered id only picks one of qmixbench's own
    factories, so it needs no permission.

    Args:
        env: the env string found in the file.
        source: the file, for the message.
        trusted: the user passed ``--trust-entry-points``.
        given: the env the user named on the command line (``--env``), if any: it allows the same
            entry point, and must name the same env as the file.
        env_flag: the command takes ``--env``, so the message suggests it too.

    Raises:
        UntrustedEntryPointError: an entry point neither trusted nor named by ``given``.
        EnvSpecError: ``env`` is not a string, or ``given`` names another env than the file.
    """
    if not isinstance(env, str) or not env.strip():
        raise EnvSpecError(f"{source}: the env must be a non-empty string, got {env!r}")
    name = entry_point_name(env)
    if given is not None:
        wanted = given.partition("?")[0].strip()
        if wanted != env.partition("?")[0].strip():
            raise EnvSpecError(f"--env {given!r} is not this run's env: {source} names {env!r}")
        return
    if name is None or trusted:
        return
    hint = f" or name it yourself with --env {name}" if env_flag else ""
    raise UntrustedEntryPointError(
        f"refusing to import entry point {name!r} named in {source}: it would run code chosen by whoever "
        f"wrote that file; if you trust it, pass {TRUST_FLAG}{hint}"
    )

"""``qmixbench check``: can this env be benchmarked? PettingZoo's conformance tests and qmixbench's needs.

:func:`check_env` builds the env (registered id or ``module:factory?key=value`` entry point) afresh for
each check and returns one :class:`CheckResult` a check:

* qmixbench's requirements: the env builds; every action space is ``Discrete`` (starting at 0);
  heterogeneous observation spaces are Boxes that SuperSuit can pad; a ``state()`` with a
  ``state_space`` (else the concatenated observations stand in: a warning, not a failure); and two
  episodes through :class:`qmixbench.adapter.ParallelEnvAdapter` with random available actions:
  finite arrays, an available action for every live agent, and an end flagged terminated or truncated.
* PettingZoo's tests: ``parallel_api_test``; ``api_test`` and ``seed_test`` on ``parallel_to_aec``
  (they check observations against their spaces and seeding past the first step, which the parallel
  tests do not); ``state_test`` where ``state()`` exists.

A check whose PettingZoo test only warned is ``warn``; a failed check says what would fix it. A check
that does not finish within ``timeout_s`` (a ``reset()`` or ``step()`` that never returns) fails with
the line it was stuck on, and the checks after it are skipped; see :mod:`qmixbench.watchdog` for
what can be interrupted.
"""

from __future__ import annotations

import contextlib
import io
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qmixbench.adapter import (
    EnvCompatibilityError,
    EnvSpecError,
    ParallelEnvAdapter,
    build_env,
    check_paddable,
    has_state,
    needs_padding,
)
from qmixbench.watchdog import DEFAULT_CHECK_TIMEOUT_S, HangError, interrupt_on_overrun
from qmixbench_envs import UnknownEnvError
from qmixbench_envs.external import MissingExtraError

PASS, WARN, FAIL, SKIP = "pass", "warn", "FAIL", "skip"

FIX_HINTS: tuple[tuple[str, str], ...] = (
    (
        "did not finish within",
        "make reset() and step() return (the line it was stuck on is above); if the env is just slow, raise --timeout",
    ),
    ("exact same space object", "build each agent's spaces once (in __init__) and return the same object every call"),
    ("revived", "once an agent is terminated or truncated, drop it from env.agents for good"),
    ("metadata", "define a class attribute metadata = {'name': ..., 'render_modes': [...]}"),
    ("render_mode", "set self.render_mode in __init__ (None is fine)"),
    ("not within the observation space", "return observations inside observation_space(agent) (dtype and bounds)"),
    ("observation_space(agent).contains", "return observations inside observation_space(agent) (dtype and bounds)"),
    (
        "Incorrect",
        "draw all randomness from a generator seeded by reset(seed=...) (gymnasium.utils.seeding), "
        "never from np.random, random or the clock",
    ),
    ("state_space", "declare state_space (a Box) and return state() inside it, as a numpy array"),
    ("terminated", "terminations/truncations must be dicts of Python bools for the agents in env.agents"),
    ("possible_agents", "env.agents must always be a subset of env.possible_agents"),
)
"""(substring of a failure, how to fix it): the first match is shown."""


SELF_EXPLAINING: tuple[type[Exception], ...] = (EnvCompatibilityError, EnvSpecError, UnknownEnvError, MissingExtraError)
"""qmixbench's own errors, whose messages already name the fix."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: str
    """``pass``, ``warn``, ``FAIL`` or ``skip``."""
    detail: str = ""
    """What was found: a measurement, the failure, or the warnings raised."""
    fix: str = ""
    """How to fix a failure (empty when nothing needs fixing)."""


def _describe_failure(exc: BaseException) -> tuple[str, str]:
    """A one-line description of an exception (with the failing line of a bare assert) and a fix."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    frames = list(traceback.extract_tb(exc.__traceback__))
    if isinstance(exc, HangError):  # raised by the watchdog's handler: the line below it is where it hung
        frames = [f for f in frames if not f.filename.endswith("watchdog.py")]
    where = ""
    if frames:
        last = frames[-1]
        where = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}: {last.line}"
    detail = f"{type(exc).__name__}: {message}" if message else f"{type(exc).__name__} at {where}"
    if isinstance(exc, HangError) and where:
        detail += f"; stuck at {where}"
    haystack = f"{message} {where}"
    fix = next((hint for key, hint in FIX_HINTS if key in haystack), "")
    if not fix:
        fix = f"see the failing check at {where}" if where else "see the error above"
    return detail[:300], fix


def _deadline(name: str, timeout_s: float | None) -> contextlib.AbstractContextManager[None]:
    """Raise HangError in ``fn`` once the check ``name`` has run ``timeout_s`` seconds (None: never)."""
    if timeout_s is None:
        return contextlib.nullcontext()
    end = time.monotonic() + timeout_s
    reason = f"check {name!r} did not finish within {timeout_s:g} s (the --timeout limit)"
    return interrupt_on_overrun(lambda: reason if time.monotonic() > end else None, min(1.0, timeout_s / 10))


def _run_checked(name: str, fn: Callable[[], str | None], timeout_s: float | None = None) -> CheckResult:
    """Run ``fn`` with PettingZoo's prints silenced, its warnings recorded and ``timeout_s`` enforced."""
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            with _deadline(name, timeout_s):
                detail = fn() or ""
        except SELF_EXPLAINING as exc:  # their messages say what is wrong and how to fix it
            return CheckResult(name, FAIL, str(exc))
        except Exception as exc:  # any other failure is a result too, with the failing line
            return CheckResult(name, FAIL, *_describe_failure(exc))
    notes = sorted(
        {str(w.message).splitlines()[0][:120] for w in caught if not issubclass(w.category, DeprecationWarning)}
    )
    if notes:
        return CheckResult(name, WARN, "; ".join(filter(None, [detail, "warnings: " + " | ".join(notes)])))
    return CheckResult(name, PASS, detail)


def _random_episodes(make: Callable[[], Any], team_reward: str, episodes: int, seed: int, max_steps: int) -> str:
    adapter = ParallelEnvAdapter(make(), team_reward=team_reward)  # a missing state() is reported above
    info = adapter.info
    rng = np.random.default_rng(seed)
    lengths, ends, returns = [], [], []
    for episode in range(episodes):
        obs, state, avail = adapter.reset(seed=seed + episode)
        alive = np.ones(info.n_agents, bool)
        total = 0.0
        for t in range(1, max_steps + 1):
            for name, arr in (("observation", obs), ("state", state)):
                if not np.all(np.isfinite(arr)):
                    raise AssertionError(f"{name} has NaN or inf at step {t - 1}")
            if not avail[alive].any(axis=1).all():
                raise AssertionError(f"a live agent has no available action at step {t - 1}")
            actions = np.array([rng.choice(np.flatnonzero(row)) for row in avail])
            obs, state, avail, reward, terminated, truncated, step_info = adapter.step(actions)
            if not np.isfinite(reward):
                raise AssertionError(f"team reward {reward} at step {t}")
            total += reward
            alive = step_info["alive"]
            if terminated and truncated:
                raise AssertionError("an episode end flagged both terminated and truncated")
            if terminated or truncated:
                lengths.append(t)
                ends.append("terminated" if terminated else "truncated")
                returns.append(total)
                break
        else:
            raise AssertionError(
                f"no episode end within {max_steps} steps: give the env a time limit (report it as a truncation)"
            )
    adapter.close()
    shape = "x".join(map(str, info.obs_shape))
    return (
        f"N={info.n_agents} O={info.obs_dim} ({shape}) S={info.state_dim} ({info.state_source}) A={info.n_actions}; "
        f"team reward {info.team_reward}; random episodes: {', '.join(f'{n} steps {e}' for n, e in zip(lengths, ends))}, "
        f"return {np.mean(returns):.3g}"
    )


def check_env(
    env: str,
    env_kwargs: dict[str, Any] | None = None,
    team_reward: str = "auto",
    num_cycles: int = 100,
    seed: int = 0,
    timeout_s: float | None = DEFAULT_CHECK_TIMEOUT_S,
) -> list[CheckResult]:
    """Run every check on ``env``; see the module docstring.

    Args:
        env: registered id, family name or entry point (with ``?key=value`` arguments).
        env_kwargs: keyword arguments for the env factory (override those in ``env``).
        team_reward: ``auto``, ``shared`` or ``sum`` (see ``qmixbench.adapter``).
        num_cycles: steps per episode for PettingZoo's tests (``parallel_api_test`` sets ``max_cycles``).
        seed: seed for the random episodes.
        timeout_s: seconds each check may take (None: no limit); after one overruns, the rest are skipped.
    """
    from pettingzoo.test import api_test, parallel_api_test, seed_test, state_test
    from pettingzoo.utils.conversions import parallel_to_aec

    def make() -> Any:
        return build_env(env, env_kwargs)

    hung: list[str] = []

    def _run(name: str, fn: Callable[[], str | None]) -> CheckResult:
        """Every check goes through here: the timeout, and nothing more to run once one has hung."""
        if hung:
            return CheckResult(name, SKIP, f"not run: check {hung[0]!r} did not finish in time")
        result = _run_checked(name, fn, timeout_s)
        if result.detail.startswith(HangError.__name__):
            hung.append(name)
        return result

    results: list[CheckResult] = []
    built = _run("env builds", lambda: type(make()).__name__)
    results.append(built)
    if built.status == FAIL:
        names = (
            "discrete actions",
            "paddable spaces",
            "global state",
            "adapter episodes",
            "parallel_api_test",
            "api_test (parallel_to_aec)",
            "seed_test (parallel_to_aec)",
            "state_test",
        )
        return results + [CheckResult(n, SKIP, "the env could not be built") for n in names]

    def discrete() -> str:
        e = make()
        ParallelEnvAdapter._check_action_spaces(e, env)
        return ", ".join(sorted({f"Discrete({e.action_space(a).n})" for a in e.possible_agents}))

    def paddable() -> str:
        e = make()
        check_paddable(e, env)
        pad_obs, pad_act = needs_padding(e)
        if not (pad_obs or pad_act):
            return "all agents share one observation and one action space"
        padded = [w for w, flag in (("observations", pad_obs), ("actions", pad_act)) if flag]
        return f"heterogeneous: SuperSuit pads {' and '.join(padded)}; padded actions are masked"

    results.append(_run("discrete actions", discrete))
    results.append(_run("paddable spaces", paddable))
    env_has_state = not hung and has_state(make())
    if env_has_state:
        results.append(_run("global state", lambda: f"state() with state_space {make().state_space.shape}"))
    else:
        results.append(
            CheckResult(
                "global state",
                WARN,
                "no state() with a state_space: the mixer gets the concatenated observations",
                "implement state() and a state_space Box for a true global state",
            )
        )
    requirements_ok = all(r.status != FAIL for r in results)
    if requirements_ok:
        results.append(_run("adapter episodes", lambda: _random_episodes(make, team_reward, 2, seed, 100_000)))
    else:
        results.append(CheckResult("adapter episodes", SKIP, "qmixbench's requirements above are not met"))

    results.append(_run("parallel_api_test", lambda: parallel_api_test(make(), num_cycles=num_cycles)))
    results.append(_run("api_test (parallel_to_aec)", lambda: api_test(parallel_to_aec(make()), num_cycles=num_cycles)))
    results.append(
        _run("seed_test (parallel_to_aec)", lambda: seed_test(lambda: parallel_to_aec(make()), num_cycles=num_cycles))
    )
    if env_has_state:
        results.append(_run("state_test", lambda: state_test(parallel_to_aec(make()), make(), num_cycles=10)))
    else:
        results.append(CheckResult("state_test", SKIP, "the env has no state()"))
    return results


def failed(results: list[CheckResult]) -> bool:
    """Whether any check failed."""
    return any(r.status == FAIL for r in results)


def format_table(results: list[CheckResult], width: int = 100) -> str:
    """A plain-text table: check, result, details, and a 'fix:' line under each failure."""
    name_w = max(len(r.name) for r in results)
    lines = [f"{'check':<{name_w}}  result  details", f"{'-' * name_w}  ------  {'-' * 7}"]
    for r in results:
        lines.append(f"{r.name:<{name_w}}  {r.status:<6}  {r.detail}")
        if r.fix and r.status in (FAIL, WARN):
            lines.append(f"{'':<{name_w}}  {'':<6}  fix: {r.fix}")
    return "\n".join(lines)

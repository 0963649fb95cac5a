"""``qmixbench list envs|algos|runs [PATH]``: what is registered, and what is in a results directory.

Examples::

    qmixbench list envs
    qmixbench list algos
    qmixbench list runs results/smoke

Never imports torch (nor JAX): envs are built through the adapter (numpy/PettingZoo only) to read their
shapes, except ids whose registry entry names a ``describe`` function (SMAX: building one compiles JAX code),
whose facts come from it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

from qmixbench.cli import UsageError

WHATS = ("envs", "algos", "runs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=WHATS, help="envs: registered env ids; algos: presets; runs: runs under PATH")
    parser.add_argument(
        "path", nargs="?", type=Path, default=Path("results"), help="results directory for `runs` (default results)"
    )


def _envs() -> str:
    import pandas as pd

    from qmixbench.adapter import make_adapter
    from qmixbench.report import format_table
    from qmixbench_envs import ENV_SPECS

    rows = []
    adapter_log = logging.getLogger("qmixbench.adapter")
    level = adapter_log.level
    adapter_log.setLevel(logging.ERROR)  # "no state(): concatenated observations" is shown in the table instead
    try:
        for env_id, spec in ENV_SPECS.items():
            row: dict[str, object] = {"id": env_id}
            try:
                if spec.describe:  # costly to build (SMAX compiles JAX code): its facts without building it
                    module_name, _, attr = spec.describe.partition(":")
                    facts = getattr(importlib.import_module(module_name), attr)(**spec.kwargs)
                    row.update(
                        agents=len(facts["agents"]),
                        obs=str(tuple(facts["obs_shape"])),
                        state=str(tuple(facts["state_shape"])),
                        actions=facts["n_actions"],
                        limit=facts["episode_limit"],
                        reward=facts["team_reward"],
                    )
                else:
                    adapter = make_adapter(env_id)
                    info = adapter.info
                    adapter.close()
                    row.update(
                        agents=info.n_agents,
                        obs=str(info.obs_shape),
                        state=f"({info.state_dim},)" + ("*" if info.state_source != "env" else ""),
                        actions=info.n_actions,
                        limit=info.episode_limit,
                        reward=info.team_reward,
                    )
            except Exception as exc:  # one broken env must not hide the others
                row["summary"] = f"cannot build: {type(exc).__name__}: {exc}"
                rows.append(row)
                continue
            row["summary"] = spec.summary
            rows.append(row)
    finally:
        adapter_log.setLevel(level)
    columns = ["id", "agents", "obs", "state", "actions", "limit", "reward", "summary"]
    table = format_table(pd.DataFrame(rows, columns=columns))
    return (
        table
        + "\n\nobs: one agent's observation shape; state: the mixer's global state (* = concatenated observations, the env has no state()); limit: episode step limit"
    )


def _algos() -> str:
    import pandas as pd

    from qmixbench.algos import ALGORITHMS
    from qmixbench.report import format_table

    rows = [{"algo": name, "mixer": ref.target, "summary": ref.summary} for name, ref in ALGORITHMS.items()]
    return (
        format_table(pd.DataFrame(rows))
        + "\n\nPresets differ only in the mixer (mixer.kind = the algo's name, and that mixer's own"
        " mixer.* settings); every other TrainConfig default is shared. Mixer settings: docs/algorithms.md."
    )


def _runs(path: Path) -> str:
    import pandas as pd

    from qmixbench import results
    from qmixbench.commands.report import print_damaged
    from qmixbench.report import drop_empty_variants, format_table

    damaged: dict[str, str] = {}
    try:
        table = results.runs([path], damaged)
    except (FileNotFoundError, results.SchemaError) as exc:
        raise UsageError(str(exc)) from exc
    print_damaged(damaged)
    if table.empty:
        return f"no runs under {path}"
    shown = table.copy()
    shown["steps"] = [
        f"{s}/{t}" if pd.notna(t) else str(s) for s, t in zip(shown["env_steps"], shown["total_env_steps"])
    ]
    shown["error"] = shown["error"].fillna("")
    counts = ", ".join(f"{n} {s}" for s, n in table["status"].value_counts().items())
    return (
        format_table(
            drop_empty_variants(
                shown[["env", "algo", "variant", "seed", "status", "steps", "evaluations", "final_return", "error"]]
            )
        )
        + f"\n\n{len(table)} runs: {counts}"
    )


def main(args: argparse.Namespace) -> int:
    if args.what == "envs":
        print(_envs())
    elif args.what == "algos":
        print(_algos())
    else:
        print(_runs(args.path))
    return 0

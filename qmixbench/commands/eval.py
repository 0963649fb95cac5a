"""``qmixbench eval RUN_DIR [--episodes N] [--gif out.gif]``: replay a trained run's agents, decentralised.

Examples::

    qmixbench eval results/smoke/matrix__two-step-v0/qmix/seed_0
    qmixbench eval results/multigrid/multigrid__empty-5x5-v0/qmix/seed_0 --episodes 10 --gif qmix.gif

Loads ``agent.pt`` (the shared agent network) and the run's env from ``config.json``, plays greedy
episodes with each agent acting on its own observation and id (no mixer, no state), and prints the
return and success rate. ``--gif`` also renders the first episode from the env's ``rgb_array`` frames
(needs imageio: ``pip install qmixbench[gif]``).

A run whose env is an entry point (``module:factory``) is only built with ``--trust-entry-points``
or when ``--env`` names the same entry point: importing it runs code chosen by whoever wrote the
run directory (see README, Reliability).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from qmixbench.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory (holds config.json and agent.pt)")
    parser.add_argument(
        "--episodes", type=int, default=None, help="episodes to play (default: the run's eval_episodes)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="derive episode seeds from this seed (default: the run's seed, i.e. its eval episodes)",
    )
    parser.add_argument("--gif", type=Path, default=None, help="write the first episode as an animated GIF here")
    parser.add_argument("--fps", type=float, default=4.0, help="GIF frames per second (default 4)")
    add_trust_arguments(parser)


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """``--env`` and ``--trust-entry-points``: what allows an entry point named in a run directory."""
    parser.add_argument(
        "--env",
        metavar="ENV",
        help="the run's env, named by you: allows its entry point (module:factory) to be imported",
    )
    parser.add_argument(
        "--trust-entry-points",
        action="store_true",
        help="import and call the entry point (module:factory) the run directory names: runs its code",
    )


def read_run_record(run_dir: Path, trusted: bool, given: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run, config) from ``run_dir/config.json``, after checking its env may be built: a registered id,
    or an entry point that is ``trusted`` (``--trust-entry-points``) or ``given`` (``--env``)."""
    from qmixbench.entry_points import EnvSpecError, check_trusted
    from qmixbench.run_files import DamagedRunError, check_run_record, read_record

    path = run_dir / "config.json"
    try:
        record = read_record(path)
        if record is None:
            raise UsageError(f"{run_dir} is not a run directory (no config.json)")
        check_run_record(path, record)
        check_trusted(record["run"]["env"], str(path), trusted=trusted, given=given, env_flag=True)
    except (DamagedRunError, EnvSpecError) as exc:
        raise UsageError(str(exc)) from None
    return record["run"], record.get("config") or {}


def make_run_adapter(run: dict[str, Any], **extra_kwargs: Any) -> Any:
    """The run's env in an adapter (``run`` from :func:`read_run_record`); one line if it cannot be built."""
    from qmixbench.adapter import make_adapter
    from qmixbench.entry_points import EnvSpecError
    from qmixbench_envs import UnknownEnvError
    from qmixbench_envs.external import MissingExtraError

    kwargs = {**dict(run.get("env_kwargs") or {}), **extra_kwargs}
    try:
        return make_adapter(run["env"], kwargs, run.get("team_reward", "auto"))
    except (EnvSpecError, UnknownEnvError, MissingExtraError) as exc:
        raise UsageError(str(exc)) from None


def read_agent(path: Path) -> tuple[Any, dict[str, Any]]:
    """``load_agent(path)``, with one line instead of a traceback when the file is not an agent."""
    from qmixbench.evaluate import load_agent

    try:
        return load_agent(path)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        # Only the type: torch's messages run to paragraphs (and suggest weights_only=False, which is unsafe).
        raise UsageError(f"{path}: not a readable qmixbench agent file ({type(exc).__name__})") from None


def main(args: argparse.Namespace) -> int:
    config_path, agent_path = args.run_dir / "config.json", args.run_dir / "agent.pt"
    if not config_path.exists() or not agent_path.exists():
        raise UsageError(f"{args.run_dir} is not a trained run directory (needs config.json and agent.pt)")
    imageio = None
    if args.gif is not None:
        try:
            import imageio.v2 as imageio  # type: ignore[no-redef,assignment]
        except ImportError:
            raise UsageError("writing GIFs needs imageio: pip install qmixbench[gif]") from None
    run, cfg = read_run_record(args.run_dir, args.trust_entry_points, args.env)
    if args.episodes is None and not isinstance(cfg.get("eval_episodes"), int):
        raise UsageError(f"{config_path}: its config has no eval_episodes; pass --episodes N")
    episodes = args.episodes if args.episodes is not None else int(cfg["eval_episodes"])
    if episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {episodes}")

    from qmixbench.evaluate import eval_seeds, run_greedy

    agent, meta = read_agent(agent_path)
    n_envs = min(8, episodes)
    adapters = [make_run_adapter(run) for _ in range(n_envs)]
    if imageio is not None:
        try:
            adapters[0] = make_run_adapter(run, render_mode="rgb_array")
        except (TypeError, ValueError, UsageError) as exc:
            raise UsageError(f"{run['env']} cannot render rgb_array frames for a GIF: {exc}") from None
    seed = run["seed"] if args.seed is None else args.seed
    try:
        result = run_greedy(agent, adapters, eval_seeds(seed, episodes), render=imageio is not None, **meta["inputs"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    s = result.summary()
    success = "n/a" if math.isnan(s["eval_success_rate"]) else f"{s['eval_success_rate']:.2f}"
    print(f"{run['algo']} on {run['env']} (seed {run['seed']}): {episodes} greedy decentralised episodes")
    print(
        f"  return {s['eval_return_mean']:.3f} ± {s['eval_return_std']:.3f}   success rate {success}   "
        f"episode length {s['eval_episode_len_mean']:.1f}"
    )
    if imageio is not None:
        args.gif.parent.mkdir(parents=True, exist_ok=True)
        imageio.mimsave(args.gif, result.frames, duration=1000.0 / args.fps, loop=0)
        print(f"  wrote {args.gif} ({len(result.frames)} frames of episode 0, return {result.returns[0]:.3f})")
    return 0

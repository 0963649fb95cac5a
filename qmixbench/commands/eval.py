"""``qmixbench eval RUN_DIR [--episodes N] [--gif out.gif]``: replay a trained run's agents, decentralised.

Loads ``agent.pt`` (the shared agent network) and the run's env from ``config.json``, plays greedy
episodes with each agent acting on its own observation and id (no mixer, no state), and prints the
return and success rate. ``--gif`` also renders the first episode from the env's ``rgb_array`` frames
(needs imageio: ``pip install qmixbench[gif]``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

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


def main(args: argparse.Namespace) -> int:
    from qmixbench.recorder import read_json

    config_path, agent_path = args.run_dir / "config.json", args.run_dir / "agent.pt"
    if not config_path.exists() or not agent_path.exists():
        raise UsageError(f"{args.run_dir} is not a trained run directory (needs config.json and agent.pt)")
    imageio = None
    if args.gif is not None:
        try:
            import imageio.v2 as imageio  # type: ignore[no-redef,assignment]
        except ImportError:
            raise UsageError("writing GIFs needs imageio: pip install qmixbench[gif]") from None
    record = read_json(config_path)
    run, cfg = record["run"], record["config"]
    episodes = args.episodes if args.episodes is not None else int(cfg["eval_episodes"])
    if episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {episodes}")

    from qmixbench.adapter import make_adapter
    from qmixbench.evaluate import eval_seeds, load_agent, run_greedy

    agent, meta = load_agent(agent_path)
    kwargs = dict(run.get("env_kwargs") or {})
    n_envs = min(8, episodes)
    adapters = [make_adapter(run["env"], kwargs, run.get("team_reward", "auto")) for _ in range(n_envs)]
    if imageio is not None:
        try:
            adapters[0] = make_adapter(
                run["env"], {**kwargs, "render_mode": "rgb_array"}, run.get("team_reward", "auto")
            )
        except (TypeError, ValueError) as exc:
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

"""Render one picture of each registered multigrid task for envs/README.md.

    python envs/tools/render_catalogue.py            # writes envs/docs/<task>.png

Each picture is ``render_mode="rgb_array"`` right after ``reset(seed=0)`` with the id's defaults
(two agents: agent_0 red, agent_1 blue), so it shows a typical layout, not the only one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.image

from qmixbench_envs import ENV_SPECS, make

OUT = Path(__file__).resolve().parent.parent / "docs"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    parser.add_argument("--tile-size", type=int, default=24, help="pixels per grid cell")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for env_id in sorted(i for i in ENV_SPECS if i.startswith("multigrid/")):
        env = make(env_id, render_mode="rgb_array")
        env.tile_size = args.tile_size
        env.reset(seed=0)
        path = args.out / f"{env_id.split('/', 1)[1]}.png"
        matplotlib.image.imsave(path, env.render())
        print(path)


if __name__ == "__main__":
    main()

"""Run a pilot's recipes (``contrastive.pilot``: its definitions and rules), then print its verdict.

python -m contrastive.pilot_run --pilot second --data path/to/cifar10-jpeg.npz --out data/pilot
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .config import Config
from .pilot import PILOT_ROOT, PILOTS, Pilot, recipe_records, verdict
from .protocols import PAPER
from .train import record_path, run


def configs(
    pilot: Pilot, recipe: str, data: str | None, out: str | Path, device: str = "cpu"
) -> list[dict[str, Any]]:
    """The Config arguments of ``recipe``'s runs (one per τ of ``pilot.taus``), records under ``out/<recipe>``."""
    values = asdict(PAPER.scaled(**pilot.recipes[recipe]))
    return [
        {
            **values,
            "dataset": "cifar10",
            "data": data,
            "loss": "contrastive",
            "tau": tau,
            "device": device,
            "knn_every": values["epochs"] // pilot.curve_points,
            "out": str(Path(out) / recipe),
            "checkpoint_dir": str(Path(out).parent / "checkpoints" / "pilot" / recipe),
        }
        for tau in pilot.taus
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m contrastive.pilot_run", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--pilot", default="second", choices=list(PILOTS), help="which pilot's recipes to run"
    )
    p.add_argument(
        "--data",
        help="a CIFAR-10 file (the npz of data/README.md); default: torchvision's download",
    )
    p.add_argument(
        "--out", default=str(PILOT_ROOT), help="records go to OUT/<recipe>/<protocol>/cifar10/"
    )
    p.add_argument(
        "--recipes",
        nargs="+",
        help="these recipes only, in this order (default: all of the pilot's)",
    )
    args = p.parse_args(argv)
    pilot = PILOTS[args.pilot]
    if unknown := set(args.recipes or ()) - set(pilot.recipes):
        p.error(f"argument --recipes: must be among {list(pilot.recipes)}, got {sorted(unknown)}")
    for config in [
        Config(**c)
        for recipe in args.recipes or pilot.recipes
        for c in configs(pilot, recipe, args.data, args.out)
    ]:
        path = record_path(config)
        print(f"pilot: {path}: {'exists, skipped' if path.is_file() else 'running'}", flush=True)
        if not path.is_file():
            run(config)
    print(verdict(recipe_records(pilot, args.out), pilot))
    return 0


if __name__ == "__main__":
    sys.exit(main())

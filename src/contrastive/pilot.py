"""The pilots that chose the CPU-scale protocols: their recipes, rules and verdicts, each fixed before its runs.

The paper's protocol (ResNet-18, 50,000 images, 200 epochs) takes about 33 hours on a 2-core CPU. A CPU scale keeps
the paper's experiment wherever that costs no compute (the memory bank over every training image, the four losses,
the augmentation, SGD with momentum, the linear probe, the kNN monitor, all 10,000 test images) and scales what it
must (``contrastive.protocols.Protocol.scaled``): the network's width, a class-balanced training subset, the epochs,
and with them the lr milestones and the hard losses' k. Each recipe of a :class:`Pilot` is trained with the ordinary
loss at the pilot's two temperatures, and :func:`verdict` applies its rules: (1) a budget per run, (2) curves
levelled off (:func:`flatness`), (3) among the recipes meeting both, the best mean final kNN accuracy over the two
temperatures, so that no temperature is favoured. The book's chapter on the two scales tells both pilots' history.
The pilots are run by ``contrastive.pilot_run``; this module holds their definitions and rules, which
the book reads too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import results

PILOT_ROOT = results.DEFAULT_ROOT.parent / "pilot"
"""``data/pilot`` of the checkout: the records of both pilots, ``<recipe>/<protocol>/cifar10/contrastive-tau<τ>.json``."""


@dataclass(frozen=True)
class Pilot:
    """One pilot, fixed before any of its runs: recipes (arguments of ``contrastive.protocols.Protocol.scaled``),
    the temperatures each is tried at, its rules and the curve points of a run."""

    recipes: Mapping[str, Mapping[str, Any]]
    rules: Mapping[str, Any]
    curve_points: int
    taus: tuple[float, ...] = (0.1, 0.7)  # one small, one large temperature: no τ is favoured


FIRST = Pilot(
    recipes={
        "5k-100ep": {
            "arch": "resnet18_w16",
            "subset": 5_000,
            "epochs": 100,
            "lr": 0.03,
            "init": "torchvision",
        },  # round 1 (over budget)
        "5k-60ep": {
            "arch": "resnet18_w16",
            "subset": 5_000,
            "epochs": 60,
            "lr": 0.03,
            "init": "torchvision",
        },
        "10k-30ep": {
            "arch": "resnet18_w16",
            "subset": 10_000,
            "epochs": 30,
            "lr": 0.03,
            "init": "torchvision",
        },
        "5k-60ep-lr0.06": {
            "arch": "resnet18_w16",
            "subset": 5_000,
            "epochs": 60,
            "lr": 0.06,
            "init": "torchvision",
        },
    },
    rules={
        "max_seconds": 12
        * 60,  # rule 1: a complete run on the 2-core machine, training + evaluation
        "last_fraction": 0.2,  # rule 2: the stretch of training that must be flat ...
        "max_flatness": 0.1,  # ... moving by at most this fraction of the curve's range over the run
        "flat_curves": ("uniformity_test", "knn_top1"),
        "fallback": True,  # no recipe meets rule 2: take the flattest that meets rule 1
    },
    curve_points=5,  # round 1 had 10; one point falls at 80 %
)
"""The first pilot, which chose the 60-epoch ``cpu-short`` (no recipe levelled off: by its fallback, the flattest)."""

SECOND = Pilot(
    recipes={  # the paper's lr 0.03 at every batch size; more SGD steps per image as the batch shrinks
        "b128-180ep": {
            "arch": "resnet18_w16",
            "subset": 5_000,
            "epochs": 180,
            "lr": 0.03,
        },  # 40 x 180 = 7,200 steps
        "b64-120ep": {
            "arch": "resnet18_w16",
            "subset": 5_000,
            "epochs": 120,
            "lr": 0.03,
            "batch_size": 64,
        },  # 79 x 120 = 9,480
        "b32-80ep": {
            "arch": "resnet18_w16",
            "subset": 5_000,
            "epochs": 80,
            "lr": 0.03,
            "batch_size": 32,
        },  # 157 x 80 = 12,560
    },
    rules={
        "max_images": 900_000,  # R1: training images seen by a run (3x the first pilot's 5,000 x 60)
        # R2: the first pilot's rule 2, unchanged
        **{k: FIRST.rules[k] for k in ("last_fraction", "max_flatness", "flat_curves")},
        "fallback": False,  # no recipe meets R2: none is chosen; a next round at twice the budget
    },
    curve_points=10,  # a point every 10 % of training: the last stretch holds three
)
"""The second pilot, with no fallback, which chooses the converged ``cpu`` protocol."""

PILOTS = {"first": FIRST, "second": SECOND}


def last_stretch(epochs: Sequence[int], last_fraction: float = FIRST.rules["last_fraction"]) -> int:
    """The index of the first curve point at or after (1 - ``last_fraction``) x the last of ``epochs``."""
    return next(i for i, e in enumerate(epochs) if e >= (1 - last_fraction) * epochs[-1])


def flatness(
    curves: Mapping[str, Sequence[float]],
    name: str,
    last_fraction: float = FIRST.rules["last_fraction"],
) -> float:
    """How far curve ``name`` moved over the last ``last_fraction`` of training (from :func:`last_stretch` to the
    end), as a fraction of its range over the whole run: 0 is flat; a constant curve counts as flat."""
    values = list(curves[name])
    start = last_stretch(curves["epoch"], last_fraction)
    span = max(values) - min(values)
    return abs(values[-1] - values[start]) / span if span > 0 else 0.0


def levelled(curves: Mapping[str, Sequence[float]], rules: Mapping[str, Any] = FIRST.rules) -> bool:
    """Rule 2: each curve of ``rules["flat_curves"]`` moved by at most ``rules["max_flatness"]`` of its range
    over the last ``rules["last_fraction"]`` of training (:func:`flatness`); False where a curve is missing."""
    return all(
        name in curves and flatness(curves, name, rules["last_fraction"]) <= rules["max_flatness"]
        for name in rules["flat_curves"]
    )


def within_budget(record: results.Record, rules: Mapping[str, Any]) -> bool:
    """Rule 1: the run's wall seconds (first pilot) or its training images, subset x epochs (second)."""
    if "max_seconds" in rules:
        return record.provenance["wall_seconds"]["total"] <= rules["max_seconds"]
    return record.config["subset"] * record.config["epochs"] <= rules["max_images"]


def assess(record: results.Record, rules: Mapping[str, Any] = FIRST.rules) -> dict[str, Any]:
    """One pilot run judged by rules 1 and 2: its seconds, final kNN accuracy and flatness per curve."""
    flat = {
        name: flatness(record.curves, name, rules["last_fraction"]) for name in rules["flat_curves"]
    }
    return {
        "tau": record.config["tau"],
        "seconds": record.provenance["wall_seconds"]["total"],
        "knn_top1": record.results["knn_top1"],
        "linear_top1": record.results["linear_top1"],
        "flatness": flat,
        "fast": within_budget(record, rules),
        "flat": levelled(record.curves, rules),
    }


def verdict(runs: Mapping[str, Sequence[results.Record]], pilot: Pilot = FIRST) -> dict[str, Any]:
    """``pilot``'s rules over the records of every recipe (``{recipe: [record, ...]}``, one per τ):
    ``{"chosen": recipe or None, "flat": whether it meets rule 2, "complete": whether every recipe has run
    at every τ, "rows": one row per recipe,
    "runs": {recipe: [assess(record), ...]}}``. A recipe missing a τ of ``pilot.taus`` cannot be chosen;
    where no recipe meets rule 2, the flattest within budget is chosen only if ``rules["fallback"]``."""
    rows, assessed_runs = (
        [],
        {recipe: [assess(r, pilot.rules) for r in records] for recipe, records in runs.items()},
    )
    for recipe, assessed in assessed_runs.items():
        complete = sorted(a["tau"] for a in assessed) == sorted(pilot.taus)
        rows.append(
            {
                "recipe": recipe,
                "complete": complete,
                "fast": complete and all(a["fast"] for a in assessed),
                "flat": complete and all(a["flat"] for a in assessed),
                "mean_knn_top1": sum(a["knn_top1"] for a in assessed) / len(assessed)
                if complete
                else None,
                "worst_flatness": max(max(a["flatness"].values()) for a in assessed)
                if assessed
                else None,
            }
        )
    qualified, fast = [r for r in rows if r["fast"] and r["flat"]], [r for r in rows if r["fast"]]
    if qualified:
        chosen = max(qualified, key=lambda r: r["mean_knn_top1"])["recipe"]
    else:
        chosen = (
            min(fast, key=lambda r: r["worst_flatness"])["recipe"]
            if pilot.rules["fallback"] and fast
            else None
        )
    complete = len(rows) == len(pilot.recipes) and all(r["complete"] for r in rows)
    return {
        "chosen": chosen,
        "flat": bool(qualified),
        "complete": complete,
        "rows": rows,
        "runs": assessed_runs,
    }


def recipe_records(
    pilot: Pilot = FIRST, root: str | Path = PILOT_ROOT
) -> dict[str, list[results.Record]]:
    """``pilot``'s records under ``root`` (``<root>/<recipe>/**/*.json``), by recipe."""
    return {
        recipe: results.load(Path(root) / recipe)
        for recipe in pilot.recipes
        if (Path(root) / recipe).is_dir()
    }

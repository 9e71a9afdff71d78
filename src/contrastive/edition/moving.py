"""Beyond the paper: do the temperatures that move (``contrastive.schedules``) escape the uniformity-tolerance
dilemma? The criteria, fixed before any run of a moving τ was made, and their verdicts from the records.

Every number is read from run records at one protocol (``cpu``): the ordinary loss (Eq. 1) at each fixed τ of its
grid, seed means, is the *frontier*; a schedule's runs (one record per seed) are placed on it. "Test" numbers are the
last point of a run's curves (the un-augmented test images); linear and kNN top-1 are the final results.

The criteria (:data:`CRITERIA`), each with its margin, the seed noise of the fixed τ:

* **escapes the dilemma** — the schedule's test (uniformity, tolerance) point, the mean over its seeds, lies above
  the fixed-τ frontier by more than the largest test-tolerance difference between two seeds of one fixed τ. The
  frontier is the upper envelope of the fixed-τ points (those no other fixed τ beats in both uniformity and
  tolerance), linear between them, flat beyond its ends: at the schedule's uniformity, the most tolerance a fixed τ
  reaches there.
* **beats the fixed τ in linear top-1** — its mean linear top-1 exceeds the best seed-mean of a fixed τ by more than
  the largest linear top-1 difference between two seeds of one fixed τ.
* **beats the fixed τ in kNN top-1** — the same for kNN top-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import paper
from ..results import Record
from .table import Runs

CRITERIA = {
    "escapes": "its test (uniformity, tolerance) point lies above the fixed-τ frontier by more than the largest "
    "test-tolerance difference between two seeds of one fixed τ",
    "linear_top1": "its mean linear top-1 exceeds the best fixed-τ mean by more than the largest linear top-1 "
    "difference between two seeds of one fixed τ",
    "knn_top1": "its mean kNN top-1 exceeds the best fixed-τ mean by more than the largest kNN top-1 difference "
    "between two seeds of one fixed τ",
}
"""The three criteria in words (module docstring), written before the first run of a moving τ."""
ACCURACIES = ("linear_top1", "knn_top1")
PLANE = ("uniformity_test", "tolerance_test")
"""The axes of the plane the criteria place a run in: the test set's, its last curve point."""


def numbers(record: Record) -> dict[str, float]:
    """A run's numbers the criteria read: test uniformity and tolerance (its last curve point), linear and kNN top-1."""
    return {
        **{m: record.curves[m][-1] for m in PLANE},
        **{m: record.results[m] for m in ACCURACIES},
    }


@dataclass(frozen=True)
class Point:
    """The runs of one configuration (a fixed τ, or a schedule): its seeds' numbers, their means and spreads."""

    label: str
    runs: tuple[Record, ...]

    def values(self, metric: str) -> list[float]:
        return [numbers(r)[metric] for r in self.runs]

    def mean(self, metric: str) -> float:
        return float(np.mean(self.values(metric)))

    def spread(self, metric: str) -> float:
        """The largest difference between two of its seeds (0 with one seed)."""
        return max(self.values(metric)) - min(self.values(metric))


def fixed_points(runs: Runs) -> list[Point]:
    """The ordinary loss at each fixed τ of its grid among ``runs`` (the seeds that count at their
    protocol), ascending τ."""
    fixed = runs.constant()
    found = [(t, fixed.counted("contrastive", t)) for t in paper.GRIDS["contrastive"]]
    return [Point(f"τ = {t:g}", tuple(seeds)) for t, seeds in found if seeds]


def noise(fixed: Sequence[Point], metric: str) -> float:
    """The largest difference in ``metric`` between two seeds of one fixed τ (the criteria's margin)."""
    return max(p.spread(metric) for p in fixed)


def frontier(fixed: Sequence[Point]) -> list[tuple[float, float]]:
    """The fixed-τ frontier: the (uniformity, tolerance) seed means that no other beats in both, by uniformity."""
    points = [(p.mean("uniformity_test"), p.mean("tolerance_test")) for p in fixed]
    kept = [
        (u, t)
        for u, t in points
        if not any(u2 >= u and t2 >= t and (u2, t2) != (u, t) for u2, t2 in points)
    ]
    return sorted(kept)


def frontier_tolerance(front: Sequence[tuple[float, float]], uniformity: float) -> float:
    """The most tolerance the frontier reaches at ``uniformity``: linear between its points, flat beyond its ends."""
    u, t = zip(*front)
    return float(np.interp(uniformity, u, t))


def judge(point: Point, fixed: Sequence[Point]) -> dict[str, dict[str, Any]]:
    """Each criterion of :data:`CRITERIA` for the runs ``point`` against the fixed τ: the deciding number (the gap
    above the frontier in tolerance, or above the best fixed τ's mean), the margin it must exceed, and the verdict."""
    tolerance_gap = point.mean("tolerance_test") - frontier_tolerance(
        frontier(fixed), point.mean("uniformity_test")
    )
    found = {"escapes": {"gap": tolerance_gap, "margin": noise(fixed, "tolerance_test")}}
    for metric in ACCURACIES:
        best = max(fixed, key=lambda p: p.mean(metric))
        found[metric] = {
            "gap": point.mean(metric) - best.mean(metric),
            "margin": noise(fixed, metric),
            "best": best.mean(metric),
            "best_label": best.label,
        }
    for v in found.values():
        v["holds"] = v["gap"] > v["margin"]
    return found

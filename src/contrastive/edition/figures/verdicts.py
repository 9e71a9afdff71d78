"""The runs behind the verdicts of claims 3 to 6 at a protocol, beside the paper's numbers: the tables and numbers
the chapters' discussions of those claims glue in. The claims are judged in ``contrastive.edition.claims``; these read the
records the same way (``contrastive.edition.table.Runs``: seed 0 at the protocol, means over seeds)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import partial
from typing import Any

from ... import paper, pilot
from ...protocols import config_label, describe
from ...results import Record
from ..claims import FLAT_UNIFORMITY, HARD_ACCURACY_SLACK, HARD_SIMPLE_SLACK, SIMPLE_GAP
from ..table import Runs
from . import html_table
from .records import METRIC_FORMATS, METRIC_LABELS, TAU_LOSSES, HtmlTable, NotYetRun, formatted
from .runs import ESCAPED, RULE_2, _exit_step, _steps


def _run(look: Runs, loss: str, tau: float | None) -> Record | None:
    """The run of (loss, tau) as the claims count it: seed 0, at the protocol, valid; else None."""
    r = look.get(loss, tau)
    return None if r is None or r.invalid else r


def _total_steps(record: Record) -> int:
    """The SGD steps of ``record``'s whole run."""
    return record.config["epochs"] * _steps(record)


# --- claims 3 and 4 over the whole grid of τ ------------------------------------------------


CLAIM3_SIGNS = {"uniformity": -1, "tolerance": +1}
"""The direction claim 3 gives each metric as τ grows (Figs. 4-5): uniformity falls, tolerance rises."""
ACCURACY_SIGNS = {"linear_top1": -1, "knn_top1": -1}
"""Accuracy above its best τ: claim 4's reversed U (Fig. 9) falls on that side."""


def _seed_spread(look: Runs, metric: str, taus: Sequence[float]) -> tuple[float, float] | None:
    """The largest difference in ``metric`` between two seeds of one ordinary configuration among ``taus``, and
    its τ; None while no τ has two seeds."""
    spreads = [
        (max(v) - min(v), t)
        for t in taus
        if len(v := [r.value(metric) for r in look.counted("contrastive", t)]) > 1
    ]
    return max(spreads, default=None)


def _trend(taus: Sequence[float], values: Sequence[float], sign: int) -> dict[str, Any]:
    """Where ``values`` over ``taus`` (ascending) follow ``sign`` (+1 rising with τ, -1 falling): the τ and value
    at which the trend starts (the extreme against it), the (τ, value) pairs below it, and the neighbouring pairs
    (τ, τ', value, value') above it where the values move against the trend."""
    start = max(range(len(values)), key=lambda i: -sign * values[i])
    turns = [
        (taus[i], taus[i + 1], values[i], values[i + 1])
        for i in range(start, len(values) - 1)
        if sign * (values[i + 1] - values[i]) < 0
    ]
    return {
        "start": (taus[start], values[start]),
        "below": list(zip(taus[:start], values[:start])),
        "turns": turns,
    }


def grid_trends(
    runs: Runs,
    signs: dict[str, int] = CLAIM3_SIGNS,
) -> dict[str, Any] | None:
    """Trends of the ordinary loss over its whole grid of τ (``paper.GRIDS``, the τ of it recorded at the runs' protocol;
    means over seeds), beyond Table 1's four τ that judge the claims: per metric of ``signs`` its :func:`_trend`
    and the largest difference between two seeds of one τ with that τ (None while no τ has two seeds); ``taus``
    the τ it read. None while fewer than three τ are recorded."""
    look = runs.afresh()
    taus = [t for t in paper.GRIDS["contrastive"] if look.counted("contrastive", t)]
    if len(taus) < 3:
        return None
    trends: dict[str, Any] = {"taus": taus}
    for metric, sign in signs.items():
        trends[metric] = {
            **_trend(taus, look.series("contrastive", metric, taus), sign),
            "seed_spread": _seed_spread(look, metric, taus),
        }
    return trends


def grid_numbers(
    runs: Runs,
    signs: dict[str, int] = CLAIM3_SIGNS,
) -> dict[str, str]:
    """:func:`grid_trends` formatted for a chapter, per metric ``m`` of ``signs``: ``m_start_tau`` and ``m_start``,
    ``m_turns`` (the pairs against the trend above the start, "none" if it holds at every step), ``m_below`` (the
    values below the start, "none"), ``m_seed_spread`` and ``m_seed_tau``; ``taus``, how many τ were read. A dash
    each while fewer than three τ are recorded, and for the seed spread while no τ has two seeds."""
    keys = [
        f"{m}_{k}"
        for m in signs
        for k in ("start_tau", "start", "turns", "below", "seed_spread", "seed_tau")
    ]
    numbers = dict.fromkeys(["taus", *keys], "—")
    trends = grid_trends(runs, signs)
    if trends is None:
        return numbers
    numbers["taus"] = str(len(trends["taus"]))
    for m in signs:
        t, spec = trends[m], METRIC_FORMATS[m]
        numbers.update(
            {
                f"{m}_start_tau": f"{t['start'][0]:g}",
                f"{m}_start": format(t["start"][1], spec),
                f"{m}_turns": "; ".join(
                    f"τ = {a:g} → {b:g}: {format(u, spec)} → {format(w, spec)}"
                    for a, b, u, w in t["turns"]
                )
                or "none",
                f"{m}_below": ", ".join(
                    f"{format(v, spec)} at τ = {tau:g}" for tau, v in t["below"]
                )
                or "none",
            }
        )
        if t["seed_spread"] is not None:
            numbers.update(
                {
                    f"{m}_seed_spread": format(t["seed_spread"][0], spec),
                    f"{m}_seed_tau": f"{t['seed_spread'][1]:g}",
                }
            )
    return numbers


# --- claim 5: Simple and HardSimple ---------------------------------------------------------


def simple_numbers(runs: Runs) -> dict[str, float | int | None]:
    """The numbers of the chapter's discussion of claim 5 at the runs' protocol, ours beside the paper's Table 1
    (``ours_*`` and ``paper_*``): the best ordinary linear top-1 over Table 1's τ (``best``) and its τ
    (``best_tau``), Simple's and HardSimple's linear top-1 (``simple``, ``hard_simple``) and each less that best
    (``*_diff``; claims 5a and 5b, means over seeds), how far the linear top-1 of Table 1's columns spreads
    (``span``, over the ``columns`` recorded), and the criteria's bounds. None where a run is missing."""
    look = runs.afresh()

    def ours(loss: str, tau: float | None) -> float | None:
        return None if _run(look, loss, tau) is None else look.mean(loss, tau, "linear_top1")

    numbers: dict[str, float | int | None] = {
        "simple_bound": SIMPLE_GAP,
        "hard_simple_bound": HARD_SIMPLE_SLACK,
    }
    for who, value in (
        ("ours", ours),
        ("paper", partial(paper.table1, runs.dataset, "linear_top1")),
    ):
        linear = {column: value(*column) for column in paper.COLUMNS}
        have = [v for v in linear.values() if v is not None]
        ordinary = {t: linear[("contrastive", t)] for t in paper.TABLE1_TAUS}
        best = None if None in ordinary.values() else max(ordinary, key=ordinary.get)
        for loss in ("simple", "hard_simple"):
            found = linear[(loss, None)]
            numbers[f"{who}_{loss}"] = found
            numbers[f"{who}_{loss}_diff"] = (
                None if best is None or found is None else found - ordinary[best]
            )
        numbers.update(
            {
                f"{who}_best": None if best is None else ordinary[best],
                f"{who}_best_tau": best,
                f"{who}_span": max(have) - min(have) if have else None,
                f"{who}_columns": len(have),
            }
        )
    return numbers


# --- claims 6a and 6b: the hard loss beside the ordinary loss -------------------------------


def _pairs(look: Runs) -> list[tuple[float, Record | None, Record | None]]:
    """``(tau, ordinary run, hard run)`` at each of Table 1's τ, as :func:`_run` counts them."""
    return [
        (tau, _run(look, "contrastive", tau), _run(look, "hard", tau)) for tau in paper.TABLE1_TAUS
    ]


def hard_beside_ordinary(
    runs: Runs,
) -> HtmlTable | NotYetRun:
    """Claims 6a and 6b run by run: at each of Table 1's τ, the ordinary and the hard loss's linear top-1, uniformity
    and tolerance at the runs' protocol (means over seeds), the SGD step by which the hard run had left the collapse
    (:func:`_exit_step`, of its steps in all) and whether each run had levelled off by rule 2."""
    look = runs.afresh()
    what = f"The hard loss beside the ordinary loss, {runs.dataset}, {describe(runs.protocol)}"
    pairs = _pairs(look)
    if not any(o or h for _, o, h in pairs):
        return NotYetRun(
            what, tuple(config_label(loss, t) for loss in TAU_LOSSES for t in paper.TABLE1_TAUS)
        )
    rows = []
    for tau, *pair in pairs:
        cells = [
            " / ".join(
                formatted(look.mean(r.loss, tau, m) if r else None, METRIC_FORMATS[m]) for r in pair
            )
            for m in paper.METRICS
        ]
        hard = pair[1]
        left = (
            "—"
            if hard is None
            else "no"
            if (step := _exit_step(hard)) is None
            else f"{step:,} of {_total_steps(hard):,}"
        )
        levelled = " / ".join(
            "—" if r is None else "yes" if pilot.levelled(r.curves, RULE_2) else "no" for r in pair
        )
        rows.append([f"{tau:g}", *cells, left, levelled])
    columns = (
        "τ",
        *(f"{METRIC_LABELS[m]}: ordinary / hard" for m in paper.METRICS),
        f"hard run out of the collapse for good (test uniformity ≥ {ESCAPED:g} from then on) from step",
        "levelled off by rule 2: ordinary / hard",
    )
    return HtmlTable(f"<p><strong>{html.escape(what)}</strong></p>" + html_table(columns, rows))


def hard_numbers(runs: Runs) -> dict[str, float | int | None]:
    """The numbers of the chapters' discussion of claims 4, 6a and 6b at the runs' protocol (None each until
    Table 1's ordinary and hard runs are all recorded; the ``late_*`` ones also until a hard run has left the
    collapse): the spread of the hard loss's uniformity over τ and the criterion's bound; the hard run that left the
    collapse last, its τ, step, steps in all, the share of them it spent collapsed, its uniformity and the ordinary
    loss's at that τ, and the spread over the other τ; the two losses' linear top-1 at the largest τ, their difference
    and claim 6b's slack; how far the ordinary loss's linear top-1 spreads over τ, ours and the paper's; the most
    seeds a mean averaged, and the largest difference in linear top-1 between two seeds of one ordinary
    configuration and its τ (None while none has two seeds)."""
    look = runs.afresh()
    pairs = _pairs(look)
    numbers = dict.fromkeys(
        (
            "spread",
            "bound",
            "late_tau",
            "late_step",
            "late_steps",
            "late_share",
            "late_hard",
            "late_ordinary",
            "spread_rest",
            "high_tau",
            "slack",
            "high_hard",
            "high_ordinary",
            "high_gap",
            "ordinary_range",
            "paper_range",
            "seeds",
            "seed_gap",
            "seed_gap_tau",
        ),
    )
    if not all(o and h for _, o, h in pairs):
        return numbers
    unif = {loss: look.series(loss, "uniformity") for loss in TAU_LOSSES}
    linear = {loss: look.series(loss, "linear_top1") for loss in TAU_LOSSES}
    theirs = [
        paper.table1(runs.dataset, "linear_top1", "contrastive", t) for t in paper.TABLE1_TAUS
    ]
    numbers.update(
        spread=max(unif["hard"]) - min(unif["hard"]),
        bound=FLAT_UNIFORMITY,
        high_tau=paper.TABLE1_TAUS[-1],
        slack=HARD_ACCURACY_SLACK,
        high_hard=linear["hard"][-1],
        high_ordinary=linear["contrastive"][-1],
        high_gap=linear["hard"][-1] - linear["contrastive"][-1],
        ordinary_range=max(linear["contrastive"]) - min(linear["contrastive"]),
        paper_range=None if None in theirs else max(theirs) - min(theirs),
        seeds=look.most_seeds,
    )
    if (spread := _seed_spread(look, "linear_top1", paper.TABLE1_TAUS)) is not None:
        numbers.update(seed_gap=spread[0], seed_gap_tau=spread[1])
    exits = [
        (i, step, hard)
        for i, (_, _, hard) in enumerate(pairs)
        if (step := _exit_step(hard)) is not None
    ]
    if exits:
        i, step, hard = max(exits, key=lambda e: e[1])
        steps = _total_steps(hard)
        rest = [u for j, u in enumerate(unif["hard"]) if j != i]
        numbers.update(
            late_tau=pairs[i][0],
            late_step=step,
            late_steps=steps,
            late_share=100 * step / steps,
            late_hard=unif["hard"][i],
            late_ordinary=unif["contrastive"][i],
            spread_rest=max(rest) - min(rest),
        )
    return numbers

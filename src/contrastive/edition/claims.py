"""The paper's claims (Eq. 4-5, Table 1, Figs. 4-9), its Table 1 and Figs. 1-9: where the book reproduces each, and a status.

Every status is computed when the book is built, never typed. An analytic row runs a check of
``contrastive.edition.derivations`` on fixed random similarities in float64. An experimental row reads run records once
per protocol of ``contrastive.protocols.JUDGED`` (the paper's scale and the CPU scale), counting only records at that
protocol (``contrastive.protocols.counts``): with a configuration it needs missing or off the protocol, its status
there is "not yet run"; else its criterion (each one's docstring says it exactly) decides, on the means over the
seeds of each configuration (seed 0 must exist). The criteria are the same at both scales, except Table 1's
closeness to the paper's numbers (:data:`Criterion.protocols`). Runs on the offline JPEG copy of CIFAR-10 count,
and the evidence says so; it also names each counted run whose curves had not levelled off by the pilots' rule 2
(``contrastive.pilot.levelled``): the verdict stands, as the criteria are fixed, but rests on an unfinished run.

A claim is judged on CIFAR-10 and on every other data set of the paper that has records: "not reproduced" if it
fails on any data set with all its records, "reproduced" if it holds on at least one and fails on none, else "not
yet run". The thresholds below are ours, set so that the paper's own Table 1 passes every criterion
(``tests/test_claims.py`` checks that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .. import metrics, paper, pilot, results
from ..protocols import JUDGED, NOT_YET_RUN, TITLES, config_label, deviations
from ..provenance import OFFLINE_SOURCE
from . import derivations
from .table import Runs, RunTable, cached_reader

REPRODUCED, NOT_REPRODUCED, NOT_APPLICABLE = (
    "reproduced",
    "not reproduced",
    "not judged at this scale",
)
INVALID = "invalid record"
"""The statuses besides ``NOT_YET_RUN``; a row needing a record with NaN or inf (or arrays not its own) is INVALID."""
PRIMARY_DATASET = "cifar10"
JPEG_COPY = "(offline JPEG copy of CIFAR-10)"
"""Ends the evidence of a data set judged on records trained on that copy (they count as the protocol)."""

FLAT_UNIFORMITY = 0.1
"""Hard loss: the largest spread (max − min over tau) of uniformity still called "τ-independent" (paper: ≤ 0.03)."""
UNIFORMITY_SLACK = 0.02
"""Hard loss: its uniformity may fall this much below the ordinary loss's at the same tau and still count as "higher"."""
SIMPLE_GAP = 5.0
"""Claim 5: "far worse" = the simple loss's linear top-1 at least this many points below the best ordinary loss's."""
HARD_SIMPLE_SLACK = 2.0
"""Claim 5: "competitive" = HardSimple's linear top-1 at most this many points below the best ordinary loss's."""
HARD_ACCURACY_SLACK = 1.0
"""Claim 6: "stays high" = the hard loss's linear top-1 at tau = 1 within this many points of its best."""
TABLE1_TOLERANCE = {"linear_top1": 2.0, "uniformity": 0.1, "tolerance": 0.05}
"""Table 1 is "reproduced" on a data set when every one of its 30 cells is this close to the paper's."""

Run = tuple[str, float | None]
ORDINARY: tuple[Run, ...] = tuple(("contrastive", t) for t in paper.TABLE1_TAUS)
HARD: tuple[Run, ...] = tuple(("hard", t) for t in paper.TABLE1_TAUS)


@dataclass(frozen=True)
class Outcome:
    """A status and the evidence for it (numbers, or what is missing)."""

    status: str
    detail: str
    verdicts: dict[str, str] = field(default_factory=dict)
    """The status on each data set judged (experimental rows only)."""


@dataclass(frozen=True)
class Row:
    """One line of the status table and its outcome at each protocol (an analytic row's is the same at every one)."""

    key: str
    statement: str
    chapters: tuple[str, ...]
    outcomes: dict[str, Outcome]


# --- records at a protocol ------------------------------------------------------------------


Check = Callable[[Runs], tuple[bool, str]]


@dataclass(frozen=True)
class Criterion:
    """The configurations a row needs (and the arrays it reads) and the check that decides it."""

    configs: tuple[Run, ...]
    check: Check
    arrays: tuple[str, ...] = ()
    protocols: tuple[str, ...] = JUDGED
    """The protocols at which the criterion is judged (elsewhere: :data:`NOT_APPLICABLE`)."""


def _unusable(look: Runs, criterion: Criterion) -> tuple[list[str], list[str]]:
    """The configurations of ``criterion`` without a usable record in ``look``: (missing, off the protocol or
    without the arrays it reads; invalid: NaN or inf in its numbers, or arrays that are not its own)."""
    missing, invalid = [], []
    for loss, tau in criterion.configs:
        r = look.record(loss, tau)
        name = config_label(loss, tau)
        if r is None:
            missing.append(name)
        elif found := deviations(r.config, look.protocol):
            missing.append(f"{name} (off protocol: {', '.join(map(str, found))})")
        elif r.invalid:
            invalid.append(f"{name} ({r.invalid})")
        elif criterion.arrays:
            try:
                if absent := [k for k in criterion.arrays if k not in look.read(r)]:
                    missing.append(f"{name} (no arrays {absent})")
            except results.BadRecordError as e:
                invalid.append(f"{name} ({e})")
    return missing, invalid


def datasets(records: Iterable[results.Record]) -> list[str]:
    """CIFAR-10 and every other data set of the paper that has a record, in the paper's order."""
    have = {r.dataset for r in records}
    return [d for d in paper.DATASETS if d == PRIMARY_DATASET or d in have]


def judge(table: RunTable, criterion: Criterion, name: str = "paper") -> Outcome:
    """Judge ``criterion`` at protocol ``name`` on every data set of :func:`datasets` and combine (module docstring)."""
    if name not in criterion.protocols:
        return Outcome(
            NOT_APPLICABLE, f"judged at {', '.join(TITLES[p] for p in criterion.protocols)} only"
        )
    verdicts, details = {}, []
    for d in datasets(table.made_at(name)):
        look = table.at(name, d)
        missing, invalid = _unusable(look, criterion)
        if invalid or missing:
            verdicts[d] = INVALID if invalid else NOT_YET_RUN
            details.append(
                f"{d}: "
                + (f"{INVALID}: {', '.join(invalid)}" if invalid else f"needs {', '.join(missing)}")
            )
            continue
        ok, evidence = criterion.check(look)
        verdicts[d] = REPRODUCED if ok else NOT_REPRODUCED
        jpeg = (
            f" {JPEG_COPY}"
            if any(r.provenance.get("data", {}).get("source") == OFFLINE_SOURCE for r in look.used)
            else ""
        )
        seeds = f" (means over up to {look.most_seeds} seeds)" if look.most_seeds > 1 else ""
        unfinished = sorted(
            {config_label(r.loss, r.tau) for r in look.used if not pilot.levelled(r.curves)}
        )
        unfinished_note = (
            f"; not levelled off by the pilots' rule 2: {', '.join(unfinished)}"
            if unfinished
            else ""
        )
        details.append(f"{d}: {verdicts[d]}; {evidence}{seeds}{jpeg}{unfinished_note}")
    status = next(
        (s for s in (INVALID, NOT_REPRODUCED, REPRODUCED) if s in verdicts.values()), NOT_YET_RUN
    )
    return Outcome(status, " — ".join(details), verdicts)


# --- the experimental criteria --------------------------------------------------------------


def formatted(values: Iterable[float], spec: str = ".3f") -> str:
    return ", ".join(format(v, spec) for v in values)


def _all(*checks: Check) -> Check:
    def check(look: Runs) -> tuple[bool, str]:
        outcomes = [c(look) for c in checks]
        return all(ok for ok, _ in outcomes), "; ".join(text for _, text in outcomes)

    return check


def uniformity_tolerance_trend(look: Runs) -> tuple[bool, str]:
    """Claim 3, Figs. 4-5: ordinary loss at τ = 0.07, 0.3, 0.7, 1.0: uniformity non-increasing and
    tolerance non-decreasing in τ."""
    u, t = look.series("contrastive", "uniformity"), look.series("contrastive", "tolerance")
    ok = all(a >= b for a, b in zip(u, u[1:])) and all(a <= b for a, b in zip(t, t[1:]))
    return (
        ok,
        f"ordinary, τ = {formatted(paper.TABLE1_TAUS, 'g')}: uniformity {formatted(u)}; tolerance {formatted(t)}",
    )


def best_at_intermediate_tau(look: Runs) -> tuple[bool, str]:
    """Claim 4, Fig. 9: the ordinary loss's best linear top-1 over τ ∈ {0.07, 0.3, 0.7, 1.0} (and 0.2
    where that record exists) is at τ = 0.2 or 0.3."""
    taus = sorted(set(paper.TABLE1_TAUS) | ({0.2} if look.get("contrastive", 0.2) else set()))
    acc = dict(zip(taus, look.series("contrastive", "linear_top1", taus)))
    best = max(acc, key=acc.get)
    return 0.2 <= best <= 0.3, "ordinary linear top-1 " + ", ".join(
        f"τ={t:g}: {a:.2f}" for t, a in acc.items()
    ) + f"; best at τ = {best:g}"


def simple_far_worse(look: Runs) -> tuple[bool, str]:
    """Claim 5, first part: Simple's linear top-1 ≤ the best ordinary one − 5 points (τ ∈ {0.07, 0.3, 0.7, 1.0})."""
    best, simple = (
        max(look.series("contrastive", "linear_top1")),
        look.mean("simple", None, "linear_top1"),
    )
    return (
        simple <= best - SIMPLE_GAP,
        f"linear top-1: Simple {simple:.2f}, best ordinary {best:.2f}",
    )


def hard_simple_competitive(look: Runs) -> tuple[bool, str]:
    """Claim 5, second part: HardSimple's linear top-1 ≥ the best ordinary one − 2 points (τ ∈ {0.07, 0.3, 0.7, 1.0})."""
    best, hard_simple = (
        max(look.series("contrastive", "linear_top1")),
        look.mean("hard_simple", None, "linear_top1"),
    )
    return (
        hard_simple >= best - HARD_SIMPLE_SLACK,
        f"linear top-1: HardSimple {hard_simple:.2f}, best ordinary {best:.2f}",
    )


def hard_uniformity(look: Runs) -> tuple[bool, str]:
    """Claim 6 (uniformity), Figs. 6-7: the hard loss's uniformity spreads ≤ 0.1 over τ and is ≥ the
    ordinary loss's − 0.02 at every τ of Table 1."""
    hard, ordinary = look.series("hard", "uniformity"), look.series("contrastive", "uniformity")
    ok = max(hard) - min(hard) <= FLAT_UNIFORMITY and all(
        h >= o - UNIFORMITY_SLACK for h, o in zip(hard, ordinary)
    )
    return (
        ok,
        f"uniformity, τ = {formatted(paper.TABLE1_TAUS, 'g')}: hard {formatted(hard)}; ordinary {formatted(ordinary)}",
    )


def hard_accuracy_at_large_tau(look: Runs) -> tuple[bool, str]:
    """Claim 6 (accuracy), Fig. 9: at τ = 1 the hard loss's linear top-1 beats the ordinary loss's and
    is within 1 point of the hard loss's best over τ."""
    hard, ordinary = look.series("hard", "linear_top1"), look.series("contrastive", "linear_top1")
    ok = hard[-1] > ordinary[-1] and hard[-1] >= max(hard) - HARD_ACCURACY_SLACK
    return (
        ok,
        f"linear top-1, τ = {formatted(paper.TABLE1_TAUS, 'g')}: hard {formatted(hard, '.2f')}; ordinary {formatted(ordinary, '.2f')}",
    )


def hard_tolerance(look: Runs) -> tuple[bool, str]:
    """Figs. 6-7 (tolerance): the hard loss's tolerance ≤ the ordinary loss's at every τ of Table 1.
    (The paper's own CIFAR-10 and SVHN numbers do not grow with τ, so growth is not required.)"""
    hard, ordinary = look.series("hard", "tolerance"), look.series("contrastive", "tolerance")
    return all(
        h <= o for h, o in zip(hard, ordinary)
    ), f"tolerance: hard {formatted(hard)}; ordinary {formatted(ordinary)}"


def _small_and_large(look: Runs) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The stored similarity samples of the ordinary loss at the smallest and the largest τ of Table 1."""
    return look.arrays("contrastive", paper.TABLE1_TAUS[0]), look.arrays(
        "contrastive", paper.TABLE1_TAUS[-1]
    )


def positive_gap(look: Runs) -> tuple[bool, str]:
    """Claim 7, first part (Fig. 8): mean(s_ii − hardest negative) of the 1,000 anchors is larger at
    τ = 0.07 than at τ = 1."""
    gap = [float((a["pos_sim"] - a["neg_top10"][:, 0]).mean()) for a in _small_and_large(look)]
    return gap[0] > gap[
        1
    ], f"τ = {paper.TABLE1_TAUS[0]:g} vs {paper.TABLE1_TAUS[-1]:g}: mean s_ii − n1 {formatted(gap)}"


def positive_alignment(look: Runs) -> tuple[bool, str]:
    """Claim 7, second part (Fig. 8): mean s_ii of the 1,000 anchors is larger at τ = 1 than at τ = 0.07."""
    pos = [float(a["pos_sim"].mean()) for a in _small_and_large(look)]
    return pos[1] > pos[
        0
    ], f"τ = {paper.TABLE1_TAUS[0]:g} vs {paper.TABLE1_TAUS[-1]:g}: mean s_ii {formatted(pos)}"


def embedding_contrast(look: Runs) -> tuple[bool, str]:
    """Fig. 2: on the stored 2,000-point test sample, tolerance is higher at τ = 0.2 than at 0.07 and
    uniformity is not lower at 0.07 than at 0.2."""
    samples = [look.arrays("contrastive", tau) for tau in paper.FIG2_TAUS]
    u, t = zip(*(metrics.sample_metrics(a["embedding"], a["embedding_labels"]) for a in samples))
    return (
        t[1] > t[0] and u[0] >= u[1],
        f"sample at τ = {formatted(paper.FIG2_TAUS, 'g')}: uniformity {formatted(u)}; tolerance {formatted(t)}",
    )


def table1_close(look: Runs) -> tuple[bool, str]:
    """Table 1: every cell within TABLE1_TOLERANCE of the paper's (2 points, 0.1, 0.05)."""
    worst = {}
    for m in paper.METRICS:
        diffs = [
            look.mean(loss, tau, m) - paper.table1(look.dataset, m, loss, tau)
            for loss, tau in paper.COLUMNS
        ]
        worst[m] = max(diffs, key=abs)
    ok = all(abs(worst[m]) <= TABLE1_TOLERANCE[m] for m in paper.METRICS)
    return ok, "largest ours − paper: " + ", ".join(
        f"{m} {worst[m]:+.3f} (allowed ±{TABLE1_TOLERANCE[m]:g})" for m in paper.METRICS
    )


TREND = Criterion(ORDINARY, uniformity_tolerance_trend)
ENDS = (ORDINARY[0], ORDINARY[-1])
SAMPLES = ("pos_sim", "neg_top10")
"""The criteria a claim and its figure share (each is judged once per protocol); claim 7's runs and arrays."""


@dataclass(frozen=True)
class Claim:
    """One row of the status table: what the paper says (MyST Markdown), the chapters (docnames) where the book
    reproduces it, and its check: an analytic computation (``contrastive.edition.derivations``) or a :class:`Criterion`."""

    key: str
    statement: str
    chapters: tuple[str, ...]
    check: Callable[[], tuple[bool, str]] | Criterion


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "claim 1",
        "The negative gradient is proportional to $\\exp(s_{ij}/\\tau)$; the negative gradients sum to the positive one.",
        ("book/hardness",),
        derivations.check_gradients,
    ),
    Claim(
        "claim 2",
        "The entropy of the relative penalty decreases strictly as $\\tau$ decreases; $\\tau \\to 0$ gives a triplet loss "
        "with margin 0, $\\tau \\to \\infty$ the simple loss.",
        ("book/hardness", "book/limits"),
        derivations.check_entropy_and_limits,
    ),
    Claim(
        "claim 3",
        "Ordinary loss: uniformity decreases and tolerance increases as $\\tau$ increases.",
        ("book/experiments/uniformity_tolerance",),
        TREND,
    ),
    Claim(
        "claim 4",
        "Ordinary loss: accuracy is best at an intermediate $\\tau$ (0.2–0.3).",
        ("book/experiments/accuracy",),
        Criterion(ORDINARY, best_at_intermediate_tau),
    ),
    Claim(
        "claim 5a",
        "The simple loss is far worse than the contrastive loss.",
        ("book/experiments/table1",),
        Criterion(ORDINARY + (("simple", None),), simple_far_worse),
    ),
    Claim(
        "claim 5b",
        "With the 4095 nearest negatives (HardSimple) the simple loss becomes competitive.",
        ("book/experiments/table1",),
        Criterion(ORDINARY + (("hard_simple", None),), hard_simple_competitive),
    ),
    Claim(
        "claim 6a",
        "Hard loss: higher, $\\tau$-independent uniformity.",
        ("book/experiments/uniformity_tolerance",),
        Criterion(ORDINARY + HARD, hard_uniformity),
    ),
    Claim(
        "claim 6b",
        "Hard loss: accuracy stays high at large $\\tau$ where the ordinary loss degrades.",
        ("book/experiments/accuracy",),
        Criterion(ORDINARY + HARD, hard_accuracy_at_large_tau),
    ),
    Claim(
        "claim 7a",
        "A smaller $\\tau$ separates the positive from its nearest negatives more.",
        ("book/experiments/similarities",),
        Criterion(ENDS, positive_gap, SAMPLES),
    ),
    Claim(
        "claim 7b",
        "A larger $\\tau$ aligns positives more ($s_{ii} \\to 1$).",
        ("book/experiments/similarities",),
        Criterion(ENDS, positive_alignment, SAMPLES),
    ),
    Claim(
        "Table 1",
        "Linear top-1, uniformity and tolerance of the four losses at $\\tau$ = 0.07, 0.3, 0.7, 1.0.",
        ("book/experiments/table1",),
        Criterion(tuple(paper.COLUMNS), table1_close, protocols=("paper",)),
    ),
    Claim(
        "Fig. 1",
        "Two embeddings with equal loss: the loss does not see semantic structure.",
        ("book/dilemma",),
        derivations.check_equal_loss,
    ),
    Claim(
        "Fig. 2",
        "t-SNE at $\\tau$ = 0.07 (uniform, intolerant) vs $\\tau$ = 0.2 (locally clustered).",
        ("book/experiments/embeddings",),
        Criterion(
            tuple(("contrastive", t) for t in paper.FIG2_TAUS),
            embedding_contrast,
            ("embedding", "embedding_labels"),
        ),
    ),
    Claim(
        "Fig. 3",
        "The relative penalty vs $s_{ij}$: a small $\\tau$ concentrates it on the hardest negatives.",
        ("book/hardness",),
        derivations.check_penalty_concentration,
    ),
    Claim(
        "Figs. 4–5",
        "Ordinary loss: uniformity falls and tolerance rises with $\\tau$.",
        ("book/experiments/uniformity_tolerance",),
        TREND,
    ),
    Claim(
        "Figs. 6–7",
        "Hard loss: uniformity high and flat in $\\tau$; tolerance lower than the ordinary loss's.",
        ("book/experiments/uniformity_tolerance",),
        Criterion(ORDINARY + HARD, _all(hard_uniformity, hard_tolerance)),
    ),
    Claim(
        "Fig. 8",
        "The positive vs its 10 nearest negatives, per $\\tau$.",
        ("book/experiments/similarities",),
        Criterion(ENDS, _all(positive_gap, positive_alignment), SAMPLES),
    ),
    Claim(
        "Fig. 9",
        "Linear accuracy vs $\\tau$: ordinary reverse U, hard high and flat at large $\\tau$.",
        ("book/experiments/accuracy",),
        Criterion(ORDINARY + HARD, _all(best_at_intermediate_tau, hard_accuracy_at_large_tau)),
    ),
)
"""Every claim of the paper, its Table 1 and every figure: the one table the intro's list, the
status table and each chapter's rows all render from."""
KEYS = tuple(c.key for c in CLAIMS)


def status_table(records: Sequence[dict[str, Any]], keys: Sequence[str] | None = None) -> list[Row]:
    """Every row of :data:`CLAIMS` (or the rows ``keys``) with its computed outcome at each protocol."""
    rows, outcomes, table = [], {}, RunTable(records, cached_reader())
    for claim in (c for c in CLAIMS if keys is None or c.key in keys):
        check = claim.check
        if (
            check not in outcomes
        ):  # twin rows (a claim and its figure) share a criterion: each is judged once
            if isinstance(check, Criterion):
                outcomes[check] = {name: judge(table, check, name) for name in JUDGED}
            else:  # an analytic check: the same outcome at every protocol
                ok, detail = check()
                outcomes[check] = dict.fromkeys(
                    JUDGED, Outcome(REPRODUCED if ok else NOT_REPRODUCED, detail)
                )
        rows.append(Row(claim.key, claim.statement, claim.chapters, outcomes[check]))
    return rows


# --- each claim part's deciding numbers and how far they are from flipping -------------------


@dataclass(frozen=True)
class Margin:
    """One condition of a criterion: how far it holds (> 0) or fails (< 0), in the units of
    ``metric`` (a key of :data:`SEED_METRICS`, whose spread between seeds it is set against)."""

    metric: str
    value: float
    condition: str = ""
    """The condition in a word or two, where a criterion has more than one."""


@dataclass(frozen=True)
class Reading:
    """The numbers that decide a claim part at one scale (named, for a chapter to put into its
    sentence) and the margin of each of its conditions."""

    numbers: dict[str, float]
    margins: tuple[Margin, ...]


def _sample(index: int) -> Callable[[dict[str, np.ndarray]], float]:
    return lambda a: metrics.sample_metrics(a["embedding"], a["embedding_labels"])[index]


def _mean_positive(a: dict[str, np.ndarray]) -> float:
    return float(a["pos_sim"].mean())


def _mean_gap(a: dict[str, np.ndarray]) -> float:
    return float((a["pos_sim"] - a["neg_top10"][:, 0]).mean())


SEED_METRICS: dict[str, str | tuple[str, Callable[[dict[str, np.ndarray]], float]]] = {
    **{m: m for m in results.TABLE1_FIELDS},
    "s_ii": ("pos_sim", _mean_positive),
    "gap": ("neg_top10", _mean_gap),
    "sample_uniformity": ("embedding", _sample(0)),
    "sample_tolerance": ("embedding", _sample(1)),
}
"""What a margin is measured in: a metric of Table 1 or kNN (``Record.value``), or (an array it needs, the number
read from its arrays): the mean s_ii of the stored anchors (claim 7b), their mean s_ii less the
hardest negative (claim 7a), the uniformity and tolerance of the stored test sample (Fig. 2)."""


def _trend_reading(look: Runs) -> Reading:
    u, t = look.series("contrastive", "uniformity"), look.series("contrastive", "tolerance")
    numbers = {
        "tau_first": paper.TABLE1_TAUS[0],
        "tau_last": paper.TABLE1_TAUS[-1],
        "u_first": u[0],
        "u_last": u[-1],
        "t_first": t[0],
        "t_last": t[-1],
    }
    return Reading(
        numbers,
        (
            Margin("uniformity", min(a - b for a, b in zip(u, u[1:])), "falls"),
            Margin("tolerance", min(b - a for a, b in zip(t, t[1:])), "rises"),
        ),
    )


def _intermediate_reading(look: Runs) -> Reading:
    taus = sorted(set(paper.TABLE1_TAUS) | ({0.2} if look.get("contrastive", 0.2) else set()))
    acc = dict(zip(taus, look.series("contrastive", "linear_top1", taus)))
    inside = max((t for t in acc if 0.2 <= t <= 0.3), key=acc.get)
    outside = max((t for t in acc if not 0.2 <= t <= 0.3), key=acc.get)
    lead = acc[inside] - acc[outside]
    return Reading(
        {
            "inside": acc[inside],
            "inside_tau": inside,
            "outside": acc[outside],
            "outside_tau": outside,
            "lead": lead,
        },
        (Margin("linear_top1", lead),),
    )


def _simple_reading(look: Runs) -> Reading:
    best = max(look.series("contrastive", "linear_top1"))
    simple = look.mean("simple", None, "linear_top1")
    return Reading(
        {"simple": simple, "best": best, "below": best - simple, "bound": SIMPLE_GAP},
        (Margin("linear_top1", (best - SIMPLE_GAP) - simple),),
    )


def _hard_simple_reading(look: Runs) -> Reading:
    best = max(look.series("contrastive", "linear_top1"))
    hard_simple = look.mean("hard_simple", None, "linear_top1")
    return Reading(
        {
            "hard_simple": hard_simple,
            "best": best,
            "diff": hard_simple - best,
            "bound": HARD_SIMPLE_SLACK,
        },
        (Margin("linear_top1", hard_simple - (best - HARD_SIMPLE_SLACK)),),
    )


def _hard_uniformity_reading(look: Runs) -> Reading:
    hard, ordinary = look.series("hard", "uniformity"), look.series("contrastive", "uniformity")
    spread, below = max(hard) - min(hard), min(h - o for h, o in zip(hard, ordinary))
    return Reading(
        {
            "hard_spread": spread,
            "bound": FLAT_UNIFORMITY,
            "hard_minus_ordinary": below,
            "slack": UNIFORMITY_SLACK,
        },
        (
            Margin("uniformity", FLAT_UNIFORMITY - spread, "flat"),
            Margin("uniformity", below + UNIFORMITY_SLACK, "higher"),
        ),
    )


def _hard_accuracy_reading(look: Runs) -> Reading:
    hard = look.series("hard", "linear_top1")
    ordinary = look.series("contrastive", "linear_top1")
    return Reading(
        {
            "tau": paper.TABLE1_TAUS[-1],
            "hard": hard[-1],
            "ordinary": ordinary[-1],
            "hard_best": max(hard),
            "slack": HARD_ACCURACY_SLACK,
        },
        (
            Margin("linear_top1", hard[-1] - ordinary[-1], "above the ordinary"),
            Margin("linear_top1", hard[-1] - (max(hard) - HARD_ACCURACY_SLACK), "high"),
        ),
    )


def _ends_reading(look: Runs, metric: str, sign: int) -> Reading:
    small, large = (SEED_METRICS[metric][1](a) for a in _small_and_large(look))
    return Reading(
        {
            "tau_small": paper.TABLE1_TAUS[0],
            "tau_large": paper.TABLE1_TAUS[-1],
            "small": small,
            "large": large,
        },
        (Margin(metric, sign * (small - large)),),
    )


def _embedding_reading(look: Runs) -> Reading:
    samples = (look.arrays("contrastive", tau) for tau in paper.FIG2_TAUS)
    (u0, t0), (u1, t1) = (
        metrics.sample_metrics(a["embedding"], a["embedding_labels"]) for a in samples
    )
    return Reading(
        {
            "tau_small": paper.FIG2_TAUS[0],
            "tau_large": paper.FIG2_TAUS[1],
            "u_small": u0,
            "u_large": u1,
            "t_small": t0,
            "t_large": t1,
        },
        (
            Margin("sample_tolerance", t1 - t0, "tolerance"),
            Margin("sample_uniformity", u0 - u1, "uniformity"),
        ),
    )


READINGS: dict[Check, Callable[[Runs], Reading]] = {
    uniformity_tolerance_trend: _trend_reading,
    best_at_intermediate_tau: _intermediate_reading,
    simple_far_worse: _simple_reading,
    hard_simple_competitive: _hard_simple_reading,
    hard_uniformity: _hard_uniformity_reading,
    hard_accuracy_at_large_tau: _hard_accuracy_reading,
    positive_gap: partial(_ends_reading, metric="gap", sign=+1),
    positive_alignment: partial(_ends_reading, metric="s_ii", sign=-1),
    embedding_contrast: _embedding_reading,
}
"""The deciding numbers of each criterion a claim part (or Fig. 2) is judged by: the numbers its
check compares and the margin of each condition, positive exactly where the condition holds."""


class PaperTable(Runs):
    """The paper's Table 1 on ``dataset`` read as if it were records at the paper's scale: the
    criteria's numbers for the paper's own values; no arrays (Figs. 2 and 8 give no numbers)."""

    def __init__(self, dataset: str = PRIMARY_DATASET):
        super().__init__("paper", dataset, [])

    def get(self, loss: str, tau: float | None = None) -> Any:
        return paper.table1(self.dataset, "linear_top1", loss, tau)

    def mean(self, loss: str, tau: float | None, metric: str) -> float:
        if (found := paper.table1(self.dataset, metric, loss, tau)) is None:
            raise KeyError(f"the paper's Table 1 has no {config_label(loss, tau)}")
        return found

    def arrays(self, loss: str, tau: float | None) -> dict[str, np.ndarray]:
        raise KeyError("the paper's Table 1 has no arrays")


def seed_spread(look: Runs, metric: str) -> float | None:
    """The largest difference in ``metric`` (:data:`SEED_METRICS`) between two seeds of one
    configuration (any loss and τ) of ``look``'s data set at its protocol; None while no
    configuration has two seeds with it."""
    how, spreads = SEED_METRICS[metric], []
    for loss, tau in dict.fromkeys((r.loss, r.tau) for r in look.records):
        runs = look.counted(loss, tau)
        if isinstance(how, str):
            values = [r.value(how) for r in runs if results.TABLE1_FIELDS[how] in r.results]
        else:
            values = [how[1](a) for a in map(look.read, runs) if how[0] in a]
        if len(values) > 1:
            spreads.append(max(values) - min(values))
    return max(spreads, default=None)


@dataclass(frozen=True)
class Glance:
    """One line of the landing page's results at a glance, on CIFAR-10: a claim part's status at
    each scale, our deciding numbers there (None where no verdict was reached), the paper's from
    its Table 1 (None where the paper gives a figure only), the largest seed difference in each
    metric of its margins, and whether the verdict is within seed noise (:func:`within_noise`)."""

    key: str
    statement: str
    analytic: bool
    status: dict[str, str]
    ours: dict[str, Reading | None]
    theirs: Reading | None
    spread: dict[str, dict[str, float | None]]
    noise: dict[str, bool]


def within_noise(status: str, reading: Reading | None, spread: dict[str, float | None]) -> bool:
    """Whether a verdict could turn on seed noise: a "reproduced" with some margin, or a "not
    reproduced" whose failing margins all are, smaller than the largest difference between two
    seeds of one configuration in that margin's metric (the verdict itself stands)."""
    if reading is None or status not in (REPRODUCED, NOT_REPRODUCED):
        return False
    failing = status == NOT_REPRODUCED
    margins = [m for m in reading.margins if m.value < 0 or not failing]
    noisy = [spread.get(m.metric) is not None and abs(m.value) < spread[m.metric] for m in margins]
    return bool(noisy) and all(noisy) if failing else any(noisy)


GLANCE_KEYS = tuple(c.key for c in CLAIMS if c.key.startswith("claim")) + ("Fig. 2",)
"""The rows of the results at a glance: every claim part, and Fig. 2 (the one figure judged by a
criterion of its own)."""


def glance(records: Sequence[results.Record], keys: Sequence[str] = GLANCE_KEYS) -> list[Glance]:
    """The results at a glance (:class:`Glance`) of the rows ``keys``, on CIFAR-10, at every
    judged scale."""
    rows = {r.key: r for r in status_table(records, keys)}
    read, lines = cached_reader(), []
    for claim in (c for c in CLAIMS if c.key in keys):
        row, check = rows[claim.key], claim.check
        status = {p: o.verdicts.get(PRIMARY_DATASET, o.status) for p, o in row.outcomes.items()}
        if not isinstance(check, Criterion):
            lines.append(
                Glance(
                    claim.key,
                    claim.statement,
                    True,
                    status,
                    dict.fromkeys(JUDGED),
                    None,
                    {p: {} for p in JUDGED},
                    dict.fromkeys(JUDGED, False),
                )
            )
            continue
        decide, ours, spread, noise = READINGS[check.check], {}, {}, {}
        for name in JUDGED:
            look = RunTable(records, read).at(name, PRIMARY_DATASET)
            ours[name] = decide(look) if status[name] in (REPRODUCED, NOT_REPRODUCED) else None
            metrics_ = dict.fromkeys(m.metric for m in (ours[name].margins if ours[name] else ()))
            spread[name] = {m: seed_spread(look, m) for m in metrics_}
            noise[name] = within_noise(status[name], ours[name], spread[name])
        try:
            theirs = decide(PaperTable())
        except KeyError:
            theirs = None
        lines.append(Glance(claim.key, claim.statement, False, status, ours, theirs, spread, noise))
    return lines

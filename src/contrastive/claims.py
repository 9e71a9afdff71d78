"""The paper's claims (Eq. 4-5, Table 1, Figs. 4-9), its Table 1 and Figs. 1-9: where the book reproduces each, and a status.

Every status is computed when the book is built, never typed. An analytic row runs a check of
``contrastive.derivations`` on fixed random similarities in float64. An experimental row reads run records once
per protocol of ``contrastive.config.JUDGED`` (the paper's scale and the CPU scale), counting only records at that
protocol (``contrastive.config.deviations``): with a configuration it needs missing or off the protocol, its status
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

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import derivations, metrics, paper, pilot, results
from .config import JUDGED, NOT_YET_RUN, TITLES, config_label, deviations
from .data import OFFLINE_SOURCE

REPRODUCED, NOT_REPRODUCED, NOT_APPLICABLE = "reproduced", "not reproduced", "not judged at this scale"
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


ArrayReader = Callable[[dict[str, Any]], dict[str, np.ndarray]]
"""Reads the arrays of a record (``results.read_arrays`` or a :func:`cached_reader`)."""


def cached_reader() -> ArrayReader:
    """``results.read_arrays`` reading each record's npz once (by path) for as long as it is kept."""
    cache: dict[str, dict[str, np.ndarray]] = {}

    def read(record: results.Record) -> dict[str, np.ndarray]:
        if record.path not in cache:
            cache[record.path] = record.arrays()
        return cache[record.path]

    return read


class Lookup:
    """The records of one data set at one protocol, by (loss, tau); ``read`` reads a record's arrays."""

    def __init__(self, records: Sequence[results.Record], dataset: str, read: ArrayReader = results.read_arrays,
                 name: str = "paper"):
        self.records, self.dataset, self.read, self.protocol = results.of_protocol(records, name), dataset, read, name
        self.used: list[results.Record] = []
        """The records :meth:`get` has returned (those a check counted)."""
        self.most_seeds = 1
        """The most seeds that one of the means of :meth:`value` averaged."""

    def get(self, loss: str, tau: float | None = None) -> results.Record | None:
        """The record of (loss, tau) (seed 0) if it exists and is at the protocol, else None."""
        r = results.find(self.records, self.dataset, loss, tau)
        if r is None or deviations(r.config, self.protocol):
            return None
        self.used.append(r)
        return r

    def runs(self, loss: str, tau: float | None) -> list[results.Record]:
        """Every seed's record of (loss, tau) at the protocol."""
        return [r for r in results.seeds(self.records, self.dataset, loss, tau) if not deviations(r.config, self.protocol)]

    def value(self, loss: str, tau: float | None, metric: str) -> float:
        """The mean of ``metric`` over the seeds of (loss, tau) at the protocol (:func:`judge` checks seed 0 exists)."""
        runs = self.runs(loss, tau)
        self.used += runs
        self.most_seeds = max(self.most_seeds, len(runs))
        return float(np.mean([r.results[metric] for r in runs]))

    def series(self, loss: str, metric: str, taus: Sequence[float] = paper.TABLE1_TAUS) -> list[float]:
        return [self.value(loss, t, metric) for t in taus]

    def arrays(self, loss: str, tau: float | None) -> dict[str, np.ndarray]:
        return self.read(self.get(loss, tau))


Check = Callable[[Lookup], tuple[bool, str]]


@dataclass(frozen=True)
class Criterion:
    """The configurations a row needs (and the arrays it reads) and the check that decides it."""

    configs: tuple[Run, ...]
    check: Check
    arrays: tuple[str, ...] = ()
    protocols: tuple[str, ...] = JUDGED
    """The protocols at which the criterion is judged (elsewhere: :data:`NOT_APPLICABLE`)."""


def _unusable(look: Lookup, criterion: Criterion) -> tuple[list[str], list[str]]:
    """The configurations of ``criterion`` without a usable record in ``look``: (missing, off the protocol or
    without the arrays it reads; invalid: NaN or inf in its numbers, or arrays that are not its own)."""
    missing, invalid = [], []
    for loss, tau in criterion.configs:
        r = results.find(look.records, look.dataset, loss, tau)
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


def judge(records: Sequence[results.Record], criterion: Criterion, read: ArrayReader = results.read_arrays,
          name: str = "paper") -> Outcome:
    """Judge ``criterion`` at protocol ``name`` on every data set of :func:`datasets` and combine (module docstring)."""
    if name not in criterion.protocols:
        return Outcome(NOT_APPLICABLE, f"judged at {', '.join(TITLES[p] for p in criterion.protocols)} only")
    verdicts, details = {}, []
    for d in datasets(results.of_protocol(records, name)):
        look = Lookup(records, d, read, name)
        missing, invalid = _unusable(look, criterion)
        if invalid or missing:
            verdicts[d] = INVALID if invalid else NOT_YET_RUN
            details.append(f"{d}: " + (f"{INVALID}: {', '.join(invalid)}" if invalid else f"needs {', '.join(missing)}"))
            continue
        ok, evidence = criterion.check(look)
        verdicts[d] = REPRODUCED if ok else NOT_REPRODUCED
        jpeg = f" {JPEG_COPY}" if any(r.provenance.get("data", {}).get("source") == OFFLINE_SOURCE for r in look.used) else ""
        seeds = f" (means over up to {look.most_seeds} seeds)" if look.most_seeds > 1 else ""
        unfinished = sorted({config_label(r.loss, r.tau) for r in look.used if not pilot.levelled(r.curves)})
        unfinished_note = f"; not levelled off by the pilots' rule 2: {', '.join(unfinished)}" if unfinished else ""
        details.append(f"{d}: {verdicts[d]}; {evidence}{seeds}{jpeg}{unfinished_note}")
    status = next((s for s in (INVALID, NOT_REPRODUCED, REPRODUCED) if s in verdicts.values()), NOT_YET_RUN)
    return Outcome(status, " — ".join(details), verdicts)


# --- the experimental criteria --------------------------------------------------------------


def _fmt(values: Iterable[float], spec: str = ".3f") -> str:
    return ", ".join(format(v, spec) for v in values)


def _all(*checks: Check) -> Check:
    def check(look: Lookup) -> tuple[bool, str]:
        outcomes = [c(look) for c in checks]
        return all(ok for ok, _ in outcomes), "; ".join(text for _, text in outcomes)

    return check


def uniformity_tolerance_trend(look: Lookup) -> tuple[bool, str]:
    """Claim 3, Figs. 4-5: ordinary loss at τ = 0.07, 0.3, 0.7, 1.0: uniformity non-increasing and
    tolerance non-decreasing in τ."""
    u, t = look.series("contrastive", "uniformity"), look.series("contrastive", "tolerance")
    ok = all(a >= b for a, b in zip(u, u[1:])) and all(a <= b for a, b in zip(t, t[1:]))
    return ok, f"ordinary, τ = {_fmt(paper.TABLE1_TAUS, 'g')}: uniformity {_fmt(u)}; tolerance {_fmt(t)}"


def best_at_intermediate_tau(look: Lookup) -> tuple[bool, str]:
    """Claim 4, Fig. 9: the ordinary loss's best linear top-1 over τ ∈ {0.07, 0.3, 0.7, 1.0} (and 0.2
    where that record exists) is at τ = 0.2 or 0.3."""
    taus = sorted(set(paper.TABLE1_TAUS) | ({0.2} if look.get("contrastive", 0.2) else set()))
    acc = dict(zip(taus, look.series("contrastive", "linear_top1", taus)))
    best = max(acc, key=acc.get)
    return 0.2 <= best <= 0.3, "ordinary linear top-1 " + ", ".join(f"τ={t:g}: {a:.2f}" for t, a in acc.items()) + f"; best at τ = {best:g}"


def simple_far_worse(look: Lookup) -> tuple[bool, str]:
    """Claim 5, first part: Simple's linear top-1 ≤ the best ordinary one − 5 points (τ ∈ {0.07, 0.3, 0.7, 1.0})."""
    best, simple = max(look.series("contrastive", "linear_top1")), look.value("simple", None, "linear_top1")
    return simple <= best - SIMPLE_GAP, f"linear top-1: Simple {simple:.2f}, best ordinary {best:.2f}"


def hard_simple_competitive(look: Lookup) -> tuple[bool, str]:
    """Claim 5, second part: HardSimple's linear top-1 ≥ the best ordinary one − 2 points (τ ∈ {0.07, 0.3, 0.7, 1.0})."""
    best, hard_simple = max(look.series("contrastive", "linear_top1")), look.value("hard_simple", None, "linear_top1")
    return hard_simple >= best - HARD_SIMPLE_SLACK, f"linear top-1: HardSimple {hard_simple:.2f}, best ordinary {best:.2f}"


def hard_uniformity(look: Lookup) -> tuple[bool, str]:
    """Claim 6 (uniformity), Figs. 6-7: the hard loss's uniformity spreads ≤ 0.1 over τ and is ≥ the
    ordinary loss's − 0.02 at every τ of Table 1."""
    hard, ordinary = look.series("hard", "uniformity"), look.series("contrastive", "uniformity")
    ok = max(hard) - min(hard) <= FLAT_UNIFORMITY and all(h >= o - UNIFORMITY_SLACK for h, o in zip(hard, ordinary))
    return ok, f"uniformity, τ = {_fmt(paper.TABLE1_TAUS, 'g')}: hard {_fmt(hard)}; ordinary {_fmt(ordinary)}"


def hard_accuracy_at_large_tau(look: Lookup) -> tuple[bool, str]:
    """Claim 6 (accuracy), Fig. 9: at τ = 1 the hard loss's linear top-1 beats the ordinary loss's and
    is within 1 point of the hard loss's best over τ."""
    hard, ordinary = look.series("hard", "linear_top1"), look.series("contrastive", "linear_top1")
    ok = hard[-1] > ordinary[-1] and hard[-1] >= max(hard) - HARD_ACCURACY_SLACK
    return ok, f"linear top-1, τ = {_fmt(paper.TABLE1_TAUS, 'g')}: hard {_fmt(hard, '.2f')}; ordinary {_fmt(ordinary, '.2f')}"


def hard_tolerance(look: Lookup) -> tuple[bool, str]:
    """Figs. 6-7 (tolerance): the hard loss's tolerance ≤ the ordinary loss's at every τ of Table 1.
    (The paper's own CIFAR-10 and SVHN numbers do not grow with τ, so growth is not required.)"""
    hard, ordinary = look.series("hard", "tolerance"), look.series("contrastive", "tolerance")
    return all(h <= o for h, o in zip(hard, ordinary)), f"tolerance: hard {_fmt(hard)}; ordinary {_fmt(ordinary)}"


def _small_and_large(look: Lookup) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The stored similarity samples of the ordinary loss at the smallest and the largest τ of Table 1."""
    return look.arrays("contrastive", paper.TABLE1_TAUS[0]), look.arrays("contrastive", paper.TABLE1_TAUS[-1])


def positive_gap(look: Lookup) -> tuple[bool, str]:
    """Claim 7, first part (Fig. 8): mean(s_ii − hardest negative) of the 1,000 anchors is larger at
    τ = 0.07 than at τ = 1."""
    gap = [float((a["pos_sim"] - a["neg_top10"][:, 0]).mean()) for a in _small_and_large(look)]
    return gap[0] > gap[1], f"τ = {paper.TABLE1_TAUS[0]:g} vs {paper.TABLE1_TAUS[-1]:g}: mean s_ii − n1 {_fmt(gap)}"


def positive_alignment(look: Lookup) -> tuple[bool, str]:
    """Claim 7, second part (Fig. 8): mean s_ii of the 1,000 anchors is larger at τ = 1 than at τ = 0.07."""
    pos = [float(a["pos_sim"].mean()) for a in _small_and_large(look)]
    return pos[1] > pos[0], f"τ = {paper.TABLE1_TAUS[0]:g} vs {paper.TABLE1_TAUS[-1]:g}: mean s_ii {_fmt(pos)}"


def embedding_contrast(look: Lookup) -> tuple[bool, str]:
    """Fig. 2: on the stored 2,000-point test sample, tolerance is higher at τ = 0.2 than at 0.07 and
    uniformity is not lower at 0.07 than at 0.2."""
    samples = [look.arrays("contrastive", tau) for tau in paper.FIG2_TAUS]
    u, t = zip(*(metrics.sample_metrics(a["embedding"], a["embedding_labels"]) for a in samples))
    return t[1] > t[0] and u[0] >= u[1], f"sample at τ = {_fmt(paper.FIG2_TAUS, 'g')}: uniformity {_fmt(u)}; tolerance {_fmt(t)}"


def table1_close(look: Lookup) -> tuple[bool, str]:
    """Table 1: every cell within TABLE1_TOLERANCE of the paper's (2 points, 0.1, 0.05)."""
    worst = {}
    for m in paper.METRICS:
        diffs = [look.value(loss, tau, m) - paper.table1(look.dataset, m, loss, tau) for loss, tau in paper.COLUMNS]
        worst[m] = max(diffs, key=abs)
    ok = all(abs(worst[m]) <= TABLE1_TOLERANCE[m] for m in paper.METRICS)
    return ok, "largest ours − paper: " + ", ".join(f"{m} {worst[m]:+.3f} (allowed ±{TABLE1_TOLERANCE[m]:g})" for m in paper.METRICS)


TREND = Criterion(ORDINARY, uniformity_tolerance_trend)
ENDS = (ORDINARY[0], ORDINARY[-1])
SAMPLES = ("pos_sim", "neg_top10")
"""The criteria a claim and its figure share (each is judged once per protocol); claim 7's runs and arrays."""


@dataclass(frozen=True)
class Claim:
    """One row of the status table: what the paper says (MyST Markdown), the chapters (docnames) where the book
    reproduces it, and its check: an analytic computation (``contrastive.derivations``) or a :class:`Criterion`."""

    key: str
    statement: str
    chapters: tuple[str, ...]
    check: Callable[[], tuple[bool, str]] | Criterion


CLAIMS: tuple[Claim, ...] = (
    Claim("claim 1", "The negative gradient is proportional to $\\exp(s_{ij}/\\tau)$; the negative gradients sum to the positive one.",
          ("book/hardness",), derivations.check_gradients),
    Claim("claim 2", "The entropy of the relative penalty decreases strictly as $\\tau$ decreases; $\\tau \\to 0$ gives a triplet loss "
          "with margin 0, $\\tau \\to \\infty$ the simple loss.", ("book/hardness", "book/limits"), derivations.check_entropy_and_limits),
    Claim("claim 3", "Ordinary loss: uniformity decreases and tolerance increases as $\\tau$ increases.",
          ("book/experiments/uniformity_tolerance",), TREND),
    Claim("claim 4", "Ordinary loss: accuracy is best at an intermediate $\\tau$ (0.2–0.3).", ("book/experiments/accuracy",),
          Criterion(ORDINARY, best_at_intermediate_tau)),
    Claim("claim 5a", "The simple loss is far worse than the contrastive loss.", ("book/experiments/table1",),
          Criterion(ORDINARY + (("simple", None),), simple_far_worse)),
    Claim("claim 5b", "With the 4095 nearest negatives (HardSimple) the simple loss becomes competitive.", ("book/experiments/table1",),
          Criterion(ORDINARY + (("hard_simple", None),), hard_simple_competitive)),
    Claim("claim 6a", "Hard loss: higher, $\\tau$-independent uniformity.", ("book/experiments/uniformity_tolerance",),
          Criterion(ORDINARY + HARD, hard_uniformity)),
    Claim("claim 6b", "Hard loss: accuracy stays high at large $\\tau$ where the ordinary loss degrades.", ("book/experiments/accuracy",),
          Criterion(ORDINARY + HARD, hard_accuracy_at_large_tau)),
    Claim("claim 7a", "A smaller $\\tau$ separates the positive from its nearest negatives more.", ("book/experiments/similarities",),
          Criterion(ENDS, positive_gap, SAMPLES)),
    Claim("claim 7b", "A larger $\\tau$ aligns positives more ($s_{ii} \\to 1$).", ("book/experiments/similarities",),
          Criterion(ENDS, positive_alignment, SAMPLES)),
    Claim("Table 1", "Linear top-1, uniformity and tolerance of the four losses at $\\tau$ = 0.07, 0.3, 0.7, 1.0.",
          ("book/experiments/table1",), Criterion(tuple(paper.COLUMNS), table1_close, protocols=("paper",))),
    Claim("Fig. 1", "Two embeddings with equal loss: the loss does not see semantic structure.", ("book/dilemma",), derivations.check_equal_loss),
    Claim("Fig. 2", "t-SNE at $\\tau$ = 0.07 (uniform, intolerant) vs $\\tau$ = 0.2 (locally clustered).", ("book/experiments/embeddings",),
          Criterion(tuple(("contrastive", t) for t in paper.FIG2_TAUS), embedding_contrast, ("embedding", "embedding_labels"))),
    Claim("Fig. 3", "The relative penalty vs $s_{ij}$: a small $\\tau$ concentrates it on the hardest negatives.", ("book/hardness",),
          derivations.check_penalty_concentration),
    Claim("Figs. 4–5", "Ordinary loss: uniformity falls and tolerance rises with $\\tau$.", ("book/experiments/uniformity_tolerance",), TREND),
    Claim("Figs. 6–7", "Hard loss: uniformity high and flat in $\\tau$; tolerance lower than the ordinary loss's.",
          ("book/experiments/uniformity_tolerance",), Criterion(ORDINARY + HARD, _all(hard_uniformity, hard_tolerance))),
    Claim("Fig. 8", "The positive vs its 10 nearest negatives, per $\\tau$.", ("book/experiments/similarities",),
          Criterion(ENDS, _all(positive_gap, positive_alignment), SAMPLES)),
    Claim("Fig. 9", "Linear accuracy vs $\\tau$: ordinary reverse U, hard high and flat at large $\\tau$.", ("book/experiments/accuracy",),
          Criterion(ORDINARY + HARD, _all(best_at_intermediate_tau, hard_accuracy_at_large_tau))),
)
"""Every claim of the paper, its Table 1 and every figure: the one table the intro's list, the
status table and each chapter's rows all render from."""
KEYS = tuple(c.key for c in CLAIMS)


def status_table(records: Sequence[dict[str, Any]], keys: Sequence[str] | None = None) -> list[Row]:
    """Every row of :data:`CLAIMS` (or the rows ``keys``) with its computed outcome at each protocol."""
    rows, outcomes, read = [], {}, cached_reader()
    for claim in (c for c in CLAIMS if keys is None or c.key in keys):
        check = claim.check
        if check not in outcomes:  # twin rows (a claim and its figure) share a criterion: each is judged once
            if isinstance(check, Criterion):
                outcomes[check] = {name: judge(records, check, read, name) for name in JUDGED}
            else:  # an analytic check: the same outcome at every protocol
                ok, detail = check()
                outcomes[check] = dict.fromkeys(JUDGED, Outcome(REPRODUCED if ok else NOT_REPRODUCED, detail))
        rows.append(Row(claim.key, claim.statement, claim.chapters, outcomes[check]))
    return rows

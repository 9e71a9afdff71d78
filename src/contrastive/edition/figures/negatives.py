"""Figures of the chapter "How many negatives does τ listen to?": summaries of the Eq. 5 penalty against τ.

Every number plotted is computed by :mod:`contrastive.edition.penalty` on ``samples``, a mapping from a legend label to
negative similarities s_neg (B anchors, M negatives; curves are the mean over the anchors): those of the
uniform-sphere MODEL (no data), or those of run records' histograms, drawn only when records exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import plotly.graph_objects as go
import torch
from torch import Tensor

from ... import paper
from ...losses import LABELS, relative_penalty
from ...protocols import PROTOCOLS, config_label, describe
from ..penalty import (
    CIFAR_NEGATIVES,
    FEATURE_DIM,
    dropped_share,
    effective_negatives,
    histogram_similarities,
    solve_tau,
    sphere_similarities,
    top_k_share,
)
from ..table import Runs, with_arrays
from . import class_colour, html_table, tau_slider
from .analytic import PENALTY_TAUS, log_taus, tau_layout
from .records import DASHES, TAU_LOSSES, NotYetRun, absent, missing_note, run_text, subscripts

MODEL_DIMS = (16, FEATURE_DIM, 512)
"""The dimensions d of the uniform-sphere model drawn in the figures; d = 128 is the paper's."""
DROPPED_FLOOR = -8
"""log10 of the smallest dropped share :func:`dropped_figure` shows (smaller ones lie below its axis)."""
Summary = Callable[[Tensor, float], Tensor]
BELOW = dict(height=500, margin=dict(b=130), legend=dict(orientation="h", yanchor="top", y=-0.25))
"""The layout of the figures against τ here (``analytic.tau_layout``): room for the legend below."""


def model_label(d: int) -> str:
    return f"uniform sphere model, d = {d}"


def sphere_model(
    dims: Sequence[int] = MODEL_DIMS, m: int = CIFAR_NEGATIVES, b: int = 4, seed: int = 0
) -> dict[str, Tensor]:
    """``samples`` of the uniform-sphere MODEL: b anchors with m negatives each, in each dimension d of ``dims``."""
    return {model_label(d): sphere_similarities(m, d, b, seed) for d in dims}


def mean_curve(summary: Summary, s_neg: Tensor, taus: Sequence[float]) -> list[float]:
    """``summary(s_neg, tau)`` averaged over the anchors (rows), at each τ."""
    return [summary(s_neg, tau).mean().item() for tau in taus]


def dropped(k: int) -> Summary:
    """The share of the Eq. 5 penalty that Eq. 9 with the k nearest negatives drops (k capped at M)."""
    return lambda s_neg, tau: dropped_share(s_neg, tau, min(k, s_neg.shape[-1]))


def _penalty_vs_tau(
    samples: Mapping[str, Tensor],
    summary: Summary,
    marks: Mapping[str, Sequence[float]] | None,
    taus: Sequence[float] | None,
) -> go.Figure:
    """One line per sample of ``summary`` vs τ, and on a sample's line markers at the τ of ``marks[label]``."""
    taus = log_taus(-2, 1, 61) if taus is None else list(taus)
    marks = marks or {}
    fig = go.Figure()
    for i, (label, s_neg) in enumerate(samples.items()):
        colour = class_colour(i)
        fig.add_scatter(
            x=taus,
            y=mean_curve(summary, s_neg, taus),
            mode="lines",
            line=dict(color=colour),
            name=label,
            legendgroup=label,
        )
        if marks.get(label):  # the run's own τ, on its line; one legend entry with it
            marked = list(marks[label])
            fig.add_scatter(
                x=marked,
                y=mean_curve(summary, s_neg, marked),
                mode="markers+text",
                text=[f"{t:g}" for t in marked],
                textposition="bottom right",
                marker=dict(color=colour, size=9),
                legendgroup=label,
                showlegend=False,
                name=f"{label} at τ = {', '.join(f'{t:g}' for t in marked)}",
            )
    return fig


def _hline(fig: go.Figure, ys: Sequence[float], name: str, dash: str) -> None:
    """Grey horizontal reference lines at ``ys`` across the τ range of the figure's first trace: one
    trace, so one legend entry however many lines."""
    x0, x1 = fig.data[0].x[0], fig.data[0].x[-1]
    x = [v for _ in ys for v in (x0, x1, None)][:-1]  # a gap between two lines, none after the last
    y = [v for level in ys for v in (level, level, None)][:-1]
    fig.add_scatter(x=x, y=y, mode="lines", line=dict(color="grey", dash=dash), name=name)


def effective_figure(
    samples: Mapping[str, Tensor],
    marks: Mapping[str, Sequence[float]] | None = None,
    taus: Sequence[float] | None = None,
    k: int = paper.HARD_K,
    title: str = "How many negatives share the penalty: exp H(r_i)",
) -> go.Figure:
    """The effective number of negatives exp H(r_i) vs τ (log–log), with M (all negatives) and k (what
    Eq. 9 keeps) as dashed lines."""
    fig = _penalty_vs_tau(samples, effective_negatives, marks, taus)
    ms = sorted({s.shape[-1] for s in samples.values()})
    _hline(fig, ms, f"M = {', '.join(f'{m:,}' for m in ms)} (every negative)", "dash")
    _hline(fig, [k], f"k = {k:,} (the nearest negatives Eq. 9 keeps)", "dot")
    yaxis = dict(
        type="log", title="effective number of negatives exp H(r_i)", exponentformat="power"
    )
    return tau_layout(fig, title, yaxis, **BELOW)


def dropped_figure(
    samples: Mapping[str, Tensor],
    marks: Mapping[str, Sequence[float]] | None = None,
    taus: Sequence[float] | None = None,
    k: int = paper.HARD_K,
    title: str | None = None,
) -> go.Figure:
    """The share of the Eq. 5 penalty outside the k nearest negatives vs τ (log–log): what the hard loss
    of Eq. 9 removes from the gradient. Its τ → ∞ limit (M − k)/M is dashed; the y axis starts at 10**DROPPED_FLOOR."""
    fig = _penalty_vs_tau(samples, dropped(k), marks, taus)
    if ms := sorted({s.shape[-1] for s in samples.values() if s.shape[-1] > k}):
        name = f"τ → ∞: (M − k)/M, M = {', '.join(f'{m:,}' for m in ms)}"
        _hline(fig, [(m - k) / m for m in ms], name, "dash")
    title = (
        title
        or f"What the hard loss drops: the share of the penalty outside the {k:,} nearest negatives"
    )
    yaxis = dict(
        type="log",
        title="share of the penalty dropped by Eq. 9",
        exponentformat="power",
        range=[DROPPED_FLOOR, 0.2],
    )
    return tau_layout(fig, title, yaxis, **BELOW)


def log_ranks(m: int, n: int = 300) -> list[int]:
    """About ``n`` ranks 1..m evenly spaced in log rank (distinct integers, 1 and m included)."""
    ranks = (
        torch.logspace(0, torch.log10(torch.tensor(float(m))).item(), n, dtype=torch.float64)
        .round()
        .long()
    )
    return torch.unique(torch.cat([ranks, torch.tensor([1, m])])).tolist()


def ranked_penalty_figure(
    s_neg: Tensor,
    taus: Sequence[float] = PENALTY_TAUS,
    k: int = paper.HARD_K,
    active: int = 1,
    points: int = 300,
) -> go.Figure:
    """One anchor's relative penalty r_i (Eq. 5) sorted from the nearest negative down, against rank (log–log),
    one τ at a time (slider), with the cut of Eq. 9 at rank k. Row 0 of ``s_neg`` is used."""
    r_sorted = [relative_penalty(s_neg[:1], tau)[0].sort(descending=True).values for tau in taus]
    ranks = log_ranks(s_neg.shape[-1], points)
    index = torch.tensor(ranks) - 1
    low = min(r[index][r[index] > 0].min().item() for r in r_sorted)
    high = max(r[0].item() for r in r_sorted)
    frames = [
        (
            tau,
            [
                go.Scatter(
                    x=ranks,
                    y=r[index].tolist(),
                    mode="lines",
                    line=dict(width=3),
                    name=f"r_i sorted; the {k:,} nearest carry {top_k_share(s_neg[:1], tau, k)[0].item():.1%}",
                ),
                go.Scatter(
                    x=[k, k],
                    y=[low, high],
                    mode="lines",
                    line=dict(color="grey", dash="dash"),
                    name=f"Eq. 9 cut at rank {k:,}",
                ),
            ],
        )
        for tau, r in zip(taus, r_sorted)
    ]
    title = f"The relative penalty (Eq. 5) of one anchor's {s_neg.shape[-1]:,} negatives, by rank"
    return subscripts(
        tau_slider(
            frames,
            active=active,
            title=title,
            xaxis=dict(type="log", title="rank of the negative (1 = nearest)"),
            yaxis=dict(type="log", title="relative penalty r_i", exponentformat="power"),
            template="plotly_white",
            height=520,
            legend=dict(orientation="h", yanchor="bottom", y=1.0),
        )
    )


def penalty_rows(
    s_neg: Tensor, taus: Sequence[float] = paper.TABLE1_TAUS, k: int = paper.HARD_K
) -> list[dict[str, float]]:
    """Per τ, averaged over anchors: exp H(r_i), exp H(r_i) / M, the top-k share and the dropped share."""
    m = s_neg.shape[-1]
    return [
        {
            "tau": tau,
            "effective": (e := effective_negatives(s_neg, tau).mean().item()),
            "fraction": e / m,
            "top_k": top_k_share(s_neg, tau, k).mean().item(),
            "dropped": dropped_share(s_neg, tau, k).mean().item(),
        }
        for tau in taus
    ]


def penalty_table(
    s_neg: Tensor, taus: Sequence[float] = paper.TABLE1_TAUS, k: int = paper.HARD_K
) -> str:
    """:func:`penalty_rows` as an HTML table."""
    m = s_neg.shape[-1]
    columns = [
        "τ",
        "effective negatives exp H(r_i)",
        f"… as a share of M = {m:,}",
        f"penalty on the {k:,} nearest (Eq. 9 keeps)",
        "penalty dropped by Eq. 9",
    ]
    return html_table(
        columns,
        [
            [
                f"{r['tau']:g}",
                f"{r['effective']:,.0f}",
                f"{r['fraction']:.1%}",
                f"{r['top_k']:.1%}",
                f"{r['dropped']:.1%}",
            ]
            for r in penalty_rows(s_neg, taus, k)
        ],
    )


def penalty_numbers(
    s_neg: Tensor,
    taus: Sequence[float] = paper.TABLE1_TAUS,
    k: int = paper.HARD_K,
    small: float = 0.01,
) -> dict[str, float]:
    """What the chapter quotes of ``s_neg`` (B, M): M, B, k and ``small``; the :func:`penalty_rows` summaries at the
    first and the last τ; ``tau_k``, the τ at which the mean exp H(r_i) of Eq. 5 equals k; and ``tau_small``, the τ
    below which Eq. 9 drops less than ``small`` of the penalty."""
    rows = penalty_rows(s_neg, taus, k)
    ends = {
        f"{key}_{end}": row[key]
        for end, row in (("first", rows[0]), ("last", rows[-1]))
        for key in ("tau", "effective", "fraction", "dropped")
    }
    return {
        "m": s_neg.shape[-1],
        "anchors": s_neg.shape[0],
        "k": k,
        "small": small,
        **ends,
        "tau_k": solve_tau(lambda tau: effective_negatives(s_neg, tau).mean().item(), k),
        "tau_small": solve_tau(lambda tau: dropped(k)(s_neg, tau).mean().item(), small),
    }


# --- measured: run records -----------------------------------------------------------------------


def measured_samples(
    runs: Runs, losses: Sequence[str] = TAU_LOSSES
) -> tuple[dict[str, Tensor], dict[str, list[float]], list[str]]:
    """``samples`` from the negative-similarity histograms of the records at Table 1's temperatures (one per loss
    and τ, M = the recorded training images − 1), ``marks`` (each record's own τ on its line), and the labels of the
    paper's configurations without a usable record (no record, no histogram, or no recorded image count)."""
    samples: dict[str, Tensor] = {}
    marks: dict[str, list[float]] = {}
    missing: list[str] = []
    for loss in losses:
        found = [
            (t, a, r)
            for t, a, r in with_arrays(runs.by_tau(loss), ("hist_edges", "hist_neg"))
            if r.provenance.get("train_images", 0) > 1 and t in paper.TABLE1_TAUS
        ]
        for t, a, r in found:
            label = f"measured: {config_label(loss, t)} ({run_text([r])})"
            samples[label] = histogram_similarities(
                a["hist_edges"], a["hist_neg"], r.provenance["train_images"] - 1
            )
            marks[label] = [t]
        missing += absent(loss, paper.TABLE1_TAUS, [t for t, _, _ in found])
    return samples, marks, missing


def measured_figures(
    runs: Runs, reference: Mapping[str, Tensor] | None = None
) -> list[go.Figure | NotYetRun]:
    """:func:`effective_figure` and :func:`dropped_figure` on the records' measured negative similarities, the
    ``reference`` samples (e.g. the model) beside them, with the k of the protocol's hard loss; a single
    :class:`NotYetRun` note when no record has a histogram."""
    samples, marks, missing = measured_samples(runs)
    what = (
        f"Penalty summaries from measured similarities, {runs.dataset}, {describe(runs.protocol)}"
    )
    if not samples:
        return [NotYetRun(what, tuple(missing))]
    measured, (samples, k) = (
        dict(marks),
        ({**samples, **(reference or {})}, PROTOCOLS[runs.protocol].k),
    )
    scale = f"{runs.dataset}<br>{describe(runs.protocol)}{missing_note(missing)}"
    return [
        _grouped(fig, measured)
        for fig in (
            effective_figure(
                samples,
                marks,
                k=k,
                title=f"Measured similarities: how many negatives share the penalty, {scale}",
            ),
            dropped_figure(
                samples, marks, k=k, title=f"Measured similarities: the share Eq. 9 drops, {scale}"
            ),
        )
    ]


def _grouped(fig: go.Figure, measured: Mapping[str, Sequence[float]]) -> go.Figure:
    """A figure of measured samples with a legend of a few entries: each measured line coloured by
    its τ and dashed by its loss, keyed once each; the reference lines (M, k) named on the plot, at
    their right end, instead of in the legend."""
    taus = sorted({t for marked in measured.values() for t in marked})
    losses = {}
    for trace in fig.data:
        label = trace.legendgroup or trace.name
        if label in measured:
            loss = "hard" if " hard τ=" in label else "contrastive"
            colour, losses[loss] = class_colour(taus.index(measured[label][0])), True
            trace.update(
                showlegend=False,
                line={"color": colour, "dash": DASHES[loss]},
                marker={"color": colour},
            )
        elif trace.name and trace.name.startswith(("M = ", "k = ", "τ → ∞")):
            trace.showlegend = False
            fig.add_annotation(
                x=math.log10(trace.x[1]),
                y=math.log10(trace.y[0]),
                text=trace.name,
                showarrow=False,
                xanchor="right",
                yanchor="bottom",
                font={"size": 11},
            )  # log axes: annotations sit at log10 of a value
    for i, tau in enumerate(taus):
        fig.add_scatter(
            x=[None], y=[None], mode="lines", line={"color": class_colour(i)}, name=f"τ = {tau:g}"
        )
    for loss in losses:
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="lines",
            name=f"measured, {LABELS[loss]} loss",
            line={"color": "#444444", "dash": DASHES[loss]},
        )
    return fig

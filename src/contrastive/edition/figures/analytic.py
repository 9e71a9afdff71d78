"""Figures of the analytic chapters: hardness-awareness (Eq. 1-5, Fig. 3), the two limits (Eq. 6-7) and the
dilemma in miniature (:mod:`contrastive.edition.toy`). Every number plotted is computed by ``losses``, ``metrics`` or
``toy``; the figures only arrange them. Temperature sliders use ``figures.tau_slider``, so they work in the static book.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from contrastive.edition.examples import autograd_gradients, random_similarities, similarity_grid
from contrastive.edition.figures import class_colour, html_table, tau_slider
from contrastive.edition.figures.records import subscripts
from contrastive.edition.toy import ToyResult
from contrastive.losses import (
    LABELS,
    contrastive_loss,
    gradients,
    penalty_entropy,
    relative_penalty,
    simple_limit,
    triplet_limit,
)
from contrastive.metrics import tolerance, uniformity

PENALTY_TAUS = (0.05, 0.07, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
"""The temperatures of the Fig. 3 slider."""

FAINT = "rgba(110, 110, 110, 0.35)"
LIMIT_WIDTH, LIMIT_OPACITY, CURVE_WIDTH = 9, 0.3, 2
"""A limit line is wide and translucent, beneath the thin curve that reaches it, so that both stay visible."""
TAU_AXIS = dict(type="log", title="temperature τ")


def log_taus(low: float, high: float, n: int) -> list[float]:
    """``n`` temperatures evenly spaced in log10 between 10**low and 10**high."""
    return torch.logspace(low, high, n, dtype=torch.float64).tolist()


# --- Eq. 4-5 and Fig. 3: the relative penalty ----------------------------------------------------


def penalty_trace(tau: float, s_neg: Tensor, **style) -> go.Scatter:
    """r_i(s_ij) of Eq. 5 against s_ij for one anchor's negatives ``s_neg`` (shape (1, M))."""
    return go.Scatter(
        x=s_neg[0].tolist(),
        y=relative_penalty(s_neg, tau)[0].tolist(),
        mode="lines",
        name=f"τ = {tau:g}",
        **style,
    )


PENALTY_LAYOUT = dict(
    xaxis_title="negative similarity s_ij",
    yaxis_title="relative penalty r_i(s_ij)",
    template="plotly_white",
    showlegend=False,
    yaxis_type="log",
    yaxis_exponentformat="power",
)
"""On a log axis: at large τ the penalty is near 1/M everywhere, flat at zero on a linear one."""


def penalty_figure(
    taus: Sequence[float] = PENALTY_TAUS, n: int = 201, active: int = 0
) -> go.Figure:
    """Fig. 3: the relative penalty r_i vs s_ij over [-1, 1], one τ at a time (slider), every τ faint behind."""
    s_neg = similarity_grid(n)
    behind = [
        penalty_trace(t, s_neg, line=dict(color=FAINT, width=1), hoverinfo="skip") for t in taus
    ]
    frames = [
        (
            tau,
            [go.Scatter(trace) for trace in behind]
            + [penalty_trace(tau, s_neg, line=dict(width=3))],
        )
        for tau in taus
    ]
    title = f"Relative penalty (Eq. 5) over {n} negatives"
    return subscripts(tau_slider(frames, active=active, title=title, **PENALTY_LAYOUT))


def penalty_snapshot(tau: float, n: int = 201) -> go.Figure:
    """Fig. 3 at a single τ, no slider (for the live ipywidgets explorer)."""
    fig = go.Figure([penalty_trace(tau, similarity_grid(n), line=dict(width=3))])
    fig.update_layout(title=f"Relative penalty (Eq. 5), τ = {tau:.3g}", **PENALTY_LAYOUT)
    return subscripts(fig)


def entropy_figure(taus: Sequence[float] | None = None, n: int = 201) -> go.Figure:
    """H(r_i) (Eq. 5's entropy, nats) vs τ (log axis) for s_ij spread over [-1, 1], with its maximum log M dashed."""
    taus = log_taus(-2, 1, 61) if taus is None else list(taus)
    s_neg = similarity_grid(n)
    fig = go.Figure(
        [
            go.Scatter(
                x=taus,
                y=[penalty_entropy(s_neg, tau)[0].item() for tau in taus],
                mode="lines+markers",
                name="H(r_i)",
            ),
            go.Scatter(
                x=[taus[0], taus[-1]],
                y=[math.log(n)] * 2,
                mode="lines",
                line=dict(dash="dash", color="grey"),
                name=f"log M = log {n}",
            ),
        ]
    )
    fig.update_layout(
        title="Entropy of the relative penalty",
        xaxis=TAU_AXIS,
        yaxis_title="H(r_i) (nats)",
        template="plotly_white",
    )
    return subscripts(fig)


# --- Eq. 4 against autograd -----------------------------------------------------------------------


def gradient_check(
    taus: Sequence[float] = PENALTY_TAUS, b: int = 8, m: int = 64, seed: int = 0
) -> list[dict]:
    """Eq. 4 against autograd at each τ: max |analytic - autograd| for the positive and the negative
    gradients, and max |dL/ds_ii + sum_j dL/ds_ij| (the negative gradients sum to the positive one)."""
    s_pos, s_neg = random_similarities(b, m, seed)
    rows = []
    for tau in taus:
        g_pos, g_neg = gradients(s_pos, s_neg, tau)
        a_pos, a_neg = autograd_gradients(s_pos, s_neg, tau)
        rows.append(
            {
                "tau": tau,
                "positive": (g_pos - a_pos).abs().max().item(),
                "negative": (g_neg - a_neg).abs().max().item(),
                "sum": (g_pos + g_neg.sum(dim=1)).abs().max().item(),
            }
        )
    return rows


def gradient_table(rows: Sequence[dict]) -> str:
    """:func:`gradient_check`'s rows as an HTML table."""
    columns = [
        "τ",
        "max |Eq. 4 − autograd|, ∂L/∂s_ii",
        "max |Eq. 4 − autograd|, ∂L/∂s_ij",
        "max |∂L/∂s_ii + Σ_j ∂L/∂s_ij|",
    ]
    return html_table(
        columns,
        [[f"{r['tau']:g}", r["positive"], r["negative"], r["sum"]] for r in rows],
        fmt=".1e",
    )


def gradient_figure(tau: float = 0.1, b: int = 8, m: int = 64, seed: int = 0) -> go.Figure:
    """Scatter of the analytic gradients (Eq. 4) against autograd's; they lie on the diagonal."""
    s_pos, s_neg = random_similarities(b, m, seed)
    g_pos, g_neg = gradients(s_pos, s_neg, tau)
    a_pos, a_neg = autograd_gradients(s_pos, s_neg, tau)
    low = min(g_pos.min().item(), g_neg.min().item())
    high = max(g_pos.max().item(), g_neg.max().item())
    fig = go.Figure(
        [
            go.Scatter(
                x=[low, high],
                y=[low, high],
                mode="lines",
                line=dict(color="grey", dash="dot"),
                name="y = x",
            ),
            go.Scatter(
                x=a_neg.flatten().tolist(),
                y=g_neg.flatten().tolist(),
                mode="markers",
                name="∂L/∂s_ij",
            ),
            go.Scatter(
                x=a_pos.tolist(),
                y=g_pos.tolist(),
                mode="markers",
                marker=dict(size=9, symbol="diamond"),
                name="∂L/∂s_ii",
            ),
        ]
    )
    fig.update_layout(
        title=f"Eq. 4 against autograd (τ = {tau:g}, {b} anchors × {m} negatives)",
        xaxis_title="autograd",
        yaxis_title="Eq. 4",
        template="plotly_white",
    )
    return subscripts(fig)


# --- Eq. 6-7: the two limits ----------------------------------------------------------------------


def limit_example(m: int = 255, d: int = 16, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two anchors for the limits: s_neg are the similarities of a random unit vector in R^d to m random
    unit vectors; anchor 0 is *easy* (s_ii above all its negatives), anchor 1 *hard* (s_ii below its nearest)."""
    generator = torch.Generator().manual_seed(seed)
    v = torch.nn.functional.normalize(
        torch.randn(1 + m, d, generator=generator, dtype=torch.float64), dim=1
    )
    s_neg = (v[1:] @ v[0]).expand(2, m).contiguous()
    return torch.stack([(1 + s_neg[0].max()) / 2, s_neg[0].quantile(0.9)]), s_neg


def anchor_name(s_pos: Tensor, s_neg: Tensor, i: int) -> str:
    """'easy' if anchor i's positive beats all its negatives, else 'hard', for legends."""
    if s_pos[i] > s_neg[i].max():
        return f"anchor {i}, easy (s_ii > max s_ij)"
    return f"anchor {i}, hard (s_ii ≤ max s_ij)"


def tau_layout(fig: go.Figure, title: str, yaxis: dict, **layout) -> go.Figure:
    """Title a figure against τ, on a log τ axis with the legend below; ``layout`` adds to or replaces that."""
    fig.update_layout(
        title=title,
        xaxis=TAU_AXIS,
        yaxis=yaxis,
        template="plotly_white",
        **{"legend": dict(orientation="h", y=-0.25), **layout},
    )
    return subscripts(fig)


def triplet_limit_figure(
    s_pos: Tensor, s_neg: Tensor, taus: Sequence[float] | None = None
) -> go.Figure:
    """Eq. 6: τ·L(τ) against τ (log axis) per anchor, which tends to max(s_max - s_ii, 0) as τ -> 0."""
    taus = log_taus(-3, 0, 61) if taus is None else list(taus)
    scaled = torch.stack(
        [tau * contrastive_loss(s_pos, s_neg, tau) for tau in taus]
    )  # (len(taus), B)
    limit = triplet_limit(s_pos, s_neg, 1.0) + 0.0  # + 0.0 turns relu's -0.0 into 0.0
    fig = go.Figure()
    for i in range(s_pos.shape[0]):
        colour, name = class_colour(i), anchor_name(s_pos, s_neg, i)
        fig.add_scatter(
            x=[taus[0], taus[-1]],
            y=[limit[i].item()] * 2,
            mode="lines",
            line=dict(color=colour, width=LIMIT_WIDTH),
            opacity=LIMIT_OPACITY,
            name=f"τ·Eq. 6 = max(s_max − s_ii, 0) = {limit[i].item():.3f}",
        )
        fig.add_scatter(
            x=taus,
            y=scaled[:, i].tolist(),
            mode="lines",
            line=dict(color=colour, width=CURVE_WIDTH),
            name=f"τ·L, {name}",
        )
    yaxis = dict(
        title="τ · loss", range=[-0.05, max(1.0, 3 * limit.max().item())]
    )  # τ·L grows like τ log N
    return tau_layout(fig, "τ → 0: τ times the loss becomes a margin-0 triplet loss (Eq. 6)", yaxis)


def simple_limit_figure(
    s_pos: Tensor, s_neg: Tensor, taus: Sequence[float] | None = None
) -> go.Figure:
    """Eq. 7 on log-log axes: |L - Eq. 7| (shrinks like 1/τ²) next to |L - log N| (only like 1/τ)."""
    taus = log_taus(-1, 3, 81) if taus is None else list(taus)
    loss = torch.stack([contrastive_loss(s_pos, s_neg, tau) for tau in taus])
    eq7 = torch.stack([simple_limit(s_pos, s_neg, tau) for tau in taus])
    log_n = math.log(s_neg.shape[1] + 1)
    fig = go.Figure()
    quantities = (("|L − Eq. 7|", "solid"), ("|L − log N|", "dot"))
    for i in range(s_pos.shape[0]):
        colour, name = class_colour(i), anchor_name(s_pos, s_neg, i)
        for gap, (label, dash) in zip((loss[:, i] - eq7[:, i], loss[:, i] - log_n), quantities):
            fig.add_scatter(
                x=taus,
                y=gap.abs().tolist(),
                mode="lines",
                showlegend=False,
                line=dict(color=colour, dash=dash),
                name=f"{label}, {name}",
            )
    # the legend: an anchor by colour, a difference by dash (curves that meet stay named)
    for i in range(s_pos.shape[0]):
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="lines",
            line=dict(color=class_colour(i)),
            name=anchor_name(s_pos, s_neg, i),
        )
    for label, dash in quantities:
        fig.add_scatter(
            x=[None], y=[None], mode="lines", name=label, line=dict(color="#444444", dash=dash)
        )
    yaxis = dict(type="log", title="absolute difference", exponentformat="power")
    return tau_layout(fig, "τ → ∞: the loss becomes the simple loss (Eq. 7)", yaxis)


# --- the dilemma in miniature ---------------------------------------------------------------------


def class_traces(z: Tensor, labels: Tensor) -> list[go.Scatter3d]:
    """One 3-D scatter trace per class of points ``z`` on S², coloured consistently by class."""
    return [
        go.Scatter3d(
            x=z[labels == c, 0].tolist(),
            y=z[labels == c, 1].tolist(),
            z=z[labels == c, 2].tolist(),
            mode="markers",
            marker=dict(size=3, color=class_colour(i)),
            name=f"class {c}",
        )
        for i, c in enumerate(torch.unique(labels).tolist())
    ]


SPHERE_SCENE = dict(
    aspectmode="cube",
    xaxis=dict(range=[-1.05, 1.05], title="z₁"),
    yaxis=dict(range=[-1.05, 1.05], title="z₂"),
    zaxis=dict(range=[-1.05, 1.05], title="z₃"),
)


def sphere_figure(z: Tensor, labels: Tensor, title: str) -> go.Figure:
    """Points on S² coloured by class, one figure."""
    fig = go.Figure(class_traces(z, labels))
    fig.update_layout(
        title=title,
        scene=SPHERE_SCENE,
        template="plotly_white",
        height=520,
        legend_itemsizing="constant",
    )  # legible legend dots, whatever the markers
    return subscripts(fig)


def toy_sphere_figure(results: Sequence[ToyResult], active: int = 0) -> go.Figure:
    """The toy's embeddings on S², coloured by class, one τ at a time (slider)."""
    if not results:
        raise ValueError("results must hold at least one ToyResult")
    frames = [(r.tau, class_traces(r.z, r.labels)) for r in results]
    return tau_slider(
        frames,
        active=active,
        title=f"Toy embeddings on S², {LABELS[results[0].loss]} loss",
        scene=SPHERE_SCENE,
        template="plotly_white",
        height=560,
        uirevision="sphere",
        legend_itemsizing="constant",
    )


def toy_metrics_figure(
    sweeps: Mapping[str, Sequence[ToyResult]], x: Tensor | None = None, labels: Tensor | None = None
) -> go.Figure:
    """Uniformity (−L_uniformity, Eq. 10) and tolerance (Eq. 11) of the toy against τ, one line per loss;
    the input data's values dashed when ``x`` and ``labels`` are given."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("uniformity −L_uniformity", "tolerance T"))
    for i, (loss, results) in enumerate(sweeps.items()):
        taus, colour = [r.tau for r in results], class_colour(i)
        for col, values in (
            (1, [r.uniformity for r in results]),
            (2, [r.tolerance for r in results]),
        ):
            fig.add_scatter(
                x=taus,
                y=values,
                mode="lines+markers",
                line=dict(color=colour),
                name=f"{LABELS[loss]} loss",
                legendgroup=loss,
                showlegend=col == 1,
                row=1,
                col=col,
            )
    if x is not None and labels is not None:
        for col, value in ((1, uniformity(x)), (2, tolerance(x, labels))):
            fig.add_hline(
                y=value,
                line=dict(color="grey", dash="dash"),
                annotation_text="input data",
                row=1,
                col=col,
            )
    fig.update_xaxes(**TAU_AXIS)
    fig.update_layout(
        title="The dilemma in miniature",
        template="plotly_white",
        height=500,
        margin=dict(b=130),
        legend=dict(orientation="h", yanchor="top", y=-0.3),
    )  # below the x-axis titles, not on them
    return subscripts(fig)


def toy_table(sweeps: Mapping[str, Sequence[ToyResult]]) -> str:
    """Uniformity and tolerance per τ (rows) for each loss (column pairs), as an HTML table."""
    losses, metrics = list(sweeps), ("uniformity", "tolerance")
    columns = ["τ"] + [f"{m}, {LABELS[loss]} loss" for loss in losses for m in metrics]
    by_tau = {loss: {r.tau: r for r in results} for loss, results in sweeps.items()}
    rows = [
        [f"{r.tau:g}"] + [getattr(by_tau[loss][r.tau], m) for loss in losses for m in metrics]
        for r in sweeps[losses[0]]
    ]
    return html_table(columns, rows)


def toy_numbers(results: Sequence[ToyResult]) -> dict[str, float]:
    """What the dilemma chapter quotes of a toy sweep: τ, uniformity (−L_uniformity, Eq. 10) and tolerance
    (Eq. 11) at the first and the last τ of the grid, and the τ of the most uniform embedding."""
    if not results:
        raise ValueError("results must hold at least one ToyResult")
    ends = {
        f"{key}_{end}": getattr(r, key)
        for end, r in (("first", results[0]), ("last", results[-1]))
        for key in ("tau", "uniformity", "tolerance")
    }
    return {**ends, "tau_peak": max(results, key=lambda r: r.uniformity).tau}

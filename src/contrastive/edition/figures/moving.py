"""The chapter *A temperature that moves*: the fixed-τ frontier of the ordinary loss with the runs of each moving
τ (``contrastive.schedules``) placed on it, their τ over training, and the verdicts of ``contrastive.edition.moving``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import pilot, results, schedules
from ...protocols import NOT_YET_RUN, counts, describe
from ...results import Record
from ..moving import ACCURACIES, CRITERIA, PLANE, Point, fixed_points, frontier, judge
from ..table import Runs
from . import Html, class_colour, html_table
from .records import METRIC_LABELS, subscripts
from .runs import RULE_2

ROOT = results.DEFAULT_ROOT.parent / "beyond" / "results"
"""Where ``make beyond`` writes the records of the moving τ (``data/beyond/results``)."""
NAMES = {"cosine": "cosine schedule", "macl": "MACL", "learned": "learned τ"}
"""Each moving τ as the chapter names it."""
ORDER = tuple(NAMES)
FIXED = "#7f7f7f"
"""The colour of the fixed τ in every figure of the chapter; each moving τ takes its own."""


def colour(schedule: str) -> str:
    return class_colour(ORDER.index(schedule) + 1)


def moving_points(runs: Runs) -> dict[str, Point]:
    """The valid records of each moving τ among ``runs`` that count at their protocol (every seed),
    by schedule in :data:`ORDER`."""
    found = {
        s: tuple(
            sorted(
                (
                    r
                    for r in runs.records
                    if r.schedule == s and not r.invalid and counts(r, runs.protocol)
                ),
                key=lambda r: r.seed,
            )
        )
        for s in ORDER
    }
    return {s: Point(NAMES[s], found[s]) for s in ORDER if found[s]}


def _tau_range(point: Point) -> tuple[float, float, float]:
    """The least and largest τ of any of ``point``'s runs (as :func:`_curve` draws it), and the mean of
    their τ in the last epoch."""
    taus = [_curve(r, "tau")[1] for r in point.runs]
    last = sum(t[-1] for t in taus) / len(taus)
    return min(min(t) for t in taus), max(max(t) for t in taus), last


def verdicts(fixed_runs: Runs, moving_runs: Runs) -> dict[str, Any]:
    """Everything the chapter glues and tabulates, as numbers: per moving τ its seeds, seed means and spreads, the
    verdict of each criterion (:func:`contrastive.edition.moving.judge`) and how many of its runs levelled off (rule 2);
    the margins (seed noise of the fixed τ) and the best fixed τ per accuracy. Empty ``methods`` while no run."""
    fixed, points = fixed_points(fixed_runs), moving_points(moving_runs)
    methods = {}
    for schedule, point in points.items():
        methods[schedule] = {
            "seeds": len(point.runs),
            "judged": judge(point, fixed),
            "levelled": sum(pilot.levelled(r.curves, RULE_2) for r in point.runs),
            "tau": _tau_range(point),
            **{m: point.mean(m) for m in (*PLANE, *ACCURACIES)},
            **{f"{m}_spread": point.spread(m) for m in (*PLANE, *ACCURACIES)},
        }
    return {
        "fixed": fixed,
        "points": points,
        "methods": methods,
        "fixed_taus": len(fixed),
        "protocol": moving_runs.protocol,
    }


def signed(value: float, spec: str) -> str:
    """``value`` with its sign, a true minus for a negative one (format ``spec``, e.g. ``.3f``)."""
    return f"{value:+{spec}}".replace("-", "−")


def _verdict(v: dict[str, Any], spec: str) -> Html:
    sign = "✓" if v["holds"] else "✗"
    return Html(f"{sign} {signed(v['gap'], spec)} (margin {v['margin']:{spec}})")


def verdict_table(found: dict[str, Any]) -> str:
    """Per moving τ: its seeds, how many levelled off, and each criterion's deciding gap beside its margin."""
    if not found["methods"]:
        return f"<p>{NOT_YET_RUN}: no record of a moving τ at this protocol.</p>"
    rows = []
    for schedule, m in found["methods"].items():
        j = m["judged"]
        rows.append(
            (
                NAMES[schedule],
                m["seeds"],
                f"{m['levelled']} of {m['seeds']}",
                _verdict(j["escapes"], ".3f"),
                _verdict(j["linear_top1"], ".2f"),
                _verdict(j["knn_top1"], ".2f"),
            )
        )
    columns = (
        "τ",
        "seeds",
        "levelled off (rule 2)",
        "above the frontier (tolerance)",
        "linear top-1 − best fixed τ",
        "kNN top-1 − best fixed τ",
    )
    return html_table(columns, rows)


def _point_trace(point: Point, name: str, colour_: str, symbol: str, legend: bool) -> go.Scatter:
    """One configuration's seed-mean test (uniformity, tolerance), its seed spread as error bars."""
    return go.Scatter(
        x=[point.mean("uniformity_test")],
        y=[point.mean("tolerance_test")],
        mode="markers",
        name=name,
        marker={"color": colour_, "size": 11, "symbol": symbol},
        showlegend=legend,
        error_x={"type": "data", "array": [point.spread("uniformity_test") / 2], "visible": True},
        error_y={"type": "data", "array": [point.spread("tolerance_test") / 2], "visible": True},
        hovertemplate=f"{name}<br>uniformity %{{x:.3f}}<br>tolerance %{{y:.3f}}"
        f"<br>{len(point.runs)} seed(s)<extra></extra>",
    )


PLANE_AXES = {
    "xaxis_title": "uniformity −ℒ<sub>unif</sub>, test set",
    "yaxis_title": "tolerance T, test set",
}
"""The axes of the (uniformity, tolerance) plane."""


def _titled(found: dict[str, Any], top: int) -> dict[str, Any]:
    """A figure's title naming the protocol of its runs, with ``top`` pixels of margin above the axes."""
    title = {"text": describe(found["protocol"]), "y": 0.99, "yanchor": "top", "x": 0}
    return {"title": title, "margin": {"t": top}}


def _tau_text(point: Point) -> str:
    """A fixed τ's label on the plane: its τ."""
    return f"{point.runs[0].config['tau']:g}"


def _frontier_trace(fixed: Sequence[Point], name: str) -> go.Scatter:
    """The fixed-τ frontier (:func:`contrastive.edition.moving.frontier`) as a dashed grey line."""
    front = frontier(fixed)
    return go.Scatter(
        x=[u for u, _ in front],
        y=[t for _, t in front],
        mode="lines",
        name=name,
        line={"color": FIXED, "dash": "dash"},
        hoverinfo="skip",
    )


def plane_figure(found: dict[str, Any]) -> go.Figure:
    """The (uniformity, tolerance) plane of the test set: each fixed τ (grey, labelled), the frontier through
    the best of them, and each moving τ; error bars span half the seed spread either side."""
    fig = go.Figure()
    fixed = found["fixed"]
    fig.add_trace(_frontier_trace(fixed, "fixed-τ frontier"))
    fig.add_trace(
        go.Scatter(
            x=[p.mean("uniformity_test") for p in fixed],
            y=[p.mean("tolerance_test") for p in fixed],
            mode="markers+text",
            name="fixed τ (seed mean)",
            text=[_tau_text(p) for p in fixed],
            textposition="top center",
            marker={"color": FIXED, "size": 8},
            hovertemplate="τ = %{text}<br>uniformity %{x:.3f}<br>tolerance %{y:.3f}<extra></extra>",
        )
    )
    for schedule, point in found["points"].items():
        fig.add_trace(_point_trace(point, NAMES[schedule], colour(schedule), "diamond", True))
    fig.update_layout(
        height=540,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        **_titled(found, 110),
        **PLANE_AXES,
    )
    return subscripts(fig)


def _curve(record: Record, key: str) -> tuple[list[int], list[float]]:
    """A run's curve ``key`` as (epochs, values); τ of a fixed-τ run is its τ throughout, and a cosine schedule's
    τ is drawn at every epoch from its formula (its curve points fall on the same phase of each period)."""
    epochs, c = record.curves["epoch"], record.config
    if key != "tau":
        return epochs, record.curves[key]
    if record.schedule == "cosine":
        period = c.get("tau_period") or schedules.cosine_period(c["epochs"])
        every = list(range(1, c["epochs"] + 1))
        return every, [schedules.cosine_tau(e, c["tau"], c["tau_max"], period) for e in every]
    return epochs, record.curves.get("tau", [c["tau"]] * len(epochs))


def training_figure(
    found: dict[str, Any], fixed_taus: Sequence[float] = (0.07, 0.3, 1.0)
) -> go.Figure:
    """τ over training (its mean over each epoch's steps, at the curve points) beside the test uniformity and kNN
    top-1 of every run of each moving τ, with the seed-0 runs of a few fixed τ for reference."""
    keys = ("tau", "uniformity_test", "knn_top1")
    titles = ("τ", METRIC_LABELS["uniformity_test"], METRIC_LABELS["knn_top1"])
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.08)
    for point in found["fixed"]:
        run = point.runs[0]
        if run.config["tau"] not in fixed_taus:
            continue
        dash = ("dot", "dashdot", "dash")[fixed_taus.index(run.config["tau"])]
        for col, key in enumerate(keys, start=1):
            x, y = _curve(run, key)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    legendgroup=point.label,
                    name=f"fixed {point.label}",
                    showlegend=col == 1,
                    line={"color": FIXED, "dash": dash},
                ),
                row=1,
                col=col,
            )
    for schedule, point in found["points"].items():
        for i, run in enumerate(point.runs):
            for col, key in enumerate(keys, start=1):
                x, y = _curve(run, key)
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="lines" if len(x) > 40 else "lines+markers",
                        legendgroup=schedule,
                        name=NAMES[schedule],
                        showlegend=col == 1 and i == 0,
                        line={"color": colour(schedule)},
                        marker={"size": 4},
                        hovertemplate=f"{NAMES[schedule]}, seed {run.seed}<br>epoch %{{x}}"
                        f"<br>%{{y:.3f}}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(
        height=450,
        legend={"orientation": "h", "y": -0.25, "yanchor": "top", "x": 0},
        **_titled(found, 80),
    )
    fig.update_layout(margin_b=120)
    return subscripts(fig)


def trajectory_figure(found: dict[str, Any]) -> go.Figure:
    """The (uniformity, tolerance) plane at each curve point, a slider moving through training: the seed-0 run of
    every fixed τ (grey) and of each moving τ, where each stood after that epoch; the final frontier dashed."""
    runs = [(_tau_text(p), p.runs[0], FIXED) for p in found["fixed"]]
    runs += [(NAMES[s], p.runs[0], colour(s)) for s, p in found["points"].items()]
    epochs = runs[0][1].curves["epoch"] if runs else []
    fig = go.Figure()
    fig.add_trace(_frontier_trace(found["fixed"], "final frontier"))
    for i, epoch in enumerate(epochs):
        for name, run, c in runs:
            at = run.curves["epoch"].index(epoch) if epoch in run.curves["epoch"] else None
            if at is None:
                continue
            fixed = c == FIXED
            fig.add_trace(
                go.Scatter(
                    x=[run.curves["uniformity_test"][at]],
                    y=[run.curves["tolerance_test"][at]],
                    mode="markers+text" if fixed else "markers",
                    text=[name] if fixed else None,
                    textposition="top center",
                    name="fixed τ" if fixed else name,
                    legendgroup=name if not fixed else "fixed",
                    showlegend=not fixed or name == runs[0][0],
                    marker={
                        "color": c,
                        "size": 8 if fixed else 12,
                        "symbol": "circle" if fixed else "diamond",
                    },
                    visible=i == len(epochs) - 1,
                )
            )
    per = [sum(1 for _, run, _ in runs if e in run.curves["epoch"]) for e in epochs]
    steps = []
    for i, epoch in enumerate(epochs):
        visible = [True] + [j == i for j, n in enumerate(per) for _ in range(n)]
        steps.append({"method": "update", "label": str(epoch), "args": [{"visible": visible}]})
    fig.update_layout(
        sliders=[
            {
                "active": len(epochs) - 1,
                "currentvalue": {"prefix": "after epoch "},
                "pad": {"t": 50},
                "steps": steps,
            }
        ],
        height=580,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        **PLANE_AXES,
        **_titled(found, 110),
    )
    return subscripts(fig)


def accuracy_figure(found: dict[str, Any]) -> go.Figure:
    """Linear and kNN top-1 of the fixed τ over τ (seed means, seed range as error bars) and each moving τ as a
    horizontal band (its seed range) at its mean."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=[METRIC_LABELS[m] for m in ACCURACIES],
        horizontal_spacing=0.1,
    )
    fixed = found["fixed"]
    taus = [p.runs[0].config["tau"] for p in fixed]
    for col, metric in enumerate(ACCURACIES, start=1):
        low = [p.mean(metric) - min(p.values(metric)) for p in fixed]
        high = [max(p.values(metric)) - p.mean(metric) for p in fixed]
        fig.add_trace(
            go.Scatter(
                x=taus,
                y=[p.mean(metric) for p in fixed],
                mode="lines+markers",
                name="fixed τ",
                legendgroup="fixed",
                showlegend=col == 1,
                line={"color": FIXED},
                error_y={"type": "data", "array": high, "arrayminus": low, "visible": True},
            ),
            row=1,
            col=col,
        )
        for schedule, point in found["points"].items():
            c, lo, hi = colour(schedule), min(point.values(metric)), max(point.values(metric))
            fig.add_hrect(
                y0=lo,
                y1=hi if hi > lo else lo + 0.05,
                fillcolor=c,
                opacity=0.2,
                line_width=0,
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=[min(taus), max(taus)],
                    y=[point.mean(metric)] * 2,
                    mode="lines",
                    name=NAMES[schedule],
                    legendgroup=schedule,
                    showlegend=col == 1,
                    line={"color": c, "dash": "dash"},
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(type="log", title_text="fixed τ")
    fig.update_layout(
        height=440,
        legend={"orientation": "h", "y": -0.22, "yanchor": "top", "x": 0},
        **_titled(found, 80),
    )
    fig.update_layout(margin_b=110)
    return subscripts(fig)


def answer(found: dict[str, Any]) -> dict[str, Any]:
    """The chapter's answer in counts, for the landing page: how many moving τ were run (``run``, of ``planned``),
    and per criterion of :data:`contrastive.edition.moving.CRITERIA` the names of those for which it holds (``<criterion>``,
    a tuple)."""
    out: dict[str, Any] = {
        "run": len(found["methods"]),
        "planned": len(ORDER),
        "seeds": sum(m["seeds"] for m in found["methods"].values()),
    }
    for criterion in CRITERIA:
        holds = tuple(
            NAMES[s] for s, m in found["methods"].items() if m["judged"][criterion]["holds"]
        )
        out[criterion] = holds
    return out

"""Table 1 and the paper's figures of trained networks (Figs. 2, 4-9), from run records only.

Where records are missing a builder returns a :class:`~contrastive.edition.figures.records.NotYetRun` note naming them; none
draws empty axes. The paper's numbers (``contrastive.paper``) are overlaid and always labelled "paper". Every builder
shows the records of one protocol (``contrastive.protocols.PROTOCOLS``) and says which in its title.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import paper
from ...losses import LABELS
from ...metrics import sample_metrics
from ...protocols import config_label, describe
from ...results import Record
from ..table import Runs, with_arrays
from . import Html, class_colour, html_table
from .records import (
    COLLAPSED_MARK,
    COLOURS,
    DASHES,
    METRIC_FORMATS,
    METRIC_LABELS,
    OFF_MARK,
    TAU_LOSSES,
    HtmlTable,
    NotYetRun,
    _finish,
    _off,
    _slider,
    absent,
    collapsed,
    formatted,
    protocol_text,
    run_text,
)

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
SWAPPED_COLOURS = {5: 8, 8: 5}
"""The embedding maps give dog (5) the colour of series 8 and ship (8) that of 5: in the book's
palette the colours of 3 and 5 (cat, dog) are a red and a brown that look alike at 3 px."""


# --- Table 1 --------------------------------------------------------------------------------


def table1_findings(dataset: str = "cifar10") -> dict[str, Any]:
    """The numbers behind what the paper's Table 1 reports on ``dataset`` (the chapter's sentences glue them in): the
    ordinary loss's best τ and its accuracy there and at the ends, its uniformity and tolerance at the ends, Simple,
    HardSimple and the most accurate column, the hard loss's range of uniformity and its accuracy at the largest τ."""

    def value(metric: str, loss: str, tau: float | None = None) -> float:
        return paper.table1(dataset, metric, loss, tau)

    low, high = paper.TABLE1_TAUS[0], paper.TABLE1_TAUS[-1]
    acc = {t: value("linear_top1", "contrastive", t) for t in paper.TABLE1_TAUS}
    best = max(acc, key=acc.get)
    top = max(paper.COLUMNS, key=lambda c: value("linear_top1", *c))
    hard_u = [value("uniformity", "hard", t) for t in paper.TABLE1_TAUS]
    return {
        "tau_low": low,
        "tau_high": high,
        "tau_best": best,
        "acc_best": acc[best],
        "acc_low": acc[low],
        "acc_high": acc[high],
        "unif_low": value("uniformity", "contrastive", low),
        "unif_high": value("uniformity", "contrastive", high),
        "tol_low": value("tolerance", "contrastive", low),
        "tol_high": value("tolerance", "contrastive", high),
        "acc_simple": value("linear_top1", "simple"),
        "acc_hard_simple": value("linear_top1", "hard_simple"),
        "hard_k": paper.HARD_K,
        "top_column": config_label(*top),
        "acc_top": value("linear_top1", *top),
        "hard_unif_min": min(hard_u),
        "hard_unif_max": max(hard_u),
        "acc_hard_high": value("linear_top1", "hard", high),
    }


def table1_rows(runs: Runs) -> list[dict[str, Any]]:
    """One row per column of the paper's Table 1, per metric ``m`` of ``paper.METRICS`` ``row[m] = {"paper", "ours",
    "diff", "sd", "seeds"}``: ours is the mean over the seeds (at the runs' protocol) of the configuration with the same
    settings as seed 0, sd their standard deviation (None for one seed); ``off_protocol`` is what differs, or None."""
    rows = []
    for loss, tau in paper.COLUMNS:
        r = runs.record(loss, tau)
        r = None if r is not None and r.invalid else r  # NaN never reaches the table
        prov = r.provenance if r else {}
        data = prov.get("data", {})
        row = {
            "loss": loss,
            "tau": tau,
            "record": r,
            "off_protocol": _off(r) if r else None,
            "collapsed": bool(r) and collapsed(r),
            "epochs": r.config["epochs"] if r else None,
            "data": data.get("source"),
            "data_note": data.get("note") or "",
            "device": prov.get("device"),
        }
        same = [s for s in runs.seeds(loss, tau) if _off(s) == row["off_protocol"]] if r else []
        for m in paper.METRICS:
            theirs = paper.table1(runs.dataset, m, loss, tau)
            values = [s.value(m) for s in same]
            ours = float(np.mean(values)) if values else None
            row[m] = {
                "paper": theirs,
                "ours": ours,
                "diff": None if ours is None or theirs is None else ours - theirs,
                "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                "seeds": len(values),
            }
        rows.append(row)
    return rows


def table1(runs: Runs) -> HtmlTable | NotYetRun:
    """Table 1 for ``dataset`` at ``protocol``, one row per loss and tau (transposed, to fit the
    column): per metric the paper's value, ours and, at the paper's scale only, ours − paper (across
    scales a difference would mislead); the runs' epochs, data and machine in a note below it, once
    for the runs that share them. Without any record, one sentence (:class:`NotYetRun`)."""
    rows, diff = table1_rows(runs), runs.protocol == "paper"
    if all(r["record"] is None for r in rows):
        return NotYetRun(
            f"Table 1, {runs.dataset}, {describe(runs.protocol)}", ("any of its ten columns",)
        )
    per = 3 if diff else 2
    missing = [config_label(r["loss"], r["tau"]) for r in rows if r["record"] is None]
    off = [
        (config_label(r["loss"], r["tau"]), r["off_protocol"]) for r in rows if r["off_protocol"]
    ]
    head = Html(
        '<tr><th rowspan="2">loss</th><th rowspan="2">τ</th>'
        + "".join(f'<th colspan="{per}">{METRIC_LABELS[m]}</th>' for m in paper.METRICS)
        + "</tr>"
        + "<tr>"
        + ("<th>paper</th><th>ours</th>" + ("<th>Δ</th>" if diff else "")) * len(paper.METRICS)
        + "</tr>"
    )
    body = []
    for row in rows:
        mark = (f" {OFF_MARK}" if row["off_protocol"] else "") + (
            f" {COLLAPSED_MARK}" if row["collapsed"] else ""
        )
        cells = [LABELS[row["loss"]], "" if row["tau"] is None else format(row["tau"], "g")]
        for m in paper.METRICS:
            v, spec = row[m], METRIC_FORMATS[m]
            spread = f" ± {v['sd']:{spec}} ({v['seeds']})" if v["sd"] is not None else ""
            ours = formatted(v["ours"], spec) + spread + (mark if v["ours"] is not None else "")
            delta = "" if v["diff"] is None else format(v["diff"], "+" + spec) + mark
            cells += [formatted(v["paper"], "g"), ours, delta][:per]
        body.append(cells)
    groups: dict[tuple[Any, ...], list[str]] = {}  # the runs' epochs, data and machine: once each
    for row in (r for r in rows if r["record"] is not None):
        data = (row["data"] or "") + (" *" if row["data_note"] else "")
        groups.setdefault((row["epochs"], data, row["device"] or ""), []).append(
            config_label(row["loss"], row["tau"])
        )
    note_html = "".join(
        f"<p>{'Every run' if len(labels) == len(body) else html.escape(', '.join(labels))}: {epochs} epochs, "
        f"data {html.escape(data)}, on {html.escape(device)}.</p>"
        for (epochs, data, device), labels in groups.items()
    )
    if any(v["sd"] is not None for r in rows for v in (r[m] for m in paper.METRICS)):
        note_html += (
            "<p>Where a configuration has several seeds: their mean ± sd (how many seeds).</p>"
        )
    notes = sorted({r["data_note"] for r in rows if r["data_note"]})
    note_html += "".join(f"<p>* {html.escape(n)}</p>" for n in notes)
    if off:
        items = "".join(f"<li>{html.escape(label)}: {html.escape(why)}</li>" for label, why in off)
        note_html += f"<p>{OFF_MARK} Off the {runs.protocol} protocol, so not counted for the claims:</p><ul>{items}</ul>"
    if ended := [config_label(r["loss"], r["tau"]) for r in rows if r["collapsed"]]:
        note_html += (
            f"<p>{COLLAPSED_MARK} Ended collapsed (its last training loss at the loss's value for "
            f"embeddings at one point): {html.escape(', '.join(ended))}.</p>"
        )
    if missing:
        note_html += NotYetRun(
            f"Table 1, {runs.dataset}, {describe(runs.protocol)}", tuple(missing)
        )._repr_html_()
    table = (
        f'<div style="overflow-x: auto">{html_table(head, body, style="font-size: 0.85em")}</div>'
    )
    intro = (
        f"<p>Table 1, {html.escape(runs.dataset)}, <strong>{html.escape(describe(runs.protocol))}</strong>: <em>paper</em> = "
        f"Wang &amp; Liu (2021) at the paper's scale; <em>ours</em> = our run records at this scale"
        f"{'; Δ = ours − paper' if diff else ''}. Uniformity and tolerance are those of the un-augmented training "
        "embeddings.</p>"
    )
    return HtmlTable(intro + table + note_html)


# --- Figs. 4-7 and 9: a metric vs tau -------------------------------------------------------


def _ours(runs: Runs, loss: str) -> list[tuple[float, list[Record], Record]]:
    """``(tau, every seed's results, seed 0's record)`` of ``loss`` at each τ it has a record."""
    return [(t, runs.seeds(loss, t), r) for t, r in runs.by_tau(loss)]


def _vs_tau(runs: Runs, metrics: Sequence[str], what: str) -> go.Figure | NotYetRun:
    """One panel per metric vs tau: ours per loss (the mean ± sd where a configuration has several
    seeds, every seed on hover) and the paper's scale: the authors' whole sweep (their notebook)
    where it has the metric, else the paper's Table 1. At the paper's scale both share the axes; at
    any other, the paper's are in a row of panels of their own below ours, on the same τ axis,
    never on a rescaled axis. Without records, a note (:class:`NotYetRun`) in place of a figure."""
    by_loss = {loss: _ours(runs, loss) for loss in TAU_LOSSES}
    missing = [
        m
        for loss, ours in by_loss.items()
        for m in absent(loss, paper.GRIDS[loss], [t for t, *_ in ours])
    ]
    if not any(by_loss.values()):  # one sentence, the grids named by their ends
        grids = tuple(
            f"{LABELS[loss]} τ={paper.GRIDS[loss][0]:g}–{paper.GRIDS[loss][-1]:g} "
            f"({len(paper.GRIDS[loss])} temperatures)"
            for loss in TAU_LOSSES
        )
        return NotYetRun(f"{what}, {describe(runs.protocol)}, {runs.dataset}", grids)
    apart = runs.protocol != "paper"
    titles = [f"{METRIC_LABELS[m]}{': ours' if apart else ''}" for m in metrics]
    if apart:
        titles += [f"{METRIC_LABELS[m]}: paper scale" for m in metrics]
    fig = make_subplots(
        rows=1 + apart,
        cols=len(metrics),
        subplot_titles=titles,
        shared_xaxes=True,
        vertical_spacing=0.14,
        horizontal_spacing=0.1,
    )
    for col, metric in enumerate(metrics, start=1):
        for loss, ours in by_loss.items():
            if ours:
                values = [[s.value(metric) for s in runs_] for _, runs_, _ in ours]
                spread = any(len(v) > 1 for v in values)
                fig.add_trace(
                    go.Scatter(
                        x=[t for t, *_ in ours],
                        y=[float(np.mean(v)) for v in values],
                        mode="lines+markers",
                        error_y={
                            "type": "data",
                            "visible": spread,
                            "array": [
                                float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in values
                            ],
                        },
                        name=f"ours: {LABELS[loss]} ({run_text(r for *_, r in ours)}"
                        f"{_collapsed_text(ours)}"
                        + ("; mean ± sd over seeds" if spread else "")
                        + ")",
                        legendgroup=f"ours-{loss}",
                        showlegend=col == 1,
                        line={"color": COLOURS[loss], "dash": DASHES[loss]},
                        marker={"symbol": [_symbol(r) for *_, r in ours], "size": 8},
                        customdata=[
                            [r.config["epochs"], protocol_text(r), _per_seed(v)]
                            for (*_, r), v in zip(ours, values)
                        ],
                        hovertemplate="τ=%{x}<br>%{y:.4g}%{customdata[2]}<br>%{customdata[0]} epochs"
                        "<br>%{customdata[1]}<extra>ours</extra>",
                    ),
                    row=1,
                    col=col,
                )
            known = runs.dataset in paper.DATASETS
            if known and (trace := _paper_trace(runs.dataset, metric, loss, col == 1)):
                fig.add_trace(trace, row=1 + apart, col=col)
    fig.update_xaxes(title_text="τ", row=1 + apart)
    return _finish(
        fig,
        f"{what}, {runs.dataset}<br>{describe(runs.protocol)}"
        + (" (top),<br>the paper's scale (bottom)" if apart else ""),
        missing,
        height=720 if apart else 480,
    )


def _per_seed(values: Sequence[float]) -> str:
    """The hover line of a point drawn as the mean of several seeds: every seed's value ("" for one seed)."""
    return (
        ""
        if len(values) < 2
        else f" (mean of {len(values)} seeds: {', '.join(f'{v:.4g}' for v in values)})"
    )


def _symbol(record: Record) -> str:
    """A run's marker: a diamond where it ended collapsed, hollow where it is off its protocol."""
    return ("diamond" if collapsed(record) else "circle") + ("-open" if _off(record) else "")


def _collapsed_text(runs: Sequence[tuple[Any, ...]]) -> str:
    """``; collapsed at τ = 0.07, 0.3 (diamonds)`` for the runs (τ first, record last) that ended
    collapsed, else ""."""
    taus = [f"{t:g}" for t, *_, r in runs if collapsed(r)]
    return f"; collapsed at τ = {', '.join(taus)} (diamonds)" if taus else ""


def _paper_trace(dataset: str, metric: str, loss: str, showlegend: bool) -> go.Scatter | None:
    """The paper's scale for ``metric`` and ``loss`` vs τ: the authors' sweep (their notebook)
    where it has them, else the paper's Table 1, labelled as which; None where neither has it."""
    sweep = paper.authors_sweep(dataset, loss, metric)
    if not sweep and metric not in paper.METRICS:
        return None
    if sweep:
        name, source = f"authors' notebook: {LABELS[loss]}", "the authors' notebook"
    else:
        sweep = [(t, paper.table1(dataset, metric, loss, t)) for t in paper.TABLE1_TAUS]
        name, source = f"paper: {LABELS[loss]} (Table 1)", "the paper's Table 1"
    return go.Scatter(
        x=[t for t, _ in sweep],
        y=[v for _, v in sweep],
        mode="markers+lines",
        name=name,
        legendgroup=name,
        showlegend=showlegend,
        opacity=0.8,
        marker={"symbol": "x", "size": 8, "color": COLOURS[loss]},
        line={"dash": DASHES[loss], "color": COLOURS[loss], "width": 1.5},
        hovertemplate=f"τ=%{{x}}<br>%{{y}}<extra>{source}, paper scale</extra>",
    )


def sweep_agreement(
    runs: Runs, metrics: Sequence[str] = ("knn_top1", "linear_top1", "uniformity", "tolerance")
) -> dict[tuple[str, str], tuple[float, int]]:
    """How far our sweep at ``protocol`` orders the temperatures as the authors' sweep (their
    notebook) does: per (loss, metric) with at least three shared τ, Spearman's rank correlation
    between our means over seeds and their values over the τ both have, and how many τ that is."""
    found = {}
    for loss in TAU_LOSSES:
        ours = {t: runs_ for t, runs_, _ in _ours(runs, loss)}
        for metric in metrics:
            theirs = dict(paper.authors_sweep(runs.dataset, loss, metric))
            shared = [t for t in theirs if t in ours]
            if len(shared) >= 3:
                mine = [float(np.mean([r.value(metric) for r in ours[t]])) for t in shared]
                found[(loss, metric)] = (spearman(mine, [theirs[t] for t in shared]), len(shared))
    return found


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (ties share their mean rank);
    NaN where either side is constant."""

    def ranks(v: Sequence[float]) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=float)
        for value in np.unique(v):
            r[v == value] = r[v == value].mean()
        return r

    rx, ry = ranks(x) - np.mean(ranks(x)), ranks(y) - np.mean(ranks(y))
    norm = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / norm) if norm else float("nan")


def knn_linear_split(runs: Runs) -> dict[str, list[tuple[float, float, float]]]:
    """Where kNN and linear top-1 disagree on which loss is better: at each τ with both losses,
    the hard loss less the ordinary one in kNN and in linear top-1, where the two differ in sign;
    ``ours`` at ``protocol`` (means over seeds), ``theirs`` the authors' sweep (paper scale)."""
    accuracies = ("knn_top1", "linear_top1")
    ours = {
        loss: {
            t: {m: float(np.mean([s.value(m) for s in runs_])) for m in accuracies}
            for t, runs_, _ in _ours(runs, loss)
        }
        for loss in TAU_LOSSES
    }
    theirs = {loss: {} for loss in TAU_LOSSES}
    for loss in TAU_LOSSES:
        for m in accuracies:
            for t, v in paper.authors_sweep(runs.dataset, loss, m):
                theirs[loss].setdefault(t, {})[m] = v

    def split(values: dict[str, dict[float, dict[str, float]]]) -> list[tuple[float, float, float]]:
        found = []
        for t in sorted(set(values["hard"]) & set(values["contrastive"])):
            knn, linear = (values["hard"][t][m] - values["contrastive"][t][m] for m in accuracies)
            if knn * linear < 0:
                found.append((t, knn, linear))
        return found

    return {"ours": split(ours), "theirs": split(theirs)}


def uniformity_tolerance(runs: Runs) -> go.Figure | NotYetRun:
    """Figs. 4-7: uniformity (−L_unif) and tolerance T vs tau, ordinary and hard loss."""
    return _vs_tau(runs, ("uniformity", "tolerance"), "Uniformity and tolerance vs τ")


def accuracy(runs: Runs) -> go.Figure | NotYetRun:
    """Fig. 9: linear and kNN top-1 vs tau, ordinary and hard loss."""
    return _vs_tau(runs, ("linear_top1", "knn_top1"), "Accuracy vs τ")


# --- Fig. 8: the positive and its nearest negatives -----------------------------------------


def box_stats(x: np.ndarray) -> dict[str, float]:
    """Quartiles and Tukey whiskers (furthest points within 1.5 IQR) of ``x``, for a precomputed box."""
    x = np.asarray(x, dtype=np.float64)
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    iqr = q3 - q1
    return {
        "q1": q1,
        "median": median,
        "q3": q3,
        "mean": float(x.mean()),
        "lowerfence": float(x[x >= q1 - 1.5 * iqr].min()),
        "upperfence": float(x[x <= q3 + 1.5 * iqr].max()),
    }


def _boxes(arrays: dict[str, np.ndarray]) -> list[go.Box]:
    """One precomputed box for the positives s_ii, then one per nearest negative n1..n10."""
    columns = [("positive", arrays["pos_sim"])] + [
        (f"n{j + 1}", arrays["neg_top10"][:, j]) for j in range(arrays["neg_top10"].shape[1])
    ]
    return [
        go.Box(
            x=[name],
            **{k: [v] for k, v in box_stats(values).items()},
            name=name,
            showlegend=False,
            marker={"color": COLOURS["contrastive"] if name == "positive" else COLOURS["paper"]},
        )
        for name, values in columns
    ]


def similarities(runs: Runs, loss: str = "contrastive") -> go.Figure | NotYetRun:
    """Fig. 8: box plots of s_ii and of the 10 nearest negatives of 1,000 anchors, a tau slider; outliers not drawn."""
    found = with_arrays(runs.by_tau(loss), ("pos_sim", "neg_top10"))
    return _slider(
        "Positive vs nearest negatives",
        runs.dataset,
        loss,
        runs.protocol,
        [(t, _boxes(a)) for t, a, _ in found],
        drawn=[r for _, _, r in found],
        yaxis_title="similarity",
        xaxis_title="positive s_ii and the nearest negatives n1 (hardest) … n10",
    )


def histograms(runs: Runs, loss: str = "contrastive") -> go.Figure | NotYetRun:
    """Densities of the positive and negative similarities stored with each record, a tau slider."""
    found = with_arrays(
        runs.by_tau(loss),
        ("hist_edges", "hist_pos", "hist_neg"),
    )
    frames = []
    for t, a, _ in found:
        centres, width = (a["hist_edges"][1:] + a["hist_edges"][:-1]) / 2, np.diff(a["hist_edges"])
        frames.append(
            (
                t,
                [
                    go.Bar(
                        x=centres,
                        y=a[key],
                        width=width,
                        name=name,
                        opacity=0.6,
                        marker={"color": colour},
                    )
                    for key, name, colour in (
                        ("hist_pos", "positive s_ii", COLOURS["contrastive"]),
                        ("hist_neg", "negative s_ij", COLOURS["paper"]),
                    )
                ],
            )
        )
    return _slider(
        "Distribution of similarities",
        runs.dataset,
        loss,
        runs.protocol,
        frames,
        drawn=[r for _, _, r in found],
        height=480,
        xaxis_title="similarity",
        yaxis_title="density",
        barmode="overlay",
    )


# --- Fig. 2: embeddings ---------------------------------------------------------------------


def project(embedding: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE (scikit-learn, PCA initialisation, perplexity 30) of an (n, d) sample, shape (n, 2)."""
    from sklearn.manifold import TSNE

    x = np.asarray(embedding, dtype=np.float32)
    return TSNE(
        n_components=2, init="pca", perplexity=30, random_state=seed, n_jobs=1
    ).fit_transform(x)


def class_names(dataset: str, n: int) -> list[str]:
    """CIFAR-10's class names, else ``class 0`` .. ``class n-1``."""
    return (
        list(CIFAR10_CLASSES)
        if dataset == "cifar10" and n <= 10
        else [f"class {i}" for i in range(n)]
    )


def embeddings(
    runs: Runs, taus: Sequence[float] = paper.FIG2_TAUS, loss: str = "contrastive"
) -> go.Figure | NotYetRun:
    """Fig. 2: t-SNE of the stored test-feature sample (2,000 points) at each tau, coloured by class; each panel's
    title carries the uniformity and tolerance of the sample itself (``contrastive.metrics.sample_metrics``)."""
    found = [(t, runs.record(loss, t)) for t in taus]
    drawn = with_arrays(
        [(t, r) for t, r in found if r is not None and not r.invalid],
        ("embedding", "embedding_labels"),
    )
    missing = absent(loss, taus, [t for t, _, _ in drawn])
    what = "Embeddings (t-SNE of the stored test-feature sample)"
    if not drawn:
        return NotYetRun(f"{what}, {describe(runs.protocol)}, {runs.dataset}", tuple(missing))
    titles = []
    for t, a, r in drawn:
        u, tol = sample_metrics(a["embedding"], a["embedding_labels"])
        titles.append(
            f"τ={t:g} ({run_text([r])}), {len(a['embedding_labels'])} points:<br>uniformity {u:.2f}, tolerance {tol:.3f}"
        )
    fig = make_subplots(rows=1, cols=len(drawn), subplot_titles=titles)
    for col, (_, a, _) in enumerate(drawn, start=1):
        xy, labels = project(a["embedding"]), a["embedding_labels"]
        names = class_names(runs.dataset, int(labels.max()) + 1)
        for c in np.unique(labels):
            sel, name = labels == c, names[c]
            colour = class_colour(SWAPPED_COLOURS.get(int(c), int(c)))
            fig.add_trace(
                go.Scatter(
                    x=xy[sel, 0],
                    y=xy[sel, 1],
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    hoverinfo="name",
                    marker={"size": 3, "color": colour},
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(legend_itemsizing="constant")  # legend dots legible beside 3 px markers
    return _finish(
        fig,
        f"{what}, {runs.dataset}, {LABELS[loss]} loss<br>{describe(runs.protocol)}",
        missing,
        panel_lines=2,
        height=600,
    )

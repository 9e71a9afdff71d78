"""Figures and tables of the experimental chapters, built from run records only.

Every builder takes the records (:func:`contrastive.results.load_records`) and returns a plotly figure, an
:class:`HtmlTable`, or a :class:`NotYetRun` note naming the configurations whose records are
missing; none of them draws empty axes. The paper's numbers (``contrastive.paper``) are overlaid
and always labelled "paper". Every builder shows the records of one protocol (``protocol``: ``paper``,
``cpu-short``, ..., ``contrastive.config.PROTOCOLS``) and says which in its title. Records that
started from that protocol but are off it (:mod:`contrastive.protocol`: fewer epochs, another
backbone, …) are still drawn, but marked "off protocol" with what differs, in the table (†), the
legends, the titles and the hover text; they do not count for the claims. Display any of them with
:func:`show`.

- :func:`table1` — Table 1, ours beside the paper's, with the difference (ours − paper) at the paper's scale;
- :func:`uniformity_tolerance` — Figs. 4-7, uniformity and tolerance vs tau, ordinary and hard loss;
- :func:`accuracy` — Fig. 9, linear and kNN top-1 vs tau;
- :func:`similarities` — Fig. 8, the positive vs the 10 nearest negatives, one box plot per tau;
- :func:`embeddings` — Fig. 2, t-SNE of the stored embedding sample at two temperatures;
- :func:`dynamics` — per-epoch curves of every tau of one loss, with a tau slider;
- :func:`run_curves`, :func:`run_summary` — one record, for the run notebook.

Where records are read from (:func:`contrastive.results.root`) and the queries over them (``by_tau``,
``with_arrays``, ``absent``) are in :mod:`contrastive.results`.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import paper, pilot, results
from ..losses import LABELS, USES_TAU, collapsed_loss
from ..memory import negatives_per_anchor
from ..metrics import sample_metrics
from ..config import NOT_YET_RUN, PROTOCOLS, SETTINGS, config_label, describe, deviations, shown
from ..results import Record, by_tau, of_protocol, record_name, with_arrays
from ..sweep import configurations
from . import Html, class_colour, html_table, show, tau_slider  # noqa: F401  (show: the chapters' one display function)

TAU_LOSSES = ("contrastive", "hard")
METRIC_LABELS = {
    "linear_top1": "linear top-1 (%)",
    "knn_top1": "kNN top-1 (%), test set",
    "uniformity": "uniformity −L_unif, training set",
    "tolerance": "tolerance T, training set",
    "uniformity_test": "uniformity −L_unif, test set",
    "tolerance_test": "tolerance T, test set",
    "loss": "training loss",
    "lr": "learning rate",
}
"""Axis and row labels. Table 1's uniformity and tolerance are on the un-augmented training embeddings
(``results`` keys ``uniformity``, ``tolerance``); the per-epoch curves are on the test set."""
CURVE_LABELS = {
    "loss": "training loss", "knn_top1": "kNN top-1 (%), test set",
    "uniformity": "uniformity −L_unif, test set", "tolerance": "tolerance T, test set",
}
"""The per-epoch series (keys of a record's ``curves``) drawn by :func:`dynamics` and :func:`run_curves`, one panel each."""
CURVE_PANELS = tuple(CURVE_LABELS)
METRIC_FORMATS = {"linear_top1": ".2f", "knn_top1": ".2f", "uniformity": ".3f", "tolerance": ".3f"}
COLOURS = {"contrastive": "#1f77b4", "hard": "#d62728", "paper": "#7f7f7f"}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
COLLAPSED = 1e-3
"""How close (absolute) a run's last training loss must be to ``losses.collapsed_loss`` to count as collapsed."""
ESCAPED = 1.0
"""The test-set uniformity at or above which a run has left the collapse (:func:`collapse_trials` says why
in its note). Fixed before any trial of ``data/trials/hard-collapse`` but ``lr0.03`` and ``fp32`` ran."""
OFF_MARK = "†"
"""Marks the numbers of records off the paper's protocol in Table 1."""
COLLAPSED_MARK = "‡"
"""Marks the numbers of runs that ended collapsed (:func:`collapsed`) in Table 1; their markers are diamonds."""


@dataclass(frozen=True)
class NotYetRun:
    """A plain note in place of a figure: which configurations have no record yet."""

    what: str
    missing: tuple[str, ...]
    looked_in: str = ""
    """The folder searched, shown as given; "" for the records root (:func:`contrastive.results.shown_root`)."""

    def where(self) -> str:
        return self.looked_in or results.shown_root()

    def text(self) -> str:
        return f"{self.what}: {NOT_YET_RUN} — no run record for {', '.join(self.missing)} (looked in {self.where()})."

    def _repr_html_(self) -> str:
        """The note on a page: what would be drawn and the runs it needs (the page says once how to make them)."""
        return (f'<div class="admonition note"><p class="admonition-title">{html.escape(self.what)}</p>'
                f"<p>No run record yet for {html.escape(', '.join(self.missing))}.</p></div>")

    def __repr__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class HtmlTable:
    """An HTML table (with an optional note above it), displayed as HTML."""

    html: str

    def _repr_html_(self) -> str:
        return self.html


# --- labels and titles ----------------------------------------------------------------------


def run_text(recs: Iterable[Record]) -> str:
    """The epochs of the records drawn in one trace (``200 epochs``, ``1 epoch``, ``1–200 epochs``), then
    ``; off protocol: <fields>`` if any of them is off the paper's protocol."""
    recs = list(recs)
    epochs = sorted({int(r.config["epochs"]) for r in recs})
    text = f"{epochs[0]}–{epochs[-1]} epochs" if len(epochs) > 1 else f"{epochs[0]} epoch{'' if epochs[0] == 1 else 's'}"
    found = {d.field for r in recs for d in deviations(r.config, r.protocol)}
    off = [name for name in SETTINGS if name in found]
    return text + (f"; off protocol: {', '.join(off)}" if off else "")


def _off(record: Record) -> str | None:
    """What ``record`` has off its protocol, e.g. ``"epochs 20 (paper: 200)"``; None where it is at it."""
    return ", ".join(map(str, deviations(record.config, record.protocol))) or None


def protocol_text(record: Record) -> str:
    """``at the cpu protocol`` or ``off protocol: <what differs>`` for one record (hover text, summaries)."""
    found = _off(record)
    return f"off protocol: {found}" if found else f"at the {record.protocol} protocol"


def absent(loss: str, wanted: Iterable[float], have: Iterable[float]) -> list[str]:
    """The labels of the temperatures in ``wanted`` that ``have`` lacks (as record names compare them)."""
    names = {record_name(loss, t) for t in have}
    return [config_label(loss, t) for t in wanted if record_name(loss, t) not in names]


MISSING_NAMED = 4
"""A title names up to this many configurations without a record, and counts more (the page names them once)."""


def missing_note(missing: Sequence[str]) -> str:
    """A title's second line: the configurations without a record, named or counted ("" when none is missing)."""
    if not missing:
        return ""
    named = ", ".join(missing) if len(missing) <= MISSING_NAMED else f"{len(missing)} of its configurations"
    return f"<br><sup>no run record yet: {named}</sup>"


def _fmt(value: float | None, spec: str, none: str = "—") -> str:
    """``value`` in the format ``spec``; ``none`` (by default a dash) when it is None."""
    return none if value is None else format(value, spec)


def _finish(fig: go.Figure, title: str, missing: Sequence[str], legend_below: bool = True, **layout) -> go.Figure:
    """Title the figure, naming the configurations not yet run; the legend goes below the axes unless
    a slider is there (``legend_below=False``)."""
    if legend_below:
        layout["legend"] = {"orientation": "h", "y": -0.2}
    text = title + missing_note(missing)
    fig.update_layout(title={"text": text}, margin={"t": 80 + 25 * text.count("<br>")}, **layout)  # room for each title line
    return fig


def _slider(name: str, dataset: str, loss: str, protocol: str, frames: list[tuple[float, list[Any]]],
            drawn: Sequence[Record] = (), height: int = 500, **layout) -> go.Figure | NotYetRun:
    """``frames`` (one per tau of ``loss`` with a record) on a tau slider titled ``name``, or a
    :class:`NotYetRun` note when there is none; the runs ``drawn`` are summarised in the title."""
    what = f"{name} ({LABELS[loss]} loss)"
    missing = absent(loss, paper.TABLE1_TAUS, [t for t, _ in frames])
    if not frames:
        return NotYetRun(f"{what}, {describe(protocol)}, {dataset}", tuple(missing))
    title = f"{what}, {dataset}<br>{describe(protocol)}" + (f" ({run_text(drawn)})" if drawn else "")
    return _finish(tau_slider(frames, **layout), title, missing, legend_below=False, height=height)


# --- Table 1 --------------------------------------------------------------------------------


def paper_findings(dataset: str = "cifar10") -> str:
    """What the paper's Table 1 reports on ``dataset``, as Markdown bullets; every number is read from
    :mod:`contrastive.paper` (the book never types the paper's numbers)."""
    def value(metric: str, loss: str, tau: float | None = None) -> float:
        return paper.table1(dataset, metric, loss, tau)

    taus = paper.TABLE1_TAUS
    low, high = taus[0], taus[-1]
    acc = {t: value("linear_top1", "contrastive", t) for t in taus}
    best = max(acc, key=acc.get)
    top = max(paper.COLUMNS, key=lambda c: value("linear_top1", *c))
    hard_u = [value("uniformity", "hard", t) for t in taus]
    bullets = [
        f"the ordinary loss is most accurate at τ = {best:g} ({acc[best]:g} %), against {acc[low]:g} % at "
        f"τ = {low:g} and {acc[high]:g} % at τ = {high:g};",
        f"from τ = {low:g} to τ = {high:g} its uniformity goes from {value('uniformity', 'contrastive', low):g} to "
        f"{value('uniformity', 'contrastive', high):g} and its tolerance from {value('tolerance', 'contrastive', low):g} "
        f"to {value('tolerance', 'contrastive', high):g};",
        f"the simple loss reaches {value('linear_top1', 'simple'):g} %; the same loss over the {paper.HARD_K} nearest "
        f"negatives (HardSimple) {value('linear_top1', 'hard_simple'):g} %; the most accurate column of all is "
        f"{config_label(*top)} ({value('linear_top1', *top):g} %);",
        f"the hard loss keeps its uniformity between {min(hard_u):g} and {max(hard_u):g} at every τ, and reaches "
        f"{value('linear_top1', 'hard', high):g} % at τ = {high:g}, where the ordinary loss reaches {acc[high]:g} %.",
    ]
    return f"What the paper reports on {dataset} (its Table 1):\n\n" + "\n".join(f"- {b}" for b in bullets)


def table1_rows(records: Sequence[Record], dataset: str = "cifar10", protocol: str = "paper") -> list[dict[str, Any]]:
    """One row per column of the paper's Table 1: paper, ours (the records of protocol ``protocol``) and
    ours − paper for each metric.

    Each row has ``loss``, ``tau``, ``record`` (or None), ``off_protocol`` (what differs from the
    paper's protocol, or None), ``epochs``, ``data``, ``data_note``, ``device`` and, for each metric
    ``m`` of ``paper.METRICS``, ``m`` -> ``{"paper", "ours", "diff"}``.
    """
    rows, records = [], of_protocol(records, protocol)
    for loss, tau in paper.COLUMNS:
        r = results.find(records, dataset, loss, tau)
        r = None if r is not None and r.invalid else r  # NaN never reaches the table
        prov = r.provenance if r else {}
        data = prov.get("data", {})
        row = {
            "loss": loss, "tau": tau, "record": r, "off_protocol": _off(r) if r else None, "collapsed": bool(r) and collapsed(r),
            "epochs": r.config["epochs"] if r else None,
            "data": data.get("source"), "data_note": data.get("note") or "", "device": prov.get("device"),
        }
        for m in paper.METRICS:
            theirs = paper.table1(dataset, m, loss, tau)
            ours = r.results[m] if r else None
            row[m] = {"paper": theirs, "ours": ours, "diff": None if ours is None or theirs is None else ours - theirs}
        rows.append(row)
    return rows


def table1(records: Sequence[Record], dataset: str = "cifar10", protocol: str = "paper") -> HtmlTable:
    """Table 1 for ``dataset`` at protocol ``protocol``, one row per loss and tau (transposed, to fit a page):
    per metric the paper's value, ours and, at the paper's scale only, ours − paper (across scales a
    difference would mislead); then the epochs, data source and device of our run."""
    rows, diff = table1_rows(records, dataset, protocol), protocol == "paper"
    per = 3 if diff else 2
    missing = [config_label(r["loss"], r["tau"]) for r in rows if r["record"] is None]
    off = [(config_label(r["loss"], r["tau"]), r["off_protocol"]) for r in rows if r["off_protocol"]]
    head = Html(
        '<tr><th rowspan="2">loss</th><th rowspan="2">τ</th>'
        + "".join(f'<th colspan="{per}">{METRIC_LABELS[m]}</th>' for m in paper.METRICS)
        + '<th rowspan="2">epochs</th><th rowspan="2">data</th><th rowspan="2">device</th></tr>'
        + "<tr>" + ("<th>paper</th><th>ours</th>" + ("<th>Δ</th>" if diff else "")) * len(paper.METRICS) + "</tr>"
    )
    body = []
    for row in rows:
        mark = (f" {OFF_MARK}" if row["off_protocol"] else "") + (f" {COLLAPSED_MARK}" if row["collapsed"] else "")
        cells = [LABELS[row["loss"]], "" if row["tau"] is None else format(row["tau"], "g")]
        for m in paper.METRICS:
            v, spec = row[m], METRIC_FORMATS[m]
            ours = _fmt(v["ours"], spec) + (mark if v["ours"] is not None else "")
            delta = "" if v["diff"] is None else format(v["diff"], "+" + spec) + mark
            cells += [_fmt(v["paper"], "g"), ours, delta][:per]
        data = row["data"] or ""
        if row["data_note"]:
            data = Html(f'<span title="{html.escape(row["data_note"])}">{html.escape(data)} *</span>')
        body.append([*cells, row["epochs"] or "", data, row["device"] or ""])
    notes = sorted({r["data_note"] for r in rows if r["data_note"]})
    note_html = "".join(f"<p>* {html.escape(n)}</p>" for n in notes)
    if off:
        items = "".join(f"<li>{html.escape(label)}: {html.escape(why)}</li>" for label, why in off)
        note_html += f"<p>{OFF_MARK} Off the {protocol} protocol, so not counted for the claims:</p><ul>{items}</ul>"
    if ended := [config_label(r["loss"], r["tau"]) for r in rows if r["collapsed"]]:
        note_html += (f"<p>{COLLAPSED_MARK} Ended collapsed (its last training loss at the loss's value for "
                      f"embeddings at one point): {html.escape(', '.join(ended))}.</p>")
    if missing:
        note_html += NotYetRun(f"Table 1, {dataset}, {describe(protocol)}", tuple(missing))._repr_html_()
    table = f'<div style="overflow-x: auto">{html_table(head, body, style="white-space: nowrap; font-size: 0.85em")}</div>'
    intro = (
        f"<p>Table 1, {html.escape(dataset)}, <strong>{html.escape(describe(protocol))}</strong>: <em>paper</em> = Wang &amp; Liu (2021) "
        f"at the paper's scale; <em>ours</em> = our run records at this scale{'; Δ = ours − paper' if diff else ''}. "
        "Uniformity and tolerance are those of the un-augmented training embeddings.</p>"
    )
    return HtmlTable(intro + table + note_html)


# --- Figs. 4-7 and 9: a metric vs tau -------------------------------------------------------


def _vs_tau(records: Sequence[Record], dataset: str, metrics: Sequence[str], what: str, protocol: str) -> go.Figure:
    """One panel per metric vs tau: ours per loss (lines; open circles off the protocol) and, where Table 1
    has the metric, the paper's (crosses), on an axis of their own (right) at any scale but the paper's.
    Without records the paper's values are drawn alone, titled as what the paper reports."""
    records = of_protocol(records, protocol)
    runs = {loss: by_tau(records, dataset, loss) for loss in TAU_LOSSES}
    missing = [m for loss, ours in runs.items() for m in absent(loss, paper.GRIDS[loss], [t for t, _ in ours])]
    drawn = any(runs.values())
    if not drawn:
        metrics = [m for m in metrics if m in paper.METRICS]
        return _paper_only(dataset, metrics, what)
    apart = protocol != "paper"
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[METRIC_LABELS[m] for m in metrics],
                        specs=[[{"secondary_y": apart}] * len(metrics)])
    for col, metric in enumerate(metrics, start=1):
        for loss, ours in runs.items():
            if ours:
                fig.add_trace(go.Scatter(
                    x=[t for t, _ in ours], y=[r.results[metric] for _, r in ours], mode="lines+markers",
                    name=f"ours: {LABELS[loss]} ({run_text(r for _, r in ours)}{_collapsed_text(ours)})",
                    legendgroup=f"ours-{loss}", showlegend=col == 1, line={"color": COLOURS[loss]},
                    marker={"symbol": [_symbol(r) for _, r in ours], "size": 8},
                    customdata=[[r.config["epochs"], protocol_text(r)] for _, r in ours],
                    hovertemplate="τ=%{x}<br>%{y:.4g}<br>%{customdata[0]} epochs<br>%{customdata[1]}<extra>ours</extra>",
                ), row=1, col=col)
            if metric in paper.METRICS and dataset in paper.DATASETS:
                fig.add_trace(_paper_trace(dataset, metric, loss, col == 1, opacity=0.6),
                              row=1, col=col, **({"secondary_y": True} if apart else {}))
    fig.update_xaxes(title_text="τ")
    if apart:
        fig.update_yaxes(title_text="ours", secondary_y=False)
        fig.update_yaxes(title_text="the paper's (paper scale)", secondary_y=True, showgrid=False)
    return _finish(fig, f"{what}, {dataset}, {describe(protocol)}", missing, height=480)


def _symbol(record: Record) -> str:
    """A run's marker: a diamond where it ended collapsed, hollow where it is off its protocol."""
    return ("diamond" if collapsed(record) else "circle") + ("-open" if _off(record) else "")


def _collapsed_text(runs: Sequence[tuple[float, Record]]) -> str:
    """``; collapsed at τ = 0.07, 0.3 (diamonds)`` for the runs that ended collapsed, else ""."""
    taus = [f"{t:g}" for t, r in runs if collapsed(r)]
    return f"; collapsed at τ = {', '.join(taus)} (diamonds)" if taus else ""


def _paper_trace(dataset: str, metric: str, loss: str, showlegend: bool, **style: Any) -> go.Scatter:
    """The paper's Table 1 values of ``metric`` for ``loss`` vs τ: crosses on a dotted line, labelled as the paper's."""
    return go.Scatter(
        x=list(paper.TABLE1_TAUS), y=[paper.table1(dataset, metric, loss, t) for t in paper.TABLE1_TAUS], mode="markers+lines",
        name=f"paper: {LABELS[loss]} (the paper's Table 1, paper scale)", legendgroup=f"paper-{loss}", showlegend=showlegend,
        marker={"symbol": "x", "size": 9, "color": COLOURS[loss]}, line={"dash": "dot", "color": COLOURS[loss]},
        hovertemplate="τ=%{x}<br>%{y}<extra>paper</extra>", **style)


def _paper_only(dataset: str, metrics: Sequence[str], what: str) -> go.Figure:
    """The paper's Table 1 values of ``metrics`` vs τ, one panel each, titled as what the paper reports."""
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[METRIC_LABELS[m] for m in metrics])
    for col, metric in enumerate(metrics, start=1):
        for loss in TAU_LOSSES:
            fig.add_trace(_paper_trace(dataset, metric, loss, col == 1), row=1, col=col)
    fig.update_xaxes(title_text="τ")
    return _finish(fig, f"What the paper reports: {what}, {dataset}", [], height=480)


def uniformity_tolerance(records: Sequence[Record], dataset: str = "cifar10", protocol: str = "paper") -> go.Figure:
    """Figs. 4-7: uniformity (−L_unif) and tolerance T vs tau, ordinary and hard loss, paper overlaid."""
    return _vs_tau(records, dataset, ("uniformity", "tolerance"), "Uniformity and tolerance vs τ", protocol)


def accuracy(records: Sequence[Record], dataset: str = "cifar10", protocol: str = "paper") -> go.Figure:
    """Fig. 9: linear and kNN top-1 vs tau, ordinary and hard loss; the paper's linear top-1 overlaid."""
    return _vs_tau(records, dataset, ("linear_top1", "knn_top1"), "Accuracy vs τ", protocol)


# --- Fig. 8: the positive and its nearest negatives -----------------------------------------


def box_stats(x: np.ndarray) -> dict[str, float]:
    """Quartiles and Tukey whiskers (furthest points within 1.5 IQR) of ``x``, for a precomputed box."""
    x = np.asarray(x, dtype=np.float64)
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    iqr = q3 - q1
    return {
        "q1": q1, "median": median, "q3": q3, "mean": float(x.mean()),
        "lowerfence": float(x[x >= q1 - 1.5 * iqr].min()), "upperfence": float(x[x <= q3 + 1.5 * iqr].max()),
    }


def _boxes(arrays: dict[str, np.ndarray]) -> list[go.Box]:
    """One precomputed box for the positives s_ii, then one per nearest negative n1..n10."""
    columns = [("positive", arrays["pos_sim"])] + [(f"n{j + 1}", arrays["neg_top10"][:, j]) for j in range(arrays["neg_top10"].shape[1])]
    return [
        go.Box(
            x=[name], **{k: [v] for k, v in box_stats(values).items()}, name=name, showlegend=False,
            marker={"color": COLOURS["contrastive"] if name == "positive" else COLOURS["paper"]},
        )
        for name, values in columns
    ]


def similarities(records: Sequence[Record], dataset: str = "cifar10", loss: str = "contrastive",
        protocol: str = "paper") -> go.Figure | NotYetRun:
    """Fig. 8: box plots of s_ii and of the 10 nearest negatives n1..n10 of 1,000 anchors, a tau slider.

    Boxes are quartiles with Tukey whiskers; outliers are not drawn.
    """
    runs = with_arrays(by_tau(of_protocol(records, protocol), dataset, loss), ("pos_sim", "neg_top10"))
    return _slider("Positive vs nearest negatives", dataset, loss, protocol, [(t, _boxes(a)) for t, a, _ in runs],
                   drawn=[r for _, _, r in runs], yaxis_title="similarity",
                   xaxis_title="positive s_ii and the nearest negatives n1 (hardest) … n10")


def histograms(records: Sequence[Record], dataset: str = "cifar10", loss: str = "contrastive",
        protocol: str = "paper") -> go.Figure | NotYetRun:
    """Densities of the positive and negative similarities stored with each record, a tau slider."""
    runs = with_arrays(by_tau(of_protocol(records, protocol), dataset, loss), ("hist_edges", "hist_pos", "hist_neg"))
    frames = []
    for t, a, _ in runs:
        centres, width = (a["hist_edges"][1:] + a["hist_edges"][:-1]) / 2, np.diff(a["hist_edges"])
        frames.append((t, [
            go.Bar(x=centres, y=a[key], width=width, name=name, opacity=0.6, marker={"color": colour})
            for key, name, colour in (("hist_pos", "positive s_ii", COLOURS["contrastive"]), ("hist_neg", "negative s_ij", COLOURS["paper"]))
        ]))
    return _slider("Distribution of similarities", dataset, loss, protocol, frames, drawn=[r for _, _, r in runs], height=480,
                   xaxis_title="similarity", yaxis_title="density", barmode="overlay")


# --- Fig. 2: embeddings ---------------------------------------------------------------------


def project(embedding: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE (scikit-learn, PCA initialisation, perplexity 30) of an (n, d) sample, shape (n, 2)."""
    from sklearn.manifold import TSNE

    x = np.asarray(embedding, dtype=np.float32)
    return TSNE(n_components=2, init="pca", perplexity=30, random_state=seed, n_jobs=1).fit_transform(x)


def class_names(dataset: str, n: int) -> list[str]:
    """CIFAR-10's class names, else ``class 0`` .. ``class n-1``."""
    return list(CIFAR10_CLASSES) if dataset == "cifar10" and n <= 10 else [f"class {i}" for i in range(n)]


def embeddings(records: Sequence[Record], dataset: str = "cifar10", taus: Sequence[float] = paper.FIG2_TAUS,
               loss: str = "contrastive", protocol: str = "paper") -> go.Figure | NotYetRun:
    """Fig. 2: t-SNE of the stored test-feature sample (2,000 points) at each tau, coloured by class.

    Each panel title carries the uniformity and tolerance of the sample itself (``contrastive.metrics.sample_metrics``).
    """
    found = [(t, results.find(of_protocol(records, protocol), dataset, loss, t)) for t in taus]
    runs = with_arrays([(t, r) for t, r in found if r is not None and not r.invalid], ("embedding", "embedding_labels"))
    missing = absent(loss, taus, [t for t, _, _ in runs])
    what = "Embeddings (t-SNE of the stored test-feature sample)"
    if not runs:
        return NotYetRun(f"{what}, {describe(protocol)}, {dataset}", tuple(missing))
    titles = []
    for t, a, r in runs:
        u, tol = sample_metrics(a["embedding"], a["embedding_labels"])
        titles.append(f"τ={t:g} ({run_text([r])}), {len(a['embedding_labels'])} points:<br>uniformity {u:.2f}, tolerance {tol:.3f}")
    fig = make_subplots(rows=1, cols=len(runs), subplot_titles=titles)
    for col, (t, a, r) in enumerate(runs, start=1):
        xy, labels = project(a["embedding"]), a["embedding_labels"]
        names = class_names(dataset, int(labels.max()) + 1)
        for c in np.unique(labels):
            sel, name = labels == c, names[c]
            fig.add_trace(go.Scatter(
                x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=name, legendgroup=name, showlegend=col == 1,
                marker={"size": 3, "color": class_colour(c)}, hoverinfo="name",
            ), row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return _finish(fig, f"{what}, {dataset}, {LABELS[loss]} loss<br>{describe(protocol)}", missing, height=580)


# --- training dynamics ----------------------------------------------------------------------


def _curve_grid() -> dict[str, Any]:
    """The layout of the 2 × 2 panels of ``CURVE_PANELS`` against the epoch."""
    layout = make_subplots(rows=2, cols=2, subplot_titles=[CURVE_LABELS[c] for c in CURVE_PANELS]).layout.to_plotly_json()
    layout.pop("template", None)
    for i in range(1, len(CURVE_PANELS) + 1):
        layout[f"xaxis{'' if i == 1 else i}"]["title"] = {"text": "epoch"}
    return layout


def _curve_traces(record: dict[str, Any], colour: str, name: str) -> list[go.Scatter]:
    """One line per panel of ``CURVE_PANELS`` that the record's curves hold, one legend entry ``name``."""
    curves = record.curves
    return [
        go.Scatter(
            x=curves["epoch"], y=curves[c], mode="lines+markers", name=name, showlegend=i == 0, legendgroup=name,
            line={"color": colour}, xaxis=f"x{'' if i == 0 else i + 1}", yaxis=f"y{'' if i == 0 else i + 1}",
            hovertemplate=f"epoch %{{x}}<br>{CURVE_LABELS[c]} %{{y:.4g}}<extra></extra>",
        )
        for i, c in enumerate(CURVE_PANELS)
        if c in curves
    ]


def dynamics(records: Sequence[Record], dataset: str = "cifar10", loss: str = "contrastive",
             protocol: str = "paper") -> go.Figure | NotYetRun:
    """Training dynamics of one tau-loss: loss, kNN top-1, uniformity and tolerance (the last three on the
    test set) per evaluated epoch, a tau slider."""
    if not USES_TAU[loss]:
        raise ValueError(f"loss must be one of {TAU_LOSSES} (a loss with a temperature), got {loss!r}")
    runs = [(t, r) for t, r in by_tau(of_protocol(records, protocol), dataset, loss) if all(c in r.curves for c in CURVE_PANELS)]
    frames = [(t, _curve_traces(r, COLOURS[loss], f"τ={t:g} ({run_text([r])})")) for t, r in runs]
    return _slider("Training dynamics", dataset, loss, protocol, frames, height=680, **_curve_grid())


def collapsed(record: Record) -> bool:
    """Whether ``record``'s run ended collapsed: its last training loss within :data:`COLLAPSED` of
    the loss's value at a collapse (``losses.collapsed_loss``); False where the record cannot say."""
    if "train_images" not in record.provenance or not record.curves.get("loss"):
        return False
    return abs(record.curves["loss"][-1] - loss_at_collapse(record)) <= COLLAPSED


def loss_at_collapse(record: Record) -> float:
    """The value the training loss of ``record``'s run takes at a collapse (``losses.collapsed_loss``), with
    M from its negatives and training images."""
    c = record.config
    m = negatives_per_anchor(c["negatives"], record.provenance["train_images"], c["batch_size"])
    return collapsed_loss(c["loss"], m, c["k"])


def levelled_off(records: Sequence[Record], dataset: str = "cifar10", protocol: str = "paper") -> HtmlTable | NotYetRun:
    """Whether each run of ``protocol`` had levelled off by its end: per configuration, the test-set kNN
    top-1 and uniformity at the first curve point of the last 20 % of training and at the end, and how
    far each moved in between as a fraction of its range over the run (``contrastive.pilot.flatness``),
    judged by the pilot's rule 2 (at most 10 %), the yardstick written before the pilot ran; and whether
    its last epoch's training loss sits at the loss's value for a collapsed embedding
    (``losses.collapsed_loss``, within :data:`COLLAPSED`), where a run has stopped learning."""
    runs = [r for r in of_protocol(records, protocol) if r.config["dataset"] == dataset and not r.invalid]
    what = f"How far each run had levelled off, {dataset}, {describe(protocol)}"
    if not runs:
        return NotYetRun(what, tuple(config_label(loss, t) for loss, t in paper.COLUMNS))
    order = {loss: i for i, loss in enumerate(LABELS)}
    runs.sort(key=lambda r: (order[r.config["loss"]], r.config["tau"] if USES_TAU[r.config["loss"]] else 0))
    last, limit = pilot.FIRST.rules["last_fraction"], pilot.FIRST.rules["max_flatness"]
    rows, flat, ended = [], 0, 0
    for r in runs:
        c, curves = r.config, r.curves
        at_collapse = loss_at_collapse(r)
        ended += collapsed(r)
        start = pilot.last_stretch(curves["epoch"], last)
        moved = {name: pilot.flatness(curves, name) for name in pilot.FIRST.rules["flat_curves"]}
        levelled = max(moved.values()) <= limit
        flat += levelled
        rows.append([config_label(c["loss"], c["tau"]), *(f"{curves[n][start]:.3g} → {curves[n][-1]:.3g}" for n in moved),
                     *(f"{v:.3f}" for v in moved.values()), "yes" if levelled else "no",
                     f"{curves['loss'][-1]:.4f} / {at_collapse:.4f}"])
    short = {"uniformity": "uniformity", "knn_top1": "kNN"}
    columns = ("run", *(f"{CURVE_LABELS[n]}, at {1 - last:.0%} of training → end" for n in moved),
               *(f"moved: {short[n]}" for n in moved), f"levelled off (≤ {limit:.0%})",
               "last epoch's loss / its value at a collapse")
    note = (f"<p><strong>{html.escape(what)}</strong></p><p>{flat} of {len(runs)} runs levelled off by the pilot's rule 2: over the last {last:.0%} of training "
            f"their test-set uniformity and kNN accuracy each moved by at most {limit:.0%} of their range over the run.</p>")
    if ended:
        note += (f"<p>{ended} of {len(runs)} runs ended collapsed: their last epoch's training loss is the loss's "
                 "value when every similarity is the same (log(1 + M) for the ordinary loss, log(1 + k) for the hard "
                 "one, 0 for Simple and HardSimple), the state where all embeddings sit at one point and the "
                 "gradients of Eq. 4 cancel. Such a run has stopped learning, however flat its curves are.</p>")
    return HtmlTable(note + html_table(columns, rows))


def _collapse_runs(trials: Sequence[Record], records: Sequence[Record], dataset: str,
                   protocol: str) -> tuple[int, list[str], list[tuple[str, str | None, dict[str, Any]]]]:
    """The trials' last epoch, the deviations from ``protocol`` that every trial shares (their shortening), and
    ``(name, what else differs or None for a protocol run, record)`` per run: first the protocol's runs of
    the trials' losses and temperatures and of the ordinary loss at those temperatures, then each trial."""
    trials = sorted((r for r in trials if r.config["dataset"] == dataset and not r.invalid),
                    key=lambda r: r.path)
    changes = [[str(d) for d in deviations(r.config, protocol)] for r in trials]
    shared = [d for d in changes[0] if all(d in c for c in changes)] if changes else []
    at = [r for r in of_protocol(records, protocol) if r.config["dataset"] == dataset and not _off(r)]
    wanted = dict.fromkeys([(r.config["loss"], r.config["tau"]) for r in trials]
                           + [("contrastive", r.config["tau"]) for r in trials])
    runs = [(f"{config_label(loss, tau)}, {protocol} protocol", None, r)
            for loss, tau in wanted if (r := results.find(at, dataset, loss, tau))]
    runs += [(f"{config_label(r.config['loss'], r.config['tau'])}, trial {Path(r.path).parents[2].name}",
              ", ".join(d for d in c if d not in shared) or "nothing else", r) for r, c in zip(trials, changes)]
    return max((r.config["epochs"] for r in trials), default=0), shared, runs


def collapse_trials(trials: Sequence[Record], records: Sequence[Record], dataset: str = "cifar10",
                    protocol: str = "cpu") -> HtmlTable | NotYetRun:
    """The diagnostics of the hard loss's collapse (``results.TRIALS_ROOT / "hard-collapse"``): short runs of
    protocol ``protocol`` with one setting changed each, beside the protocol's own runs over the same first
    epochs. Per run: what differs from the protocol beyond the trials' shared shortening (named above the
    table), whether its steps ran in bfloat16, the test uniformity at each curve point up to the trials' last
    epoch, the training loss there beside its value at a collapse (``losses.collapsed_loss``) and whether the
    run had escaped the collapse by then (test uniformity at least :data:`ESCAPED`)."""
    what = f"Why the hard loss collapses: off-protocol trials, {dataset}, {describe(protocol)}"
    horizon, shared, runs = _collapse_runs(trials, records, dataset, protocol)
    if not horizon:
        return NotYetRun(what, ("any trial",), str(results.TRIALS_ROOT.relative_to(results.DEFAULT_ROOT.parents[1]) / "hard-collapse"))
    rows, escaped = [], []
    for name, changed, r in runs:
        curves = r.curves
        points = [i for i, e in enumerate(curves["epoch"]) if e <= horizon]
        last = points[-1]
        away = curves["uniformity"][last] >= ESCAPED
        if away and changed is not None:
            escaped.append(name)
        rows.append([name, "nothing: its first epochs" if changed is None else changed,
                     "bfloat16" if r.provenance.get("bf16") else "float32",
                     ", ".join(f"{curves['epoch'][i]}: {curves['uniformity'][i]:.3f}" for i in points),
                     f"{curves['loss'][last]:.4f} / {loss_at_collapse(r):.4f} (epoch {curves['epoch'][last]})",
                     "yes" if away else "no"])
    n = sum(changed is not None for _, changed, _ in runs)
    note = (f"<p><strong>{html.escape(what)}</strong></p><p>{n} trials, each a run of {horizon} epochs "
            f"({html.escape(', '.join(shared))}) with one more change, in the second column; they are off the "
            f"protocol and count for no claim. {len(escaped)} of {n} escaped the collapse by epoch {horizon} "
            f"(test uniformity ≥ {ESCAPED:g}){': ' + html.escape('; '.join(escaped)) if escaped else ''}. At a uniformity "
            f"(−L_unif, Eq. 10) of {ESCAPED:g} the mean of exp(−2‖f(x) − f(y)‖²) is at most 1/e, so by Jensen's inequality "
            "the mean squared distance between two test embeddings is at least 0.5; at a collapse it is 0.</p>")
    columns = ("run", "what else differs from the protocol", "steps in", "uniformity −L_unif, test set (epoch: value)",
               "training loss / its value at a collapse", f"escaped (≥ {ESCAPED:g})")
    return HtmlTable(note + html_table(columns, rows))


def run_curves(record: dict[str, Any]) -> go.Figure:
    """The per-epoch curves of one record (the run notebook's last figure)."""
    c = record.config
    label = config_label(c["loss"], c.get("tau"))
    fig = go.Figure(data=_curve_traces(record, COLOURS.get(c["loss"], COLOURS["paper"]), label), layout=_curve_grid())
    fig.update_layout(title=f"{c['dataset']}, {label}, {run_text([record])}", height=620)
    return fig


def run_summary(record: dict[str, Any]) -> HtmlTable:
    """The final numbers and provenance of one record, beside the paper's where Table 1 has them."""
    c, res, prov = record.config, record.results, record.provenance
    rows: list[list[object]] = []
    for key, value in res.items():
        theirs = paper.table1(c["dataset"], key, c["loss"], c.get("tau")) if c["dataset"] in paper.DATASETS and key in paper.METRICS else None
        rows.append([METRIC_LABELS.get(key, key), format(value, METRIC_FORMATS.get(key, ".4g")), _fmt(theirs, "g", "")])
    data = prov.get("data", {})
    facts = {
        "protocol": protocol_text(record), "epochs": c["epochs"], "concurrent runs on the device": prov.get("concurrent_runs"),
        "device": prov.get("device"), "data": data.get("source"), "data note": data.get("note"),
        "seconds per epoch": prov.get("seconds_per_epoch"), "wall seconds (total)": prov.get("wall_seconds", {}).get("total"),
        "commit": prov.get("commit"), "record": str(record.path),
    }
    rows += [[k, str(v)] for k, v in facts.items() if v not in (None, "")]  # the value spans both columns
    return HtmlTable(html_table(("", "ours", "paper"), rows))


def run_times(records: Sequence[Record], benchmarks: Sequence[Record]) -> HtmlTable | NotYetRun:
    """How long training takes: each epoch-time benchmark (our engine vs a conventional pipeline) and
    the seconds per epoch and total wall time of each run record, with its protocol and device."""
    if not benchmarks and not records:
        return NotYetRun("Time per epoch and per run", ("an epoch-time benchmark", "any training run"))
    rows = [
        [f"benchmark, {b.get('protocol', 'paper')} protocol, batch {b['batch_size']}", b["device"], f"{b['engine_s_per_epoch']:.2f}",
         f"{b['baseline_s_per_epoch']:.2f} (conventional; ×{b['speedup']:.1f})", b.get("measured", "")]
        for b in benchmarks
    ]
    for r in records:
        c, prov = r.config, r.provenance
        shared = prov.get("concurrent_runs", 1)
        total = prov.get("wall_seconds", {}).get("total")
        rows.append([
            f"{r.protocol} protocol: {c['dataset']} {config_label(c['loss'], c.get('tau'))}, {c['epochs']} epochs"
            + (f" ({shared} runs sharing the device)" if shared > 1 else ""),
            prov.get("device"), _fmt(prov.get("seconds_per_epoch"), ".2f"),
            f"{total / 60:.1f} min in all" if total else "", prov.get("finished", ""),
        ])
    return HtmlTable(html_table(("what", "device", "s / epoch", "other", "when"), rows))


def sweep_time(records: Sequence[Record], protocol: str) -> str:
    """The measured time of the sweep at protocol ``protocol``: how many records it holds, their wall
    time added up (the runs ran one after another), and the slowest and fastest run."""
    done = [r for r in of_protocol(records, protocol) if not _off(r) and "total" in r.provenance.get("wall_seconds", {})]
    if not done:
        return f"The sweep at {describe(protocol)}: no run recorded yet."
    minutes = sorted(r.provenance["wall_seconds"]["total"] / 60 for r in done)
    planned = len(configurations(paper.TABLE1_LOSSES))
    return (f"The sweep at {describe(protocol)}: {len(done)} of its {planned} runs recorded, {sum(minutes) / 60:.1f} hours of "
            f"runs in all ({minutes[0]:.1f} to {minutes[-1]:.1f} min a run, training and evaluation).")


def protocols_table() -> HtmlTable:
    """Every setting a protocol fixes, one column per protocol (``contrastive.config.PROTOCOLS``),
    the settings where they differ first."""
    names = list(PROTOCOLS)
    values = {n: asdict(PROTOCOLS[n]) for n in names}
    differ = [f for f in SETTINGS if len({repr(values[n][f]) for n in names}) > 1]
    rows = [[f + (" (hard losses)" if f == "k" else ""), *(shown(f, values[n][f]) for n in names)]
            for f in differ + [f for f in SETTINGS if f not in differ]]
    return HtmlTable(html_table(("setting", *(describe(n) for n in names)), rows))


def _budget(rules: dict[str, Any]) -> str:
    """Rule 1 of a pilot in a few words: its minutes or its training images."""
    return f"≤ {rules['max_seconds'] // 60} min" if "max_seconds" in rules else f"≤ {rules['max_images']:,} images"


def pilot_table(verdict: dict[str, Any], which: pilot.Pilot = pilot.FIRST) -> HtmlTable | NotYetRun:
    """A pilot (``contrastive.pilot.verdict``): per recipe and τ, the run's minutes, final kNN and
    linear top-1, the flatness of its curves over the last 20 %; per recipe whether it meets the
    rules; the chosen one."""
    if not verdict["runs"]:
        return NotYetRun("The pilot", tuple(f"{r} at τ = {t:g}" for r in which.recipes for t in which.taus))
    summary = {row["recipe"]: row for row in verdict["rows"]}
    rows = []
    for recipe, assessed in verdict["runs"].items():
        row = summary[recipe]
        for a in sorted(assessed, key=lambda a: a["tau"]):
            rows.append([
                recipe + (" (chosen)" if recipe == verdict["chosen"] else ""), f"{a['tau']:g}", f"{a['seconds'] / 60:.1f}",
                f"{a['knn_top1']:.2f}", f"{a['linear_top1']:.2f}",
                *(f"{a['flatness'][c]:.2f}" for c in which.rules["flat_curves"]),
                "yes" if row["fast"] else "no", "yes" if row["flat"] else "no",
                _fmt(row["mean_knn_top1"], ".2f", ""),
            ])
    columns = ("recipe", "τ", "minutes", "kNN top-1", "linear top-1", "flatness: uniformity", "flatness: kNN",
               f"rule 1 ({_budget(which.rules)})", "rule 2 (flat)", "mean kNN over τ")
    return HtmlTable(html_table(columns, rows))


def pilot_finding(verdict: dict[str, Any], which: pilot.Pilot = pilot.FIRST) -> str:
    """A pilot's verdict in a sentence (Markdown), from ``contrastive.pilot.verdict``."""
    chosen, rules = verdict["chosen"], which.rules
    if chosen is None:
        if not all(r["complete"] for r in verdict["rows"]) or len(verdict["rows"]) < len(which.recipes):
            return "The pilot is not complete yet: none of its recipes is chosen before every one has run at both temperatures."
        return (f"No recipe met both rules ({_budget(rules)} a run; curves flat): none was chosen"
                + ("." if rules["fallback"] else "; by the pilot's rules, a next round at twice the budget follows."))
    row = next(r for r in verdict["rows"] if r["recipe"] == chosen)
    text = (f"**Chosen: {chosen}** ({', '.join(f'{k} {v}' for k, v in which.recipes[chosen].items())}), mean kNN top-1 "
            f"{row['mean_knn_top1']:.2f} % over τ = {', '.join(f'{t:g}' for t in which.taus)}.")
    if verdict["flat"]:
        return text + " Its curves meet rule 2."
    return text + (f" No recipe met rule 2: in every recipe some curve still moved by more than "
                   f"{rules['max_flatness']:.0%} of its range over the last {rules['last_fraction']:.0%} of training, "
                   f"so the recipe whose worst curve moved least was taken (worst flatness {row['worst_flatness']:.2f}): "
                   "its runs had not quite levelled off.")


def pilot_curves(runs: dict[str, list[Record]], which: pilot.Pilot = pilot.FIRST) -> go.Figure | NotYetRun:
    """A pilot's test-set kNN top-1 and uniformity against the fraction of training, one line per
    recipe and τ, with the start of the last 20 % marked."""
    if not runs:
        return NotYetRun("The pilot's curves", tuple(which.recipes))
    panels = which.rules["flat_curves"]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[CURVE_LABELS[c] for c in panels])
    for i, (recipe, records) in enumerate(runs.items()):
        for r in sorted(records, key=lambda r: r.config["tau"]):
            c, name = r.curves, f"{recipe}, τ={r.config['tau']:g}"
            x = [e / c["epoch"][-1] for e in c["epoch"]]
            for col, key in enumerate(panels, start=1):
                fig.add_trace(go.Scatter(
                    x=x, y=c[key], mode="lines+markers", name=name, legendgroup=name, showlegend=col == 1,
                    line={"color": class_colour(i), "dash": "solid" if r.config["tau"] == which.taus[0] else "dash"},
                    customdata=c["epoch"], hovertemplate="epoch %{customdata}<br>%{y:.4g}<extra>" + name + "</extra>",
                ), row=1, col=col)
    for col in range(1, len(panels) + 1):
        fig.add_vline(x=1 - which.rules["last_fraction"], line_dash="dot", line_color=COLOURS["paper"], row=1, col=col)
    fig.update_xaxes(title_text="fraction of training")
    return _finish(fig, "The pilot's curves (CPU scale, ordinary loss)", [], height=480)

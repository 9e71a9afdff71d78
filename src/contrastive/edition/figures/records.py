"""What every figure and table drawn from run records shares: the labels, colours and marks, the note that stands in
for a figure whose records are missing, the titles that say which runs are drawn and at which protocol, and whether
a run ended collapsed.

Records that started from a protocol but are off it (``contrastive.protocols.deviations``: fewer epochs, another
backbone, …) are still drawn, marked "off protocol" with what differs; they count for no claim.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from ... import paper, results
from ...losses import LABELS, collapsed_loss
from ...protocols import (
    NOT_YET_RUN,
    PROTOCOLS,
    SETTINGS,
    config_label,
    describe,
    deviations,
    negatives_per_anchor,
)
from ...results import Record, record_name
from . import tau_slider

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
"""Axis and row labels, by the name of a metric or a curve: Table 1's uniformity and tolerance are on the
un-augmented training embeddings (a record's ``uniformity_train``), the curves on the test set's."""
CURVE_PANELS = ("loss", "knn_top1", "uniformity_test", "tolerance_test")
"""The per-epoch series (keys of a record's ``curves``, all of the test set but the loss) drawn by
:func:`dynamics` and :func:`run_curves`, one panel each, labelled by :data:`METRIC_LABELS`."""
METRIC_FORMATS = {"linear_top1": ".2f", "knn_top1": ".2f", "uniformity": ".3f", "tolerance": ".3f"}
COLOURS = {"contrastive": "#1f77b4", "hard": "#d62728", "paper": "#7f7f7f"}
DASHES = {"contrastive": "solid", "hard": "dash"}
"""A loss's line in figures vs τ: its colour and its dash (colour is never the only signal)."""
COLLAPSED = 1e-3
"""How close (absolute) a run's last training loss must be to ``losses.collapsed_loss`` to count as collapsed."""
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

    def text(self) -> str:
        where = self.looked_in or results.shown_root()
        return f"{self.what}: {NOT_YET_RUN} — no run record for {', '.join(self.missing)} (looked in {where})."

    def _repr_html_(self) -> str:
        """The note on a page: what would be drawn and the runs it needs (the page says once how to make them)."""
        return (
            f'<div class="admonition note"><p class="admonition-title">{html.escape(self.what)}</p>'
            f"<p>No run record yet for {html.escape(', '.join(self.missing))}.</p></div>"
        )

    __repr__ = text


@dataclass(frozen=True)
class HtmlTable:
    """An HTML table (with an optional note above it), displayed as HTML."""

    html: str

    def _repr_html_(self) -> str:
        return self.html


# --- labels and titles ----------------------------------------------------------------------


def run_text(recs: Iterable[Record]) -> str:
    """The epochs of the records drawn in one trace (``200 epochs``, ``1–200 epochs``), then ``; off protocol:
    <fields>`` if any of them is off its protocol."""
    recs = list(recs)
    epochs = sorted({int(r.config["epochs"]) for r in recs})
    text = (
        f"{epochs[0]}–{epochs[-1]} epochs"
        if len(epochs) > 1
        else f"{epochs[0]} epoch{'' if epochs[0] == 1 else 's'}"
    )
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
    named = (
        ", ".join(missing)
        if len(missing) <= MISSING_NAMED
        else f"{len(missing)} of its configurations"
    )
    return f"<br><sup>no run record yet: {named}</sup>"


def formatted(value: float | None, spec: str, none: str = "—") -> str:
    """``value`` in the format ``spec``; ``none`` (by default a dash) when it is None."""
    return none if value is None else format(value, spec)


def _finish(
    fig: go.Figure,
    title: str,
    missing: Sequence[str],
    legend_below: bool = True,
    panel_lines: int = 1,
    **layout,
) -> go.Figure:
    """Title the figure, naming the configurations not yet run; the legend goes below the axes unless a slider is
    there. The top margin has room for each line of the title and for panel titles of ``panel_lines`` lines."""
    if legend_below:  # hung by its top edge: a legend of several lines grows down, off the x title
        layout["legend"] = {
            "orientation": "h",
            "yanchor": "top",
            "y": -0.2,
            "x": 0,
            "xanchor": "left",
        }
    text = title + missing_note(missing)
    fig.update_layout(
        title={"text": text},
        margin={"t": 80 + 25 * (text.count("<br>") + panel_lines - 1)},
        **layout,
    )
    return subscripts(fig)


MATH = (
    ("−L_uniformity", "−ℒ<sub>unif</sub>"),
    ("−L_unif", "−ℒ<sub>unif</sub>"),
    ("s_ij", "s<sub>ij</sub>"),
    ("s_ii", "s<sub>ii</sub>"),
    ("s_max", "s<sub>max</sub>"),
    ("r_i(", "r<sub>i</sub>("),
    ("H(r_i)", "H(r<sub>i</sub>)"),
    ("∂L/∂", "∂ℒ/∂"),
    ("r_i", "r<sub>i</sub>"),
)
"""The plain-text math of labels and what a figure writes instead (plotly draws HTML subscripts)."""


def math_text(text: str) -> str:
    """``text`` with its plain-text math (:data:`MATH`) as HTML subscripts."""
    for plain, marked in MATH:
        text = text.replace(plain, marked)
    return text


def subscripts(fig: go.Figure) -> go.Figure:
    """``fig`` with :func:`math_text` applied to its title, axis titles, panel titles and legend
    entries."""
    if fig.layout.title.text:
        fig.layout.title.text = math_text(fig.layout.title.text)
    for note in fig.layout.annotations:
        note.text = math_text(note.text or "")
    fig.for_each_xaxis(lambda a: a.title.text and a.update(title_text=math_text(a.title.text)))
    fig.for_each_yaxis(lambda a: a.title.text and a.update(title_text=math_text(a.title.text)))
    fig.for_each_trace(lambda t: t.name and t.update(name=math_text(t.name)))
    return fig


def _slider(
    name: str,
    dataset: str,
    loss: str,
    protocol: str,
    frames: list[tuple[float, list[Any]]],
    drawn: Sequence[Record] = (),
    height: int = 500,
    **layout,
) -> go.Figure | NotYetRun:
    """``frames`` (one per tau of ``loss`` with a record) on a tau slider, or a :class:`NotYetRun` note when there is
    none; the runs ``drawn`` are summarised in the title where they differ from the protocol's description."""
    what = f"{name} ({LABELS[loss]} loss)"
    missing = absent(loss, paper.TABLE1_TAUS, [t for t, _ in frames])
    if not frames:
        return NotYetRun(f"{what}, {describe(protocol)}, {dataset}", tuple(missing))
    runs = run_text(drawn) if drawn else ""
    title = f"{what}, {dataset}<br>{describe(protocol)}"
    title += f" ({runs})" if runs and runs != f"{PROTOCOLS[protocol].epochs} epochs" else ""
    return _finish(tau_slider(frames, **layout), title, missing, legend_below=False, height=height)


# --- collapse ---------------------------------------------------------------------------


def collapsed(record: Record) -> bool:
    """Whether ``record``'s run ended collapsed: its last training loss within :data:`COLLAPSED` of
    :func:`loss_at_collapse`; False where the record cannot say."""
    if "train_images" not in record.provenance or not record.curves.get("loss"):
        return False
    return abs(record.curves["loss"][-1] - loss_at_collapse(record)) <= COLLAPSED


def loss_at_collapse(record: Record) -> float:
    """The training loss of ``record``'s run at a collapse (``losses.collapsed_loss``, M from its negatives and images)."""
    c = record.config
    m = negatives_per_anchor(c["negatives"], record.provenance["train_images"], c["batch_size"])
    return collapsed_loss(c["loss"], m, c["k"])

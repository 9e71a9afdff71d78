"""The protocols and the pilots that chose the CPU scale (``contrastive.pilot``): every setting a protocol
fixes, and each pilot's runs, rules and curves."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import pilot
from ...protocols import PROTOCOLS, SETTINGS, describe, shown
from ...results import Record
from . import class_colour, html_table
from .records import COLOURS, METRIC_LABELS, HtmlTable, NotYetRun, _finish, formatted


def protocols_table() -> HtmlTable:
    """Every setting a protocol fixes, one column per protocol, the settings where they differ first."""
    names = list(PROTOCOLS)
    values = {n: asdict(PROTOCOLS[n]) for n in names}
    differ = [f for f in SETTINGS if len({repr(values[n][f]) for n in names}) > 1]
    rows = [
        [f + (" (hard losses)" if f == "k" else ""), *(_plain(f, values[n][f]) for n in names)]
        for f in differ + [f for f in SETTINGS if f not in differ]
    ]
    return HtmlTable(html_table(("setting", *(f"{describe(n)} ({n})" for n in names)), rows))


def _plain(name: str, value: Any) -> str:
    """A setting as a reader reads it: text without quotes, yes or no for a switch, a list as its items."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(name, v) for v in value)
    return shown(name, value)


def pilot_table(verdict: dict[str, Any], which: pilot.Pilot = pilot.FIRST) -> HtmlTable | NotYetRun:
    """A pilot (``contrastive.pilot.verdict``): per recipe and τ, the run's minutes, final kNN and linear top-1, the
    flatness of its curves over the last stretch; per recipe whether it meets the rules; the chosen one."""
    if not verdict["runs"]:
        return NotYetRun(
            "The pilot", tuple(f"{r} at τ = {t:g}" for r in which.recipes for t in which.taus)
        )
    summary = {row["recipe"]: row for row in verdict["rows"]}
    rows = []
    for recipe, assessed in verdict["runs"].items():
        row = summary[recipe]
        for a in sorted(assessed, key=lambda a: a["tau"]):
            rows.append(
                [
                    recipe + (" (chosen)" if recipe == verdict["chosen"] else ""),
                    f"{a['tau']:g}",
                    f"{a['seconds'] / 60:.1f}",
                    f"{a['knn_top1']:.2f}",
                    f"{a['linear_top1']:.2f}",
                    *(f"{a['flatness'][c]:.2f}" for c in which.rules["flat_curves"]),
                    "yes" if row["fast"] else "no",
                    "yes" if row["flat"] else "no",
                    formatted(row["mean_knn_top1"], ".2f", ""),
                ]
            )
    rules = which.rules  # rule 1 in a few words: its minutes or its training images
    budget = (
        f"≤ {rules['max_seconds'] // 60} min"
        if "max_seconds" in rules
        else f"≤ {rules['max_images']:,} images"
    )
    columns = (
        "recipe",
        "τ",
        "minutes",
        "kNN top-1",
        "linear top-1",
        "flatness: uniformity",
        "flatness: kNN",
        f"rule 1 ({budget})",
        "rule 2 (flat)",
        "mean kNN over τ",
    )
    return HtmlTable(html_table(columns, rows))


def pilot_curves(
    runs: dict[str, list[Record]], which: pilot.Pilot = pilot.FIRST
) -> go.Figure | NotYetRun:
    """A pilot's test-set kNN top-1 and uniformity against the fraction of training, the last stretch's start marked."""
    if not runs:
        return NotYetRun("The pilot's curves", tuple(which.recipes))
    panels = which.rules["flat_curves"]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[METRIC_LABELS[c] for c in panels])
    for i, (recipe, records) in enumerate(runs.items()):
        for r in sorted(records, key=lambda r: r.config["tau"]):
            c, name = r.curves, f"{recipe}, τ={r.config['tau']:g}"
            x = [e / c["epoch"][-1] for e in c["epoch"]]
            for col, key in enumerate(panels, start=1):
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=c[key],
                        mode="lines+markers",
                        name=name,
                        legendgroup=name,
                        showlegend=col == 1,
                        line={
                            "color": class_colour(i),
                            "dash": "solid" if r.config["tau"] == which.taus[0] else "dash",
                        },
                        customdata=c["epoch"],
                        hovertemplate="epoch %{customdata}<br>%{y:.4g}<extra>" + name + "</extra>",
                    ),
                    row=1,
                    col=col,
                )
    for col in range(1, len(panels) + 1):
        fig.add_vline(
            x=1 - which.rules["last_fraction"],
            line_dash="dot",
            line_color=COLOURS["paper"],
            row=1,
            col=col,
        )
    fig.update_xaxes(title_text="fraction of training")
    which_one = "first" if which is pilot.FIRST else "second"
    return _finish(
        fig, f"The {which_one} pilot's curves (CPU scale, ordinary loss)", [], height=480
    )

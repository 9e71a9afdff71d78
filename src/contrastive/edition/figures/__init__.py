"""The book's plotly figures, and what every figure shares: a tau slider that works in the static HTML with no
kernel, the package's own source where a chapter explains it, the book's tables (there is no pandas) and display.
The chapters' figures are in the submodules; what those drawn from run records share is in ``records``.
"""

from __future__ import annotations

import ast
import html
import inspect
import os
import textwrap
from collections.abc import Sequence

import plotly.graph_objects as go
from IPython.display import HTML, Markdown, display
from plotly.basedatatypes import BaseTraceType
from plotly.colors import qualitative

BOOK_BUILD_ENV = "CONTRASTIVE_BOOK_BUILD"


def class_colour(i: int) -> str:
    """The colour of class (or series) ``i`` in every figure of the book: plotly's D3 palette, cycled."""
    return qualitative.D3[i % len(qualitative.D3)]


def show(item) -> None:
    """Display ``item`` so that it renders in the built book (offline) and live in Jupyter. In a book build
    (``CONTRASTIVE_BOOK_BUILD`` set, as ``make book`` does) a plotly figure is emitted as its HTML ``<div>`` only,
    plotly.js being served once per page by ``book/_ext/offline_assets.py``: plotly's default renderer would make the
    figure vanish from Jupyter Book pages."""
    if not isinstance(item, go.Figure):
        display(item)
    elif os.environ.get(BOOK_BUILD_ENV):
        display(
            HTML(item.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True}))
        )
    else:
        item.show()


def source(obj) -> str:
    """The source of a function or class of ``contrastive`` from its ``def`` or ``class`` line,
    without decorators (``@torch.no_grad()`` is no part of what a chapter explains)."""
    text = textwrap.dedent(inspect.getsource(obj))
    return "\n".join(text.splitlines()[ast.parse(text).body[0].lineno - 1 :]).rstrip()


def show_source(obj) -> None:
    """Display :func:`source`: the book shows the code it explains, read from the package, not copied."""
    display(Markdown(f"```python\n{source(obj)}\n```"))


class Html(str):
    """Text that :func:`html_table` writes as it is (a cell with markup, a header already built)."""


def html_table(
    columns: Sequence[str] | Html,
    rows: Sequence[Sequence[object]],
    fmt: str = ".3f",
    style: str = "",
) -> str:
    """An HTML table: ``columns`` names the columns, or is the header's rows as :class:`Html`; floats are
    written with the format spec ``fmt``, other cells as text escaped unless :class:`Html`. The last cell
    of a row shorter than the longest spans the columns left; ``style`` goes to the table's style."""

    def cell(value: object) -> str:
        return (
            value
            if isinstance(value, Html)
            else html.escape(format(value, fmt) if isinstance(value, float) else str(value))
        )

    def tr(row: Sequence[object]) -> str:
        cells = [f"<td>{cell(v)}</td>" for v in row]
        if row and len(row) < width:
            cells[-1] = f'<td colspan="{width - len(row) + 1}">{cell(row[-1])}</td>'
        return "<tr>" + "".join(cells) + "</tr>"

    width = max((len(r) for r in rows), default=0)
    head = (
        columns
        if isinstance(columns, Html)
        else "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"
    )
    body = "".join(tr(row) for row in rows)
    attrs = f' style="{style}"' if style else ""
    return f'<table class="table"{attrs}><thead>{head}</thead><tbody>{body}</tbody></table>'


def tau_slider(
    frames: Sequence[tuple[float, Sequence[BaseTraceType]]], active: int = 0, **layout
) -> go.Figure:
    """A figure with one group of traces per tau (``frames`` of ``(tau, traces)``, every group as many traces) and a
    slider that shows one group at a time, ``active`` first. A single group gets no slider (plotly draws none for one
    step), only a note below the axes naming its tau."""
    if not frames:
        raise ValueError("frames must hold at least one (tau, traces) group")
    sizes = {len(traces) for _, traces in frames}
    if len(sizes) != 1:
        raise ValueError(
            f"every tau must have the same number of traces, got sizes {sorted(sizes)}"
        )
    if not 0 <= active < len(frames):
        raise ValueError(f"active must be in [0, {len(frames) - 1}], got {active}")
    per = sizes.pop()
    fig = go.Figure()
    for i, (_, traces) in enumerate(frames):
        for trace in traces:
            trace.visible = i == active
            fig.add_trace(trace)
    if len(frames) == 1:
        fig.update_layout(
            margin={"b": 110}, **layout
        )  # the layout first: it may hold annotations (subplot titles)
        return fig.add_annotation(
            text=f"τ = {frames[0][0]:g}",
            xref="paper",
            yref="paper",
            x=0,
            y=0,
            yshift=-70,
            xanchor="left",
            yanchor="top",
            showarrow=False,
            font={"size": 14},
        )  # where a slider would be
    steps = [
        {
            "method": "update",
            "label": f"{tau:g}",
            "args": [{"visible": [j // per == i for j in range(per * len(frames))]}],
        }
        for i, (tau, _) in enumerate(frames)
    ]
    fig.update_layout(
        sliders=[
            {"active": active, "currentvalue": {"prefix": "τ = "}, "pad": {"t": 40}, "steps": steps}
        ],
        **layout,
    )
    return fig

"""The status of every claim as the book shows it (``contrastive.edition.claims`` judges them): a compact claim ×
scale grid on the landing page, and each chapter's rows with their evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...protocols import JUDGED, NOT_YET_RUN, TITLES
from ...results import Record
from ..claims import (
    CLAIMS,
    INVALID,
    KEYS,
    NOT_APPLICABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    Criterion,
    Row,
    status_table,
)


def evidence(row: Row) -> str:
    """A row's evidence: once where it is the same at every protocol (an analytic row), else per protocol."""
    details = list(dict.fromkeys(o.detail for o in row.outcomes.values()))
    if len(details) == 1:
        return details[0]
    return " ‖ ".join(f"{TITLES[n]}: {o.detail}" for n, o in row.outcomes.items())


GRID = {
    REPRODUCED: ("✓ reproduced", "#d3f0da"),
    NOT_REPRODUCED: ("✗ not reproduced", "#f8d4d4"),
    NOT_YET_RUN: ("—", "#e4e6e9"),
    NOT_APPLICABLE: ("not judged here", "#e4e6e9"),
    INVALID: ("invalid record", "#fde8a6"),
}
"""How the compact grid shows each status (the chapters' tables spell it out, with the evidence): a mark, on a
pale background under dark text, legible in the light theme and the dark one. Colour is never the only signal."""


ANALYTIC = tuple(c.key for c in CLAIMS if not isinstance(c.check, Criterion))
"""The rows checked by computation: the same at every scale, with no run behind them."""


def status_cell(status: str, analytic: bool = False) -> str:
    """A status cell: its mark on its colour, as inline HTML (MyST passes it through into the table's
    cell); an ``analytic`` row's mark says it needs no run, not that a run at that scale made it."""
    mark, colour = GRID[status]
    if analytic:
        mark = f"{mark.split()[0]} analytic (no run needed)"
    return f'<span style="display:block;padding:0 0.3em;border-radius:3px;color:#1f2328;background-color:{colour}">{mark}</span>'


def to_markdown(rows: Sequence[Row], evidence_column: bool = True) -> str:
    """The status table as MyST Markdown, one status column per protocol (:func:`status_cell`; a dash, explained
    once, where no run counts yet), the chapters as ``{doc}`` links that Sphinx resolves to titles and checks (``-n``)."""
    heads = [TITLES[n] for n in JUDGED]
    tail = " evidence |" if evidence_column else ""
    lines = [
        "| | the paper says | where | " + " | ".join(heads) + " |" + tail,
        "|---|---|---|" + "---|" * len(heads) + ("---|" if evidence_column else ""),
    ]
    for r in rows:
        links = ", ".join(f"{{doc}}`/{c}`" for c in r.chapters)
        marks = (status_cell(o.status, r.key in ANALYTIC) for o in r.outcomes.values())
        cells = (
            r.key,
            r.statement,
            links,
            *marks,
            *([evidence(r).replace("|", "\\|")] if evidence_column else []),
        )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("\n— : no record of the runs the row needs counts at that scale yet.")
    return "\n".join(lines)


@dataclass(frozen=True)
class StatusTable:
    """The status table as MyST Markdown (the book renders it, links checked): the compact grid where it holds
    every row, the evidence where it holds a chapter's rows."""

    rows: tuple[Row, ...]
    evidence_column: bool = True

    def _repr_markdown_(self) -> str:
        return to_markdown(self.rows, self.evidence_column)

    __repr__ = _repr_markdown_


def table(records: Sequence[Record], keys: Sequence[str] | None = None) -> StatusTable:
    """:func:`contrastive.edition.claims.status_table` (only the rows ``keys``, if given) ready to display."""
    if keys is not None and (unknown := [k for k in keys if k not in KEYS]):
        raise ValueError(f"keys must be among {list(KEYS)}, got {unknown}")
    return StatusTable(tuple(status_table(records, keys)), evidence_column=keys is not None)


EXPERIMENTAL = tuple(
    c.key for c in CLAIMS if c.key.startswith("claim") and isinstance(c.check, Criterion)
)
"""The claims judged on run records, in their parts (claims 3-7): what the landing page counts per scale."""


def numbers(rows: Sequence[Row], protocol: str) -> dict[str, int]:
    """How many experimental claim parts among ``rows`` have each status at ``protocol`` (``waiting``: runs missing
    or invalid)."""
    statuses = [r.outcomes[protocol].status for r in rows if r.key in EXPERIMENTAL]
    reproduced, failed = statuses.count(REPRODUCED), statuses.count(NOT_REPRODUCED)
    return {
        "parts": len(statuses),
        "reproduced": reproduced,
        "not_reproduced": failed,
        "waiting": len(statuses) - reproduced - failed,
    }

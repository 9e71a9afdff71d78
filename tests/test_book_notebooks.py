"""The chapter notebooks follow the book's rules: live widgets are skipped at build, no paper numbers typed,
no visible input cell that only fetches and displays."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from contrastive import paper

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").rglob("*.ipynb"))
WIDGETS = re.compile(r"^\s*(import|from)\s+(ipywidgets|contrastive\.widgets)\b|^\s*from\s+contrastive\s+import\s+.*\bwidgets\b", re.M)


def cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def test_the_scan_sees_the_chapters():
    names = {p.relative_to(ROOT / "book").as_posix() for p in NOTEBOOKS}
    assert {"hardness.ipynb", "experiments/table1.ipynb"} <= names
    assert WIDGETS.search("from contrastive.widgets import penalty_explorer")
    assert WIDGETS.search("import ipywidgets as w") and WIDGETS.search("from contrastive import widgets")
    assert not WIDGETS.search("from contrastive.figures import show")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT / "book").as_posix())
def test_widget_cells_are_skipped_at_build(path):
    for cell in cells(path):
        if cell.cell_type == "code" and WIDGETS.search(cell.source):
            assert "skip-execution" in cell.metadata.get("tags", []), cell.source


RUN_NOTEBOOK = ROOT / "book" / "experiments" / "train.ipynb"
"""The run notebook: its cells are the run a researcher executes, shown as they are."""
DISPLAYS = {"show", "show_source", "display", "Markdown", "HTML"}
HIDDEN = {"remove-input", "hide-input", "remove-cell"}


def only_fetches_and_displays(source: str) -> bool:
    """Every statement of the cell is an import or a call of a display function (its arguments may fetch)."""
    def displays(node: ast.stmt) -> bool:
        call = node.value if isinstance(node, ast.Expr) else None
        func = call.func if isinstance(call, ast.Call) else None
        return isinstance(func, ast.Name) and func.id in DISPLAYS
    body = ast.parse(source).body
    return bool(body) and all(isinstance(n, (ast.Import, ast.ImportFrom)) or displays(n) for n in body)


def test_the_display_rule_tells_fetching_from_computing():
    assert only_fetches_and_displays("from contrastive.figures import show_source\n\nshow_source(losses.logits)")
    assert only_fetches_and_displays("show(runs.dynamics(records))")
    assert not only_fetches_and_displays("sweeps = {loss: toy.sweep(toy.TAUS, loss) for loss in LOSSES}")
    assert not only_fetches_and_displays("figure = runs.dynamics(records)\nshow(figure)")


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p != RUN_NOTEBOOK], ids=lambda p: p.relative_to(ROOT / "book").as_posix())
def test_no_visible_input_only_fetches_and_displays(path):
    """A chapter shows what it explains (a function's code, a figure), not the call that fetches it."""
    shown = [c.source for c in cells(path) if c.cell_type == "code" and not HIDDEN & set(c.metadata.get("tags", []))
             and "skip-execution" not in c.metadata.get("tags", []) and only_fetches_and_displays(c.source)]
    assert not shown, f"{path.name}: input cells to tag remove-input: {shown}"


def test_table1_chapter_types_none_of_the_papers_cifar10_numbers():
    """The findings come from contrastive.paper in a code cell; the Markdown must not repeat them."""
    text = "\n".join(c.source for c in cells(ROOT / "book" / "experiments" / "table1.ipynb") if c.cell_type == "markdown")
    numbers = {format(paper.table1("cifar10", m, loss, tau), "g") for m in paper.METRICS for loss, tau in paper.COLUMNS}
    numbers -= {format(t, "g") for t in paper.TABLE1_TAUS}  # the temperatures are the table's columns
    assert not [n for n in numbers if re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", text)]


def test_every_analytic_check_is_shown_by_a_chapter():
    """The evidence of each analytic claim's status is on the page of the chapter that derives it."""
    from contrastive import derivations

    code = "\n".join(c.source for p in NOTEBOOKS for c in cells(p) if c.cell_type == "code")
    checks = [name for name in vars(derivations) if name.startswith("check_")]
    assert len(checks) == 4
    assert not [name for name in checks if f"derivations.{name}(" not in code]

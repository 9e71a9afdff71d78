"""The chapter notebooks follow the book's rules: live widgets are skipped at build, no paper numbers typed."""

from __future__ import annotations

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


def test_table1_chapter_types_none_of_the_papers_cifar10_numbers():
    """The findings come from contrastive.paper in a code cell; the Markdown must not repeat them."""
    text = "\n".join(c.source for c in cells(ROOT / "book" / "experiments" / "table1.ipynb") if c.cell_type == "markdown")
    numbers = {format(paper.table1("cifar10", m, loss, tau), "g") for m in paper.METRICS for loss, tau in paper.COLUMNS}
    numbers -= {format(t, "g") for t in paper.TABLE1_TAUS}  # the temperatures are the table's columns
    assert not [n for n in numbers if re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", text)]

"""The chapter notebooks follow the book's rules: live widgets are skipped at build, no paper numbers typed,
no visible input cell that only fetches and displays."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from contrastive import paper

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").rglob("*.ipynb"))
WIDGETS = re.compile(
    r"^\s*(import|from)\s+(ipywidgets|contrastive\.edition\.widgets)\b"
    r"|^\s*from\s+contrastive\.edition\s+import\s+.*\bwidgets\b",
    re.M,
)


def cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def test_the_scan_sees_the_chapters():
    names = {p.relative_to(ROOT / "book").as_posix() for p in NOTEBOOKS}
    assert {"hardness.ipynb", "experiments/table1.ipynb"} <= names
    assert WIDGETS.search("from contrastive.edition.widgets import penalty_explorer")
    assert WIDGETS.search("import ipywidgets as w") and WIDGETS.search(
        "from contrastive.edition import widgets"
    )
    assert not WIDGETS.search("from contrastive.edition.figures import show")


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
    return bool(body) and all(
        isinstance(n, (ast.Import, ast.ImportFrom)) or displays(n) for n in body
    )


def test_the_display_rule_tells_fetching_from_computing():
    assert only_fetches_and_displays(
        "from contrastive.edition.figures import show_source\n\nshow_source(losses.logits)"
    )
    assert only_fetches_and_displays("show(runs.dynamics(records))")
    assert not only_fetches_and_displays(
        "sweeps = {loss: toy.tau_sweep(toy.TAUS, loss) for loss in LOSSES}"
    )
    assert not only_fetches_and_displays("figure = runs.dynamics(records)\nshow(figure)")


@pytest.mark.parametrize(
    "path",
    [p for p in NOTEBOOKS if p != RUN_NOTEBOOK],
    ids=lambda p: p.relative_to(ROOT / "book").as_posix(),
)
def test_no_visible_input_only_fetches_and_displays(path):
    """A chapter shows what it explains (a function's code, a figure), not the call that fetches it."""
    shown = [
        c.source
        for c in cells(path)
        if c.cell_type == "code"
        and not HIDDEN & set(c.metadata.get("tags", []))
        and "skip-execution" not in c.metadata.get("tags", [])
        and only_fetches_and_displays(c.source)
    ]
    assert not shown, f"{path.name}: input cells to tag remove-input: {shown}"


def test_table1_chapter_types_none_of_the_papers_cifar10_numbers():
    """The findings come from contrastive.paper in a code cell; the Markdown must not repeat them."""
    text = "\n".join(
        c.source
        for c in cells(ROOT / "book" / "experiments" / "table1.ipynb")
        if c.cell_type == "markdown"
    )
    numbers = {
        format(paper.table1("cifar10", m, loss, tau), "g")
        for m in paper.METRICS
        for loss, tau in paper.COLUMNS
    }
    numbers -= {
        format(t, "g") for t in paper.TABLE1_TAUS
    }  # the temperatures are the table's columns
    assert not [n for n in numbers if re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", text)]


def test_every_analytic_check_is_shown_by_a_chapter():
    """The evidence of each analytic claim's status is on the page of the chapter that derives it."""
    from contrastive.edition import derivations

    code = "\n".join(c.source for p in NOTEBOOKS for c in cells(p) if c.cell_type == "code")
    checks = [name for name in vars(derivations) if name.startswith("check_")]
    assert len(checks) == 4
    assert not [name for name in checks if f"derivations.{name}(" not in code]


# --- re-executing a chapter with papermill -p ------------------------------------------------

PARAMETERISED = {
    "hardness.ipynb": ["taus", "anchors", "negatives", "points"],
    "limits.ipynb": ["negatives", "d"],
    "dilemma.ipynb": ["taus", "classes", "per_class", "steps", "seed"],
    **{
        f"experiments/{name}.ipynb": ["protocol", "dataset", "results_dir"]
        for name in (
            "table1",
            "uniformity_tolerance",
            "accuracy",
            "similarities",
            "embeddings",
            "dynamics",
        )
    },
    "experiments/cpu_scale.ipynb": ["dataset", "results_dir"],
    "experiments/cpu_short.ipynb": ["dataset", "results_dir"],
    "experiments/cpu_short_chapters.ipynb": ["dataset", "results_dir"],
}
"""The chapters that compute, and their knobs."""


@pytest.mark.parametrize("chapter", sorted(PARAMETERISED))
def test_a_chapter_that_computes_takes_its_knobs_from_a_parameters_cell_it_checks(chapter):
    from contrastive.checks import literal_assignments

    code = [c for c in cells(ROOT / "book" / chapter) if c.cell_type == "code"]
    first = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    assert sorted(literal_assignments([code[first].source])) == sorted(PARAMETERISED[chapter])
    assert "remove-cell" in code[first].metadata.tags
    assert code[first + 1].source.startswith("from contrastive.edition.figures import parameters")
    call = f"parameters.check(globals(), {PARAMETERISED[chapter]!r}".replace("'", '"')
    assert call in code[first + 1].source
    assert not any("parameters" in c.metadata.get("tags", []) for c in code[first + 1 :])
    assert not [c.source for c in code[:first] if c.source.strip()]  # nothing computes before them


def test_the_check_names_each_unknown_parameter_in_one_line():
    from contrastive.edition.figures import parameters

    parameters.check({"In": ["", "d = 16", "d = 8"]}, ["d", "negatives"])
    with pytest.raises(parameters.UnknownParameterError) as error:
        parameters.check({"In": ["", "d = 16", "dd = 8\nnegative = 3"]}, ["d", "negatives"])
    assert str(error.value) == (
        "unknown parameter dd, negative: this chapter's parameters are d, negatives"
    )
    assert "\n" not in str(error.value)


def execute(chapter: str, target: Path, **parameters) -> nbformat.NotebookNode:
    import papermill

    book = ROOT / "book" / chapter
    papermill.execute_notebook(
        str(book),
        str(target),
        kernel_name="python3",
        progress_bar=False,
        parameters=parameters,
        cwd=str(book.parent),
    )
    return nbformat.read(target, as_version=4)


def test_papermill_refuses_an_unknown_parameter(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="unknown parameter dd: this"):
        execute("limits.ipynb", tmp_path / "out.ipynb", dd=8)


@pytest.mark.slow
def test_papermill_re_executes_an_analytic_chapter_with_other_values(tmp_path):
    nb = execute("hardness.ipynb", tmp_path / "out.ipynb", taus=[0.1, 1.0], negatives=16)
    table = next(
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if "max |Eq. 4 − autograd|" in str(o.get("data", {}).get("text/html", ""))
    )
    rows = re.findall(r"<tr><td>([^<]*)</td>", table["data"]["text/html"])
    assert rows == ["0.1", "1"]  # one row per τ of the grid given


@pytest.mark.slow
def test_papermill_re_executes_an_experiment_chapter_on_other_records(tmp_path):
    from test_claims import write_synthetic

    write_synthetic(tmp_path / "records", "cifar10", "simple", linear_top1=12.34)
    nb = execute(
        "experiments/table1.ipynb",
        tmp_path / "out.ipynb",
        protocol="paper",
        results_dir=str(tmp_path / "records"),
    )
    text = json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)
    assert "12.34" in text  # the record given, at the protocol given

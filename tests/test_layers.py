"""The two wings: the edition (``contrastive.edition``) reads records and never reaches the engine
that makes them, through any chain of imports (module-level or inside a function)."""

from __future__ import annotations

from test_project import package_imports

ENGINE = {
    *(f"contrastive.{m}" for m in ("train", "sweep", "memory", "augment", "evaluate", "models")),
    "contrastive.data",
    "papermill",
}
"""What the edition must not import, directly or through another module."""


def breaches(graph: dict[str, set[str]], wing: str, forbidden: set[str]) -> list[str]:
    """Each chain of imports from a module of ``wing`` to a module of ``forbidden``, as
    ``a -> b -> c`` (the shortest found from each module of the wing)."""
    found = []
    for start in sorted(m for m in graph if m == wing or m.startswith(f"{wing}.")):
        chains, todo = {start: [start]}, [start]
        while todo:
            module = todo.pop(0)
            for other in sorted(graph.get(module, ())):
                if other not in chains:
                    chains[other] = [*chains[module], other]
                    todo.append(other)
        found += [" -> ".join(chain) for target, chain in chains.items() if target in forbidden]
    return sorted(found)


def test_the_edition_never_reaches_the_engine():
    graph = package_imports(outside=("papermill",))
    assert {"contrastive.edition.claims", "contrastive.edition.table", "contrastive.train"} <= set(
        graph
    )
    assert "papermill" in graph["contrastive.sweep"]  # the walk sees imports from outside too
    assert breaches(graph, "contrastive.edition", ENGINE) == []


def test_a_breach_through_another_module_is_found_with_its_chain(tmp_path):
    package = tmp_path / "contrastive"
    (package / "edition").mkdir(parents=True)
    for path, text in {
        "__init__.py": "",
        "train.py": "import papermill\n",
        "config.py": "def f():\n    from .train import run\n",  # inside a function, too
        "protocols.py": "from . import paper\n",
        "paper.py": "",
        "edition/__init__.py": "",
        "edition/figures.py": "from ..protocols import x\nfrom .. import config\n",
    }.items():
        (package / path).write_text(text)
    graph = package_imports(tmp_path, "contrastive", outside=("papermill",))
    assert breaches(graph, "contrastive.edition", {"contrastive.train"}) == [
        "contrastive.edition.figures -> contrastive.config -> contrastive.train"
    ]
    assert breaches(graph, "contrastive.edition", {"papermill"}) == [
        "contrastive.edition.figures -> contrastive.config -> contrastive.train -> papermill"
    ]
    assert breaches(graph, "contrastive.edition", {"contrastive.sweep"}) == []

"""The project's set-up files agree with each other."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {
        m[1].lower(): m[2]
        for line in lines
        if (m := re.match(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==(\S+)", line))
    }


def test_environment_yml_has_the_same_pins_as_requirements():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    env = pins((ROOT / "environment.yml").read_text().splitlines())
    assert req and env == req


def test_readme_opens_with_the_two_commands():
    first = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()[:2]]
    assert first[0].startswith("make book") and first[1].startswith("make test")


def test_every_dependency_is_justified_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name, version in pins((ROOT / "requirements.txt").read_text().splitlines()).items():
        assert re.search(
            rf"\|\s*{re.escape(name)}\s*\|\s*{re.escape(version)}\s*\|", readme, re.I
        ), name


def test_chapter_notebooks_are_committed_without_outputs():
    import nbformat

    for path in (ROOT / "book").rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(
            not c.get("outputs") and c.get("execution_count") is None
            for c in nb.cells
            if c.cell_type == "code"
        ), path


def package_imports(
    src: Path = ROOT / "src", package: str = "contrastive", outside: tuple[str, ...] = ()
) -> dict[str, set[str]]:
    """Every module of the package under ``src`` and the package modules it imports anywhere in its
    body (function-local imports included), relative imports resolved; of the imports from outside
    the package, those of the top-level packages ``outside``, by their top-level name."""
    import ast

    modules = {
        ".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (src / package).rglob("*.py")
    }
    graph = {}
    for name, path in modules.items():
        parent = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = parent.split(".")
                    base = ".".join(
                        parts[: len(parts) - node.level + 1]
                        + ([node.module] if node.module else [])
                    )
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name} | {
            top for m in found if (top := m.partition(".")[0]) in outside
        }
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle of ``graph`` (its modules in order, the first repeated at the end), or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        if state.get(module) == "open":
            return path[path.index(module) :] + [module]
        if state.get(module) == "done":
            return None
        state[module] = "open"
        found = next(
            (c for other in sorted(graph[module]) if (c := visit(other, path + [module]))), None
        )
        state[module] = "done"
        return found

    return next((c for module in sorted(graph) if (c := visit(module, []))), None)


def test_the_package_has_no_import_cycle():
    graph = package_imports()
    assert {
        "contrastive.config",
        "contrastive.train",
        "contrastive.edition.figures.experiments",
    } <= set(graph)
    assert "contrastive.config" in graph["contrastive.train"]
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_a_function_local_import_that_closes_a_loop_is_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n    return g\n")
    graph = package_imports(tmp_path, "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg", "pkg.b"}, "pkg.b": {"pkg.a"}}
    assert cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]

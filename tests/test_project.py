"""The project's set-up files agree with each other."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {m[1].lower(): m[2] for line in lines if (m := re.match(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==(\S+)", line))}


def test_environment_yml_has_the_same_pins_as_requirements():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    env = pins((ROOT / "environment.yml").read_text().splitlines())
    assert req and env == req


def test_readme_opens_with_the_two_commands():
    first = [l.strip() for l in (ROOT / "README.md").read_text().splitlines()[:2]]
    assert first[0].startswith("make book") and first[1].startswith("make test")


def test_every_dependency_is_justified_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name, version in pins((ROOT / "requirements.txt").read_text().splitlines()).items():
        assert re.search(rf"\|\s*{re.escape(name)}\s*\|\s*{re.escape(version)}\s*\|", readme, re.I), name


def test_chapter_notebooks_are_committed_without_outputs():
    import nbformat

    for path in (ROOT / "book").rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), path

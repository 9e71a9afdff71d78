"""benchmarks/glued.py: what a book build shows, read from its execution cache, and two builds
compared (the check that a refactoring leaves every glued number as it was)."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("glued", ROOT / "benchmarks" / "glued.py")
glued = importlib.util.module_from_spec(spec)
sys.modules["glued"] = glued
spec.loader.exec_module(glued)


def output(data: dict, name: str | None = None) -> dict:
    meta = {"scrapbook": {"name": name, "mime_prefix": glued.PREFIX}} if name else {}
    prefix = glued.PREFIX if name else ""
    return {
        "output_type": "display_data",
        "metadata": meta,
        "data": {prefix + k: v for k, v in data.items()},
    }


def notebook(value: str, figure_y: list) -> dict:
    plot = {"data": [{"name": "ours", "y": figure_y, "line": {"color": "red"}}], "layout": {}}
    html = '<div id="0123abcd-0000-4000-8000-0123456789ab">table</div>'
    return {
        "cells": [
            {
                "id": "c1",
                "cell_type": "code",
                "outputs": [
                    output({"text/plain": value}, "spread"),
                    output({glued.PLOTLY: plot, "text/plain": "Figure"}, "fig"),
                    output({"text/html": html, "text/plain": "<table>"}),
                    {"output_type": "stream", "name": "stdout", "text": "printed"},
                ],
            }
        ]
    }


def build(root: Path, pages: dict[str, dict]) -> Path:
    """A book build's execution cache holding ``pages`` (path below ``root`` -> executed notebook)."""
    cache = root / "_build" / ".jupyter_cache"
    (cache / "executed").mkdir(parents=True)
    with sqlite3.connect(cache / "global.db") as db:
        db.execute("CREATE TABLE nbcache (pk INTEGER, hashkey TEXT, uri TEXT, created TEXT)")
        for i, (page, nb) in enumerate(pages.items()):
            (cache / "executed" / f"h{i}").mkdir()
            (cache / "executed" / f"h{i}" / "base.ipynb").write_text(json.dumps(nb))
            db.execute(
                "INSERT INTO nbcache VALUES (?, ?, ?, ?)", (i, f"h{i}", str(root / page), str(i))
            )
    return root / "_build"


def test_a_dump_holds_glues_shown_outputs_and_figure_data(tmp_path):
    dumped = glued.dump(build(tmp_path, {"book/a.ipynb": notebook("0.31", [1, 2])}))
    assert dumped == {
        "book/a": {
            "spread": "0.31",
            "fig": [{"name": "ours", "y": [1, 2]}],  # the data, not the styling
            "shown c1/2": '<div id="<id>">table</div>',  # a random element id is not a change
        }
    }


def test_compare_names_every_value_that_differs_and_exits_1(tmp_path, capsys):
    before = glued.dump(build(tmp_path / "a", {"book/a.ipynb": notebook("0.31", [1, 2])}))
    after = glued.dump(build(tmp_path / "b", {"book/a.ipynb": notebook("0.32", [1, 3])}))
    assert glued.differences(before, before) == []
    assert glued.differences(before, after) == [
        "book/a: fig: \"[{'name': 'ours', 'y': [1, 2]}]\" -> \"[{'name': 'ours', 'y': [1, 3]}]\"",
        "book/a: spread: '0.31' -> '0.32'",
    ]
    paths = []
    for name, value in (("before", before), ("after", after)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(value))
    assert glued.main(["compare", *map(str, paths)]) == 1
    assert "2 differ of 3 glued values on 1 pages" in capsys.readouterr().out
    assert glued.main(["compare", str(paths[0]), str(paths[0])]) == 0

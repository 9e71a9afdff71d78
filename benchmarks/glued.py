"""What the book glues, read from a build, and compared between two builds.

A refactoring of the code behind the chapters must leave every number the book shows unchanged. A
book build keeps each executed chapter in its execution cache (``_build/.jupyter_cache``: a
database naming each chapter's latest executed copy); every ``glue`` of a chapter is an output
there, named. ``dump`` writes each page's glued values as JSON: the text of a
glued number or sentence, and for a glued figure the data of its traces (their names and points,
not their styling). ``compare`` prints every value that differs between two dumps, and those found
in one only, and exits 1 if there is any.

    python benchmarks/glued.py dump _build > before.json
    ... change the code, build the book on the same records ...
    python benchmarks/glued.py dump _build > after.json
    python benchmarks/glued.py compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PREFIX = "application/papermill.record/"
"""How myst-nb's glue names the media types of a glued output."""
PLOTLY = "application/vnd.plotly.v1+json"
TRACE_DATA = ("name", "x", "y", "z", "text", "customdata", "values", "labels", "cells", "header")
"""The keys of a plotly trace that hold what it shows (the rest is styling)."""


def _figure(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: t[k] for k in TRACE_DATA if k in t} for t in spec.get("data", [])]


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A figure shown as HTML names its element by a random id, new at each execution."""
SHOWN = ("text/markdown", "text/html", "text/plain")
"""The media types of an output, in the order of preference for what a reader sees."""


def _value(data: dict[str, Any]) -> Any:
    if PLOTLY in data:
        return _figure(data[PLOTLY])
    text = next((data[kind] for kind in SHOWN if kind in data), None)
    text = "".join(text) if isinstance(text, list) else text
    return None if text is None else UUID.sub("<id>", text)


def glued(notebook: dict[str, Any]) -> dict[str, Any]:
    """What an executed notebook shows: each glue by its name, and each other displayed output
    (a table, a sentence, a figure) by its cell's id and its place in the cell; a figure as its
    traces' data, anything else as its text."""
    found: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for i, output in enumerate(cell.get("outputs", [])):
            if "data" not in output:
                continue  # a stream (printed text) or an error
            data = {k.removeprefix(PREFIX): v for k, v in output["data"].items()}
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            found[name or f"shown {cell.get('id')}/{i}"] = _value(data)
    return found


def executed(build: Path) -> dict[str, Path]:
    """Each chapter's latest executed copy in the cache of the book build ``build``, by page (its
    path from the book's root, the folder above ``build``, without ``.ipynb``)."""
    cache = build / ".jupyter_cache"
    with sqlite3.connect(cache / "global.db") as db:
        rows = db.execute("SELECT uri, hashkey FROM nbcache ORDER BY created").fetchall()
    root = build.resolve().parent
    return {
        str(Path(uri).relative_to(root).with_suffix("")): cache / "executed" / key / "base.ipynb"
        for uri, key in rows
        if Path(uri).is_relative_to(root)
    }


def dump(build: Path) -> dict[str, dict[str, Any]]:
    """The glued values of every chapter executed by the book build ``build``, by page."""
    pages = executed(build)
    return {page: glued(json.loads(pages[page].read_text())) for page in sorted(pages)}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per glued value that differs, or that one side lacks."""
    lines = []
    for page in sorted(before.keys() | after.keys()):
        old, new = before.get(page, {}), after.get(page, {})
        for key in sorted(old.keys() | new.keys()):
            if key not in new:
                lines.append(f"{page}: {key} only before")
            elif key not in old:
                lines.append(f"{page}: {key} only after")
            elif old[key] != new[key]:
                lines.append(f"{page}: {key}: {str(old[key])[:200]!r} -> {str(new[key])[:200]!r}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("build", type=Path)
    compare = sub.add_parser("compare")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    args = p.parse_args(argv)
    if args.command == "dump":
        if not (args.build / ".jupyter_cache" / "global.db").is_file():
            p.error(f"build: {args.build} holds no execution cache (a book build's _build)")
        json.dump(dump(args.build), sys.stdout, indent=1, sort_keys=True)
        return 0
    before, after = (json.loads(path.read_text()) for path in (args.before, args.after))
    lines = differences(before, after)
    print("\n".join(lines) if lines else "the same glued values on every page")
    count = sum(len(v) for v in after.values())
    print(f"{len(lines)} differ of {count} glued values on {len(after)} pages")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())

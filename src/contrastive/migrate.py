"""Rewrite what older run records hold in an older form: their paths and the names of two fields.

Records (and epoch-time benchmarks) written before issue 30 name ``config.data``,
``config.datasets``, ``config.out``, ``config.checkpoint_dir`` and ``provenance.data.path`` as
absolute paths of the machine that ran them. This rewrites them as a record written now names them
(``contrastive.paths.portable``): a data file by its name (its sha256 stays in the provenance); a
folder by its part from the checkout's ``data/`` on (``/work/sweep/data/results`` becomes
``data/results``), or, outside any ``data/`` folder, by its name. Records written before issue 31
name the training set's uniformity and tolerance ``results.uniformity`` and ``results.tolerance``
and the test set's curves ``curves.uniformity`` and ``curves.tolerance``: the fields are renamed so
that each says its split (:data:`RENAMED`), values unchanged. Every other value, and the JSON
layout (indent, key order), stays as it was; running it again changes nothing. The arrays beside a
record (``arrays_sha256``) are not touched.

    python -m contrastive.migrate data/results data/pilot data/trials data/beyond/results
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .atomic import atomic_write

FILES = ("data", "path")
"""Keys whose string value names a file: rewritten to its name."""
FOLDERS = ("datasets", "out", "checkpoint_dir")
"""Keys whose string value names a folder: rewritten relative to the checkout."""
RENAMED = {
    "results": {"uniformity": "uniformity_train", "tolerance": "tolerance_train"},
    "curves": {"uniformity": "uniformity_test", "tolerance": "tolerance_test"},
}
"""The record fields renamed by issue 31, per part of a record: old name to new, in place."""
LAYOUTS = (
    {"indent": 1, "sort_keys": True},
    {"indent": 1, "sort_keys": False},
    {"indent": 2, "sort_keys": True},
    {"indent": 2, "sort_keys": False},
)
"""The JSON layouts that records and benchmarks are written in (the first:
``results.write_record``'s)."""


def portable(key: str, value: str) -> str:
    """The path ``value`` of ``key`` as a record names it now (module docstring)."""
    path = PurePosixPath(value)
    if key in FILES:
        return path.name or value
    if not path.is_absolute():
        return value
    parts = path.parts
    if "data" in parts:
        return str(PurePosixPath(*parts[len(parts) - 1 - parts[::-1].index("data") :]))
    return path.name or value


def migrated(value: Any, key: str | None = None) -> Any:
    """``value`` (a parsed record) with every path under :data:`FILES` and :data:`FOLDERS` made
    portable."""
    if isinstance(value, dict):
        return {k: migrated(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [migrated(v) for v in value]
    if isinstance(value, str) and key in (*FILES, *FOLDERS) and "/" in value:
        return portable(key, value)
    return value


def renamed(value: Any) -> Any:
    """``value`` with the fields of :data:`RENAMED` renamed where it is a record (it has a
    ``results`` and a ``curves`` part), each in its place; anything else as it is."""
    if not (isinstance(value, dict) and all(isinstance(value.get(k), dict) for k in RENAMED)):
        return value
    return {
        part: {RENAMED[part].get(k, k): v for k, v in fields.items()} if part in RENAMED else fields
        for part, fields in value.items()
    }


def layout(text: str, value: Any) -> dict | None:
    """The :data:`LAYOUTS` entry that writes ``value`` back as exactly ``text``, or None."""
    return next((kw for kw in LAYOUTS if _dump(value, kw) == text), None)


def _dump(value: Any, kw: dict) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=True, **kw) + "\n"


def migrate_file(path: Path, dry_run: bool = False) -> bool:
    """Rewrite one JSON file's paths and renamed fields in place (atomically); whether it changed.
    ``ValueError`` naming the file if it is not JSON or its layout is not one of :data:`LAYOUTS` (it
    would change more than those)."""
    text = path.read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg}); not migrated") from None
    new = renamed(migrated(value))
    if new == value:
        return False
    if (kw := layout(text, value)) is None:
        raise ValueError(
            f"{path}: its JSON layout is not one this writes back unchanged; not migrated"
        )
    if not dry_run:
        atomic_write(path, lambda f: f.write(_dump(new, kw).encode()))
    return True


def migrate(folders: Sequence[str | Path], dry_run: bool = False) -> list[Path]:
    """Migrate every ``*.json`` under ``folders`` (or the files themselves); the files that changed."""
    changed = []
    for folder in map(Path, folders):
        for path in sorted(folder.rglob("*.json")) if folder.is_dir() else [folder]:
            if migrate_file(path, dry_run):
                changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m contrastive.migrate", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "folders", nargs="+", help="records folders (or files), e.g. data/results data/pilot"
    )
    p.add_argument("--dry-run", action="store_true", help="list what would change; write nothing")
    args = p.parse_args(argv)
    if missing := [f for f in args.folders if not Path(f).exists()]:
        print(f"migrate: no such folder or file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        changed = migrate(args.folders, args.dry_run)
    except ValueError as e:
        print(f"migrate: {e}", file=sys.stderr)
        return 2
    verb = "would rewrite" if args.dry_run else "rewrote"
    print(f"migrate: {verb} {len(changed)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

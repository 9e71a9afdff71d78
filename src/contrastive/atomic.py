"""Atomic file writes: a file is written to a temporary file beside it, flushed to disk and renamed
into place, so that an interrupted write leaves the old file (or none), never a partial one, and no
temporary file; the temporary files of writes that were killed are cleaned up later
(:func:`clean_temps`). Lock files (:func:`lock`) are removed by their holder, and those of killed
holders by the next run (:func:`clean_locks`)."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TextIO, TypeVar

T = TypeVar("T")

TEMP_MAX_AGE = 3600.0
"""Seconds after which a temporary file of :func:`atomic_write` counts as left by an interrupted write."""


FOLDER_TRIES = 5
"""How often :func:`in_folder` makes its folder again after another process removed it."""


def in_folder(folder: Path, make: Callable[[Path], T]) -> T:
    """``make(folder)`` once ``folder`` exists. A run removes the empty checkpoint folders on its way
    out (:func:`contrastive.train.prune`), so another process sharing them (a shard of the same
    sweep) may remove ``folder`` between our making it and ``make`` writing in it: the folder is
    then made again and ``make`` retried, :data:`FOLDER_TRIES` times in all."""
    for _ in range(FOLDER_TRIES - 1):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return make(folder)
        except FileNotFoundError:
            continue
    folder.mkdir(parents=True, exist_ok=True)
    return make(folder)


def temp_file(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """``write(f)`` into a new temporary file ``.<name>.<random>.tmp`` beside ``path``, flushed to disk; on any failure
    (KeyboardInterrupt included) the temporary file is removed again."""
    fd, tmp = in_folder(
        path.parent, lambda d: tempfile.mkstemp(dir=d, prefix=f".{path.name}.", suffix=".tmp")
    )
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through ``write(f)`` into a temporary file beside it, then rename it into place."""
    path = Path(path)
    tmp = temp_file(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def clean_temps(folder: str | os.PathLike, max_age: float = TEMP_MAX_AGE) -> list[Path]:
    """Remove the temporary files of :func:`atomic_write` (``.<name>.*.tmp``) under ``folder`` older than ``max_age``
    seconds, left by writes that were killed; returns the removed paths."""
    removed, cutoff = [], time.time() - max_age
    for tmp in Path(folder).rglob(".*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # removed meanwhile by another reader
            continue
    return removed


def lock(path: Path, patience: float = 0.5) -> TextIO | None:
    """Take the exclusive lock ``path`` (created if absent): its open file, or None where another
    process holds it for longer than ``patience`` seconds (a run holds it for its whole length;
    :func:`clean_locks` of another process only for an instant). Safe against a holder removing the
    file meanwhile (:func:`unlock`): a lock taken on a file that is no longer at ``path`` is dropped
    and taken again on the new one."""
    deadline = time.monotonic() + patience
    while True:
        f = open(path, "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
            continue
        try:
            here = os.stat(path)
        except FileNotFoundError:
            here = None
        mine = os.fstat(f.fileno())
        if here is not None and (here.st_ino, here.st_dev) == (mine.st_ino, mine.st_dev):
            return f
        f.close()  # its holder removed it between our open and our lock: take the new one


def unlock(path: Path, f: TextIO) -> None:
    """Remove the lock file ``path`` while still holding it (so no one else can hold it then), then
    release it."""
    try:
        Path(path).unlink(missing_ok=True)
    finally:
        f.close()


def clean_locks(folder: str | os.PathLike) -> list[Path]:
    """Remove the lock files ``.*.lock`` in ``folder`` that no process holds (left by killed runs);
    returns them."""
    removed = []
    for path in sorted(Path(folder).glob(".*.lock")):
        f = lock(path, patience=0)
        if f is not None:
            unlock(path, f)
            removed.append(path)
    return removed

"""Run records: one JSON file per training run, written atomically, read back as a table.

A record is a dict with four required parts:

- ``config``: what was run (dataset, loss, tau, k, epochs, batch_size, negatives, seed, ...);
- ``results``: final numbers (linear_top1 and knn_top1 in percent, uniformity, tolerance, alignment,
  pos_sim_mean, ...);
- ``curves``: per-epoch series, ``{"epoch": [...], "loss": [...], ...}``;
- ``provenance``: commit, versions, device, data source and its sha256, wall seconds per phase, times.

Larger arrays (embedding samples, similarity samples) go beside the JSON in ``<name>.npz``.
Records live at ``<root>/<dataset>/<name>.json`` where ``name`` comes from :func:`record_name`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

import numpy as np

REQUIRED = ("config", "results", "curves", "provenance")
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data" / "results"
"""``data/results`` of the checkout this package was installed from (editable install)."""
ROOT_ENV = "CONTRASTIVE_RESULTS"
"""Environment variable naming another records root (tests, other stores), read by :func:`root`."""


def root() -> Path:
    """Where the book reads records: ``$CONTRASTIVE_RESULTS`` if set, else :data:`DEFAULT_ROOT`."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def shown_root() -> str:
    """:func:`root` as the book prints it: relative to the checkout where it lies inside it."""
    checkout = DEFAULT_ROOT.parents[1]
    path = root().resolve()
    return str(path.relative_to(checkout)) if path.is_relative_to(checkout) else str(path)


class MissingRecordError(FileNotFoundError):
    """A record that a chapter or command asked for has not been written (the run was not made)."""


def record_name(loss: str, tau: float | None) -> str:
    """``<loss>-tau<tau>`` for losses with a temperature, ``<loss>`` for simple and hard_simple."""
    from .losses import USES_TAU, loss_fn

    loss_fn(loss)
    if USES_TAU[loss]:
        if tau is None:
            raise ValueError(f"tau is required for loss {loss!r}")
        return f"{loss}-tau{float(tau):g}"
    return loss


def record_path(root: str | os.PathLike, dataset: str, loss: str, tau: float | None) -> Path:
    """Where the record of (dataset, loss, tau) lives under ``root``."""
    return Path(root) / dataset / f"{record_name(loss, tau)}.json"


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Write a file through ``write(f)`` into a temporary file beside it, then rename it into place.

    An interrupted write leaves the old file (or none), never a partial one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(path: str | os.PathLike, record: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``record`` as JSON (and ``arrays`` as ``<stem>.npz`` beside it), each atomically."""
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(f"record is missing the required parts {missing} (required: {list(REQUIRED)})")
    path = Path(path)
    record = {k: v for k, v in record.items() if k != "path"}  # read_record's, not part of the record
    text = json.dumps(record, indent=1, sort_keys=True, allow_nan=False) + "\n"
    if arrays:
        atomic_write(path.with_suffix(".npz"), lambda f: np.savez_compressed(f, **arrays))
    else:
        path.with_suffix(".npz").unlink(missing_ok=True)  # no stale arrays beside a new record
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Read one record; ``MissingRecordError`` naming the path if it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise MissingRecordError(f"no run record at {path}: that run has not been made yet")
    record = json.loads(path.read_text())
    record["path"] = str(path)
    return record


def read_arrays(record: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays stored beside a record (empty if it has none)."""
    npz = Path(record["path"]).with_suffix(".npz")
    if not npz.is_file():
        return {}
    with np.load(npz) as f:
        return {k: f[k] for k in f.files}


def load(root: str | os.PathLike = DEFAULT_ROOT, dataset: str | None = None) -> list[dict[str, Any]]:
    """All records under ``root`` (optionally of one dataset), sorted by path."""
    base = Path(root) / dataset if dataset else Path(root)
    return [read_record(p) for p in sorted(base.rglob("*.json"))] if base.is_dir() else []


def load_benchmarks(root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The epoch-time measurements that ``benchmarks/epoch_time.py`` wrote (``data/benchmarks/*.json``)."""
    base = Path(root) if root else DEFAULT_ROOT.parent / "benchmarks"
    return [json.loads(p.read_text()) for p in sorted(base.glob("*.json"))] if base.is_dir() else []


def find(records: Iterable[dict[str, Any]], dataset: str, loss: str, tau: float | None = None) -> dict[str, Any] | None:
    """The record of (dataset, loss, tau) among ``records``, or None where that run was not made."""
    name = record_name(loss, tau)
    for r in records:
        c = r["config"]
        if c["dataset"] == dataset and record_name(c["loss"], c.get("tau")) == name:
            return r
    return None


def sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


COMMIT_ENV = "CONTRASTIVE_COMMIT"
"""Where git is absent (a copy of the checkout on another machine), the commit it was copied from."""


def git_commit(cwd: str | os.PathLike | None = None) -> dict[str, Any]:
    """The commit of the checkout and whether it had uncommitted changes.

    Without git or a repository, the commit named by ``$CONTRASTIVE_COMMIT`` (``dirty`` then unknown,
    None), else None.
    """
    cwd = cwd or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": os.environ.get(COMMIT_ENV), "dirty": None}
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def now() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environment(device: str | torch.device | None = None) -> dict[str, Any]:
    """Versions and the machine, for a record's provenance; ``device`` names what the run used
    (default: the first GPU where there is one, else the CPU)."""
    import torch
    import torchvision

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or platform.machine()})"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "device": name,
        "host": platform.node(),
        **git_commit(),
    }

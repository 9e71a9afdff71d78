"""A run's provenance: the commit that trained it, the machine and versions, file hashes and times."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


OFFLINE_SOURCE = "offline npz"
"""``source["source"]`` of data decoded from the offline npz (a JPEG re-encoding of CIFAR-10)."""
COMMIT_ENV = "CONTRASTIVE_COMMIT"
"""Where git is absent (a copy of the checkout on another machine), the commit it was copied from."""


def git_commit(cwd: str | os.PathLike | None = None) -> dict[str, Any]:
    """The commit of the checkout and whether it had uncommitted changes; without git or a repository, the
    commit named by ``$CONTRASTIVE_COMMIT`` (else None) and ``dirty`` None (unknown)."""
    cwd = cwd or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": os.environ.get(COMMIT_ENV), "dirty": None}
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def now() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), e.g. ``Intel(R) Xeon(R) Processor``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def device_name(device: torch.device) -> str:
    """The device as records and benchmarks name it: the GPU's name, or the CPU's model and torch's threads."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({cpu_model()}, {torch.get_num_threads()} threads)"


def environment(device: str | torch.device | None = None) -> dict[str, Any]:
    """Versions and the machine, for a record's provenance; ``device`` names what the run used
    (default: the first GPU where there is one, else the CPU)."""
    import torch
    import torchvision

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "device": device_name(device),
        "host": platform.node(),
        **git_commit(),
    }

"""Where the project's files go: the checkout a command runs in, never the package's install
location.

:func:`checkout` is ``$CONTRASTIVE_HOME`` where set, else the nearest folder, from the current
working directory upwards, that holds a checkout of this project (``pyproject.toml`` beside
``book/experiments/train.ipynb``), else the current working directory itself. Every default folder
(``data/results``, ``data/datasets``, the run notebook) lies under it, so a shared or non-editable
install writes into the checkout a command runs in, not into another one or into ``site-packages``.
A record names a path by :func:`portable`: relative to the checkout, never a machine's absolute
path.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "CONTRASTIVE_HOME"
"""Environment variable naming the checkout (or any folder) whose ``data/`` and ``book/`` the
defaults use."""
MARKERS = ("pyproject.toml", "book/experiments/train.ipynb")
"""The files that make a folder a checkout of this project."""


def is_checkout(folder: Path) -> bool:
    """Whether ``folder`` holds every one of :data:`MARKERS`."""
    return all((folder / marker).is_file() for marker in MARKERS)


def checkout(start: str | os.PathLike | None = None) -> Path:
    """``$CONTRASTIVE_HOME``, else the nearest checkout from ``start`` (default: the working
    directory) upwards, else ``start`` itself; absolute."""
    if home := os.environ.get(HOME_ENV):
        return Path(home).expanduser().resolve()
    here = Path(start or os.getcwd()).resolve()
    return next((folder for folder in (here, *here.parents) if is_checkout(folder)), here)


def portable(path: str | os.PathLike | None, file: bool = False) -> str | None:
    """``path`` as a record names it: relative to :func:`checkout` where it lies inside it;
    elsewhere only its name (a file is identified by its name and its sha256, which the record holds
    beside it). ``file``: always the name (a data file lies at different places on different
    machines)."""
    if path is None:
        return None
    resolved = Path(path).expanduser().resolve()
    root = checkout()
    if not file and resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix() or "."
    return resolved.name

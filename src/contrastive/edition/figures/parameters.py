"""The knobs of a chapter, for re-executing it with papermill (``-p name value``).

Papermill only warns about a ``-p`` name that the chapter's ``parameters`` cell lacks (a typo
such as ``-p tua 0.3``), and the chapter would run with its defaults. A chapter calls :func:`check`
in the cell after its parameters, which stops it with one line naming each unknown name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ... import results
from ...checks import literal_assignments


class UnknownParameterError(ValueError):
    """A parameter the chapter does not have."""


def check(namespace: dict[str, Any], names: Iterable[str]) -> None:
    """Raise :class:`UnknownParameterError` naming each name that the cells run so far (IPython's
    ``In`` in ``namespace``: the parameters cell and the one papermill injects) set to a literal
    and that is not among ``names``, the chapter's parameters."""
    names = set(names)
    if unknown := sorted(literal_assignments(namespace.get("In", ())) - names):
        raise UnknownParameterError(
            f"unknown parameter {', '.join(unknown)}: this chapter's "
            f"parameters are {', '.join(sorted(names))}"
        )


def records(results_dir: str = "") -> list[results.Record]:
    """The run records a chapter reads (``results.load_records``): those under ``results_dir`` (a
    path, relative to the chapter's folder) where given, which from then on is where the chapter
    says it looked; else the book's."""
    if results_dir:
        if not os.path.isdir(results_dir):
            raise FileNotFoundError(f"results_dir {results_dir!r} is not a folder")
        os.environ[results.ROOT_ENV] = str(Path(results_dir).resolve())
    return results.load_records()

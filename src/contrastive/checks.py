"""Validation where values enter (a run's ``Config``, a toy's settings, a record's sample, a notebook's
parameters), in one wording: a bad value reads ``<name> must be ..., got <value>``. The equations of ``losses``,
``metrics`` and ``penalty`` check nothing: they are called with values checked once, here."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from contextlib import suppress


def check_int(name: str, value: object, low: int) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is an integer (not a bool) >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_real(
    name: str, value: object, allowed: str = "> 0", ok: Callable[[float], bool] = lambda v: v > 0
) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is a finite real number (not a bool) with ``ok(value)``,
    described by ``allowed`` (e.g. ``"in [0, 1)"``)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not ok(value)
    ):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")


def literal_assignments(sources: Sequence[str]) -> set[str]:
    """The names that the Python ``sources`` set to a literal at their top level (``name = value``)."""
    found = set()
    for source in sources:
        try:
            body = ast.parse(source).body
        except SyntaxError:  # IPython magics
            continue
        for node in body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                with suppress(ValueError):  # not a literal
                    ast.literal_eval(node.value)
                    found.add(node.targets[0].id)
    return found

"""Validation at the boundary, in one wording: a bad value reads ``<name> must be ..., got <value>``
wherever it enters. :func:`validated` runs a function's checks once, before any work, so the
function's body is its equation; callers whose arguments were checked already call the body alone,
``fn.__wrapped__`` (an equation calling another, the training step)."""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Callable

from torch import Tensor


def check_int(name: str, value: object, low: int) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is an integer (not a bool) >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_real(name: str, value: object, allowed: str = "> 0", ok: Callable[[float], bool] = lambda v: v > 0) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is a finite real number (not a bool) with ``ok(value)``,
    described by ``allowed`` (e.g. ``"in [0, 1)"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")


def check_views(z1: Tensor, z2: Tensor) -> None:
    """``ValueError`` unless z1 and z2, two views of the same N samples, both have shape (N, d) with N >= 2."""
    if z1.shape != z2.shape or z1.dim() != 2 or z1.shape[0] < 2:
        raise ValueError(f"z1 and z2 must both have shape (N, d) with N >= 2, got {tuple(z1.shape)} and {tuple(z2.shape)}")


def validated(*checks: Callable[..., None]) -> Callable[[Callable], Callable]:
    """Run ``checks`` first, each on the arguments its parameters name (``check_tau(tau)``,
    ``lambda t: check_real("t", t)``), then the function, kept unchanged as ``__wrapped__``."""

    def decorate(fn: Callable) -> Callable:
        parameters = inspect.signature(fn).parameters
        defaults = {name: p.default for name, p in parameters.items() if p.default is not p.empty}
        wanted = [(check, tuple(inspect.signature(check).parameters)) for check in checks]

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            given = {**defaults, **dict(zip(parameters, args)), **kwargs}
            for check, names in wanted:
                check(*(given[name] for name in names))
            return fn(*args, **kwargs)

        return checked

    return decorate

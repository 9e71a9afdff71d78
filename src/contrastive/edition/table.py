"""The run table: every record the book reads, and the runs of one protocol and data set.

The records are the only joint between the engine that makes runs and the edition that shows them.
Every question the edition asks of them goes through :class:`RunTable` and the :class:`Runs` it
returns for one (protocol, data set): which run a configuration has, its seeds, whether it counts at
the protocol (``contrastive.protocols.counts``), the mean of a metric over its seeds, its arrays.

    runs = RunTable(results.load_records()).at("cpu", "cifar10")
    runs.mean("hard", 0.2, "linear_top1")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import paper
from ..protocols import counts
from ..results import Record, read_arrays, record_name

ArrayReader = Callable[[Record], dict[str, np.ndarray]]
"""Reads the arrays of a record (``results.read_arrays``, or :func:`cached_reader`'s)."""


def cached_reader() -> ArrayReader:
    """A reader of records' arrays that reads each record's npz once (by path) while it is kept."""
    cache: dict[str, dict[str, np.ndarray]] = {}

    def read(record: Record) -> dict[str, np.ndarray]:
        if record.path not in cache:
            cache[record.path] = record.arrays()
        return cache[record.path]

    return read


def with_arrays(
    runs: Iterable[tuple[float, Record]], keys: Sequence[str]
) -> list[tuple[float, dict[str, np.ndarray], Record]]:
    """``(tau, arrays, record)`` for each ``(tau, record)`` of ``runs`` whose stored arrays hold all
    of ``keys``."""
    read = [(t, r.arrays(), r) for t, r in runs]
    return [(t, a, r) for t, a, r in read if set(keys) <= set(a)]


class RunTable:
    """Every record the book reads (each knows its protocol's folder and its data set)."""

    def __init__(self, records: Sequence[Record], read: ArrayReader = read_arrays) -> None:
        self.records, self.read = list(records), read

    def made_at(self, protocol: str) -> list[Record]:
        """The records of every data set made from ``protocol`` (its folder), at it or off it."""
        return [r for r in self.records if r.protocol == protocol]

    def at(self, protocol: str, dataset: str = "cifar10") -> Runs:
        """The runs of ``dataset`` made from ``protocol`` (its folder), at it or off it."""
        made = [r for r in self.made_at(protocol) if r.dataset == dataset]
        return Runs(protocol, dataset, made, self.read)


@dataclass
class Runs:
    """The records of one data set made from one protocol, by configuration (loss, τ, seed).

    :meth:`record` and :meth:`seeds` return runs at the protocol or off it (a figure marks those
    off it); :meth:`get`, :meth:`counted` and :meth:`mean` only those that count at it. ``used``
    collects what :meth:`get` and :meth:`mean` returned (the records a verdict rests on), and
    ``most_seeds`` the most seeds one mean averaged.
    """

    protocol: str
    dataset: str
    records: list[Record]
    read: ArrayReader = read_arrays
    used: list[Record] = field(default_factory=list)
    most_seeds: int = 1

    def record(self, loss: str, tau: float | None = None, seed: int = 0) -> Record | None:
        """The record of (loss, tau, seed) with a constant τ, at the protocol or off it; None
        where that run was not made."""
        name = record_name(loss, tau, seed)
        return next((r for r in self.records if r.name == name), None)

    def seeds(self, loss: str, tau: float | None = None) -> list[Record]:
        """The valid records of (loss, tau), one per seed, by seed (at the protocol or off it)."""
        name = record_name(loss, tau)
        found = [
            r
            for r in self.records
            if record_name(r.loss, r.tau, 0, r.schedule) == name and not r.invalid
        ]
        return sorted(found, key=lambda r: r.seed)

    def by_tau(self, loss: str, seed: int = 0) -> list[tuple[float, Record]]:
        """``(tau, record)`` for every valid record of ``loss`` with ``seed`` and a constant τ,
        sorted by τ."""
        found = [
            (r.tau, r)
            for r in self.records
            if r.loss == loss and r.seed == seed and not r.invalid and r.schedule == "constant"
        ]
        return sorted(found, key=lambda pair: pair[0])

    def get(self, loss: str, tau: float | None = None) -> Record | None:
        """The record of (loss, tau), seed 0, where it counts at the protocol; else None."""
        r = self.record(loss, tau)
        if r is None or not counts(r, self.protocol):
            return None
        self.used.append(r)
        return r

    def counted(self, loss: str, tau: float | None = None) -> list[Record]:
        """Every seed's valid record of (loss, tau) that counts at the protocol."""
        return [r for r in self.seeds(loss, tau) if counts(r, self.protocol)]

    def mean(self, loss: str, tau: float | None, metric: str) -> float:
        """The mean of ``metric`` over the seeds of (loss, tau) that count (NaN where none does)."""
        runs = self.counted(loss, tau)
        self.used += runs
        self.most_seeds = max(self.most_seeds, len(runs))
        return float(np.mean([r.value(metric) for r in runs])) if runs else float("nan")

    def series(
        self, loss: str, metric: str, taus: Sequence[float] = paper.TABLE1_TAUS
    ) -> list[float]:
        """:meth:`mean` at each of ``taus``."""
        return [self.mean(loss, t, metric) for t in taus]

    def arrays(self, loss: str, tau: float | None) -> dict[str, Any]:
        """The arrays of :meth:`get`'s record."""
        return self.read(self.get(loss, tau))

    def afresh(self) -> Runs:
        """These runs with nothing :attr:`used` yet (for a verdict that reports what it used)."""
        return Runs(self.protocol, self.dataset, self.records, self.read)

    def constant(self) -> Runs:
        """These runs without those whose τ moves (``contrastive.schedules``)."""
        fixed = [r for r in self.records if r.schedule == "constant"]
        return Runs(self.protocol, self.dataset, fixed, self.read)

"""Run records as the book judges them: which ones were made at the paper's protocol and how the book
names a configuration. Shared by ``contrastive.claims`` (which records count), the experimental
figures (which records to mark), ``contrastive.sweep`` (which record already covers a run) and the
engine (``contrastive.train.check_replaces``: a trial never replaces a protocol record).

The protocol is :data:`contrastive.paper.PROTOCOL` (PAPER.md §2): a record is at the protocol when
every field of :data:`PROTOCOL_FIELDS` of its config equals the paper's value and, for a loss with
nearest negatives (hard, HardSimple), ``k = paper.HARD_K``. The data set, loss and temperature vary
between the paper's runs, and the fields of :data:`FREE_FIELDS` do not change what is measured (where
files go, the device, the seed of our single run, how often the curves get a point). The data path is
free too: a run on the offline JPEG copy of CIFAR-10 counts (``contrastive.claims`` says so where it
uses one).

Horizontal flips are part of the protocol (``hflip=True``): the paper's text lists them among the
augmentations; the authors' public code has them commented out (PAPER.md §2), so a run without them
follows the code rather than the paper and is marked off protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from . import paper
from .losses import USES_K, USES_TAU

NOT_YET_RUN = "not yet run"
"""What the book says in place of a number whose run record does not exist (or does not count)."""

LOSS_LABELS = {"contrastive": "ordinary", "hard": "hard", "simple": "Simple", "hard_simple": "HardSimple"}
"""The book's names of the losses of ``contrastive.losses.LOSSES``."""

HARD_FIELDS = ("k",)
"""Config fields that must equal the paper's only for the losses with nearest negatives (``losses.USES_K``)."""
PROTOCOL_FIELDS = tuple(name for name in paper.PROTOCOL if name not in HARD_FIELDS)
"""Config fields that must equal the paper's (:data:`contrastive.paper.PROTOCOL`) for every loss."""
FREE_FIELDS = (
    "dataset", "data", "datasets", "loss", "tau", "seed", "device", "knn_every", "out", "checkpoint_dir",
    "checkpoint_every", "compile", "compile_mode", "bf16", "resume",
)
"""Config fields that a protocol record may set freely (what is run, where, and bookkeeping)."""
WHOLE_SET = ("subset", "test_subset", "train_images", "test_images")
"""Fields whose ``None`` means "all images" (config fields, and image counts as ``contrastive.sweep`` compares them)."""
MISSING = object()
"""Stands for a field absent from a record's config (it never equals a paper value)."""


def scaled(arch: str, subset: int, epochs: int, lr: float) -> dict[str, Any]:
    """The paper's protocol (:data:`contrastive.paper.PROTOCOL`) scaled down: network ``arch``, a
    class-balanced training subset of ``subset`` images, ``epochs`` epochs at learning rate ``lr``;
    the lr milestones at the paper's fractions of training (160/200 and 190/200) and the hard losses'
    k at the paper's fraction of the bank (4095 of 50,000). Everything else is the paper's."""
    fractions = [m / paper.PAPER_EPOCHS for m in paper.PROTOCOL["milestones"]]
    return {**paper.PROTOCOL, "arch": arch, "subset": subset, "epochs": epochs, "lr": lr,
            "milestones": tuple(round(f * epochs) for f in fractions),
            "k": round(paper.HARD_K * subset / paper.TRAIN_IMAGES)}


def config_label(loss: str, tau: float | None = None) -> str:
    """A configuration as the book names it, e.g. ``ordinary τ=0.07`` or ``HardSimple``."""
    return f"{LOSS_LABELS[loss]} τ={float(tau):g}" if USES_TAU[loss] else LOSS_LABELS[loss]


def _plain(value: Any) -> Any:
    """Tuples as lists, so a Config value compares equal to its JSON round trip."""
    return list(value) if isinstance(value, tuple) else value


def _shown(name: str, value: Any) -> str:
    if value is MISSING:
        return "not recorded"
    if value is None and name in WHOLE_SET:
        return "all"
    return repr(value) if isinstance(value, str) else str(_plain(value))


@dataclass(frozen=True)
class Deviation:
    """One config field of a record that differs from the value it is compared with (the paper's, by default)."""

    field: str
    have: Any
    want: Any
    reference: str = "paper"

    def __str__(self) -> str:
        return f"{self.field} {_shown(self.field, self.have)} ({self.reference}: {_shown(self.field, self.want)})"


def differences(
    have: Mapping[str, Any], want: Mapping[str, Any], names: Iterable[str], reference: str = "paper"
) -> list[Deviation]:
    """The fields ``names`` whose values differ between two configs (tuples equal lists; absent differs);
    ``reference`` names ``want`` in the text of each :class:`Deviation`."""
    return [
        Deviation(name, have.get(name, MISSING), want.get(name, MISSING), reference)
        for name in names
        if _plain(have.get(name, MISSING)) != _plain(want.get(name, MISSING))
    ]


def deviations(record: Mapping[str, Any]) -> list[Deviation]:
    """Every protocol field of ``record["config"]`` that differs from the paper's (empty at the protocol)."""
    config = record["config"]
    names = PROTOCOL_FIELDS + (HARD_FIELDS if USES_K[config["loss"]] else ())
    return differences(config, paper.PROTOCOL, names)


def protocol_problem(record: Mapping[str, Any]) -> str | None:
    """Why ``record`` does not count as the paper's protocol, e.g. ``"epochs 20 (paper: 200), arch 'tiny'
    (paper: 'resnet18')"``; None if it does."""
    found = deviations(record)
    return ", ".join(map(str, found)) if found else None


def off_protocol_fields(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """The fields (in :data:`PROTOCOL_FIELDS` order) off the protocol in any of ``records``."""
    found = {d.field for r in records for d in deviations(r)}
    return [name for name in PROTOCOL_FIELDS + HARD_FIELDS if name in found]


"""The protocols, as data, and whether a run is at one.

A :class:`Protocol` holds every setting that decides what a run measures; its defaults are the
paper's experimental setup (Sec. 5), with the authors' public code where the paper is silent.
:data:`PROTOCOLS` names it ``paper`` (ResNet-18, all 50,000 training images, 200 epochs: a GPU) and
its CPU scales (:meth:`Protocol.scaled`), each chosen by a pilot (``contrastive.pilot.FIRST``,
``SECOND``): a width-16 ResNet-18 on 5,000 class-balanced images.

A run is *at* its protocol while every setting it was made with equals the protocol's
(:func:`deviations` lists those that differ); a record off its protocol is marked so wherever it is
shown and never counted (:func:`counts`). This module is shared by both wings: the engine that
makes runs (``contrastive.config``) and the edition that reads their records.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import losses, paper
from .losses import USES_TAU, check_loss
from .results import Record


@dataclass(frozen=True)
class Protocol:
    """What a run measures. The defaults are the paper's protocol; ``knn_every`` (how often the curves
    get a point) changes the cost of a run, not what it measures, so it is not compared."""

    epochs: int = paper.PAPER_EPOCHS  # epochs of SGD (the paper's 200)
    batch_size: int = 128  # images per SGD step
    lr: float = 0.03  # the SGD learning rate
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 5e-4  # L2 weight decay of SGD
    milestones: tuple[int, ...] = (160, 190)  # lr x gamma after these epochs
    gamma: float = 0.1  # the lr factor at each milestone
    negatives: str = "bank"  # "bank": every training image's [code]; "batch": SimCLR's views
    bank_momentum: float = 0.5  # the bank's momentum m: v <- normalize(m v + (1 - m) f) [code]
    feature_dim: int = 128  # the dimension of the embedding on the unit sphere
    arch: str = "resnet18"  # the encoder (CIFAR stem: 3x3 stride-1 first conv, no max-pool)
    head: str = "linear"  # the projection head: linear, one layer 512 -> 128 [code]
    init: str = "pytorch"  # initialisation: pytorch's default (the authors' sets none) [code]
    hflip: bool = True  # random horizontal flips (in the paper's text; commented out in its code)
    knn_k: int = 200  # neighbours of the weighted kNN monitor [code]
    knn_sigma: float = 0.07  # the kNN monitor's temperature
    probe_epochs: int = 100  # epochs of the linear probe on the frozen 512-d features
    subset: int | None = None  # training images: none, all; N, a fixed class-balanced subset
    test_subset: int | None = None  # test images: none, all; N, the first N
    k: int = paper.HARD_K  # the hard losses' nearest negatives (Eq. 9): 4095 of the 50,000
    knn_every: int = field(default=10, compare=False)  # epochs between curve points

    def scaled(self, arch: str, subset: int, epochs: int, lr: float, **replaced: Any) -> Protocol:
        """This protocol scaled down: network ``arch``, a class-balanced training subset of ``subset``
        images, ``epochs`` epochs at learning rate ``lr``; the lr milestones at the same fractions of
        training (the paper's 160/200 and 190/200), k at the same fraction of the bank (the paper's
        4095 of 50,000), five curve points a run; any other value (``knn_every`` too) replaced by ``replaced``."""
        fractions = [m / self.epochs for m in self.milestones]
        bank = self.subset or paper.TRAIN_IMAGES
        return dataclasses.replace(
            self,
            arch=arch,
            subset=subset,
            epochs=epochs,
            lr=lr,
            milestones=tuple(round(f * epochs) for f in fractions),
            k=round(self.k * subset / bank),
            **{"knn_every": epochs // 5, **replaced},
        )


PAPER = Protocol()
PROTOCOLS: dict[str, Protocol] = {
    "paper": PAPER,
    # the first pilot's choice (its recipe 5k-60ep-lr0.06): 2,400 SGD steps, too few to level off
    "cpu-short": PAPER.scaled(
        arch="resnet18_w16", subset=5_000, epochs=60, lr=0.06, init="torchvision"
    ),
    # the second pilot's choice (its recipe b128-180ep): 7,200 SGD steps, levelled off at both of its τ; ten curve points
    "cpu": PAPER.scaled(arch="resnet18_w16", subset=5_000, epochs=180, lr=0.03, knn_every=18),
}
"""Every protocol by name."""
TITLES = {"paper": "paper scale", "cpu-short": "short CPU scale", "cpu": "CPU scale"}
"""Each protocol in a few words (the claims table's column headings)."""
JUDGED = ("paper", "cpu")
"""The protocols whose records are judged for the claims (never ``cpu-short``, whose runs had not levelled off)."""
NOT_YET_RUN = "not yet run"
"""What the book says in place of a number whose run record does not exist (or does not count)."""


SETTINGS = tuple(f.name for f in dataclasses.fields(Protocol))
"""The fields a protocol sets, in order (``knn_every`` among them, though not compared)."""


MISSING = object()
"""Stands for a setting absent from a record's config (it never equals a protocol's value)."""
WHOLE_SET = ("subset", "test_subset")
"""Fields whose ``None`` means "all images"."""


def _plain(value: Any) -> Any:
    """Tuples as lists, so a Config value compares equal to its JSON round trip."""
    return list(value) if isinstance(value, tuple) else value


def shown(name: str, value: Any) -> str:
    """A setting as a :class:`Deviation` shows it (``None`` of :data:`WHOLE_SET` as "all")."""
    if value is MISSING:
        return "not recorded"
    if value is None and name in WHOLE_SET:
        return "all"
    return repr(value) if isinstance(value, str) else str(_plain(value))


@dataclass(frozen=True)
class Deviation:
    """One setting of a run that differs from the value it is compared with (a protocol's, by default)."""

    field: str
    have: Any
    want: Any
    reference: str = "paper"

    def __str__(self) -> str:
        return f"{self.field} {shown(self.field, self.have)} ({self.reference}: {shown(self.field, self.want)})"


def differences(
    have: Mapping[str, Any], want: Mapping[str, Any], names: tuple[str, ...], reference: str
) -> list[Deviation]:
    """The fields ``names`` whose values differ between two configs (tuples equal lists; absent differs); ``reference``
    names ``want`` in the text of each :class:`Deviation`."""
    pairs = ((name, have.get(name, MISSING), want.get(name, MISSING)) for name in names)
    return [
        Deviation(name, value, wanted, reference)
        for name, value, wanted in pairs
        if _plain(value) != _plain(wanted)
    ]


def compared_fields(loss: str) -> tuple[str, ...]:
    """The compared :class:`Protocol` fields a run of ``loss`` is judged on (``k`` only where ``loss`` uses it)."""
    return tuple(
        f.name
        for f in dataclasses.fields(Protocol)
        if f.compare and (f.name != "k" or losses.USES_K[loss])
    )


def deviations(config: Mapping[str, Any], name: str) -> list[Deviation]:
    """Every setting of ``config`` (a record's config, or ``asdict`` of a Config) that differs from protocol ``name``."""
    return differences(
        config, dataclasses.asdict(PROTOCOLS[name]), compared_fields(config["loss"]), reference=name
    )


def config_label(loss: str, tau: float | None = None) -> str:
    """A configuration as the book names it, e.g. ``ordinary τ=0.07`` or ``HardSimple``."""
    return (
        f"{losses.LABELS[loss]} τ={float(tau):g}" if losses.USES_TAU[loss] else losses.LABELS[loss]
    )


def describe(name: str) -> str:
    """A protocol in a few words, for titles: e.g. ``short CPU scale: ResNet-18 at width 16, 5,000 images, 60 epochs``."""
    v = PROTOCOLS[name]
    arch = {"resnet18": "ResNet-18", "resnet18_w16": "ResNet-18 at width 16"}.get(v.arch, v.arch)
    images = "all training images" if v.subset is None else f"{v.subset:,} images"
    return f"{TITLES[name]}: {arch}, {images}, {v.epochs} epochs"


def counts(record: Record, protocol: str) -> bool:
    """Whether ``record`` counts at ``protocol``: made from it (its folder) and still at it (no
    :func:`deviations`). Whether its numbers are finite is the record's own question
    (``Record.invalid``)."""
    return record.protocol == protocol and not deviations(record.config, protocol)


def negatives_per_anchor(negatives: str, n: int | None, batch_size: int) -> int | None:
    """M, the negatives of each anchor: N - 1 for the bank (None while ``n`` is unknown), 2B - 2
    for ``"batch"``."""
    if negatives == "batch":
        return 2 * batch_size - 2
    return None if n is None else n - 1


def steps_per_epoch(images: int, batch_size: int, negatives: str) -> int:
    """SGD steps an epoch over ``images`` training images: the bank mode keeps the last, smaller
    batch (as the authors' DataLoader); in-batch mode drops it."""
    return math.ceil(images / batch_size) if negatives == "bank" else images // batch_size


def configurations(
    losses: Sequence[str], taus: Sequence[float] | None = None
) -> list[tuple[str, float | None]]:
    """``(loss, tau)`` for every loss and tau (``taus`` None: each loss's grid, ``paper.GRIDS``), Table 1's
    configurations first, then Fig. 2's; a loss without a temperature appears once, tau None."""
    if not losses:
        raise ValueError("losses must name at least one loss")
    if any(USES_TAU.get(loss) for loss in losses) and taus is not None and not taus:
        raise ValueError("taus must hold at least one temperature for the losses with one")
    configs: list[tuple[str, float | None]] = []
    for loss in losses:
        check_loss(loss)
        if USES_TAU[loss]:
            configs += [
                (loss, float(tau))
                for tau in (paper.GRIDS.get(loss, paper.TABLE1_TAUS) if taus is None else taus)
            ]
        else:
            configs.append((loss, None))
    first = [set(paper.COLUMNS), {("contrastive", t) for t in paper.FIG2_TAUS}]
    return sorted(
        dict.fromkeys(configs), key=lambda c: [c not in s for s in first]
    )  # stable: Table 1's, then Fig. 2's

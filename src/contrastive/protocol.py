"""Protocols: named sets of values for the settings that decide what a run measures, and which
protocol a run record is at, if any.

Every field of ``contrastive.train.Config`` has one role (its dataclass field metadata, ``ROLE``):

- ``run`` — what is run: the data set, the loss and τ; they vary between the runs of one protocol;
- ``protocol`` — a setting the protocol fixes for every loss (epochs, batch size, lr schedule, the
  network, the bank, the subset, the evaluation, ...);
- ``hard`` — fixed by the protocol only for the losses with nearest negatives (``k``);
- ``free`` — changes the run but not what is measured (the data file's path, the seed of a single
  run, the device, how often the curves get a point); a resumed run keeps them;
- ``bookkeeping`` — where files go and how the step is executed (compile, bf16); a resumed run may
  change them.

A protocol (:data:`PROTOCOLS`) gives a value to every ``protocol`` and ``hard`` field: ``paper`` is
the paper's (``contrastive.paper.PROTOCOL``, its experimental setup), ``cpu`` the same experiment scaled to a
2-core CPU (:func:`scaled`, chosen by the pilot of ``contrastive.pilot``). A run starts from one
(``Config.protocol``, ``--protocol cpu``); its record lives under ``<out>/<protocol>/`` and is *at*
that protocol when every field equals the protocol's value (:func:`problem` says what differs).
Any field can still be overridden: the record is then off the protocol, marked so wherever it is
shown, and never counted for a claim. The data path is free: a run on the offline JPEG copy of
CIFAR-10 counts (``contrastive.claims`` says so where it uses one).

Horizontal flips are part of the paper's protocol (``hflip=True``): the paper's text lists them
among the augmentations; the authors' public code has them commented out, so a run without them
follows the code rather than the paper and is marked off protocol.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from . import paper
from .losses import USES_K, USES_TAU

ROLE = "role"
"""The key of a Config field's metadata that holds its role."""
ROLES = ("run", "protocol", "hard", "free", "bookkeeping")
NOT_YET_RUN = "not yet run"
"""What the book says in place of a number whose run record does not exist (or does not count)."""

LOSS_LABELS = {"contrastive": "ordinary", "hard": "hard", "simple": "Simple", "hard_simple": "HardSimple"}
"""The book's names of the losses of ``contrastive.losses.LOSSES``."""
WHOLE_SET = ("subset", "test_subset")
"""Fields whose ``None`` means "all images"."""
MISSING = object()
"""Stands for a field absent from a record's config (it never equals a protocol's value)."""
DEFAULT = "paper"
"""The protocol of a record whose config does not name one (records made before there were two)."""


@functools.cache
def fields(*roles: str) -> tuple[str, ...]:
    """The Config fields with any of ``roles``, in the dataclass's order."""
    from .train import Config

    if unknown := set(roles) - set(ROLES):
        raise ValueError(f"roles must be among {ROLES}, got {sorted(unknown)}")
    return tuple(f.name for f in dataclasses.fields(Config) if f.metadata[ROLE] in roles)


def scaled(arch: str, subset: int, epochs: int, lr: float, **replaced: Any) -> dict[str, Any]:
    """The paper's protocol (:data:`contrastive.paper.PROTOCOL`) scaled down: network ``arch``, a
    class-balanced training subset of ``subset`` images, ``epochs`` epochs at learning rate ``lr``;
    the lr milestones at the paper's fractions of training (160/200 and 190/200) and the hard losses'
    k at the paper's fraction of the bank (4095 of 50,000); any other of the paper's values replaced
    by ``replaced`` (e.g. ``batch_size=32``). Everything else is the paper's."""
    if unknown := set(replaced) - set(paper.PROTOCOL):
        raise ValueError(f"scaled: {sorted(unknown)} are not values of the paper's protocol")
    fractions = [m / paper.PAPER_EPOCHS for m in paper.PROTOCOL["milestones"]]
    return {**paper.PROTOCOL, "arch": arch, "subset": subset, "epochs": epochs, "lr": lr,
            "milestones": tuple(round(f * epochs) for f in fractions),
            "k": round(paper.HARD_K * subset / paper.TRAIN_IMAGES), **replaced}


PROTOCOLS: dict[str, dict[str, Any]] = {
    "paper": paper.PROTOCOL,
    "cpu": scaled(arch="resnet18_w16", subset=5_000, epochs=60, lr=0.06, init="torchvision"),
}
"""Every protocol by name. ``cpu``: the recipe the pilot chose (``contrastive.pilot``'s ``5k-60ep-lr0.06``,
its records under ``data/pilot``): the width-16 ResNet-18, 5,000 class-balanced training images,
60 epochs at lr 0.06 (twice the paper's), steps at epochs 48 and 57, k = 410."""
SCALE_NAMES = {"paper": "paper scale", "cpu": "CPU scale"}
"""Each protocol in two words (the status table's column headings)."""


CADENCE: dict[str, int] = {"paper": 10, "cpu": PROTOCOLS["cpu"]["epochs"] // 5}
"""The ``knn_every`` (a free field: epochs between curve points) a run at each protocol starts with:
every 10 epochs at the paper's scale; five points a run at CPU scale, as in its pilot (a point, on
all 10,000 test images, costs about as much as two epochs there)."""


def describe(name: str) -> str:
    """A protocol in a few words, for titles: e.g. ``CPU scale: ResNet-18 at width 16, 5,000 images, 60 epochs``."""
    v = PROTOCOLS[name]
    arch = {"resnet18": "ResNet-18", "resnet18_w16": "ResNet-18 at width 16"}.get(v["arch"], v["arch"])
    images = "all training images" if v["subset"] is None else f"{v['subset']:,} images"
    return f"{SCALE_NAMES[name]}: {arch}, {images}, {v['epochs']} epochs"


def config_label(loss: str, tau: float | None = None) -> str:
    """A configuration as the book names it, e.g. ``ordinary τ=0.07`` or ``HardSimple``."""
    return f"{LOSS_LABELS[loss]} τ={float(tau):g}" if USES_TAU[loss] else LOSS_LABELS[loss]


def _plain(value: Any) -> Any:
    """Tuples as lists, so a Config value compares equal to its JSON round trip."""
    return list(value) if isinstance(value, tuple) else value


def shown(name: str, value: Any) -> str:
    """A config value as a :class:`Deviation` shows it (``None`` of :data:`WHOLE_SET` as "all")."""
    if value is MISSING:
        return "not recorded"
    if value is None and name in WHOLE_SET:
        return "all"
    return repr(value) if isinstance(value, str) else str(_plain(value))


@dataclass(frozen=True)
class Deviation:
    """One config field of a record that differs from the value it is compared with (a protocol's, by default)."""

    field: str
    have: Any
    want: Any
    reference: str = "paper"

    def __str__(self) -> str:
        return f"{self.field} {shown(self.field, self.have)} ({self.reference}: {shown(self.field, self.want)})"


def differences(have: Mapping[str, Any], want: Mapping[str, Any], names: Iterable[str],
                reference: str = "paper") -> list[Deviation]:
    """The fields ``names`` whose values differ between two configs (tuples equal lists; absent differs);
    ``reference`` names ``want`` in the text of each :class:`Deviation`."""
    pairs = ((name, have.get(name, MISSING), want.get(name, MISSING)) for name in names)
    return [Deviation(name, value, wanted, reference) for name, value, wanted in pairs if _plain(value) != _plain(wanted)]


def judged(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields a protocol fixes for this config's loss: the ``protocol`` fields, and ``k`` where the loss uses it."""
    return fields("protocol") + (fields("hard") if USES_K[config["loss"]] else ())


def named(record: Mapping[str, Any]) -> str:
    """The protocol a record's run started from (its folder), :data:`DEFAULT` where it names none."""
    return record["config"].get("protocol") or DEFAULT


def at(records: Iterable[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    """The records of protocol ``name``'s folder (those whose run started from it), at it or not."""
    return [r for r in records if named(r) == name]


def deviations(record: Mapping[str, Any], name: str | None = None) -> list[Deviation]:
    """Every field of ``record["config"]`` that differs from protocol ``name`` (default: the one it names)."""
    name = name or named(record)
    return differences(record["config"], PROTOCOLS[name], judged(record["config"]), reference=name)


def problem(record: Mapping[str, Any], name: str | None = None) -> str | None:
    """Why ``record`` is not at protocol ``name`` (default: the one it names), e.g. ``"epochs 20 (paper:
    200), arch 'tiny' (paper: 'resnet18')"``; None if it is."""
    return ", ".join(map(str, deviations(record, name))) or None


def of(record: Mapping[str, Any]) -> str | None:
    """The protocol ``record`` is at (the one it names, or any other whose values it has), or None."""
    return next((n for n in (named(record), *PROTOCOLS) if problem(record, n) is None), None)


def off_protocol_fields(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """The fields (in Config order) off their protocol in any of ``records``."""
    found = {d.field for r in records for d in deviations(r)}
    return [name for name in fields("protocol", "hard") if name in found]

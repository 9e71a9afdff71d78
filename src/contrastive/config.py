"""The run configuration and the protocols, as data.

A :class:`Protocol` holds every setting that decides what a run measures; its defaults are the paper's experimental
setup, with the authors' public code where the paper is silent. :data:`PROTOCOLS` names it ``paper`` (ResNet-18, all
50,000 training images, 200 epochs: a GPU) and its CPU scales (:meth:`Protocol.scaled`), each chosen by a pilot
(``contrastive.pilot.FIRST``, ``SECOND``): a width-16 ResNet-18 on 5,000 class-balanced images.

A :class:`Config` is one run: a protocol's values plus what is run (data set, loss, τ, seed) and where files go. The
run is *at* its protocol (:meth:`Config.at`) while every setting equals the protocol's (:func:`deviations` lists
those that differ); any setting can be overridden, and the record is then off its protocol, marked so wherever it is
shown and never counted for a claim.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from . import losses, memory, models, paper, results, schedules
from .checks import check_int, check_real
from .data import DATASETS
from .data import DEFAULT_ROOT as DATA_ROOT

NEGATIVES = ("bank", "batch")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""torch.compile's modes; "reduce-overhead" also captures the compiled step in CUDA graphs."""


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


class ConfigError(ValueError):
    """A bad Config value; ``field`` names the offending field (the CLI maps it to its flag)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Config(Protocol):
    """One run: a protocol's values (the defaults: the paper's), what is run and where files go.

    ``protocol`` names the protocol the run starts from (:meth:`at`) and so the folder of its
    record. ``data``: a CIFAR-10 file (``contrastive.data``; None: torchvision's download into
    ``datasets``). ``out``: the records root (default: where the book reads, ``results.root()``);
    the run's checkpoints inside it (``OUT/.checkpoints``, or under ``checkpoint_dir``), one every
    ``checkpoint_every`` epochs; ``resume`` continues from the run's last one. The comment after
    each field is its line of ``--help`` (:func:`field_help`). ``compile`` (torch.compile the step;
    None: on for CUDA), ``compile_mode`` and ``bf16`` (bfloat16 autocast in the training step; None:
    on for CUDA and for a CPU with bfloat16 instructions) change how fast a run is, not what it
    measures.
    ``compile_mode``'s default, "reduce-overhead", replays the compiled step as a CUDA graph: host
    launches set the pace of the "default" mode's step (``data/checks/nvidia-h200.json``); a CPU
    step skips the graphs.
    """

    protocol: str = "paper"  # the protocol whose values the run starts from (its records' folder)
    dataset: str = "cifar10"  # the data set trained and tested on
    loss: str = "contrastive"  # the objective: contrastive (ordinary), hard, simple, hard_simple
    tau: float = 0.07  # the temperature τ (a schedule's base value)
    seed: int = 0  # seeds the weights, bank, batches and augmentation
    # how τ moves in training (contrastive.schedules): constant (the paper's), cosine, macl, learned
    schedule: str = "constant"
    tau_max: float = 1.0  # cosine: τ⁺, its top (its bottom τ⁻ is tau); learned: τ's upper bound
    tau_floor: float = 0.01  # learned: τ's lower bound (CLIP's: a logit scale of at most 100)
    # cosine: its period T in epochs; None: Kukleva et al.'s 400 of 2,000 epochs, in proportion
    tau_period: int | None = None
    macl_alpha: float = 0.5  # macl: α of τ_A = τ0 [1 + α (A − A0)]
    macl_a0: float = 0.0  # macl: A0, the alignment at which τ_A = τ0
    data: str | None = None  # the offline CIFAR-10 npz; None: torchvision's download
    datasets: str = str(DATA_ROOT)  # the folder of downloads and decoded data (data/datasets)
    # cuda or cpu
    device: str = field(default_factory=lambda: "cuda" if torch.cuda.is_available() else "cpu")
    out: str = field(default_factory=lambda: str(results.root()))  # the records folder
    checkpoint_dir: str | None = None  # the checkpoints' folder; None: OUT/.checkpoints
    checkpoint_every: int = 5  # epochs between checkpoints (also after the last)
    compile: bool | None = None  # torch.compile the step; None: on for CUDA
    compile_mode: str = "reduce-overhead"  # torch.compile's mode; the default replays CUDA graphs
    bf16: bool | None = None  # bfloat16 autocast in the step; None: where fast
    resume: bool = True  # continue from this run's own last checkpoint

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", tuple(self.milestones))
        self._check_choices()
        self._check_data()
        self._check_numbers()
        self._check_schedule()
        self.check_size(self.subset)

    @classmethod
    def at(cls, name: str, **overrides: Any) -> Config:
        """A run at protocol ``name`` (:data:`PROTOCOLS`), then ``overrides`` (which take the run off the protocol)."""
        if name not in PROTOCOLS:
            raise ConfigError("protocol", f"must be one of {list(PROTOCOLS)}, got {name!r}")
        return cls(**{**dataclasses.asdict(PROTOCOLS[name]), "protocol": name, **overrides})

    def check_size(self, n: int | None, largest_class: int | None = None) -> None:
        """Raise ``ConfigError`` unless a training set of n images, the largest class of ``largest_class`` images, suits
        this config (k, knn_k, batch_size, subset); with None (not yet known), check what does not depend on it."""
        bank = self.negatives == "bank"
        m = memory.negatives_per_anchor(self.negatives, n, self.batch_size)
        if losses.USES_K[self.loss] and m is not None and self.k > m:
            where = "N - 1 bank entries" if bank else "2B - 2 in-batch views"
            raise ConfigError(
                "k",
                f"must be <= M = {m}, the number of negatives per anchor ({where}), got {self.k}",
            )
        if n is not None and self.knn_k > n:
            raise ConfigError(
                "knn_k",
                f"must be <= {n}, the number of training images (bank entries), got {self.knn_k}",
            )
        if n is not None and not bank and self.batch_size > n:
            raise ConfigError(
                "batch_size",
                f"must be <= {n}, the number of training images, for negatives='batch'",
            )
        if largest_class is not None and largest_class < 2:
            raise ConfigError(
                "subset",
                f"must give some class two or more training images (the tolerance, Eq. 11, "
                f"averages over pairs of one class); {n} images leave every class at most one",
            )

    def _check_choices(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    name, f"must be one of {list(allowed)}, got {getattr(self, name)!r}"
                )
        for name in ("hflip", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"must be True or False, got {getattr(self, name)!r}")
        for name in ("compile", "bf16"):
            if getattr(self, name) not in (None, True, False):
                raise ConfigError(
                    name, f"must be True, False or None (automatic), got {getattr(self, name)!r}"
                )
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as e:
            raise ConfigError("device", f"is not a torch device ({e})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                "device", f"{self.device!r} was asked for but CUDA is not available; use 'cpu'"
            )

    def _check_data(self) -> None:
        if self.data is not None and self.dataset != "cifar10":
            raise ConfigError(
                "data",
                f"{self.data}: the offline npz holds CIFAR-10, not "
                f"{self.dataset!r}; drop --data to download it, or use "
                "--dataset cifar10",
            )

    def _check_numbers(self) -> None:
        ints = {
            "k": 1,
            "epochs": 1,
            "batch_size": 2,
            "feature_dim": 1,
            "seed": 0,
            "knn_every": 1,
            "knn_k": 1,
            "probe_epochs": 1,
            "checkpoint_every": 1,
        }
        for name, low in ints.items():
            _check(check_int, name, getattr(self, name), low)
        for name in ("subset", "test_subset"):
            if getattr(self, name) is not None:
                _check(check_int, name, getattr(self, name), 2)
        _check(check_real, "tau", self.tau)
        _check(check_real, "lr", self.lr)
        _check(check_real, "momentum", self.momentum, "in [0, 1)", lambda v: 0 <= v < 1)
        _check(check_real, "weight_decay", self.weight_decay, ">= 0", lambda v: v >= 0)
        _check(check_real, "gamma", self.gamma, "in (0, 1]", lambda v: 0 < v <= 1)
        _check(check_real, "bank_momentum", self.bank_momentum, "in [0, 1)", lambda v: 0 <= v < 1)
        _check(check_real, "knn_sigma", self.knn_sigma)
        m = self.milestones
        if any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in m) or list(
            m
        ) != sorted(set(m)):
            raise ConfigError("milestones", f"must be strictly increasing integers >= 1, got {m!r}")

    def _check_schedule(self) -> None:
        if self.schedule == "constant":
            return
        if not schedules.moves(self.schedule, self.loss):
            allowed = " or ".join(
                loss for loss in losses.LOSSES if schedules.moves(self.schedule, loss)
            )
            raise ConfigError(
                "schedule",
                f"{self.schedule!r} moves the temperature of loss {allowed}, not of {self.loss!r}",
            )
        _check(check_real, "tau_max", self.tau_max, f"> tau ({self.tau:g})", lambda v: v > self.tau)
        _check(
            check_real,
            "tau_floor",
            self.tau_floor,
            f"in (0, tau ({self.tau:g})]",
            lambda v: 0 < v <= self.tau,
        )
        if self.tau_period is not None:
            _check(check_int, "tau_period", self.tau_period, 1)
        _check(check_real, "macl_a0", self.macl_a0, "in [-1, 1]", lambda v: -1 <= v <= 1)
        _check(
            check_real,
            "macl_alpha",
            self.macl_alpha,
            "in [0, 1 / (1 + macl_a0)) so that τ_A > 0",
            lambda v: 0 <= v * (1 + self.macl_a0) < 1,
        )

    @property
    def period(self) -> int:
        """The cosine schedule's period T in epochs (``tau_period``, or :func:`contrastive.schedules.cosine_period`)."""
        return self.tau_period or schedules.cosine_period(self.epochs)

    def temperature(self) -> schedules.Temperature:
        """This run's τ, step by step (:class:`contrastive.schedules.Temperature`)."""
        return schedules.Temperature(
            self.schedule,
            self.tau,
            self.tau_max,
            self.tau_floor,
            self.period,
            self.macl_alpha,
            self.macl_a0,
        )

    @property
    def use_bf16(self) -> bool:
        """Whether the training step runs under bfloat16 autocast (``bf16``; None: where it is fast)."""
        return (
            (torch.device(self.device).type == "cuda" or models.cpu_bf16_fast())
            if self.bf16 is None
            else self.bf16
        )

    @property
    def use_compile(self) -> bool:
        return torch.device(self.device).type == "cuda" if self.compile is None else self.compile

    @property
    def stem(self) -> str:
        """The record's file stem, e.g. ``hard-tau0.7-seed0`` or ``simple-seed1``."""
        return results.record_name(self.loss, self.tau, self.seed, self.schedule)


CHOICES = {
    "protocol": tuple(PROTOCOLS),
    "dataset": DATASETS,
    "loss": tuple(sorted(losses.LOSSES)),
    "negatives": NEGATIVES,
    "arch": models.ARCHS,
    "head": models.HEADS,
    "init": models.INITS,
    "compile_mode": COMPILE_MODES,
    "schedule": schedules.SCHEDULES,
}
"""The Config fields with a fixed set of values, and those values (also the CLI's choices)."""
SETTINGS = tuple(f.name for f in dataclasses.fields(Protocol))
"""The fields a protocol sets, in order (``knn_every`` among them, though not compared)."""
BOOKKEEPING = (
    "protocol",
    "datasets",
    "out",
    "checkpoint_dir",
    "checkpoint_every",
    "compile",
    "compile_mode",
    "bf16",
    "resume",
)
"""The fields that neither change what a run measures nor its numbers: a resumed run may change them."""


def field_help() -> dict[str, str]:
    """Each field of :class:`Config` and the comment after it in this file, its one line of meaning
    (``--help``)."""
    import inspect
    import io
    import tokenize

    found: dict[str, str] = {}
    for cls in (Protocol, Config):
        tokens = list(tokenize.generate_tokens(io.StringIO(inspect.getsource(cls)).readline))
        for first, second in zip(tokens, tokens[1:]):
            if first.type == tokenize.NAME and first.start[1] == 4 and second.string == ":":
                line = first.start[0]
                comments = [
                    t.string
                    for t in tokens
                    if t.type == tokenize.COMMENT  # after it,
                    and t.start in ((line, t.start[1]), (line - 1, 4))
                ]  # or a line above
                if comments:
                    found[first.string] = comments[-1].lstrip("# ").strip()
    return found


def _check(check, name: str, *args) -> None:
    """``check(name, value, ...)`` of ``contrastive.checks``, its ValueError as a ``ConfigError`` of field ``name``."""
    try:
        check(name, *args)
    except ValueError as e:
        raise ConfigError(name, str(e).removeprefix(f"{name} ")) from None


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


SCHEDULE_FIELDS = {
    "constant": (),
    "cosine": ("schedule", "tau_max", "tau_period"),
    "macl": ("schedule", "macl_alpha", "macl_a0"),
    "learned": ("schedule", "tau_max", "tau_floor"),
}
"""The run fields that each schedule of τ reads (a record of the paper's constant τ may lack them all)."""


def judged(loss: str) -> tuple[str, ...]:
    """The compared :class:`Protocol` fields a run of ``loss`` is judged on (``k`` only where ``loss`` uses it)."""
    return tuple(
        f.name
        for f in dataclasses.fields(Protocol)
        if f.compare and (f.name != "k" or losses.USES_K[loss])
    )


def deviations(config: Mapping[str, Any], name: str) -> list[Deviation]:
    """Every setting of ``config`` (a record's config, or ``asdict`` of a Config) that differs from protocol ``name``."""
    return differences(
        config, dataclasses.asdict(PROTOCOLS[name]), judged(config["loss"]), reference=name
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

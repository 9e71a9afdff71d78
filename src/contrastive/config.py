"""The run configuration: a protocol's values (``contrastive.protocols``) and what one run trains.

A :class:`Config` is one run: a protocol's values plus what is run (data set, loss, τ, seed) and where files go. The
run is *at* its protocol (:meth:`Config.at`) while every setting equals the protocol's (``protocols.deviations`` lists
those that differ); any setting can be overridden, and the record is then off its protocol, marked so wherever it is
shown and never counted for a claim.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from . import losses, models, results, schedules
from .checks import check_int, check_real
from .data import DATASETS, DATASETS_ROOT
from .protocols import PROTOCOLS, Protocol, compared_fields, differences, negatives_per_anchor

NEGATIVES = ("bank", "batch")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""torch.compile's modes; "reduce-overhead" also captures the compiled step in CUDA graphs."""


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
    datasets: str = str(DATASETS_ROOT)  # the folder of downloads and decoded data (data/datasets)
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
        m = negatives_per_anchor(self.negatives, n, self.batch_size)
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


SCHEDULE_FIELDS = {
    "constant": (),
    "cosine": ("schedule", "tau_max", "tau_period"),
    "macl": ("schedule", "macl_alpha", "macl_a0"),
    "learned": ("schedule", "tau_max", "tau_floor"),
}
"""The run fields that each schedule of τ reads (a record of the paper's constant τ may lack them all)."""


def shortfall(record: results.Record, wanted: Config) -> str | None:
    """Why an existing ``record`` does not make the requested run ``wanted`` unnecessary (a different protocol, seed
    or setting that protocol fixes for its loss, or of its τ's schedule), or None. The data path is not compared: the
    same file lies at different paths on different machines."""
    names = ("protocol", *compared_fields(wanted.loss), "seed", *SCHEDULE_FIELDS[wanted.schedule])
    found = differences(record.config, dataclasses.asdict(wanted), names, reference="requested")
    return ", ".join(map(str, found)) or None

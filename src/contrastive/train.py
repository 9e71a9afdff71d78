"""One training run of the paper's protocol (its experimental setup), from a :class:`Config` to a run record.

:func:`run` loads the data onto the device, trains the encoder against the memory bank (or the
in-batch views) with SGD, monitors kNN accuracy, uniformity and tolerance every ``knn_every``
epochs, evaluates (``contrastive.evaluate``) and writes one record with ``contrastive.results``.

Speed: images live on the device as uint8 and are augmented there (``contrastive.augment``); on
CUDA the step runs under bfloat16 autocast in channels-last layout with a fused SGD, and the
augmentation + forward + loss is ``torch.compile``d (``Config.compile``; a compile failure stops the
run, and the record's ``provenance.compiled`` names the mode used, None for eager). Nothing inside an epoch waits for the device: the loss is summed on the device
and read once per epoch.

Checkpoints: every ``checkpoint_every`` epochs and after the last,
``<checkpoint_dir>/<dataset>/<record stem>/last.pt`` (written atomically) holds the model, optimiser,
bank, every RNG state and the curves so far. A run whose checkpoint exists (with the same
configuration) resumes after its last checkpointed epoch; on the CPU the resumed run ends bitwise
identical to an uninterrupted one. The last checkpoint is kept after the record is
written (it is the trained model); running the same configuration again then only re-evaluates it.
``resume=False`` trains afresh and overwrites it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from . import data as data_module
from . import evaluate as evaluation
from . import losses, memory, models, provenance, results
from . import protocol
from .protocol import PROTOCOLS, ROLE
from .augment import Augment
from .checks import check_int, check_real

NEGATIVES = ("bank", "batch")
CURVES = ("epoch", "loss", "knn_top1", "uniformity", "tolerance", "lr")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""torch.compile's modes; "reduce-overhead" also captures the compiled step in CUDA graphs."""
CHOICES = {"protocol": tuple(PROTOCOLS), "dataset": data_module.DATASETS, "loss": tuple(sorted(losses.LOSSES)), "negatives": NEGATIVES,
           "arch": models.ARCHS, "head": models.HEADS, "init": models.INITS, "compile_mode": COMPILE_MODES}
"""The Config fields with a fixed set of values, and those values (also the CLI's choices)."""
CONCURRENT_ENV = "CONTRASTIVE_CONCURRENT_RUNS"
"""Set by benchmarks/gpu_session.sh when runs share one GPU; recorded, since it slows each run."""


class ConfigError(ValueError):
    """A bad Config value; ``field`` names the offending field (the CLI maps it to its flag)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class Diverged(RuntimeError):
    """Training produced a non-finite loss; nothing of that epoch is checkpointed or recorded."""


@dataclass
class Config:
    """Everything a run depends on; the defaults are the paper's protocol (its experimental setup).

    Each field's metadata gives its role (``contrastive.protocol``: run, protocol, hard, free,
    bookkeeping). ``protocol`` names the protocol the run starts from (:meth:`at`), and so the
    folder of its record; the run is at that protocol only while every protocol field keeps its value.
    ``subset``: a fixed class-balanced subset of N training images (``data.balanced``; None = all).
    ``out``: the records root (default: where the book reads, ``results.root()``: ``$CONTRASTIVE_RESULTS``
    or ``data/results``); ``checkpoint_dir`` beside it. Beyond the record schema: ``datasets`` (where downloads and decoded caches go), ``test_subset``
    (first N test images; None = all of them), ``checkpoint_every`` (epochs between checkpoints),
    ``compile`` (torch.compile the step; None = on for CUDA, off elsewhere), ``compile_mode`` (one of
    ``COMPILE_MODES``), ``bf16`` (bfloat16 autocast in the training step; None = on for CUDA and
    for a CPU with bfloat16 instructions, ``models.cpu_bf16_fast``: 1.7x faster at width 16 with AMX) and ``resume`` (continue from the last checkpoint of this configuration).
    """

    protocol: str = field(default="paper", metadata={ROLE: "bookkeeping"})
    dataset: str = field(default="cifar10", metadata={ROLE: "run"})
    data: str | None = field(default=None, metadata={ROLE: "free"})
    datasets: str = field(default=str(data_module.DEFAULT_ROOT), metadata={ROLE: "bookkeeping"})
    subset: int | None = field(default=None, metadata={ROLE: "protocol"})
    loss: str = field(default="contrastive", metadata={ROLE: "run"})
    tau: float = field(default=0.07, metadata={ROLE: "run"})
    k: int = field(default=4095, metadata={ROLE: "hard"})
    epochs: int = field(default=200, metadata={ROLE: "protocol"})
    batch_size: int = field(default=128, metadata={ROLE: "protocol"})
    lr: float = field(default=0.03, metadata={ROLE: "protocol"})
    momentum: float = field(default=0.9, metadata={ROLE: "protocol"})
    weight_decay: float = field(default=5e-4, metadata={ROLE: "protocol"})
    milestones: tuple[int, ...] = field(default=(160, 190), metadata={ROLE: "protocol"})
    gamma: float = field(default=0.1, metadata={ROLE: "protocol"})
    negatives: str = field(default="bank", metadata={ROLE: "protocol"})
    bank_momentum: float = field(default=0.5, metadata={ROLE: "protocol"})
    feature_dim: int = field(default=128, metadata={ROLE: "protocol"})
    arch: str = field(default="resnet18", metadata={ROLE: "protocol"})
    head: str = field(default="linear", metadata={ROLE: "protocol"})
    init: str = field(default="pytorch", metadata={ROLE: "protocol"})
    hflip: bool = field(default=True, metadata={ROLE: "protocol"})
    seed: int = field(default=0, metadata={ROLE: "free"})
    device: str = field(default_factory=lambda: "cuda" if torch.cuda.is_available() else "cpu", metadata={ROLE: "free"})
    knn_every: int = field(default=10, metadata={ROLE: "free"})
    knn_k: int = field(default=200, metadata={ROLE: "protocol"})
    knn_sigma: float = field(default=0.07, metadata={ROLE: "protocol"})
    probe_epochs: int = field(default=100, metadata={ROLE: "protocol"})
    out: str = field(default_factory=lambda: str(results.root()), metadata={ROLE: "bookkeeping"})
    checkpoint_dir: str = field(default_factory=lambda: str(results.root().parent / "checkpoints"),
                                metadata={ROLE: "bookkeeping"})
    checkpoint_every: int = field(default=5, metadata={ROLE: "bookkeeping"})
    test_subset: int | None = field(default=None, metadata={ROLE: "protocol"})
    compile: bool | None = field(default=None, metadata={ROLE: "bookkeeping"})
    compile_mode: str = field(default="default", metadata={ROLE: "bookkeeping"})
    bf16: bool | None = field(default=None, metadata={ROLE: "bookkeeping"})
    resume: bool = field(default=True, metadata={ROLE: "bookkeeping"})

    def __post_init__(self) -> None:
        self.milestones = tuple(self.milestones)
        self._check_choices()
        self._check_numbers()
        self.check_size(self.subset)

    def check_size(self, n: int | None, largest_class: int | None = None) -> None:
        """Raise ``ConfigError`` unless a training set of n images, the largest class of
        ``largest_class`` images, suits this config (k, knn_k, batch_size, subset); with None (not yet
        known), check what does not depend on it."""
        bank = self.negatives == "bank"
        m = memory.negatives_per_anchor(self.negatives, n, self.batch_size)
        if losses.USES_K[self.loss] and m is not None and self.k > m:
            where = "N - 1 bank entries" if bank else "2B - 2 in-batch views"
            raise ConfigError("k", f"must be <= M = {m}, the number of negatives per anchor ({where}), got {self.k}")
        if n is not None and self.knn_k > n:
            raise ConfigError("knn_k", f"must be <= {n}, the number of training images (bank entries), got {self.knn_k}")
        if n is not None and not bank and self.batch_size > n:
            raise ConfigError("batch_size", f"must be <= {n}, the number of training images, for negatives='batch'")
        if largest_class is not None and largest_class < 2:
            raise ConfigError("subset", f"must give some class two or more training images (the tolerance, Eq. 11, "
                                        f"averages over pairs of one class); {n} images leave every class at most one")

    def _check_choices(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(name, f"must be one of {list(allowed)}, got {getattr(self, name)!r}")
        for name in ("hflip", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"must be True or False, got {getattr(self, name)!r}")
        for name in ("compile", "bf16"):
            if getattr(self, name) not in (None, True, False):
                raise ConfigError(name, f"must be True, False or None (automatic), got {getattr(self, name)!r}")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as e:
            raise ConfigError("device", f"is not a torch device ({e})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device", f"{self.device!r} was asked for but CUDA is not available; use 'cpu'")

    def _check_numbers(self) -> None:
        ints = {"k": 1, "epochs": 1, "batch_size": 2, "feature_dim": 1, "seed": 0, "knn_every": 1, "knn_k": 1,
                "probe_epochs": 1, "checkpoint_every": 1}
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
        if any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in m) or list(m) != sorted(set(m)):
            raise ConfigError("milestones", f"must be strictly increasing integers >= 1, got {m!r}")

    @classmethod
    def at(cls, name: str, **overrides) -> "Config":
        """A run at protocol ``name`` (``contrastive.protocol.PROTOCOLS``): its values and its curve
        cadence (``protocol.CADENCE``), then ``overrides`` (a protocol field overridden takes the run off
        the protocol; the record says so)."""
        if name not in PROTOCOLS:
            raise ConfigError("protocol", f"must be one of {list(PROTOCOLS)}, got {name!r}")
        return cls(**{**PROTOCOLS[name], "knn_every": protocol.CADENCE[name], "protocol": name, **overrides})

    @property
    def use_bf16(self) -> bool:
        """Whether the training step runs under bfloat16 autocast (``bf16``; None: where it is fast)."""
        if self.bf16 is not None:
            return self.bf16
        return torch.device(self.device).type == "cuda" or models.cpu_bf16_fast()

    @property
    def use_compile(self) -> bool:
        return torch.device(self.device).type == "cuda" if self.compile is None else self.compile

    @property
    def stem(self) -> str:
        """The record's file stem, e.g. ``hard-tau0.7`` or ``simple``."""
        return results.record_name(self.loss, self.tau)


def _check(check, name: str, *args) -> None:
    """``check(name, value, ...)`` of ``contrastive.checks``, its ValueError as a ``ConfigError`` of field ``name``."""
    try:
        check(name, *args)
    except ValueError as e:
        raise ConfigError(name, str(e).removeprefix(f"{name} ")) from None


def lr_at(config: Config, epoch: int) -> float:
    """The SGD learning rate of (1-based) ``epoch``: lr x gamma for every milestone already passed."""
    return config.lr * config.gamma ** sum(epoch > m for m in config.milestones)


def evaluated(config: Config, epoch: int) -> bool:
    """Whether the curves get a point after ``epoch``: the first, every ``knn_every``-th and the last."""
    return epoch == 1 or epoch % config.knn_every == 0 or epoch == config.epochs


class Engine:
    """The model, bank, optimiser, augmentation and generator of one run, and its training step."""

    def __init__(self, config: Config, train: data_module.Dataset) -> None:
        self.config, self.train = config, train
        self.device = train.images.device
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        torch.manual_seed(config.seed)
        self.model = models.Encoder(config.arch, config.head, config.feature_dim, config.init).to(
            self.device, memory_format=torch.channels_last)
        self.bank = memory.MemoryBank(len(train), config.feature_dim, config.bank_momentum, self.device,
                                      torch.Generator().manual_seed(config.seed))
        fused = {"fused": True} if self.device.type == "cuda" else {}
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay, **fused)
        self.augment = Augment(config.dataset, hflip=config.hflip)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        # a compile failure is raised, not hidden: the record says the step was compiled
        self.loss_of = torch.compile(self._loss, dynamic=False, mode=config.compile_mode) if config.use_compile else self._loss

    def _loss(self, images: torch.Tensor, u: torch.Tensor, idx: torch.Tensor, vectors: torch.Tensor):
        """Augment, embed and score one batch: (mean loss, anchor embeddings z). Pure tensor code."""
        x = self.augment.apply(images, u).contiguous(memory_format=torch.channels_last)
        c = self.config
        with models.autocast(self.device, c.use_bf16):
            z = self.model(x)[1]
        if c.negatives == "bank":
            s_pos, s_neg = memory.bank_similarities(z, idx, vectors)
        else:
            z, z2 = z.chunk(2)
            s_pos, s_neg = memory.batch_similarities(z, z2)
        return memory.objective(c.loss, s_pos, s_neg, c.tau, c.k), z

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        """One SGD step on the images ``idx``; updates the bank; returns the loss (on the device)."""
        images = self.train.images[idx]
        if self.config.negatives == "batch":
            images = torch.cat([images, images])
        u = self.augment.draw(images.shape[0], self.generator, self.device)
        loss, z = self.loss_of(images, u, idx, self.bank.vectors)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.bank.update(z, idx)
        return loss.detach().clone()  # with CUDA graphs, the next step's replay overwrites ``loss``

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch: the bank mode keeps the last, smaller batch (as the authors' DataLoader);
        in-batch mode drops it."""
        n, b = len(self.train), self.config.batch_size
        return math.ceil(n / b) if self.config.negatives == "bank" else n // b

    def batches(self) -> list[torch.Tensor]:
        """This epoch's batches of indices: a random permutation cut into :attr:`steps_per_epoch` pieces."""
        b = self.config.batch_size
        perm = torch.randperm(len(self.train), generator=self.generator, device=self.device)
        return [perm[a * b:(a + 1) * b] for a in range(self.steps_per_epoch)]

    def train_epoch(self, epoch: int, bar=None) -> float:
        """One epoch at ``lr_at(epoch)``; returns the mean loss over its anchors."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.config, epoch)
        self.model.train()
        total, count = torch.zeros((), device=self.device), 0
        for idx in self.batches():
            total += self.step(idx) * idx.shape[0]
            count += idx.shape[0]
            if bar is not None:
                bar.update(1)
        return total.item() / count

    def state_dict(self) -> dict:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "bank": self.bank.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(), "cuda_rng": cuda}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.bank.load_state_dict(state["bank"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


def checkpoint_path(config: Config) -> Path:
    """``<checkpoint_dir>/<protocol>/<dataset>/<record stem>/last.pt``."""
    return Path(config.checkpoint_dir) / config.protocol / config.dataset / config.stem / "last.pt"


def record_path(config: Config) -> Path:
    """``<out>/<protocol>/<dataset>/<record stem>.json``: one folder of records per protocol."""
    return results.record_path(Path(config.out) / config.protocol, config.dataset, config.loss, config.tau)


PROGRESS = ("epoch", "curves", "train_seconds", "epoch_seconds")
"""What a checkpoint holds besides the engine's state: the epochs done, curves so far, seconds spent
and the per-epoch training seconds."""


def save_checkpoint(config: Config, engine: Engine, progress: dict) -> None:
    """Write the engine's state and ``progress`` atomically (temporary file, then rename)."""
    state = {"config": asdict(config), **{k: progress[k] for k in PROGRESS}, **engine.state_dict()}
    results.atomic_write(checkpoint_path(config), lambda f: torch.save(state, f))


def load_checkpoint(config: Config, engine: Engine) -> dict | None:
    """Restore ``engine`` from this config's checkpoint; its progress, or None where there is none.

    ``ConfigError`` (field ``resume``) if the checkpoint cannot be read or was made with a different
    configuration; the message names the file and ``--no-resume``.
    """
    path = checkpoint_path(config)
    if not config.resume or not path.is_file():
        return None

    def refused(problem: str) -> ConfigError:
        """The error refusing this checkpoint: what is wrong with it, then how to train afresh."""
        return ConfigError("resume", f"checkpoint {path} {problem}; delete it or pass resume=False (--no-resume) to train afresh")

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # RNG states must stay on the CPU
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as e:
        raise refused(f"cannot be read ({str(e).split('. ')[0]})") from None
    names = protocol.fields("run", "protocol", "hard", "free")  # bookkeeping may change on resume
    found = protocol.differences(asdict(config), state["config"], names, reference="checkpoint")
    if found:
        raise refused(f"was made with a different configuration ({', '.join(map(str, found))})")
    if state["curves"]["epoch"] != [e for e in range(1, state["epoch"] + 1) if evaluated(config, e)]:
        raise refused(f"holds curves that do not match its {state['epoch']} epochs (made by an older version?)")
    engine.load_state_dict(state)
    return {k: state[k] for k in PROGRESS}


def _test_split(config: Config, device: torch.device) -> data_module.Dataset:
    """The test set, cut to its first ``test_subset`` images (None: all of them)."""
    test = data_module.load(config.dataset, "test", config.data, None, device, config.datasets)
    n = config.test_subset or len(test)
    if n > len(test):
        raise ConfigError("test_subset", f"must be <= {len(test)}, the size of the {config.dataset} test split, got {n}")
    return dataclasses.replace(test, images=test.images[:n], labels=test.labels[:n])


def check_replaces(config: Config) -> None:
    """Refuse to replace a record made at its protocol with an off-protocol run of the same
    (protocol, dataset, loss, tau): a trial belongs under another ``out``."""
    path = record_path(config)
    if not path.is_file() or protocol.problem(results.read_record(path)) is not None:
        return
    problem = protocol.problem({"config": asdict(config)})
    if problem:
        raise ConfigError("out", f"{path} holds a record made at the {config.protocol} protocol, and this run is off it "
                                 f"({problem}); write the trial elsewhere (another --out)")


def check_folders(config: Config) -> None:
    """``ConfigError`` (``out`` or ``checkpoint_dir``) unless the record's and the checkpoint's folders
    can be made and written: checked before any work, not after hours of training."""
    for name, folder in (("out", record_path(config).parent), ("checkpoint_dir", checkpoint_path(config).parent)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as e:
            raise ConfigError(name, f"{folder} is not a folder this run can write to ({e.strerror or e})") from None


def run(config: Config) -> Path:
    """Train, evaluate and write the run record of ``config``; returns the record's path."""
    t0, started = time.perf_counter(), provenance.now()
    path = record_path(config)
    check_replaces(config)
    check_folders(config)
    device = torch.device(config.device)
    environment = provenance.environment(device)  # the commit that trains, read before training
    train = data_module.load(config.dataset, "train", config.data, config.subset, device, config.datasets)
    test = _test_split(config, device)
    config.check_size(len(train), int(train.labels.bincount().max()))
    engine = Engine(config, train)
    progress = load_checkpoint(config, engine) or {"epoch": 0, "curves": {k: [] for k in CURVES},
                                                   "train_seconds": 0.0, "epoch_seconds": []}
    resumed_from, earlier_seconds = progress["epoch"], progress["train_seconds"]
    _train(config, engine, test, progress)

    t_eval = time.perf_counter()
    final, arrays = evaluation.evaluate(engine.model, engine.bank, train, test, config.dataset, engine.augment,
                                        config.knn_k, config.knn_sigma, config.probe_epochs, config.seed)
    eval_seconds = time.perf_counter() - t_eval
    prov = {
        **environment,
        "protocol": protocol.of({"config": asdict(config)}),
        "bf16": config.use_bf16,
        "compiled": config.compile_mode if config.use_compile else None,
        "concurrent_runs": int(os.environ.get(CONCURRENT_ENV, "1")),
        "data": train.source,
        "train_images": len(train),
        "test_images": len(test),
        "resumed_from_epoch": resumed_from,
        "wall_seconds": {"train": progress["train_seconds"], "evaluate": eval_seconds,
                         "total": earlier_seconds + time.perf_counter() - t0},
        "started": started,
        "finished": provenance.now(),
        "seconds_per_epoch": statistics.median(progress["epoch_seconds"]),
    }
    record = {"config": asdict(config), "results": final, "curves": progress["curves"], "provenance": prov}
    return results.write_record(path, record, arrays)


def _train(config: Config, engine: Engine, test: data_module.Dataset, progress: dict) -> None:
    """Train from epoch ``progress["epoch"] + 1`` to the last, updating ``progress`` and checkpointing
    every ``checkpoint_every`` epochs and after the last; each :func:`evaluated` epoch adds a curve point."""
    first, t_train, before = progress["epoch"] + 1, time.perf_counter(), progress["train_seconds"]
    total = (config.epochs - first + 1) * engine.steps_per_epoch
    with tqdm(total=total, desc=f"{config.dataset} {config.stem}", disable=None) as bar:
        for epoch in range(first, config.epochs + 1):
            t = time.perf_counter()
            point = {"epoch": epoch, "loss": engine.train_epoch(epoch, bar), "lr": lr_at(config, epoch)}
            if not math.isfinite(point["loss"]):  # before any checkpoint of it: the last good one stays
                raise Diverged(f"epoch {epoch}: the mean training loss is {point['loss']}; the run diverged "
                               f"(lr {point['lr']:g}, tau {config.tau:g}): lower lr or raise tau. The last good "
                               f"checkpoint (epoch {progress['epoch']}) is kept; rerun with other values and --no-resume")
            progress["epoch_seconds"].append(time.perf_counter() - t)
            if evaluated(config, epoch):  # a curve point: kNN, uniformity, tolerance of the un-augmented test images
                z = models.encode(engine.model, test.images, lambda x: data_module.normalize(x, config.dataset))[1]
                point |= evaluation.monitor(z, test.labels, engine.bank, engine.train.labels, config.knn_k,
                                            config.knn_sigma, len(engine.train.classes))
                for key in CURVES:
                    progress["curves"][key].append(point[key])
                bar.set_postfix(epoch=epoch, loss=f"{point['loss']:.4f}", knn=f"{point['knn_top1']:.2f}")
            progress["epoch"], progress["train_seconds"] = epoch, before + time.perf_counter() - t_train
            if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
                save_checkpoint(config, engine, progress)

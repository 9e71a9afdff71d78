"""One training run of the paper's protocol (its experimental setup), from a :class:`Config` to a run record.

Speed: images live on the device as uint8 and are augmented there (``contrastive.augment``); on CUDA the step runs
under bfloat16 autocast in channels-last layout with a fused SGD, and augmentation + forward + loss is
``torch.compile``d. Nothing inside an epoch waits for the device: the loss is read once per epoch.

Checkpoints (every ``checkpoint_every`` epochs and after the last) hold the model, optimiser, bank, every RNG state
and the curves so far; a run of the same configuration resumes after its last checkpointed epoch (on the CPU bitwise
identical to an uninterrupted one). The last one is kept after the record is written (it is the trained model):
running the same configuration again only re-evaluates it; ``resume=False`` trains afresh.
"""

from __future__ import annotations

import dataclasses
import fcntl
import math
import os
import pickle
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import torch
from tqdm import tqdm

from . import atomic, evaluate, losses, memory, models, provenance, results
from .augment import Augment
from .config import BOOKKEEPING, Config, ConfigError, deviations, differences
from .data import Dataset, load, normalize

CURVES = ("epoch", "loss", "knn_top1", "uniformity", "tolerance", "lr")
CONCURRENT_ENV = "CONTRASTIVE_CONCURRENT_RUNS"
"""Set by benchmarks/gpu_session.sh when runs share one GPU; recorded, since it slows each run."""


def curve_keys(config: Config) -> tuple[str, ...]:
    """What each curve point holds: :data:`CURVES`, and ``tau`` (the mean τ of the epoch's steps) where τ moves."""
    return CURVES if config.schedule == "constant" else (*CURVES, "tau")


class Diverged(RuntimeError):
    """Training produced a non-finite loss; nothing of that epoch is checkpointed or recorded."""


def lr_at(config: Config, epoch: int) -> float:
    """The SGD learning rate of (1-based) ``epoch``: lr x gamma for every milestone already passed."""
    return config.lr * config.gamma ** sum(epoch > m for m in config.milestones)


def evaluated(config: Config, epoch: int) -> bool:
    """Whether the curves get a point after ``epoch``: the first, every ``knn_every``-th and the last."""
    return epoch == 1 or epoch % config.knn_every == 0 or epoch == config.epochs


def steps_per_epoch(images: int, batch_size: int, negatives: str) -> int:
    """SGD steps an epoch over ``images`` training images: the bank mode keeps the last, smaller batch (as the
    authors' DataLoader); in-batch mode drops it."""
    return math.ceil(images / batch_size) if negatives == "bank" else images // batch_size


class Engine:
    """The model, bank, optimiser, augmentation and generator of one run, and its training step."""

    def __init__(self, config: Config, train: Dataset) -> None:
        self.config, self.train = config, train
        self.device = train.images.device
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        torch.manual_seed(config.seed)
        self.model = models.Encoder(config.arch, config.head, config.feature_dim, config.init).to(
            self.device, memory_format=torch.channels_last)
        self.bank = memory.MemoryBank(len(train), config.feature_dim, config.bank_momentum, self.device,
                                      torch.Generator().manual_seed(config.seed))
        self.temperature = config.temperature().to(self.device)
        fused = {"fused": True} if self.device.type == "cuda" else {}
        groups = [{"params": list(self.model.parameters())}]
        if learned := list(self.temperature.parameters()):  # a learned τ: no weight decay on its logit scale (CLIP)
            groups.append({"params": learned, "weight_decay": 0.0})
        self.optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay, **fused)
        self.tau_sum = torch.zeros((), device=self.device)
        self.augment = Augment(config.dataset, hflip=config.hflip)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.loss = losses.make(config.loss, config.k)  # built once, called every step by _loss
        # a compile failure is raised, not hidden: the record says the step was compiled
        self.loss_of = torch.compile(self._loss, dynamic=False, mode=config.compile_mode) if config.use_compile else self._loss

    def _loss(self, images: torch.Tensor, u: torch.Tensor, idx: torch.Tensor, vectors: torch.Tensor):
        """Augment, embed and score one batch: (mean loss, anchor embeddings z, the τ it used). Pure tensor code."""
        x = self.augment.apply(images, u).contiguous(memory_format=torch.channels_last)
        c = self.config
        with models.autocast(self.device, c.use_bf16):
            z = self.model(x)[1]
        if c.negatives == "bank":
            s_pos, s_neg = memory.bank_similarities(z, idx, vectors)
        else:
            z, z2 = z.chunk(2)
            s_pos, s_neg = memory.batch_similarities(z, z2)
        tau = self.temperature(s_pos)
        return self.temperature.reweight(self.loss(s_pos, s_neg, tau)).mean(), z, tau

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        """One SGD step on the images ``idx``; updates the bank; returns the loss (on the device)."""
        images = self.train.images[idx]
        if self.config.negatives == "batch":
            images = torch.cat([images, images])
        u = self.augment.draw(images.shape[0], self.generator, self.device)  # outside the graph
        if self.config.use_compile:  # a new step: CUDA graphs may overwrite the last step's outputs
            torch.compiler.cudagraph_mark_step_begin()
        loss, z, tau = self.loss_of(images, u, idx, self.bank.vectors)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.temperature.clip()
        self.bank.update(z, idx)
        self.tau_sum += tau.detach() if isinstance(tau, torch.Tensor) else tau
        return loss.detach().clone()  # with CUDA graphs, the next step's replay overwrites ``loss``

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch (:func:`steps_per_epoch`)."""
        return steps_per_epoch(len(self.train), self.config.batch_size, self.config.negatives)

    def batches(self) -> list[torch.Tensor]:
        """This epoch's batches of indices: a random permutation cut into :attr:`steps_per_epoch` pieces."""
        b = self.config.batch_size
        perm = torch.randperm(len(self.train), generator=self.generator, device=self.device)
        return [perm[a * b:(a + 1) * b] for a in range(self.steps_per_epoch)]

    def train_epoch(self, epoch: int, bar=None) -> float:
        """One epoch at ``lr_at(epoch)``; returns the mean loss over its anchors (and sets :attr:`epoch_tau`, the
        mean τ of its steps)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.config, epoch)
        self.model.train()
        self.temperature.at_epoch(epoch, self.device)
        self.tau_sum.zero_()
        total, count = torch.zeros((), device=self.device), 0
        for idx in self.batches():
            total += self.step(idx) * idx.shape[0]
            count += idx.shape[0]
            if bar is not None:
                bar.update(1)
        self.epoch_tau = self.tau_sum.item() / self.steps_per_epoch
        return total.item() / count

    def state_dict(self) -> dict:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "bank": self.bank.state_dict(),
                "temperature": self.temperature.state_dict(), "generator": self.generator.get_state(),
                "torch_rng": torch.get_rng_state(), "cuda_rng": cuda}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.temperature.load_state_dict(state.get("temperature", {}))
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
    return Path(config.out) / config.protocol / config.dataset / f"{config.stem}.json"


PROGRESS = ("epoch", "curves", "train_seconds", "epoch_seconds")
"""What a checkpoint holds besides the engine's state (:func:`_train` keeps them up to date)."""


def save_checkpoint(config: Config, engine: Engine, progress: dict) -> None:
    """Write the engine's state and ``progress`` atomically (temporary file, then rename)."""
    state = {"config": asdict(config), **{k: progress[k] for k in PROGRESS}, **engine.state_dict()}
    atomic.atomic_write(checkpoint_path(config), lambda f: torch.save(state, f))


def load_checkpoint(config: Config, engine: Engine) -> dict | None:
    """Restore ``engine`` from this config's checkpoint; its progress, or None where there is none.
    ``ConfigError`` (``resume``) naming the file and ``--no-resume`` if the checkpoint does not fit."""
    path = checkpoint_path(config)
    if not config.resume or not path.is_file():
        return None

    def refused(problem: str) -> ConfigError:
        return ConfigError("resume", f"checkpoint {path} {problem}; delete it or pass resume=False (--no-resume) to train afresh")

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # RNG states must stay on the CPU
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as e:
        raise refused(f"cannot be read ({str(e).split('. ')[0]})") from None
    names = tuple(f.name for f in dataclasses.fields(Config) if f.name not in BOOKKEEPING)  # bookkeeping may change
    if found := differences(asdict(config), state["config"], names, reference="checkpoint"):
        raise refused(f"was made with a different configuration ({', '.join(map(str, found))})")
    if state["curves"]["epoch"] != [e for e in range(1, state["epoch"] + 1) if evaluated(config, e)]:
        raise refused(f"holds curves that do not match its {state['epoch']} epochs (made by an older version?)")
    engine.load_state_dict(state)
    return {k: state[k] for k in PROGRESS}


def _test_split(config: Config, device: torch.device) -> Dataset:
    """The test set, cut to its first ``test_subset`` images (None: all of them)."""
    test = load(config.dataset, "test", config.data, None, device, config.datasets)
    n = config.test_subset or len(test)
    if n > len(test):
        raise ConfigError("test_subset", f"must be <= {len(test)}, the size of the {config.dataset} test split, got {n}")
    return dataclasses.replace(test, images=test.images[:n], labels=test.labels[:n])


def check_replaces(config: Config) -> None:
    """Refuse to replace a record made at its protocol with an off-protocol run of the same
    (protocol, dataset, loss, tau): a trial belongs under another ``out``."""
    path = record_path(config)
    if not path.is_file() or deviations((held := results.read_record(path)).config, held.protocol):
        return
    if found := deviations(asdict(config), config.protocol):
        raise ConfigError("out", f"{path} holds a record made at the {config.protocol} protocol, and this run is off it "
                                 f"({', '.join(map(str, found))}); write the trial elsewhere (another --out)")


def check_folders(config: Config) -> None:
    """``ConfigError`` (``out`` or ``checkpoint_dir``) unless the record's and the checkpoint's folders
    can be made and written: checked before any work, not after hours of training."""
    for name, folder in (("out", record_path(config).parent), ("checkpoint_dir", checkpoint_path(config).parent)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as e:
            raise ConfigError(name, f"{folder} is not a folder this run can write to ({e.strerror or e})") from None


@contextmanager
def claimed(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.<record stem>.lock`` beside the record ``path`` while a run makes it, so that two
    processes (shards of a sweep on machines sharing the records folder, say) never make one record at once:
    ``ConfigError`` (``out``) if another process holds it. The kernel releases the lock however its holder ends."""
    lock = path.with_name(f".{path.stem}.lock")
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError("out", f"{path} is being made by another run right now (it holds {lock.name}); "
                                     "wait for it, or give this run another seed or --out") from None
        yield


def run(config: Config) -> Path:
    """Train, evaluate and write the run record of ``config`` (while :func:`claimed`); returns the record's path."""
    path = record_path(config)
    check_replaces(config)
    check_folders(config)
    with claimed(path):
        return _run(config, path)


def _run(config: Config, path: Path) -> Path:
    t0, started = time.perf_counter(), provenance.now()
    device = torch.device(config.device)
    environment = provenance.environment(device)  # the commit that trains, read before training
    train = load(config.dataset, "train", config.data, config.subset, device, config.datasets)
    test = _test_split(config, device)
    config.check_size(len(train), int(train.labels.bincount().max()))
    engine = Engine(config, train)
    progress = load_checkpoint(config, engine) or {"epoch": 0, "curves": {k: [] for k in curve_keys(config)},
                                                   "train_seconds": 0.0, "epoch_seconds": []}
    resumed_from, earlier_seconds = progress["epoch"], progress["train_seconds"]
    _train(config, engine, test, progress)

    t_eval = time.perf_counter()
    final, arrays = evaluate.evaluate(engine.model, engine.bank, train, test, config.dataset, engine.augment,
                                        config.knn_k, config.knn_sigma, config.probe_epochs, config.seed)
    eval_seconds = time.perf_counter() - t_eval
    prov = {
        **environment,
        "protocol": None if deviations(asdict(config), config.protocol) else config.protocol,
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


def _train(config: Config, engine: Engine, test: Dataset, progress: dict) -> None:
    """Train from epoch ``progress["epoch"] + 1`` to the last, updating ``progress`` and checkpointing
    every ``checkpoint_every`` epochs and after the last; each :func:`evaluated` epoch adds a curve point."""
    first, t_train, before = progress["epoch"] + 1, time.perf_counter(), progress["train_seconds"]
    total = (config.epochs - first + 1) * engine.steps_per_epoch
    with tqdm(total=total, desc=f"{config.dataset} {config.stem}", disable=None) as bar:
        for epoch in range(first, config.epochs + 1):
            t = time.perf_counter()
            point = {"epoch": epoch, "loss": engine.train_epoch(epoch, bar), "lr": lr_at(config, epoch),
                     "tau": engine.epoch_tau}
            if not math.isfinite(point["loss"]):  # before any checkpoint of it: the last good one stays
                raise Diverged(f"epoch {epoch}: the mean training loss is {point['loss']}; the run diverged "
                               f"(lr {point['lr']:g}, tau {config.tau:g}): lower lr or raise tau. The last good "
                               f"checkpoint (epoch {progress['epoch']}) is kept; rerun with other values and --no-resume")
            progress["epoch_seconds"].append(time.perf_counter() - t)
            if evaluated(config, epoch):  # a curve point: kNN, uniformity, tolerance of the un-augmented test images
                z = models.encode(engine.model, test.images, lambda x: normalize(x, config.dataset))[1]
                point |= evaluate.monitor(z, test.labels, engine.bank, engine.train.labels, config.knn_k,
                                            config.knn_sigma, len(engine.train.classes))
                for key in curve_keys(config):
                    progress["curves"][key].append(point[key])
                bar.set_postfix(epoch=epoch, loss=f"{point['loss']:.4f}", knn=f"{point['knn_top1']:.2f}")
            progress["epoch"], progress["train_seconds"] = epoch, before + time.perf_counter() - t_train
            if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
                save_checkpoint(config, engine, progress)

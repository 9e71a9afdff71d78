"""One training run of the paper's protocol (its experimental setup), from a :class:`Config` to a run record.

Speed: images live on the device as uint8 and are augmented there (``contrastive.augment``); on CUDA the step runs
under bfloat16 autocast in channels-last layout with a fused SGD, and augmentation + forward + loss is
``torch.compile``d. Nothing inside an epoch waits for the device: the loss is read once per epoch.

Checkpoints (every ``checkpoint_every`` epochs and after the last) hold the model, optimiser, bank,
every RNG state and the curves so far. A checkpoint belongs to one run: it lies at
``<out>/.checkpoints/<protocol>/<dataset>/<record stem>-<hash>/last.pt`` (:func:`checkpoint_path`;
the hash is of the run's whole configuration but its bookkeeping, and of its output folder), it is
written and read only while the run holds its record's lock (:func:`claimed`), and it is removed
once the record is written. A run started again after an interruption resumes after its last
checkpointed epoch (on the CPU bitwise identical to an uninterrupted one) and says so; a run never
resumes from a checkpoint of another configuration or output folder. A configuration whose record
``out`` already holds is not run again (delete the record to run it again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pickle
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from . import atomic, evaluate, losses, memory, models, paths, provenance, results
from .augment import Augment
from .config import BOOKKEEPING, Config, ConfigError
from .data import Dataset, load, normalize
from .protocols import counts, deviations, differences, steps_per_epoch

CURVES = ("epoch", "loss", "knn_top1", "uniformity_test", "tolerance_test", "lr")
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


class Engine:
    """The model, bank, optimiser, augmentation and generator of one run, and its training step."""

    def __init__(self, config: Config, train: Dataset) -> None:
        self.config, self.train = config, train
        self.device = train.images.device
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = (
                True  # fixed shapes: let cuDNN pick its fastest kernels
            )
        torch.manual_seed(config.seed)
        self.model = models.Encoder(config.arch, config.head, config.feature_dim, config.init).to(
            self.device, memory_format=torch.channels_last
        )
        self.bank = memory.MemoryBank(
            len(train),
            config.feature_dim,
            config.bank_momentum,
            self.device,
            torch.Generator().manual_seed(config.seed),
        )
        self.temperature = config.temperature().to(self.device)
        fused = {"fused": True} if self.device.type == "cuda" else {}
        groups = [{"params": list(self.model.parameters())}]
        if learned := list(
            self.temperature.parameters()
        ):  # a learned τ: no weight decay on its logit scale (CLIP)
            groups.append({"params": learned, "weight_decay": 0.0})
        self.optimizer = torch.optim.SGD(
            groups,
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            **fused,
        )
        self.tau_sum = torch.zeros((), device=self.device)
        self.augment = Augment(config.dataset, hflip=config.hflip)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.loss = losses.make(config.loss, config.k)  # built once, called every step by _loss
        # a compile failure is raised, not hidden: the record says the step was compiled
        self.loss_of = (
            torch.compile(self._loss, dynamic=False, mode=config.compile_mode)
            if config.use_compile
            else self._loss
        )

    def _loss(
        self, images: torch.Tensor, u: torch.Tensor, idx: torch.Tensor, vectors: torch.Tensor
    ):
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
        if isinstance(tau, torch.Tensor):  # a τ that moves; a constant one is the config's
            self.tau_sum += tau.detach()
        return loss.detach().clone()  # with CUDA graphs, the next step's replay overwrites ``loss``

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch (:func:`steps_per_epoch`)."""
        return steps_per_epoch(len(self.train), self.config.batch_size, self.config.negatives)

    def batches(self) -> list[torch.Tensor]:
        """This epoch's batches of indices: a random permutation cut into :attr:`steps_per_epoch` pieces."""
        b = self.config.batch_size
        perm = torch.randperm(len(self.train), generator=self.generator, device=self.device)
        return [perm[a * b : (a + 1) * b] for a in range(self.steps_per_epoch)]

    def train_epoch(self, epoch: int, bar=None) -> float:
        """One epoch at ``lr_at(epoch)``; returns the mean loss over its anchors (and sets :attr:`mean_tau`, the
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
        moving = self.config.schedule != "constant"
        self.mean_tau = self.tau_sum.item() / self.steps_per_epoch if moving else self.config.tau
        return total.item() / count

    def state_dict(self) -> dict:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "bank": self.bank.state_dict(),
            "temperature": self.temperature.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": cuda,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.temperature.load_state_dict(state.get("temperature", {}))
        self.optimizer.load_state_dict(state["optimizer"])
        self.bank.load_state_dict(state["bank"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


CHECKPOINTS = ".checkpoints"
"""The folder of checkpoints inside a run's ``out`` (where no ``checkpoint_dir`` is given)."""
MEASURED = tuple(f.name for f in dataclasses.fields(Config) if f.name not in BOOKKEEPING)
"""The fields that decide what a run computes: a checkpoint is this run's only if they are equal."""
SAME_RUN = tuple(name for name in MEASURED if name not in ("data", "device"))
"""The fields a record must share with a run to cover it (not the data file's path, nor device)."""


def say(message: str) -> None:
    """One line on the console (where a run says what it resumes, or why it does not)."""
    print(message, flush=True)


def run_hash(config: Config) -> str:
    """12 hex digits that name one run: its :data:`MEASURED` fields and its output folder
    (resolved)."""
    named = {name: getattr(config, name) for name in MEASURED}
    data = config.data and str(Path(config.data).resolve())
    named |= {"out": str(Path(config.out).resolve()), "data": data}
    return hashlib.sha256(json.dumps(named, sort_keys=True, default=str).encode()).hexdigest()[:12]


def checkpoint_folder(config: Config) -> Path:
    """``<out>/.checkpoints/<protocol>/<dataset>`` (``<checkpoint_dir>/<protocol>/<dataset>`` where
    it is given)."""
    base = Path(config.checkpoint_dir) if config.checkpoint_dir else Path(config.out) / CHECKPOINTS
    return base / config.protocol / config.dataset


def checkpoint_path(config: Config) -> Path:
    """``<checkpoint folder>/<record stem>-<run hash>/last.pt``: this run's checkpoint, and no other
    run's."""
    return checkpoint_folder(config) / f"{config.stem}-{run_hash(config)}" / "last.pt"


def record_path(config: Config) -> Path:
    """``<out>/<protocol>/<dataset>/<record stem>.json``: one folder of records per protocol."""
    return results.record_path(
        Path(config.out) / config.protocol,
        config.dataset,
        config.loss,
        config.tau,
        config.seed,
        config.schedule,
    )


PROGRESS = ("epoch", "curves", "train_seconds", "epoch_seconds")
"""What a checkpoint holds besides the engine's state (:func:`_train` keeps them up to date)."""


def save_checkpoint(config: Config, engine: Engine, progress: dict) -> None:
    """Write the engine's state and ``progress`` atomically (temporary file, then rename)."""
    state = {"config": asdict(config), **{k: progress[k] for k in PROGRESS}, **engine.state_dict()}
    atomic.atomic_write(checkpoint_path(config), lambda f: torch.save(state, f))


def load_checkpoint(config: Config, engine: Engine) -> dict | None:
    """Restore ``engine`` from this run's own checkpoint and return its progress (saying "resuming
    from epoch N"); None, saying why in one line, where there is none it can resume from: ``resume``
    off, none written, or one that cannot be read or does not fit (the run then starts afresh and
    overwrites it)."""
    path = checkpoint_path(config)
    if not path.is_file() and config.resume:
        adopt_legacy(config)
    if not path.is_file():
        if others := _other_checkpoints(config):
            say(f"starting afresh: {others}")
        return None
    if not config.resume:
        say(f"starting afresh (--no-resume): the checkpoint {path} will be overwritten")
        return None
    state, problem = _read_checkpoint(path)
    if state is not None:
        if found := differences(
            _resolved(asdict(config)), _resolved(state["config"]), MEASURED, "checkpoint"
        ):
            problem = f"was made with a different configuration ({', '.join(map(str, found))})"
        elif state["curves"]["epoch"] != [
            e for e in range(1, state["epoch"] + 1) if evaluated(config, e)
        ]:
            problem = (
                f"holds curves that do not match its {state['epoch']} epochs "
                "(made by an older version?)"
            )
    if problem:
        say(f"starting afresh: the checkpoint {path} {problem}; it will be overwritten")
        return None
    engine.load_state_dict(state)
    say(f"resuming from epoch {state['epoch']} ({path})")
    return {k: state[k] for k in PROGRESS}


def _read_checkpoint(path: Path) -> tuple[dict | None, str | None]:
    """The checkpoint at ``path`` (its tensors on the CPU), or None and why it cannot be read."""
    try:
        # the RNG states must stay on the CPU
        return torch.load(path, map_location="cpu", weights_only=True), None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as e:
        return None, f"cannot be read ({str(e).split('. ')[0]})"


def _other_checkpoints(config: Config) -> str | None:
    """What the checkpoint folder holds of this record's other configurations (never resumed, left
    in place)."""
    mine = checkpoint_path(config).parent
    found = checkpoint_folder(config).glob(f"{config.stem}-*/last.pt")
    others = sorted(p for p in found if p.parent != mine)
    if not others:
        return None
    state, problem = _read_checkpoint(others[-1])
    if state is not None:
        differ = differences(asdict(config), state["config"], (*MEASURED, "out"), "checkpoint")
        problem = f"is of another configuration ({', '.join(map(str, differ)) or 'same settings'})"
    more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
    return f"the checkpoint {others[-1]}{more} {problem}; it is set aside, not resumed"


def legacy_path(config: Config) -> Path:
    """Where code before issue 30 kept this record's checkpoint: ``<checkpoint_dir>`` (default: the
    ``checkpoints`` folder beside ``out``) ``/<protocol>/<dataset>/<record stem>/last.pt``."""
    beside = Path(config.out).parent / "checkpoints"
    base = Path(config.checkpoint_dir) if config.checkpoint_dir else beside
    return base / config.protocol / config.dataset / config.stem / "last.pt"


def _resolved(fields: dict) -> dict:
    """``fields`` with ``out`` and ``data`` as resolved paths (how a checkpoint names them)."""
    return fields | {k: fields.get(k) and str(Path(fields[k]).resolve()) for k in ("out", "data")}


def adopt_legacy(config: Config) -> None:
    """Move a checkpoint of the layout before issue 30 to :func:`checkpoint_path`, saying so,
    where it was written by this very run: the same :data:`MEASURED` fields and the same ``out``
    (a run interrupted under the old code resumes under the new one). Any other is left alone."""
    old = legacy_path(config)
    if not old.is_file():
        return
    state, _ = _read_checkpoint(old)
    if state is None or differences(
        _resolved(asdict(config)), _resolved(state["config"]), (*MEASURED, "out"), "checkpoint"
    ):
        return
    new = checkpoint_path(config)
    atomic.in_folder(new.parent, lambda _: os.replace(old, new))
    say(f"moved the checkpoint of epoch {state['epoch']} from the older layout ({old}) to {new}")


def remove_checkpoint(config: Config) -> None:
    """Remove this run's checkpoint folder (its record is written), and the folders above it left
    empty."""
    shutil.rmtree(checkpoint_path(config).parent, ignore_errors=True)
    prune(config)


def prune(config: Config) -> None:
    """Remove the empty folders on the way to this run's checkpoint (made for it, never filled, or
    emptied)."""
    top = Path(config.checkpoint_dir) if config.checkpoint_dir else Path(config.out) / CHECKPOINTS
    folder = checkpoint_path(config).parent
    for parent in (folder, *folder.parents):
        if not parent.is_relative_to(top):
            break
        try:
            parent.rmdir()
        except OSError:  # absent (go on up), or not empty: another run's checkpoints
            if parent.exists():
                break


def _test_split(config: Config, device: torch.device) -> Dataset:
    """The test set, cut to its first ``test_subset`` images (None: all of them)."""
    test = load(config.dataset, "test", config.data, None, device, config.datasets)
    n = config.test_subset or len(test)
    if n > len(test):
        raise ConfigError(
            "test_subset",
            f"must be <= {len(test)}, the size of the {config.dataset} test split, got {n}",
        )
    return dataclasses.replace(test, images=test.images[:n], labels=test.labels[:n])


def check_replaces(config: Config) -> None:
    """Refuse to replace a record made at its protocol with an off-protocol run of the same
    (protocol, dataset, loss, tau): a trial belongs under another ``out``."""
    path = record_path(config)
    if not path.is_file() or not counts(held := results.read_record(path), held.protocol):
        return
    if found := deviations(asdict(config), config.protocol):
        raise ConfigError(
            "out",
            f"{path} holds a record made at the {config.protocol} protocol, and this run is off it "
            f"({', '.join(map(str, found))}); write the trial elsewhere (another --out)",
        )


def check_not_recorded(config: Config) -> None:
    """``ConfigError`` (``out``) where ``out`` already holds this configuration's record (same
    :data:`SAME_RUN` fields): a second run of it into the same folder is refused, not trained again
    over it."""
    path = record_path(config)
    if not path.is_file():
        return
    held = results.read_record(path)
    if not differences(asdict(config), held.config, SAME_RUN, reference="record"):
        raise ConfigError(
            "out",
            f"{path} already holds the record of this configuration; "
            "delete it to run it again, or write this run elsewhere "
            "(another --out)",
        )


def check_folders(config: Config) -> None:
    """``ConfigError`` (``out`` or ``checkpoint_dir``) unless the record's and the checkpoint's folders
    can be made and written: checked before any work, not after hours of training."""
    folders = (("out", record_path(config).parent), ("checkpoint_dir", checkpoint_folder(config)))
    for name, folder in folders:
        try:
            atomic.in_folder(folder, lambda d: tempfile.TemporaryFile(dir=d).close())
        except OSError as e:
            raise ConfigError(
                name, f"{folder} is not a folder this run can write to ({e.strerror or e})"
            ) from None


@contextmanager
def claimed(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.<record stem>.lock`` beside the record ``path`` while a run
    makes it, so that two processes (shards of a sweep on machines sharing the records folder, say)
    never make one record (nor touch its checkpoint) at once: ``ConfigError`` (``out``) if another
    process holds it. The lock file is removed when the run ends (one left by a killed run is
    removed by the next, :func:`contrastive.atomic.clean_locks`)."""
    lock = path.with_name(f".{path.stem}.lock")
    f = atomic.lock(lock)
    if f is None:
        raise ConfigError(
            "out",
            f"{path} is being made by another run right now (it holds "
            f"{lock.name}); wait for it, or give this run another seed or "
            "--out",
        )
    try:
        yield
    finally:
        atomic.unlock(lock, f)


def run(config: Config) -> Path:
    """Train, evaluate and write the run record of ``config`` (while :func:`claimed`), then remove
    its checkpoint; returns the record's path."""
    path = record_path(config)
    check_replaces(config)
    check_folders(config)
    atomic.clean_locks(path.parent)
    atomic.clean_temps(checkpoint_folder(config))
    try:
        with claimed(path):
            check_not_recorded(config)
            written = _run(config, path)
            remove_checkpoint(config)
            return written
    finally:
        prune(config)


def _run(config: Config, path: Path) -> Path:
    t0, started = time.perf_counter(), provenance.now()
    device = torch.device(config.device)
    environment = provenance.environment(device)  # the commit that trains, read before training
    train = load(config.dataset, "train", config.data, config.subset, device, config.datasets)
    test = _test_split(config, device)
    config.check_size(len(train), int(train.labels.bincount().max()))
    engine = Engine(config, train)
    progress = load_checkpoint(config, engine) or {
        "epoch": 0,
        "curves": {k: [] for k in curve_keys(config)},
        "train_seconds": 0.0,
        "epoch_seconds": [],
    }
    resumed_from, earlier_seconds = progress["epoch"], progress["train_seconds"]
    _train(config, engine, test, progress)

    t_eval = time.perf_counter()
    final, arrays = evaluate.evaluate(
        engine.model,
        engine.bank,
        train,
        test,
        config.dataset,
        engine.augment,
        config.knn_k,
        config.knn_sigma,
        config.probe_epochs,
        config.seed,
    )
    eval_seconds = time.perf_counter() - t_eval
    prov = {
        **environment,
        "bf16": config.use_bf16,
        "compiled": config.compile_mode if config.use_compile else None,
        "concurrent_runs": int(os.environ.get(CONCURRENT_ENV, "1")),
        "data": {**train.source, "path": paths.portable(train.source.get("path") or None, True)},
        "train_images": len(train),
        "test_images": len(test),
        "resumed_from_epoch": resumed_from,
        "wall_seconds": {
            "train": progress["train_seconds"],
            "evaluate": eval_seconds,
            "total": earlier_seconds + time.perf_counter() - t0,
        },
        "started": started,
        "finished": provenance.now(),
        "seconds_per_epoch": statistics.median(progress["epoch_seconds"]),
    }
    record = {
        "config": recorded_config(config),
        "results": final,
        "curves": progress["curves"],
        "provenance": prov,
    }
    return results.write_record(path, record, arrays)


PATH_FIELDS = {"data": True, "datasets": False, "out": False, "checkpoint_dir": False}
"""The Config fields that name a path, and whether it is a file: a record names them by
``paths.portable``."""


def recorded_config(config: Config) -> dict:
    """``config`` as its record holds it: every path relative to the checkout, a data file by its
    name (its sha256 is in the provenance), never a machine's absolute path."""
    portable = {
        name: paths.portable(getattr(config, name), file) for name, file in PATH_FIELDS.items()
    }
    return asdict(config) | portable


def _train(config: Config, engine: Engine, test: Dataset, progress: dict) -> None:
    """Train from epoch ``progress["epoch"] + 1`` to the last, updating ``progress`` and checkpointing
    every ``checkpoint_every`` epochs and after the last; each :func:`evaluated` epoch adds a curve point."""
    first, t_train, before = progress["epoch"] + 1, time.perf_counter(), progress["train_seconds"]
    saved = progress["epoch"] or None  # the epoch of the checkpoint on disk, if any
    total = (config.epochs - first + 1) * engine.steps_per_epoch
    with tqdm(total=total, desc=f"{config.dataset} {config.stem}", disable=None) as bar:
        for epoch in range(first, config.epochs + 1):
            t = time.perf_counter()
            point = {
                "epoch": epoch,
                "loss": engine.train_epoch(epoch, bar),
                "lr": lr_at(config, epoch),
                "tau": engine.mean_tau,
            }
            if not math.isfinite(
                point["loss"]
            ):  # before any checkpoint of it: the last good one stays
                raise Diverged(
                    f"epoch {epoch}: the mean training loss is {point['loss']}; the run diverged "
                    f"(lr {point['lr']:g}, tau {config.tau:g}): lower lr or raise tau. "
                    + kept(config, saved)
                )
            progress["epoch_seconds"].append(time.perf_counter() - t)
            if evaluated(
                config, epoch
            ):  # a curve point: kNN, uniformity, tolerance of the un-augmented test images
                z = models.encode(
                    engine.model, test.images, lambda x: normalize(x, config.dataset)
                )[1]
                point |= evaluate.monitor(
                    z,
                    test.labels,
                    engine.bank,
                    engine.train.labels,
                    config.knn_k,
                    config.knn_sigma,
                    len(engine.train.classes),
                )
                for key in curve_keys(config):
                    progress["curves"][key].append(point[key])
                bar.set_postfix(
                    epoch=epoch, loss=f"{point['loss']:.4f}", knn=f"{point['knn_top1']:.2f}"
                )
            progress["epoch"], progress["train_seconds"] = (
                epoch,
                before + time.perf_counter() - t_train,
            )
            if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
                save_checkpoint(config, engine, progress)
                saved = epoch


def kept(config: Config, saved: int | None) -> str:
    """What a run that stopped keeps: its last checkpoint (where ``saved``, its epoch, is not None)
    or nothing."""
    if saved is None:
        return "Nothing of it was checkpointed."
    return f"Its last good checkpoint (epoch {saved}) is kept at {checkpoint_path(config)}."

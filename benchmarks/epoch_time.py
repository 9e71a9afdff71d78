"""Time per training epoch of a protocol: our engine vs a conventional pipeline, and vs the bare model.

Both pipelines train the protocol's model (``--protocol paper``: ResNet-18 on all 50,000 CIFAR-10
training images; ``--protocol cpu``: the width-16 ResNet-18 on 5,000 class-balanced images; see
``contrastive.config``) with the same loss, memory bank, batch size and SGD, in the same process,
on the same device:

- engine: ``contrastive.train.Engine`` (uint8 images on the device, batched augmentation there,
  channels-last, bfloat16 autocast where ``Config.use_bf16`` says so: on CUDA and on a CPU with
  bfloat16 instructions; fused SGD + torch.compile on CUDA; no host syncs in the step);
- baseline: torchvision transforms on PIL images in a DataLoader with ``--workers`` worker
  processes, float32, eager model, the default SGD (what a straightforward PyTorch implementation
  of the paper does);
- bare model: the same network at the same batch size, channels-last, at the engine's precision
  (and also in float32 where the engine uses bfloat16), timed on one fixed random batch: forward,
  backward and SGD step only (no data, no augmentation, no bank): the most the engine could reach.

Each runs ``--warmup`` untimed steps (the engine also its epoch's last, smaller batch, so that no
compilation is timed), then ``--epochs`` whole timed epochs, or with ``--steps`` that many timed
steps scaled to an epoch (ceil(N / batch) steps). The bare model runs ``--model-steps`` timed steps.
Reported: images per second and seconds per epoch of each pipeline, their ratio (``speedup``), the
forward FLOPs per image (``torch.utils.flop_counter.FlopCounterMode``, one batch; forward+backward
taken as 3x forward) and from them the GFLOP/s the engine achieves, and the engine's fraction of
the bare model's images per second (``engine_fraction_of_model``).

Writes ``data/benchmarks/<device-slug>.json`` at the paper protocol (e.g. ``nvidia-h100-80gb-hbm3.json``)
and ``data/benchmarks/<protocol>-<device-slug>.json`` at another (e.g. ``cpu-intel-xeon-processor.json``;
on the CPU the slug is its model name). The paper protocol on a GPU (``benchmarks/gpu_session.sh``)::

    python benchmarks/epoch_time.py --data /work/shared/data/cifar10-jpeg.npz

The CPU protocol on the CPU, a real measurement (whole epochs; the machine otherwise idle)::

    python benchmarks/epoch_time.py --protocol cpu --device cpu --data /work/shared/data/cifar10-jpeg.npz

A smoke check (a few steps; ``--out`` elsewhere, so that no measurement is replaced)::

    python benchmarks/epoch_time.py --protocol cpu --device cpu --data /work/shared/data/cifar10-jpeg.npz \\
        --steps 2 --warmup 1 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from contrastive import atomic, data, losses, memory, models, provenance, train
from contrastive.config import COMPILE_MODES, PROTOCOLS, Config, Deviation, describe, deviations

ROOT = Path(__file__).resolve().parents[1]
FWD_BWD_FACTOR = 3
"""Forward + backward FLOPs taken as this multiple of the forward FLOPs (backward ~ 2x forward)."""
FLOP_NOTE = ("forward FLOPs counted with torch.utils.flop_counter.FlopCounterMode on one batch (a multiply-add "
             f"is 2 FLOPs; convolutions and matmuls only); forward+backward taken as {FWD_BWD_FACTOR}x forward")
ENGINE = "contrastive.train.Engine: uint8 images on the device, batched augmentation there, channels-last"
BASELINE = "torchvision PIL transforms in a DataLoader with worker processes, float32, eager model, default SGD"
MODEL = "bare model: forward+backward+SGD on one fixed random batch, channels-last, no augmentation, no bank"


@dataclass(frozen=True)
class Timing:
    """``steps`` timed steps over ``images`` images in ``seconds``, of a pipeline whose epoch has ``steps_per_epoch`` steps."""

    seconds: float
    steps: int
    images: int
    steps_per_epoch: int

    @property
    def img_s(self) -> float:
        return self.images / self.seconds

    @property
    def s_per_epoch(self) -> float:
        return self.seconds / self.steps * self.steps_per_epoch


class PILImages(torch.utils.data.Dataset):
    """The training images as PIL images through torchvision transforms, with their indices."""

    def __init__(self, images: np.ndarray, transform: Callable) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        return i, self.transform(Image.fromarray(self.images[i].transpose(1, 2, 0)))


def conventional_transform(dataset: str) -> T.Compose:
    """The paper's augmentation as torchvision PIL transforms (the authors' code style)."""
    return T.Compose([
        T.RandomResizedCrop(32, scale=(0.2, 1.0)), T.ColorJitter(0.4, 0.4, 0.4, 0.4), T.RandomGrayscale(p=0.2),
        T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(data.MEAN[dataset], data.STD[dataset]),
    ])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_engine(config: Config, train_set: data.Dataset, steps: int | None, warmup: int, epochs: int = 1) -> Timing:
    """Our engine: ``steps`` timed steps, or (None) ``epochs`` whole timed epochs, after ``warmup``
    steps and the epoch's last, smaller batch (so that no compilation is timed)."""
    engine = train.Engine(config, train_set)
    batches = engine.batches()
    extra = [batches[-1]] if batches[-1].shape[0] != config.batch_size else []
    for idx in batches[:warmup] + extra:
        engine.step(idx)
    sync(engine.device)
    if steps is None:
        t = time.perf_counter()
        for epoch in range(1, epochs + 1):
            engine.train_epoch(epoch)  # reads the epoch's loss: one sync per epoch
        seconds = time.perf_counter() - t
        return Timing(seconds, epochs * engine.steps_per_epoch, epochs * len(train_set), engine.steps_per_epoch)
    timed = engine.batches()[:steps]
    t = time.perf_counter()
    for idx in timed:
        engine.step(idx)
    sync(engine.device)
    return Timing(time.perf_counter() - t, len(timed), sum(i.shape[0] for i in timed), engine.steps_per_epoch)


def time_baseline(config: Config, images: np.ndarray, steps: int | None, warmup: int, workers: int,
                  epochs: int = 1) -> Timing:
    """The conventional pipeline, timed as :func:`time_engine` (after ``warmup`` steps)."""
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    model = models.Encoder(config.arch, config.head, config.feature_dim).to(device)
    bank = memory.MemoryBank(len(images), config.feature_dim, config.bank_momentum, device)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    loss_fn = losses.make(config.loss, config.k)
    loader = torch.utils.data.DataLoader(PILImages(images, conventional_transform(config.dataset)),
                                         batch_size=config.batch_size, shuffle=True, num_workers=workers,
                                         pin_memory=device.type == "cuda", persistent_workers=workers > 0)

    def step(idx: torch.Tensor, x: torch.Tensor) -> None:
        idx, x = idx.to(device, non_blocking=True), x.to(device, non_blocking=True)
        z = model(x)[1]
        loss = loss_fn(*memory.bank_similarities(z, idx, bank.vectors), config.tau).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        bank.update(z, idx)

    for _, (idx, x) in zip(range(warmup), loader):
        step(idx, x)
    sync(device)
    timed, count = 0, 0
    t = time.perf_counter()
    for _ in range(1 if steps else epochs):
        for idx, x in loader:  # each epoch starts a fresh pass (the workers persist), as in training
            step(idx, x)
            timed, count = timed + 1, count + idx.shape[0]
            if timed == steps:
                break
    sync(device)
    seconds, per_epoch = time.perf_counter() - t, len(loader)  # the loader keeps the last, smaller batch
    del loader  # shut its workers down before anything else is timed
    return Timing(seconds, timed, count, per_epoch)


def _bare_model(config: Config, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(config.seed)
    return models.Encoder(config.arch, config.head, config.feature_dim).to(device, memory_format=torch.channels_last)


def _random_batch(config: Config, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(config.seed)
    x = torch.randn(config.batch_size, 3, 32, 32, generator=g)
    return x.to(device).contiguous(memory_format=torch.channels_last)


def time_model(config: Config, bf16: bool, steps: int, warmup: int, steps_per_epoch: int) -> Timing:
    """The bare model's forward + backward + SGD step on one fixed random batch (channels-last, under
    bfloat16 autocast if ``bf16``, compiled where the engine compiles): ``steps`` timed after ``warmup``."""
    device = torch.device(config.device)
    model = _bare_model(config, device)
    fused = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay, **fused)
    forward = torch.compile(model, dynamic=False, mode=config.compile_mode) if config.use_compile else model
    x = _random_batch(config, device)

    def step() -> None:
        with models.autocast(device, bf16):
            z = forward(x)[1]
        opt.zero_grad(set_to_none=True)
        z.sum().backward()
        opt.step()

    for _ in range(max(warmup, 1 if config.use_compile else 0)):
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return Timing(time.perf_counter() - t, steps, steps * config.batch_size, steps_per_epoch)


def forward_flops_per_image(config: Config) -> float:
    """The model's forward FLOPs per image, counted by ``FlopCounterMode`` on one batch (float32)."""
    device = torch.device(config.device)
    model, x = _bare_model(config, device), _random_batch(config, device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / x.shape[0]


def device_slug(device: torch.device) -> str:
    """The GPU's or CPU's name in lower case, ``(R)``/``(TM)`` dropped, runs of other characters as ``-``."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else provenance.cpu_model()
    name = re.sub(r"\((r|tm)\)", " ", name.lower())
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "cpu"


def output_path(out: str | os.PathLike, protocol_name: str, device: torch.device) -> Path:
    """``<out>/<device-slug>.json`` at the paper protocol, ``<out>/<protocol>-<device-slug>.json`` at another."""
    stem = device_slug(device) if protocol_name == "paper" else f"{protocol_name}-{device_slug(device)}"
    return Path(out) / f"{stem}.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--protocol", default="paper", choices=tuple(PROTOCOLS),
                   help="the model, training subset and batch size (default: paper)")
    p.add_argument("--dataset", default="cifar10", choices=data.DATASETS)
    p.add_argument("--data", default=None, help="the offline CIFAR-10 npz (default: torchvision download)")
    p.add_argument("--datasets", default=str(data.DEFAULT_ROOT), help="where downloads and decoded caches go")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--loss", default="contrastive")
    p.add_argument("--batch-size", type=int, default=None, help="default: the protocol's (off protocol otherwise)")
    p.add_argument("--subset", type=int, default=None,
                   help="train on N class-balanced images instead of the protocol's (a smoke check, off protocol)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per pipeline (default: whole epochs)")
    p.add_argument("--epochs", type=int, default=1, help="timed whole epochs per pipeline (without --steps)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 20 on CUDA, 5 on the CPU)")
    p.add_argument("--model-steps", type=int, default=None, help="timed steps of the bare model (default: --steps, or 20)")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="the baseline's DataLoader workers")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--compile-mode", default="default", choices=COMPILE_MODES)
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="the engine's bfloat16 autocast (default: Config.use_bf16)")
    p.add_argument("--out", default=str(ROOT / "data" / "benchmarks"))
    args = p.parse_args(argv)
    for name in ("steps", "epochs", "model_steps", "subset", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.warmup is not None and args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    return args


def make_config(args: argparse.Namespace) -> Config:
    """The protocol's Config with the benchmark's device, loss, data and execution settings."""
    overrides = {"dataset": args.dataset, "data": args.data, "datasets": args.datasets, "loss": args.loss,
                 "device": args.device, "compile": args.compile, "compile_mode": args.compile_mode, "bf16": args.bf16}
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    return Config.at(args.protocol, **overrides)


def off_protocol(config: Config, subset: int | None) -> str | None:
    """Why this benchmark is not at its protocol (a batch size, or a ``--subset``, of its own), or None."""
    found = [str(d) for d in deviations(dataclasses.asdict(config), config.protocol)]
    if subset is not None and subset != config.subset:
        found.append(str(Deviation("subset", subset, config.subset, config.protocol)))
    return ", ".join(found) or None


def precision(bf16: bool) -> str:
    return "bfloat16" if bf16 else "float32"


def measure(config: Config, train_set: data.Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """Time the engine, the bare model and the baseline; their numbers as the record's fields."""
    device = torch.device(config.device)
    warmup = args.warmup if args.warmup is not None else (20 if device.type == "cuda" else 5)
    engine = time_engine(config, train_set, args.steps, warmup, args.epochs)
    print(f"engine:     {engine.s_per_epoch:8.3f} s/epoch  {engine.img_s:9.1f} img/s  (bf16 {config.use_bf16})")
    model_steps = args.model_steps or args.steps or 20
    models_img_s = {precision(bf16): time_model(config, bf16, model_steps, warmup, engine.steps_per_epoch).img_s
                    for bf16 in dict.fromkeys((config.use_bf16, False))}  # the engine's precision, and float32
    model_img_s = models_img_s[precision(config.use_bf16)]
    print(f"bare model: {model_img_s:30.1f} img/s  (" + ", ".join(f"{k} {v:.1f}" for k, v in models_img_s.items()) + ")")
    baseline = time_baseline(config, train_set.images.cpu().numpy(), args.steps, warmup, args.workers, args.epochs)
    print(f"baseline:   {baseline.s_per_epoch:8.3f} s/epoch  {baseline.img_s:9.1f} img/s  ({args.workers} workers, float32)")
    gflop = FWD_BWD_FACTOR * forward_flops_per_image(config) / 1e9
    return {
        "engine_s_per_epoch": engine.s_per_epoch,
        "baseline_s_per_epoch": baseline.s_per_epoch,
        "speedup": baseline.s_per_epoch / engine.s_per_epoch,
        "engine_img_s": engine.img_s,
        "baseline_img_s": baseline.img_s,
        "model_img_s": model_img_s,
        "model_img_s_by_precision": models_img_s,
        "engine_fraction_of_model": engine.img_s / model_img_s,
        "gflop_per_image_fwd_bwd": gflop,
        "engine_gflop_s": engine.img_s * gflop,
        "model_gflop_s": model_img_s * gflop,
        "baseline_gflop_s": baseline.img_s * gflop,
        "flops_note": FLOP_NOTE,
        "steps_per_epoch": engine.steps_per_epoch,
        "epochs_timed": None if args.steps else args.epochs,
        "steps_timed": engine.steps,
        "baseline_steps_timed": baseline.steps,
        "model_steps_timed": model_steps,
        "warmup_steps": warmup,
    }


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    config = make_config(args)
    device = torch.device(config.device)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    train_set = data.load(config.dataset, "train", config.data, args.subset or config.subset, device, config.datasets)
    numbers = measure(config, train_set, args)
    print(f"speed-up:   {numbers['speedup']:.2f}x; engine at {numbers['engine_fraction_of_model']:.0%} of the bare "
          f"model, {numbers['engine_gflop_s']:.1f} GFLOP/s ({numbers['gflop_per_image_fwd_bwd']:.3f} GFLOP/image fwd+bwd)")
    env = provenance.environment(device)
    record = {
        "device": provenance.device_name(device),
        **numbers,
        "batch_size": config.batch_size,
        "protocol": config.protocol,
        "protocol_description": describe(config.protocol),
        "off_protocol": off_protocol(config, args.subset),
        "dataset": config.dataset,
        "arch": config.arch,
        "train_images": len(train_set),
        "loss": config.loss,
        "bf16": config.use_bf16,
        "baseline_precision": "float32",
        "compile": config.use_compile,
        "compile_mode": config.compile_mode,
        "threads": torch.get_num_threads(),
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "niceness": os.nice(0) if hasattr(os, "nice") else None,
        "load_average_before": load_before,
        "pipelines": {"engine": ENGINE, "baseline": BASELINE, "model": MODEL},
        "provenance": {**env, "cpu": provenance.cpu_model(), "data": train_set.source},
        "measured": provenance.now(),
    }
    path = output_path(args.out, config.protocol, device)
    atomic.atomic_write(path, lambda f: f.write((json.dumps(record, indent=1) + "\n").encode()))
    print(f"written to {path}")
    return path


if __name__ == "__main__":
    main()

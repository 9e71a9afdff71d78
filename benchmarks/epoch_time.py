"""Seconds per training epoch of the paper's protocol: our engine vs a conventional pipeline.

Both train the same model (ResNet-18, CIFAR stem, 512 -> 128 head) with the same loss, memory bank
and SGD, in the same process, on the same device:

- engine: ``contrastive.train.Engine`` (uint8 images on the device, batched augmentation there,
  bfloat16 autocast + channels-last + fused SGD + torch.compile on CUDA, no host syncs in the step);
- baseline: torchvision transforms on PIL images in a DataLoader with worker processes, float32,
  eager model, the default SGD (what a straightforward PyTorch implementation of the paper does).

Each pipeline runs ``--warmup`` untimed steps (our engine also its epoch's last, smaller batch, so
that no compilation is timed), then one whole timed epoch, or with ``--steps`` that many timed
steps scaled to the steps of an epoch (ceil(N / batch)). Writes
``data/benchmarks/<device-slug>.json``. A CPU run (small ``--steps``) is only a smoke check:

    python benchmarks/epoch_time.py --data /work/shared/data/cifar10-jpeg.npz --device cpu --steps 2 --warmup 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

from contrastive import data, memory, models, results, train

ROOT = Path(__file__).resolve().parents[1]


class PILImages(torch.utils.data.Dataset):
    """The training images as PIL images through torchvision transforms, with their indices."""

    def __init__(self, images: np.ndarray, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
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


def time_engine(config: train.Config, train_set: data.Dataset, steps: int | None, warmup: int) -> float:
    """Seconds per epoch of our engine: ``steps`` timed steps scaled to an epoch, or (None) one whole
    timed epoch. The warm-up also runs the epoch's last, smaller batch, so no compilation is timed."""
    engine = train.Engine(config, train_set)
    batches = engine.batches()
    extra = [batches[-1]] if batches[-1].shape[0] != config.batch_size else []
    for idx in batches[:warmup] + extra:
        engine.step(idx)
    sync(engine.device)
    t = time.perf_counter()
    if steps is None:
        engine.train_epoch(1)
        return time.perf_counter() - t
    for idx in engine.batches()[:steps]:
        engine.step(idx)
    sync(engine.device)
    return (time.perf_counter() - t) / steps * engine.steps_per_epoch


def time_baseline(config: train.Config, images: np.ndarray, steps: int | None, warmup: int, workers: int) -> float:
    """Seconds per epoch of the conventional pipeline, timed as :func:`time_engine` (after ``warmup`` steps)."""
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    model = models.build(config.arch, config.head, config.feature_dim).to(device)
    bank = memory.MemoryBank(len(images), config.feature_dim, config.bank_momentum, device)
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    loader = torch.utils.data.DataLoader(PILImages(images, conventional_transform(config.dataset)),
                                         batch_size=config.batch_size, shuffle=True, num_workers=workers,
                                         pin_memory=device.type == "cuda", persistent_workers=workers > 0)

    def step(idx: torch.Tensor, x: torch.Tensor) -> None:
        idx, x = idx.to(device, non_blocking=True), x.to(device, non_blocking=True)
        z = model(x)[1]
        loss = memory.objective(config.loss, *bank.similarities(z, idx), config.tau, config.k)
        opt.zero_grad()
        loss.backward()
        opt.step()
        bank.update(z, idx)

    for _, (idx, x) in zip(range(warmup), loader):
        step(idx, x)
    sync(device)
    t = time.perf_counter()
    timed = 0
    for idx, x in loader:
        step(idx, x)
        timed += 1
        if timed == steps:
            break
    sync(device)
    return (time.perf_counter() - t) / timed * len(loader)


def device_slug(device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="cifar10", choices=data.DATASETS)
    p.add_argument("--data", default=None, help="the offline CIFAR-10 npz (default: torchvision download)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--loss", default="contrastive")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=None, help="timed steps per pipeline (default: one epoch)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--compile-mode", default="default", choices=train.COMPILE_MODES)
    p.add_argument("--out", default=str(ROOT / "data" / "benchmarks"))
    args = p.parse_args(argv)

    config = train.Config(dataset=args.dataset, data=args.data, loss=args.loss, batch_size=args.batch_size,
                          device=args.device, compile=args.compile, compile_mode=args.compile_mode, tau=0.07)
    device = torch.device(config.device)
    train_set = data.load(config.dataset, "train", config.data, None, device)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    engine_s = time_engine(config, train_set, args.steps, args.warmup)
    print(f"engine:   {engine_s:.3f} s/epoch")
    baseline_s = time_baseline(config, train_set.images.cpu().numpy(), args.steps, args.warmup, args.workers)
    print(f"baseline: {baseline_s:.3f} s/epoch")
    print(f"speed-up: {baseline_s / engine_s:.2f}x")
    env = results.environment(device)
    record = {
        "device": env["device"],
        "engine_s_per_epoch": engine_s,
        "baseline_s_per_epoch": baseline_s,
        "speedup": baseline_s / engine_s,
        "batch_size": config.batch_size,
        "steps_timed": args.steps or steps_per_epoch,
        "warmup_steps": args.warmup,
        "steps_per_epoch": steps_per_epoch,
        "loss": config.loss,
        "compile": config.use_compile,
        "compile_mode": config.compile_mode,
        "workers": args.workers,
        "versions": {k: v for k, v in env.items() if k in ("python", "torch", "torchvision", "numpy", "commit", "dirty")},
        "measured": results.now(),
    }
    path = Path(args.out) / f"{device_slug(device)}.json"
    results.atomic_write(path, lambda f: f.write((json.dumps(record, indent=1) + "\n").encode()))
    print(f"written to {path}")
    return path


if __name__ == "__main__":
    main()

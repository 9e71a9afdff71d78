"""Time per training epoch of a protocol: our engine vs a conventional pipeline, and vs the bare model.

Every pipeline trains the protocol's model (``--protocol paper``: ResNet-18 on all 50,000 CIFAR-10
training images; ``--protocol cpu``: the width-16 ResNet-18 on 5,000 class-balanced images; see
``contrastive.config``) with the same loss, memory bank and batch size, in the same process, on the
same device; each difference between two of them is its own column:

- engine: ``contrastive.train.Engine`` (uint8 images on the device, batched augmentation there,
  channels-last, bfloat16 autocast where ``Config.use_bf16`` says so: on CUDA and on a CPU with
  bfloat16 instructions; fused SGD and the compiled step in CUDA graphs on CUDA);
- conventional_matched: torchvision transforms on PIL images in a DataLoader with ``--workers``
  worker processes, the model, loss and SGD run exactly as the engine runs them: the data path is
  the only difference (``speedup_same_precision``);
- baseline: the same data path with a float32, eager model and the default SGD (what a
  straightforward PyTorch implementation of the paper does; ``speedup``);
- bare model: the same network at the same batch size, channels-last, compiled as the engine, at
  the engine's precision (and also in float32 where the engine uses bfloat16), on one fixed random
  batch: forward, backward and SGD step only, the most the engine could reach.

Each runs ``--warmup`` untimed steps (the engine also its epoch's last, smaller batch, so that no
compilation is timed); then the pipelines take turns, ``--blocks`` blocks of ``--block-steps``
steps each, the order reversed every other round, so that a drift of the machine falls on all
alike (a DataLoader's block starts with untimed steps that use up what its workers prefetched
meanwhile). Reported: the median, least and most images per second of each pipeline over its
blocks and its seconds per epoch from the median, the ratios above, the forward FLOPs per image
(``torch.utils.flop_counter.FlopCounterMode``, one batch; forward+backward taken as 3x forward)
and the GFLOP/s, and the engine's fraction of the bare model's images per second, block by block
(``engine_fraction_of_model``, the median, and its range). ``--note`` records the conditions.

Writes ``data/benchmarks/<device-slug>.json`` at the paper protocol (``nvidia-h200.json``, say)
and ``data/benchmarks/<protocol>-<device-slug>.json`` at another (``cpu-amd-epyc.json``; on the
CPU the slug is its model name). The paper protocol on a GPU (``benchmarks/gpu_session.sh``)::

    python benchmarks/epoch_time.py --data /work/shared/data/cifar10-jpeg.npz

The CPU protocol on the CPU, one thread, the machine otherwise idle::

    OMP_NUM_THREADS=1 python benchmarks/epoch_time.py --protocol cpu --device cpu \
        --data /work/shared/data/cifar10-jpeg.npz --workers 1

A smoke check (a few steps; ``--out`` elsewhere, so that no measurement is replaced)::

    python benchmarks/epoch_time.py --protocol cpu --device cpu \
        --data /work/shared/data/cifar10-jpeg.npz --blocks 2 --block-steps 1 --warmup 1 --out /tmp/b
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from contrastive import atomic, data, losses, memory, models, protocols, provenance, train
from contrastive.config import COMPILE_MODES, Config
from contrastive.protocols import PROTOCOLS, Deviation, describe, deviations

ROOT = Path(__file__).resolve().parents[1]
FWD_BWD_FACTOR = 3
"""Forward + backward FLOPs taken as this multiple of the forward FLOPs (backward ~ 2x forward)."""
FLOP_NOTE = (
    "forward FLOPs counted with torch.utils.flop_counter.FlopCounterMode on one batch (a multiply-add "
    f"is 2 FLOPs; convolutions and matmuls only); forward+backward taken as {FWD_BWD_FACTOR}x forward"
)
ENGINE = "contrastive.train.Engine: uint8 images on the device, batched augmentation there, channels-last"
BASELINE = "torchvision PIL transforms in a DataLoader with worker processes, float32, eager model, default SGD"
MODEL = "bare model: forward+backward+SGD on one fixed random batch, channels-last, no augmentation, no bank"
PREFETCH = 2
"""The DataLoader's ``prefetch_factor``: batches each worker has ready ahead."""
MATCHED = (
    "torchvision PIL transforms in a DataLoader with worker processes; the model, loss "
    "and SGD as the engine runs them (its precision, channels-last, compile mode, "
    "fused SGD on CUDA)"
)


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
    return T.Compose(
        [
            T.RandomResizedCrop(32, scale=(0.2, 1.0)),
            T.ColorJitter(0.4, 0.4, 0.4, 0.4),
            T.RandomGrayscale(p=0.2),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(data.MEAN[dataset], data.STD[dataset]),
        ]
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass
class Pipeline:
    """One pipeline to time: ``step()`` makes one training step and returns its images; its
    ``precision`` and ``compiled`` mode (None: eager) name what it differs in."""

    name: str
    step: Callable[[], int]
    precision: str
    compiled: str | None
    description: str
    lead_in: int = 0
    """Untimed steps at the start of each block: a DataLoader's batches prefetched while the other
    pipelines ran would otherwise come for free."""


def cycle(make: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """The items of ``make()`` (an epoch's batches) again and again: the next epoch after one."""
    while True:
        yield from make()


def engine_pipeline(config: Config, train_set: data.Dataset, warmup: int) -> Pipeline:
    """Our engine, after ``warmup`` steps and the epoch's last, smaller batch (so that no
    compilation is timed); its steps walk through epochs of batches (the partial one included) at
    a fixed lr."""
    engine = train.Engine(config, train_set)
    batches = engine.batches()
    extra = [batches[-1]] if batches[-1].shape[0] != config.batch_size else []
    for idx in batches[:warmup] + extra:
        engine.step(idx)
    sync(engine.device)
    order = cycle(engine.batches)

    def step() -> int:
        idx = next(order)
        engine.step(idx)
        return idx.shape[0]

    return Pipeline("engine", step, precision(config.use_bf16), compiled(config), ENGINE)


def conventional_pipeline(
    config: Config, images: np.ndarray, warmup: int, workers: int, matched: bool
) -> Pipeline:
    """The conventional data path (PIL transforms in a DataLoader, copied to the device). Plain
    (``matched`` False): float32, eager model, the default SGD, as a straightforward implementation
    of the paper. ``matched``: the model, loss and SGD exactly as the engine runs them (its
    precision, channels-last, its compile mode, fused SGD on CUDA), so only the data path differs.
    Full batches only (no recompilation for a smaller last one)."""
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    model = models.Encoder(config.arch, config.head, config.feature_dim).to(device)
    bank = memory.MemoryBank(len(images), config.feature_dim, config.bank_momentum, device)
    fused = {"fused": True} if matched and device.type == "cuda" else {}
    opt = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        **fused,
    )
    loader = torch.utils.data.DataLoader(
        PILImages(images, conventional_transform(config.dataset)),
        batch_size=config.batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        drop_last=True,
        **({"prefetch_factor": PREFETCH} if workers > 0 else {}),
    )
    bf16 = matched and config.use_bf16
    if matched:
        model = model.to(memory_format=torch.channels_last)

    def loss_of(x: torch.Tensor, idx: torch.Tensor, vectors: torch.Tensor):
        with models.autocast(device, bf16):
            z = model(x)[1]
        s_pos, s_neg = memory.bank_similarities(z, idx, vectors)
        return objective(s_pos, s_neg, config.tau).mean(), z

    objective = losses.make(config.loss, config.k)
    graphs = matched and config.use_compile
    loss_fn = torch.compile(loss_of, dynamic=False, mode=config.compile_mode) if graphs else loss_of
    batches = cycle(lambda: loader)

    def step() -> int:
        idx, x = next(batches)
        idx, x = idx.to(device, non_blocking=True), x.to(device, non_blocking=True)
        if matched:
            x = x.contiguous(memory_format=torch.channels_last)
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        loss, z = loss_fn(x, idx, bank.vectors)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bank.update(z, idx)
        return idx.shape[0]

    for _ in range(max(warmup, 1 if graphs else 0)):
        step()
    sync(device)
    name = "conventional_matched" if matched else "baseline"
    return Pipeline(
        name,
        step,
        precision(bf16),
        compiled(config) if matched else None,
        MATCHED if matched else BASELINE,
        lead_in=PREFETCH * max(workers, 1) + 1,
    )


def _bare_model(config: Config, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(config.seed)
    return models.Encoder(config.arch, config.head, config.feature_dim).to(
        device, memory_format=torch.channels_last
    )


def _random_batch(config: Config, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(config.seed)
    x = torch.randn(config.batch_size, 3, 32, 32, generator=g)
    return x.to(device).contiguous(memory_format=torch.channels_last)


def model_pipeline(config: Config, bf16: bool, warmup: int) -> Pipeline:
    """The bare model's forward + backward + SGD step on one fixed random batch (channels-last,
    under bfloat16 autocast if ``bf16``, compiled as the engine compiles), after ``warmup``
    steps."""
    device = torch.device(config.device)
    model = _bare_model(config, device)
    fused = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        **fused,
    )
    forward = (
        torch.compile(model, dynamic=False, mode=config.compile_mode)
        if config.use_compile
        else model
    )
    x = _random_batch(config, device)

    def step() -> int:
        if config.use_compile:
            torch.compiler.cudagraph_mark_step_begin()
        with models.autocast(device, bf16):
            z = forward(x)[1]
        opt.zero_grad(set_to_none=True)
        z.sum().backward()
        opt.step()
        return x.shape[0]

    for _ in range(max(warmup, 1 if config.use_compile else 0)):
        step()
    sync(device)
    name = "model" if bf16 == config.use_bf16 else f"model_{precision(bf16)}"
    return Pipeline(name, step, precision(bf16), compiled(config), MODEL)


def interleave(
    pipelines: list[Pipeline], blocks: int, steps: int, device: torch.device
) -> dict[str, list[float]]:
    """Images per second of each pipeline in each of ``blocks`` blocks of ``steps`` steps, the
    pipelines taking turns block by block (the order reversed every other round), so that a drift
    of the machine (other load, clocks, heat) falls on all of them alike."""
    rates: dict[str, list[float]] = {p.name: [] for p in pipelines}
    for block in range(blocks):
        for p in pipelines if block % 2 == 0 else pipelines[::-1]:
            for _ in range(p.lead_in):
                p.step()
            sync(device)
            t, images = time.perf_counter(), 0
            for _ in range(steps):
                images += p.step()
            sync(device)
            rates[p.name].append(images / (time.perf_counter() - t))
    return rates


def spread(rates: list[float], images_per_epoch: int) -> dict[str, Any]:
    """The median and range of a pipeline's images per second over its blocks, and its s/epoch."""
    median = statistics.median(rates)
    return {
        "img_s_median": median,
        "img_s_min": min(rates),
        "img_s_max": max(rates),
        "s_per_epoch": images_per_epoch / median,
        "img_s_blocks": rates,
    }


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
    stem = (
        device_slug(device)
        if protocol_name == "paper"
        else f"{protocol_name}-{device_slug(device)}"
    )
    return Path(out) / f"{stem}.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--protocol",
        default="paper",
        choices=tuple(PROTOCOLS),
        help="the model, training subset and batch size (default: paper)",
    )
    p.add_argument("--dataset", default="cifar10", choices=data.DATASETS)
    p.add_argument(
        "--data", default=None, help="the offline CIFAR-10 npz (default: torchvision download)"
    )
    p.add_argument(
        "--datasets", default=str(data.DATASETS_ROOT), help="where downloads and decoded caches go"
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--loss", default="contrastive")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="default: the protocol's (off protocol otherwise)",
    )
    p.add_argument(
        "--subset",
        type=int,
        default=None,
        help="train on N class-balanced images instead of the protocol's (a smoke check, off protocol)",
    )
    p.add_argument("--blocks", type=int, default=5, help="timed blocks per pipeline, interleaved")
    p.add_argument(
        "--block-steps",
        type=int,
        default=None,
        help="steps per block (default: 40 on CUDA, 4 on the CPU)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed steps first (default: 20 on CUDA, 5 on the CPU)",
    )
    p.add_argument(
        "--note", default=None, help="the conditions of the measurement, recorded (other load, say)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(8, os.cpu_count() or 1),
        help="the baseline's DataLoader workers",
    )
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--compile-mode", default=Config.compile_mode, choices=COMPILE_MODES)
    p.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the engine's bfloat16 autocast (default: Config.use_bf16)",
    )
    p.add_argument("--out", default=str(ROOT / "data" / "benchmarks"))
    args = p.parse_args(argv)
    for name in ("blocks", "block_steps", "subset", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.warmup is not None and args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    return args


def make_config(args: argparse.Namespace) -> Config:
    """The protocol's Config with the benchmark's device, loss, data and execution settings."""
    overrides = {
        "dataset": args.dataset,
        "data": args.data,
        "datasets": args.datasets,
        "loss": args.loss,
        "device": args.device,
        "compile": args.compile,
        "compile_mode": args.compile_mode,
        "bf16": args.bf16,
    }
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


def compiled(config: Config) -> str | None:
    """The engine's compile mode, or None where it runs eagerly."""
    return config.compile_mode if config.use_compile else None


def measure(config: Config, train_set: data.Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """Time the engine, the bare model (the engine's precision, and float32) and the conventional
    pipeline (as the engine runs the model, and plain) in interleaved blocks: the record's
    numbers."""
    device = torch.device(config.device)
    warmup = args.warmup if args.warmup is not None else (20 if device.type == "cuda" else 5)
    block_steps = args.block_steps or (40 if device.type == "cuda" else 4)
    images = train_set.images.cpu().numpy()
    pipelines = [
        engine_pipeline(config, train_set, warmup),
        *(model_pipeline(config, bf16, warmup) for bf16 in dict.fromkeys((config.use_bf16, False))),
        conventional_pipeline(config, images, warmup, args.workers, matched=True),
        conventional_pipeline(config, images, warmup, args.workers, matched=False),
    ]
    rates = interleave(pipelines, args.blocks, block_steps, device)
    timings = {
        p.name: {
            **spread(rates[p.name], len(train_set)),
            "precision": p.precision,
            "compiled": p.compiled,
            "pipeline": p.description,
        }
        for p in pipelines
    }
    for name, t in timings.items():
        print(
            f"{name:22s} {t['s_per_epoch']:8.3f} s/epoch  {t['img_s_median']:9.1f} img/s "
            f"(blocks {t['img_s_min']:.1f}-{t['img_s_max']:.1f}; {t['precision']}, "
            f"{t['compiled'] or 'eager'})"
        )
    engine, model, baseline = timings["engine"], timings["model"], timings["baseline"]
    matched = timings["conventional_matched"]
    fractions = [e / m for e, m in zip(rates["engine"], rates["model"])]  # block by block
    gflop = FWD_BWD_FACTOR * forward_flops_per_image(config) / 1e9
    steps_per_epoch = protocols.steps_per_epoch(len(train_set), config.batch_size, config.negatives)
    return {
        "engine_s_per_epoch": engine["s_per_epoch"],
        "baseline_s_per_epoch": baseline["s_per_epoch"],
        "speedup": baseline["s_per_epoch"] / engine["s_per_epoch"],
        "conventional_matched_s_per_epoch": matched["s_per_epoch"],
        "speedup_same_precision": matched["s_per_epoch"] / engine["s_per_epoch"],
        "engine_img_s": engine["img_s_median"],
        "baseline_img_s": baseline["img_s_median"],
        "model_img_s": model["img_s_median"],
        "model_img_s_by_precision": {
            t["precision"]: t["img_s_median"]
            for name, t in timings.items()
            if name.startswith("model")
        },
        "engine_fraction_of_model": statistics.median(fractions),
        "engine_fraction_of_model_range": [min(fractions), max(fractions)],
        "gflop_per_image_fwd_bwd": gflop,
        "engine_gflop_s": engine["img_s_median"] * gflop,
        "model_gflop_s": model["img_s_median"] * gflop,
        "baseline_gflop_s": baseline["img_s_median"] * gflop,
        "flops_note": FLOP_NOTE,
        "timings": timings,
        "interleaved": True,
        "blocks": args.blocks,
        "block_steps": block_steps,
        "steps_per_epoch": steps_per_epoch,
        "warmup_steps": warmup,
    }


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    config = make_config(args)
    device = torch.device(config.device)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    train_set = data.load(
        config.dataset, "train", config.data, args.subset or config.subset, device, config.datasets
    )
    numbers = measure(config, train_set, args)
    low, high = numbers["engine_fraction_of_model_range"]
    print(
        f"speed-up: {numbers['speedup']:.2f}x, {numbers['speedup_same_precision']:.2f}x in the "
        f"same precision and compile mode; engine at {numbers['engine_fraction_of_model']:.0%} "
        f"of the bare model (blocks {low:.0%}-{high:.0%}), "
        f"{numbers['engine_gflop_s']:.1f} GFLOP/s"
    )
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
        "pipelines": {
            "engine": ENGINE,
            "baseline": BASELINE,
            "conventional_matched": MATCHED,
            "model": MODEL,
        },
        "conditions": args.note,
        "provenance": {**env, "cpu": provenance.cpu_model(), "data": train_set.source},
        "measured": provenance.now(),
    }
    path = output_path(args.out, config.protocol, device)
    atomic.atomic_write(path, lambda f: f.write((json.dumps(record, indent=1) + "\n").encode()))
    print(f"written to {path}")
    return path


if __name__ == "__main__":
    main()

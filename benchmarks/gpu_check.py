"""CUDA self-check of the engine's fast paths, which the CPU tests cannot reach, with ms/step per mode.

1. For each mode -- eager, ``torch.compile`` (default) and ``reduce-overhead`` (CUDA graphs) -- an
   engine with the same seed takes the same steps on the same synthetic images at the paper's batch
   size and bank size; each mode's losses must match eager's within bfloat16 tolerance, and its
   ms/step after a warm-up is printed.
2. A short run on the offline data is killed after its first epoch and resumed from the checkpoint;
   the resumed run must write its record and say where it resumed.

Writes ``<out>/gpu_check.json``. Run on the GPU machine (``benchmarks/gpu_session.sh`` does):

    python3 benchmarks/gpu_check.py --data .carry/cifar10-jpeg.npz --out $OUT
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from contrastive import results, train
from contrastive.data import Dataset

MODES = {"eager": {"compile": False}, "default": {"compile": True, "compile_mode": "default"},
         "reduce-overhead": {"compile": True, "compile_mode": "reduce-overhead"}}
BF16_RTOL = 5e-2


def synthetic(n: int, device: torch.device) -> Dataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return Dataset(images.to(device), (torch.arange(n) % 10).to(device), tuple(map(str, range(10))),
                   {"source": "synthetic", "path": "", "sha256": "", "note": "gpu_check"})


def mode_losses(mode: dict, device: str, n: int, steps: int, timed: int) -> tuple[list[float], float]:
    """The first ``steps`` losses of a seeded engine in ``mode``, and its ms/step over ``timed`` more."""
    config = train.Config(device=device, loss="contrastive", tau=0.2, **mode)
    engine = train.Engine(config, synthetic(n, torch.device(device)))
    batches = engine.batches()
    losses = [engine.step(idx).item() for idx in batches[:steps]]
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t = time.perf_counter()
    for idx in batches[steps:steps + timed]:
        engine.step(idx)
    sync()
    return losses, 1000 * (time.perf_counter() - t) / timed


def check_modes(device: str, n: int, steps: int, timed: int, modes: list[str]) -> dict:
    out = {name: dict(zip(("losses", "ms_per_step"), mode_losses(MODES[name], device, n, steps, timed))) for name in modes}
    eager = torch.tensor(out["eager"]["losses"])
    for name in modes:
        rel = ((torch.tensor(out[name]["losses"]) - eager).abs() / eager.abs()).max().item()
        out[name].update(max_rel_diff_vs_eager=rel, ok=rel <= BF16_RTOL)
        print(f"{name:16s} {out[name]['ms_per_step']:8.2f} ms/step   max rel. loss diff vs eager {rel:.2e}")
    return out


def check_resume(device: str, data: str, subset: int) -> dict:
    """Kill a 2-epoch run after epoch 1, resume it, and report what the record says."""
    with tempfile.TemporaryDirectory() as tmp:
        config = train.Config(device=device, data=data, subset=subset, epochs=2, checkpoint_every=1, probe_epochs=2,
                              knn_k=20, out=f"{tmp}/results", checkpoint_dir=f"{tmp}/ckpt", datasets=f"{tmp}/data")
        original = train.Engine.train_epoch

        def dies_in_epoch_2(self, epoch, bar=None):
            if epoch == 2:
                raise KeyboardInterrupt
            return original(self, epoch, bar)

        train.Engine.train_epoch = dies_in_epoch_2
        try:
            train.run(config)
        except KeyboardInterrupt:
            pass
        finally:
            train.Engine.train_epoch = original
        record = results.read_record(train.run(config))
    resumed = record["provenance"]["resumed_from_epoch"]
    print(f"resume: resumed from epoch {resumed}, kNN {record['results']['knn_top1']:.2f} %")
    return {"resumed_from_epoch": resumed, "ok": resumed == 1, "results": record["results"]}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--data", default=".carry/cifar10-jpeg.npz", help="offline npz for the resume check ('' skips it)")
    p.add_argument("--n", type=int, default=50_000, help="synthetic training images (the bank size)")
    p.add_argument("--steps", type=int, default=5, help="steps compared across modes (the first compile there)")
    p.add_argument("--timed", type=int, default=50, help="steps timed per mode after those")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--subset", type=int, default=2048)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    if "eager" not in args.modes:
        args.modes.insert(0, "eager")
    report = {"environment": results.environment(args.device), "checked": results.now(),
              "modes": check_modes(args.device, args.n, args.steps, args.timed, args.modes)}
    if args.data:
        report["resume"] = check_resume(args.device, args.data, args.subset)
    path = Path(args.out) / "gpu_check.json"
    results.atomic_write(path, lambda f: f.write((json.dumps(report, indent=1) + "\n").encode()))
    print(f"written to {path}")
    return report


if __name__ == "__main__":
    main()

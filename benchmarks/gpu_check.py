"""CUDA self-check of the engine's fast paths, which the CPU tests cannot reach, with ms/step per mode.

1. For each loss (ordinary and hard) and each mode -- eager, ``torch.compile`` (default) and
   ``reduce-overhead`` (CUDA graphs) -- an engine with the same seed takes the same steps on the same
   synthetic images at the paper's batch and bank size. The bank rows those steps wrote must agree
   with eager's (mean cosine >= ``MIN_COSINE``: bfloat16 differs a little, a wrong step a lot); an
   eager engine with another seed must fail that test (the control). Compile errors are not
   suppressed here, so a mode that does not compile fails instead of running eagerly. Each mode's
   ms/step after a warm-up is printed.
2. A short run on CIFAR-10 is interrupted after its first epoch and resumed from the checkpoint; the
   resumed run must write its record and say where it resumed. Its data come from torchvision's
   download into ``data/datasets``, or from the CIFAR-10 npz file named by ``--data`` (data/README.md);
   ``--no-resume-check`` skips it.

Writes ``<out>/gpu_check.json`` and exits 1 if any check fails. Run on a machine with a CUDA GPU
(``benchmarks/gpu_session.sh`` does):

    python3 benchmarks/gpu_check.py --data path/to/cifar10-jpeg.npz --out gpu-out
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from contrastive import atomic, provenance, results, train
from contrastive.config import Config
from contrastive.data import Dataset

MODES = {"eager": {"compile": False}, "default": {"compile": True, "compile_mode": "default"},
         "reduce-overhead": {"compile": True, "compile_mode": "reduce-overhead"}}
LOSSES = {"contrastive": {"loss": "contrastive", "tau": 0.2}, "hard": {"loss": "hard", "tau": 0.7}}
MIN_COSINE = 0.99


class Interrupted(Exception):
    """The simulated kill of the resume check (a real Ctrl-C stays a KeyboardInterrupt)."""


def synthetic(n: int, device: torch.device) -> Dataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return Dataset(images.to(device), (torch.arange(n) % 10).to(device), tuple(map(str, range(10))),
                   {"source": "synthetic", "path": "", "sha256": "", "note": "gpu_check"})


def written_rows(config: Config, images: Dataset, steps: int, timed: int) -> tuple[torch.Tensor, float]:
    """The bank rows written by the first ``steps`` steps of a seeded engine, and ms/step over ``timed`` more."""
    engine = train.Engine(config, images)
    batches = engine.batches()
    for idx in batches[:steps]:
        engine.step(idx)
    rows = engine.bank.vectors[torch.cat(batches[:steps])].clone()
    sync = torch.cuda.synchronize if engine.device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    for idx in batches[steps:steps + timed]:
        engine.step(idx)
    sync()
    return rows, 1000 * (time.perf_counter() - t) / max(timed, 1)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a, b, dim=1).mean().item()


def check_modes(device: str, n: int, steps: int, timed: int, modes: list[str]) -> dict:
    images = synthetic(n, torch.device(device))
    report = {}
    for loss, loss_fields in LOSSES.items():
        k = min(Config.k, n - 1)  # the paper's 4095, or all negatives of a small smoke bank
        config = lambda **kw: Config(device=device, k=k, **loss_fields, **kw)  # noqa: E731
        eager, _ = written_rows(config(compile=False), images, steps, 0)
        control = cosine(written_rows(config(compile=False, seed=1), images, steps, 0)[0], eager)
        report[loss] = {"control_cosine": control, "control_ok": control < MIN_COSINE}
        print(f"{loss}: control (another seed) mean cosine {control:.4f} (must be < {MIN_COSINE})")
        for name in modes:
            rows, ms = written_rows(config(**MODES[name]), images, steps, timed)
            c = cosine(rows, eager)
            report[loss][name] = {"ms_per_step": ms, "cosine_vs_eager": c, "ok": c >= MIN_COSINE}
            print(f"{loss:12s} {name:16s} {ms:8.2f} ms/step   bank rows vs eager: mean cosine {c:.5f}")
    return report


def check_resume(device: str, data: str | None, subset: int) -> dict:
    """Interrupt a 2-epoch run after epoch 1, resume it, and report what the record says."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(device=device, data=data, subset=subset, epochs=2, checkpoint_every=1, probe_epochs=2,
                        knn_k=20, out=f"{tmp}/results", checkpoint_dir=f"{tmp}/ckpt")
        original = train.Engine.train_epoch

        def dies_in_epoch_2(self, epoch, bar=None):
            if epoch == 2:
                raise Interrupted
            return original(self, epoch, bar)

        train.Engine.train_epoch = dies_in_epoch_2
        try:
            train.run(config)
        except Interrupted:
            pass
        finally:
            train.Engine.train_epoch = original
        record = results.read_record(train.run(config))
    resumed = record.provenance["resumed_from_epoch"]
    print(f"resume: resumed from epoch {resumed}, kNN {record.results['knn_top1']:.2f} %")
    return {"resumed_from_epoch": resumed, "ok": resumed == 1, "results": record.results}


def failures(report: dict) -> list[str]:
    """The names of the checks in ``report`` that failed."""
    bad = [f"{loss} control" for loss, r in report["modes"].items() if not r["control_ok"]]
    bad += [f"{loss} {mode}" for loss, r in report["modes"].items() for mode, v in r.items()
            if isinstance(v, dict) and not v["ok"]]
    return bad + (["resume"] if "resume" in report and not report["resume"]["ok"] else [])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--data", default=None, help="a CIFAR-10 npz for the resume check (default: torchvision's download)")
    p.add_argument("--no-resume-check", action="store_true", help="skip the resume check (it needs CIFAR-10)")
    p.add_argument("--n", type=int, default=50_000, help="synthetic training images (the bank size)")
    p.add_argument("--steps", type=int, default=5, help="steps compared across modes (the first compiles)")
    p.add_argument("--timed", type=int, default=50, help="steps timed per mode after those")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--subset", type=int, default=2048)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    report = {"environment": provenance.environment(args.device), "checked": provenance.now(),
              "min_cosine": MIN_COSINE, "modes": check_modes(args.device, args.n, args.steps, args.timed, args.modes)}
    if not args.no_resume_check:
        report["resume"] = check_resume(args.device, args.data, args.subset)
    report["failed"] = failures(report)
    path = Path(args.out) / "gpu_check.json"
    atomic.atomic_write(path, lambda f: f.write((json.dumps(report, indent=1) + "\n").encode()))
    print(f"written to {path}; failed: {report['failed'] or 'none'}")
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

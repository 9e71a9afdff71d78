"""CUDA self-check of the engine's fast paths, which the CPU tests cannot reach; ms/step per mode.

1. A whole short run on CIFAR-10 in the CUDA default mode (:func:`check_run`): the paper's network
   on ``--subset`` images (the last batch partial), an lr milestone, a curve point every epoch (the
   train/eval switches), killed in an epoch and resumed from its checkpoint, then evaluated and
   recorded. Dynamo's compilations and the CUDA-graph recordings are counted epoch by epoch
   (:func:`compile_counts`); any after the first two epochs of an engine (its warm-up: both batch
   shapes compiled, then recorded) fails the check, and so does a step that skipped CUDA graphs.
   Its data come from torchvision's download into ``data/datasets``, or from the CIFAR-10 npz file
   named by ``--data`` (data/README.md); ``--no-run-check`` skips it.
2. For each loss (ordinary and hard) and each mode -- eager and ``reduce-overhead`` (CUDA graphs,
   the CUDA default; ``--modes default`` adds plain ``torch.compile``) -- an engine with the same
   seed takes the same steps on the same synthetic images at the paper's batch and bank size. The
   bank rows those steps wrote must agree with eager's (mean cosine >= ``MIN_COSINE``: bfloat16
   differs a little, a wrong step a lot); an eager engine with another seed must fail that test (the
   control). Compile errors are not suppressed here, so a mode that does not compile fails instead
   of running eagerly. Each mode's ms/step after a warm-up is printed.

Writes ``<out>/<device-slug>.json`` (``data/checks/nvidia-h200.json``, say), once after the run
check too, with ``complete`` false, in case a time limit ends the rest; exits 1 if any check fails.
Run on a machine with a CUDA GPU (``benchmarks/gpu_session.sh`` does):

    python3 benchmarks/gpu_check.py --data path/to/cifar10-jpeg.npz --out data/checks
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from contrastive import atomic, provenance, results, train
from contrastive.config import Config
from contrastive.data import Dataset
from epoch_time import device_slug  # benchmarks/ is on the path of a script run from there

MODES = {
    "eager": {"compile": False},
    "default": {"compile": True, "compile_mode": "default"},
    "reduce-overhead": {"compile": True, "compile_mode": "reduce-overhead"},
}
DEFAULT_MODES = ("eager", "reduce-overhead")
LOSSES = {"contrastive": {"loss": "contrastive", "tau": 0.2}, "hard": {"loss": "hard", "tau": 0.7}}
MIN_COSINE = 0.99


class Interrupted(Exception):
    """The simulated kill of the resume check (a real Ctrl-C stays a KeyboardInterrupt)."""


def synthetic(n: int, device: torch.device) -> Dataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return Dataset(
        images.to(device),
        (torch.arange(n) % 10).to(device),
        tuple(map(str, range(10))),
        {"source": "synthetic", "path": "", "sha256": "", "note": "gpu_check"},
    )


def written_rows(
    config: Config, images: Dataset, steps: int, timed: int
) -> tuple[torch.Tensor, float]:
    """The bank rows written by the first ``steps`` steps of a seeded engine, and ms/step over ``timed`` more."""
    engine = train.Engine(config, images)
    batches = engine.batches()
    for idx in batches[:steps]:
        engine.step(idx)
    rows = engine.bank.vectors[torch.cat(batches[:steps])].clone()
    sync = torch.cuda.synchronize if engine.device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    for idx in batches[steps : steps + timed]:
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
        config = functools.partial(Config, device=device, k=k, **loss_fields)
        eager, _ = written_rows(config(compile=False), images, steps, 0)
        control = cosine(written_rows(config(compile=False, seed=1), images, steps, 0)[0], eager)
        report[loss] = {"control_cosine": control, "control_ok": control < MIN_COSINE}
        print(f"{loss}: control (another seed) mean cosine {control:.4f} (must be < {MIN_COSINE})")
        for name in modes:
            rows, ms = written_rows(config(**MODES[name]), images, steps, timed)
            c = cosine(rows, eager)
            report[loss][name] = {"ms_per_step": ms, "cosine_vs_eager": c, "ok": c >= MIN_COSINE}
            print(
                f"{loss:12s} {name:16s} {ms:8.2f} ms/step   bank rows vs eager: mean cosine {c:.5f}"
            )
    return report


def compile_counts() -> dict[str, int]:
    """Dynamo's compiled graphs so far, Inductor's CUDA-graph recordings (each adds its non-static
    inputs to ``cudagraph_recorded_non_static_inputs``) and the steps that skipped CUDA graphs."""
    from torch._dynamo.utils import counters

    return {
        "graphs": counters["stats"]["unique_graphs"],
        "cudagraph_recordings": counters["inductor"]["cudagraph_recorded_non_static_inputs"],
        "cudagraph_skips": counters["inductor"]["cudagraph_skips"],
    }


WARMUP_EPOCHS = 2
"""Epochs an engine may compile and record in: CUDA-graph trees run a graph's first call eagerly and
record it at its second, and the last, partial batch comes once an epoch."""
KILLED_IN = 5


def run_config(device: str, data: str | None, subset: int, folder: str, **overrides) -> Config:
    """The check's run: the paper's protocol on ``subset`` images for 7 epochs, lr x0.1 after epoch
    3, a curve point every epoch, a checkpoint every 2 (the kill comes in epoch 5: two warm-up
    epochs and one more after the resume), a small probe; ``overrides`` (tests)."""
    fields = dict(
        device=device,
        data=data,
        subset=subset,
        epochs=7,
        milestones=(3,),
        knn_every=1,
        checkpoint_every=2,
        probe_epochs=2,
        knn_k=20,
        test_subset=2000,
        out=f"{folder}/results",
        checkpoint_dir=f"{folder}/ckpt",
    )
    return Config(**{**fields, **overrides})


def check_run(device: str, data: str | None, subset: int, **overrides) -> dict:
    """Run :func:`run_config` killed in epoch :data:`KILLED_IN` and resumed, counting compilations
    epoch by epoch (module docstring)."""
    epochs: list[dict] = []
    original = train.Engine.train_epoch

    def counted(self, epoch, bar=None):
        if epoch == KILLED_IN and not any(e.get("killed") for e in epochs):  # killed once
            epochs.append({"epoch": epoch, "killed": True})
            raise Interrupted
        before, t = compile_counts(), time.perf_counter()
        loss = original(self, epoch, bar)
        after = compile_counts()
        self.checked_epochs = getattr(self, "checked_epochs", 0) + 1  # a resume makes a new engine
        new = {k: after[k] - before[k] for k in after}
        epochs.append(
            {
                "epoch": epoch,
                "warmup": self.checked_epochs <= WARMUP_EPOCHS,
                "seconds": time.perf_counter() - t,
                **new,
            }
        )
        return loss

    with tempfile.TemporaryDirectory() as tmp:
        config = run_config(device, data, subset, tmp, **overrides)
        train.Engine.train_epoch = counted
        try:
            try:
                train.run(config)
            except Interrupted:
                pass
            record = results.read_record(train.run(config))
        finally:
            train.Engine.train_epoch = original
    return judge_run(config, epochs, record)


def judge_run(config: Config, epochs: list[dict], record: results.Record) -> dict:
    """What :func:`check_run` saw, and whether it passes."""
    trained = [e for e in epochs if not e.get("killed")]
    late = [
        e["epoch"]
        for e in trained
        if not e["warmup"] and (e["graphs"] or e["cudagraph_recordings"])
    ]
    graphs = config.use_compile and config.compile_mode == "reduce-overhead"
    graphs = graphs and "cuda" in config.device
    skipped = sum(e["cudagraph_skips"] for e in trained) if graphs else 0
    resumed = record.provenance["resumed_from_epoch"]
    partial = (config.subset or 0) % config.batch_size
    steady = [e["seconds"] for e in trained if not e["warmup"]]
    extra = sum(e["seconds"] - statistics.median(steady) for e in trained if e["warmup"]) / 2
    report = {
        "compile_mode": config.compile_mode if config.use_compile else None,
        "partial_batch": partial,
        "epochs": epochs,
        "recompiled_after_warmup": late,
        "cudagraph_skips": skipped,
        "resumed_from_epoch": resumed,
        "warmup_extra_s": extra,  # per engine: about what compiling and recording cost
        "results": record.results,
        "curve_epochs": record.curves["epoch"],
    }
    report["ok"] = (
        not late
        and not skipped
        and resumed == KILLED_IN - 1
        and partial > 0
        and report["curve_epochs"] == list(range(1, config.epochs + 1))
    )
    for e in epochs:
        what = (
            "killed"
            if e.get("killed")
            else (
                f"{e['seconds']:.2f} s, {e['graphs']} graph(s) compiled, "
                f"{e['cudagraph_recordings']} recorded inputs"
                + (" (warm-up)" if e["warmup"] else "")
            )
        )
        print(f"run: epoch {e['epoch']} {what}")
    print(
        f"run: resumed from epoch {resumed}; recompiled after warm-up in epochs "
        f"{late or 'none'}; CUDA-graph skips {skipped}; kNN {record.results['knn_top1']:.2f} %"
    )
    return report


def failures(report: dict) -> list[str]:
    """The names of the checks in ``report`` that failed."""
    bad = [f"{loss} control" for loss, r in report["modes"].items() if not r["control_ok"]]
    bad += [
        f"{loss} {mode}"
        for loss, r in report["modes"].items()
        for mode, v in r.items()
        if isinstance(v, dict) and not v["ok"]
    ]
    return bad + (["run"] if "run" in report and not report["run"]["ok"] else [])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument(
        "--data",
        default=None,
        help="a CIFAR-10 npz for the run check (default: torchvision's download)",
    )
    p.add_argument(
        "--no-run-check", action="store_true", help="skip the whole short run (it needs CIFAR-10)"
    )
    p.add_argument(
        "--n", type=int, default=50_000, help="synthetic training images (the bank size)"
    )
    p.add_argument(
        "--steps", type=int, default=5, help="steps compared across modes (the first compiles)"
    )
    p.add_argument("--timed", type=int, default=50, help="steps timed per mode after those")
    p.add_argument("--modes", nargs="+", default=list(DEFAULT_MODES), choices=list(MODES))
    p.add_argument(
        "--subset", type=int, default=2000, help="the run check's images (not a multiple of 128)"
    )
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    path = Path(args.out) / f"{device_slug(torch.device(args.device))}.json"
    report = {
        "environment": provenance.environment(args.device),
        "checked": provenance.now(),
        "min_cosine": MIN_COSINE,
        "modes": {},
    }
    if not args.no_run_check:  # first: what a slot's runs depend on
        report["run"] = check_run(args.device, args.data, args.subset)
        save(report, path, complete=False)  # kept if a time limit ends the rest
    report["modes"] = check_modes(args.device, args.n, args.steps, args.timed, args.modes)
    save(report, path, complete=True)
    print(f"written to {path}; failed: {report['failed'] or 'none'}")
    return 1 if report["failed"] else 0


def save(report: dict, path: Path, complete: bool) -> None:
    """Write ``report`` with its failures and whether every check of the call ran."""
    report.update(failed=failures(report), complete=complete)
    atomic.atomic_write(path, lambda f: f.write((json.dumps(report, indent=1) + "\n").encode()))


if __name__ == "__main__":
    sys.exit(main())

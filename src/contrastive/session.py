"""One GPU slot, prepared: the next Table 1 records at the paper's scale that fit the time given.

Given ``--minutes`` (what the call may use, start-up included), it takes Table 1's configurations in
the sweep's order (``contrastive.protocols.configurations``, which is ``paper.COLUMNS``'s) at the
``paper`` protocol and seed 0, skips those a record in ``data/results`` covers, and runs one after
another in this one process (the data decoded once, Inductor's in-memory caches shared) those that
the :class:`Estimate` says end inside the minutes; before each run it checks the clock again. A run
in a slot writes no checkpoint before its end (``checkpoint_every`` = its epochs). With papermill
installed, a run is an execution of the run notebook, kept beside the record; without it (a GPU
machine's own Python), it is the same ``train.run`` call, without a notebook.

The files the call made under ``data/`` (records and their arrays, run notebooks, and the
``data/checks`` and ``data/benchmarks`` files written since ``--since``) are packed into one
``session.tar``, named from the checkout's root (``tar -xf session.tar`` there puts them in place),
beside ``session.json`` (the plan and what happened): two files, where a slot returns at most
:data:`MAX_FILES`. It writes inside the checkout only, but for those two files in ``--out``.

    python -m contrastive.session --minutes 9.5 --plan      # any machine: the plan, nothing written
    python -m contrastive.session --minutes 9.5 --data .carry/cifar10-jpeg.npz --out "$OUT"
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import atomic, paper, paths, results
from .config import Config, ConfigError, shortfall
from .protocols import configurations, steps_per_epoch
from .train import evaluated, record_path

PROTOCOL = "paper"
SEED = 0
ROOT = paths.checkout()
"""The checkout's root: everything a call writes lies under it, but the two files of ``--out``."""
MAX_FILES = 8
"""The most files a GPU slot returns."""
ARCHIVE, SUMMARY = "session.tar", "session.json"
PACKED = ("data/results/paper", "data/runs/paper", "data/checks", "data/benchmarks")
"""The folders (from the root) whose new files the archive holds."""
NOTEBOOK_PARAMETERS = (
    "protocol",
    "dataset",
    "data",
    "datasets",
    "loss",
    "tau",
    "seed",
    "device",
    "out",
    "checkpoint_dir",
    "checkpoint_every",
)
"""What a session passes to the run notebook: the rest is the protocol's."""


@dataclass(frozen=True)
class Estimate:
    """Seconds of one call and of one paper-scale run on an H100 or H200, the step in CUDA graphs.

    Each value is a measurement or a stated assumption, meant to err long. ``step_ms``: the slower
    loss's "reduce-overhead" step in ``data/checks/nvidia-h200.json`` (synthetic images, the paper's
    batch and bank); ``margin``: what a whole epoch adds to it (not yet timed in that mode);
    ``evaluate_s``: the final evaluation, 23-25 s on the H200 (issue 29), with room; ``point_s``:
    one curve point; ``start_s``: Python and CUDA start, decoding the data once (~15 s there),
    packing;
    ``compile_s``: compiling and recording both batch shapes (assumed, not yet measured:
    ``gpu_check.py``'s ``warmup_extra_s`` and ``session.json``'s ``took_s`` will tell).
    """

    start_s: float = 60.0
    compile_s: float = 120.0
    step_ms: float = 3.13
    margin: float = 1.3
    point_s: float = 1.5
    evaluate_s: float = 35.0

    def run_seconds(self, config: Config) -> float:
        """The seconds of one run of ``config``: compile, train, curve points and evaluation."""
        images = config.subset or paper.TRAIN_IMAGES
        steps = config.epochs * steps_per_epoch(images, config.batch_size, config.negatives)
        points = sum(evaluated(config, e) for e in range(1, config.epochs + 1))
        train = self.margin * steps * self.step_ms / 1000
        return self.compile_s + train + points * self.point_s + self.evaluate_s


@dataclass
class Plan:
    """The runs of a call (stem, estimated seconds, when it ends from the call's start), and why
    it makes no others."""

    minutes: float
    runs: list[dict[str, Any]] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    configs: list[Config] = field(default_factory=list, repr=False)

    def lines(self) -> list[str]:
        """The plan in words, one line each."""
        out = [f"plan for {self.minutes:g} min: {len(self.runs)} run(s) at the {PROTOCOL} protocol"]
        out += [
            f"  run {r['stem']}: ~{r['seconds'] / 60:.1f} min, ends by ~{r['ends_s'] / 60:.1f} min"
            for r in self.runs
        ]
        return out + [
            f"  recorded already, skipped: {', '.join(self.recorded) or 'none'}",
            f"  left for another slot: {', '.join(self.left) or 'none'}",
            f"  returns {SUMMARY} and {ARCHIVE} (records, run notebooks, checks, "
            f"benchmarks): with the log, 3 files of the {MAX_FILES} a slot returns",
        ]


def table1() -> list[tuple[str, float | None]]:
    """Table 1's configurations in the sweep's order (``protocols.configurations``)."""
    return [c for c in configurations(paper.TABLE1_LOSSES) if c in paper.COLUMNS]


def recorded(config: Config) -> bool:
    """Whether a record at ``config``'s path covers it."""
    path = record_path(config)
    return path.is_file() and shortfall(results.read_record(path), config) is None


def run_config(loss: str, tau: float | None, **fields: Any) -> Config:
    """Table 1's ``(loss, tau)`` at the paper protocol, seed 0, no checkpoint before its end;
    ``fields``: where files go and what runs it (never a setting the protocol fixes)."""
    taus = {"tau": tau} if tau is not None else {}
    return Config.at(
        PROTOCOL,
        loss=loss,
        **taus,
        seed=SEED,
        checkpoint_every=Config.at(PROTOCOL).epochs,
        **fields,
    )


def check_minutes(minutes: Any) -> None:
    """``ConfigError`` naming ``minutes`` unless it is a finite number > 0."""
    number = isinstance(minutes, (int, float)) and not isinstance(minutes, bool)
    if not number or not 0 < minutes < math.inf:
        raise ConfigError("minutes", f"must be a finite number > 0, got {minutes!r}")


def plan(minutes: float, estimate: Estimate = Estimate(), **fields: Any) -> Plan:
    """The next Table 1 configurations without a record, in order, as many as end inside
    ``minutes`` (start-up included); ``fields``: further Config fields of every run (``out``...)."""
    check_minutes(minutes)
    result, ends = Plan(minutes), estimate.start_s
    for loss, tau in table1():
        config = run_config(loss, tau, **fields)
        if recorded(config):
            result.recorded.append(config.stem)
            continue
        seconds = estimate.run_seconds(config)
        if result.left or ends + seconds > 60 * minutes:  # in order: the rest wait for the next
            result.left.append(config.stem)
            continue
        ends += seconds
        result.runs.append({"stem": config.stem, "seconds": seconds, "ends_s": ends})
        result.configs.append(config)
    return result


def notebooks_available() -> bool:
    """Whether a run can be an execution of the run notebook (papermill, a kernel, plotly)."""
    needed = ("papermill", "ipykernel", "plotly")
    return all(importlib.util.find_spec(m) is not None for m in needed)


def execute(config: Config, root: Path) -> Path:
    """One run of ``config``: the run notebook executed by papermill where it can be (kept under
    ``data/runs/paper/<dataset>/``), else ``train.run``. Returns the record's path."""
    if not notebooks_available():
        from .train import run

        return run(config)
    from . import sweep

    target = root / "data" / "runs" / PROTOCOL / config.dataset / f"{config.stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    parameters = {
        k: v for k, v in asdict(config).items() if k in NOTEBOOK_PARAMETERS and v is not None
    }
    try:
        sweep.papermill.execute_notebook(
            str(sweep.NOTEBOOK),
            str(target),
            parameters=parameters,
            kernel_name=sweep.KERNEL,
            progress_bar=False,
        )
    finally:
        if target.is_file():
            sweep.hide_injected_parameters(target)
    return record_path(config)


def run_plan(planned: Plan, root: Path, started: float) -> list[dict[str, Any]]:
    """Make the planned runs in order, each only while the clock (from ``started``, seconds since
    the epoch) leaves its estimate; a failing run does not stop the next. What became of each."""
    done = []
    for config, entry in zip(planned.configs, planned.runs):
        left = 60 * planned.minutes - (time.time() - started)
        if entry["seconds"] > left:
            done.append({**entry, "status": f"not started: {left:.0f} s left"})
            continue
        t = time.time()
        try:
            status = f"recorded: {execute(config, root).relative_to(root)}"
        except Exception as e:  # noqa: BLE001 -- one failing run must not stop the others
            status = f"failed: {type(e).__name__}: {e}"
        done.append({**entry, "status": status, "took_s": time.time() - t})
        print(f"session: {config.stem} {status} ({time.time() - t:.0f} s)", flush=True)
    return done


def new_files(root: Path, since: float) -> list[Path]:
    """The files under :data:`PACKED` of ``root`` modified at or after ``since`` (epoch seconds)."""
    return [
        p
        for folder in PACKED
        for p in sorted((root / folder).rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.stat().st_mtime >= since
    ]


def pack(files: Sequence[Path], root: Path, out: Path, summary: dict[str, Any]) -> list[Path]:
    """``out``/session.tar of ``files`` (named from ``root``), ``out``/session.json of
    ``summary``."""
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / ARCHIVE, "w") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(root)))
    text = json.dumps({**summary, "archive": [str(p.relative_to(root)) for p in files]}, indent=1)
    atomic.atomic_write(out / SUMMARY, lambda f: f.write((text + "\n").encode()))
    return [out / ARCHIVE, out / SUMMARY]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m contrastive.session", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--minutes", type=float, required=True, help="what the call may use, start-up included"
    )
    p.add_argument(
        "--plan", action="store_true", help="print the plan, write nothing (any machine)"
    )
    p.add_argument("--data", default=None, help="the offline CIFAR-10 npz (default: a download)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default=None, help="where session.tar and session.json go")
    p.add_argument(
        "--since",
        type=float,
        default=None,
        help="pack the files written since this time (epoch seconds; default: now)",
    )
    for f in dataclasses.fields(Estimate):
        p.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=float,
            default=f.default,
            help=f"the estimate's {f.name} (default: {f.default})",
        )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Plan, and without ``--plan`` run and pack; a bad value ends in one line naming its flag."""
    started = time.time()
    args = parser().parse_args(argv)
    estimate = Estimate(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Estimate)})
    fields = {
        "data": args.data,
        "out": str(ROOT / "data" / "results"),
        "checkpoint_dir": str(ROOT / "data" / "checkpoints"),
    }
    try:
        if args.out is None and not args.plan:
            raise ConfigError("out", "is required: where session.tar and session.json go")
        device = {} if args.plan else {"device": args.device}  # a plan runs on any machine
        planned = plan(args.minutes, estimate, **fields, **device)
    except ConfigError as e:
        return _fail(f"argument --{e.field.replace('_', '-')}: {str(e).split(': ', 1)[1]}")
    print("\n".join(planned.lines()), flush=True)
    if args.plan:
        return 0
    done = run_plan(planned, ROOT, started)
    summary = {
        "minutes": args.minutes,
        "estimate": asdict(estimate),
        "runs": done,
        "recorded": planned.recorded,
        "left": planned.left,
        "seconds": time.time() - started,
    }
    files = new_files(ROOT, started if args.since is None else args.since)
    for path in pack(files, ROOT, Path(args.out), summary):
        print(f"session: wrote {path}")
    return 1 if any(not r["status"].startswith("recorded") for r in done) else 0


def _fail(message: str) -> int:
    print(f"python -m contrastive.session: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

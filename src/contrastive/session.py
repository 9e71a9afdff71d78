"""One GPU slot, prepared: the next Table 1 records at the paper's scale that finish in the minutes given.

Given ``--minutes`` (what the call may use, start-up included), it takes Table 1's configurations in the sweep's
order (``contrastive.sweep.configurations``: the order of ``paper.COLUMNS``) at the ``paper`` protocol and seed 0,
skips those that a record in ``data/results`` already covers, and runs, one after another in this one process
(the data decoded once, Inductor's in-memory caches shared), only those that the :class:`Estimate` says end
inside the minutes; before each run it checks the time again against the clock. A run in a slot writes no
checkpoint before its end (``checkpoint_every`` = its epochs). With papermill installed, each run is an
execution of the run notebook, which is kept beside the record; without it (a GPU machine's own Python), the
run is the same ``train.run`` call, without the notebook.

Every file the call made under ``data/`` (records and their arrays, run notebooks, ``data/checks`` and
``data/benchmarks`` files written since ``--since``) is packed into one ``session.tar`` (paths from the
checkout's root: ``tar -xf session.tar`` there puts them in place) beside ``session.json`` (the plan and what
happened): two files, where a slot returns at most :data:`MAX_FILES`. It writes inside the checkout, and the
two files into ``--out``.

    python -m contrastive.session --minutes 9 --plan                         # any machine: prints the plan
    python -m contrastive.session --minutes 9 --data .carry/cifar10-jpeg.npz --out "$OUT"   # a GPU
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from . import atomic, paper, results
from .config import SCHEDULE_FIELDS, Config, ConfigError, differences, judged
from .train import evaluated, record_path, steps_per_epoch

PROTOCOL = "paper"
SEED = 0
ROOT = Path(__file__).resolve().parents[2]
"""The checkout's root: everything the call writes lies under it (but the two files of ``--out``)."""
MAX_FILES = 8
"""The most files a GPU slot returns."""
ARCHIVE, SUMMARY = "session.tar", "session.json"
PACKED = ("data/results/paper", "data/runs/paper", "data/checks", "data/benchmarks")
"""The folders (from the root) whose new files the archive holds."""
NOTEBOOK_PARAMETERS = ("protocol", "dataset", "data", "datasets", "loss", "tau", "seed", "device", "out",
                       "checkpoint_dir", "checkpoint_every")
"""What a session passes to the run notebook: the rest is the protocol's."""


@dataclass(frozen=True)
class Estimate:
    """Seconds that one call and one paper-scale run take on one H100 or H200 with the step in CUDA graphs.

    Each value is a measurement or a stated assumption, meant to err long: ``step_ms`` is the slower loss's
    "reduce-overhead" step in ``data/checks/nvidia-h200.json`` (synthetic images, paper batch and bank), and
    ``margin`` covers what a whole epoch adds to it (never timed yet in that mode); ``evaluate_s`` the 23-25 s of the
    final evaluation measured on the H200 (issue 29) with room; ``start_s`` Python and CUDA start, decoding the
    data (~15 s there) and packing; ``compile_s`` compiling and capturing both batch shapes (assumed: not yet
    measured; replace it by the first slot's ``session.json``, which times each run).
    """

    start_s: float = 60.0
    compile_s: float = 120.0
    step_ms: float = 3.13
    margin: float = 1.3
    point_s: float = 1.5
    evaluate_s: float = 35.0

    def run_seconds(self, config: Config) -> float:
        """The estimated seconds of one run of ``config``: compile, train, curve points and evaluation."""
        images = config.subset or paper.TRAIN_IMAGES
        steps = config.epochs * steps_per_epoch(images, config.batch_size, config.negatives)
        points = sum(evaluated(config, e) for e in range(1, config.epochs + 1))
        train = self.margin * steps * self.step_ms / 1000
        return self.compile_s + train + points * self.point_s + self.evaluate_s


@dataclass
class Plan:
    """The runs a call makes (stem, estimated seconds, when it ends from the call's start) and why it makes no others."""

    minutes: float
    runs: list[dict[str, Any]] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    configs: list[Config] = field(default_factory=list, repr=False)

    def lines(self) -> list[str]:
        """The plan in words, one line each."""
        out = [f"plan for {self.minutes:g} min: {len(self.runs)} run(s) at the {PROTOCOL} protocol"]
        out += [f"  run {r['stem']}: ~{r['seconds'] / 60:.1f} min, ends by ~{r['ends_s'] / 60:.1f} min"
                for r in self.runs]
        out += [f"  recorded already, skipped: {', '.join(self.recorded) or 'none'}",
                f"  left for another slot: {', '.join(self.left) or 'none'}",
                f"  returns {SUMMARY} and {ARCHIVE} (records, run notebooks, checks, benchmarks), "
                f"with the log at most 3 of {MAX_FILES} files"]
        return out


def table1() -> list[tuple[str, float | None]]:
    """Table 1's configurations in the sweep's order (``paper.COLUMNS``'s; a test pins it to the sweep's)."""
    return list(paper.COLUMNS)


def covers(record: results.Record, wanted: Config) -> bool:
    """Whether ``record`` makes the run ``wanted`` unnecessary: the test of ``contrastive.sweep.shortfall``
    (same protocol, seed and every setting the protocol fixes), kept here because the sweep module needs
    papermill, which a GPU machine's own Python lacks (a test pins the two together)."""
    names = ("protocol", *judged(wanted.loss), "seed", *SCHEDULE_FIELDS[wanted.schedule])
    return not differences(record.config, asdict(wanted), names, reference="requested")


def recorded(config: Config) -> bool:
    """Whether a record at ``config``'s path covers it."""
    path = record_path(config)
    return path.is_file() and covers(results.read_record(path), config)


def run_config(loss: str, tau: float | None, **fields: Any) -> Config:
    """Table 1's configuration ``(loss, tau)`` at the paper protocol, seed 0, no checkpoint before its end;
    ``fields``: where files go and what runs it (never a setting the protocol fixes)."""
    return Config.at(PROTOCOL, loss=loss, **({"tau": tau} if tau is not None else {}), seed=SEED,
                     checkpoint_every=Config.at(PROTOCOL).epochs, **fields)


def plan(minutes: float, estimate: Estimate = Estimate(), **fields: Any) -> Plan:
    """The next Table 1 configurations without a record (in order) whose runs all end inside ``minutes``, start-up
    included; ``fields``: further Config fields of every run (``out``, ``data``, ``device``...).
    ``ConfigError`` naming ``minutes`` unless it is a finite number > 0."""
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes < math.inf:
        raise ConfigError("minutes", f"must be a finite number > 0, got {minutes!r}")
    result, ends = Plan(minutes), estimate.start_s
    for loss, tau in table1():
        config = run_config(loss, tau, **fields)
        if recorded(config):
            result.recorded.append(config.stem)
            continue
        seconds = estimate.run_seconds(config)
        if result.left or ends + seconds > 60 * minutes:  # in order: once one does not fit, the rest wait
            result.left.append(config.stem)
            continue
        ends += seconds
        result.runs.append({"stem": config.stem, "seconds": seconds, "ends_s": ends})
        result.configs.append(config)
    return result


def notebooks_available() -> bool:
    """Whether runs can be executions of the run notebook (papermill and a Jupyter kernel are installed)."""
    return all(importlib.util.find_spec(m) is not None for m in ("papermill", "ipykernel", "plotly"))


def execute(config: Config, root: Path) -> Path:
    """One run of ``config``: the run notebook executed by papermill where it can be (kept under
    ``data/runs/paper/<dataset>/``), else ``train.run``. Returns the record's path."""
    if not notebooks_available():
        from .train import run
        return run(config)
    from . import sweep
    target = root / "data" / "runs" / PROTOCOL / config.dataset / f"{config.stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    parameters = {k: v for k, v in asdict(config).items() if k in NOTEBOOK_PARAMETERS and v is not None}
    try:
        sweep.papermill.execute_notebook(str(sweep.NOTEBOOK), str(target), parameters=parameters,
                                         kernel_name=sweep.KERNEL, progress_bar=False)
    finally:
        if target.is_file():
            sweep.hide_injected_parameters(target)
    return record_path(config)


def run_plan(planned: Plan, estimate: Estimate, root: Path, started: float) -> list[dict[str, Any]]:
    """Make the planned runs in order, each only while the clock (from ``started``) leaves its estimate;
    one failing run does not stop the next. Returns what happened to each."""
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
    """The files under :data:`PACKED` of ``root`` modified at or after ``since`` (seconds since the epoch)."""
    found = [p for folder in PACKED for p in sorted((root / folder).rglob("*"))
             if p.is_file() and not p.name.startswith(".") and p.stat().st_mtime >= since]
    return found


def pack(files: Sequence[Path], root: Path, out: Path, summary: dict[str, Any]) -> list[Path]:
    """``out``/session.tar of ``files`` (named from ``root``) and ``out``/session.json of ``summary``."""
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / ARCHIVE, "w") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(root)))
    summary = {**summary, "archive": [str(p.relative_to(root)) for p in files]}
    atomic.atomic_write(out / SUMMARY, lambda f: f.write((json.dumps(summary, indent=1) + "\n").encode()))
    return [out / ARCHIVE, out / SUMMARY]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m contrastive.session", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, required=True, help="what the call may use, start-up included")
    p.add_argument("--plan", action="store_true", help="print the plan and write nothing (a dry run; any machine)")
    p.add_argument("--data", default=None, help="the offline CIFAR-10 npz (default: torchvision's download)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default=None, help="where session.tar and session.json go (required without --plan)")
    p.add_argument("--since", type=float, default=None,
                   help="pack data/checks and data/benchmarks files written since this time (seconds since the "
                        "epoch; default: the session's start)")
    for f in dataclasses.fields(Estimate):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=float, default=f.default,
                       help=f"the estimate's {f.name} (default: {f.default})")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    started = time.time()
    args = parser().parse_args(argv)
    estimate = Estimate(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Estimate)})
    fields = {"data": args.data, "out": str(ROOT / "data" / "results"),
              "checkpoint_dir": str(ROOT / "data" / "checkpoints")} | ({} if args.plan else {"device": args.device})
    try:
        if args.out is None and not args.plan:
            raise ConfigError("out", "is required: where session.tar and session.json go (or give --plan)")
        planned = plan(args.minutes, estimate, **fields)
    except ConfigError as e:
        return _fail(f"argument --{e.field.replace('_', '-')}: {str(e).split(': ', 1)[1]}")
    print("\n".join(planned.lines()), flush=True)
    if args.plan:
        return 0
    done = run_plan(planned, estimate, ROOT, started)
    summary = {"minutes": args.minutes, "estimate": asdict(estimate), "runs": done, "recorded": planned.recorded,
               "left": planned.left, "seconds": time.time() - started}
    for path in pack(new_files(ROOT, started if args.since is None else args.since), ROOT, Path(args.out), summary):
        print(f"session: wrote {path}")
    return 1 if any(not r["status"].startswith("recorded") for r in done) else 0


def _fail(message: str) -> int:
    print(f"python -m contrastive.session: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

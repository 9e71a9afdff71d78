"""``make sweep``: one papermill execution of the run notebook per configuration, resumable.

For every loss and temperature of a protocol the run notebook ``book/experiments/train.ipynb`` is
executed, leaving the executed notebook at ``<out>/runs/<protocol>/<dataset>/<record name>.ipynb``,
the run record at ``<out>/results/<protocol>/<dataset>/<record name>.json`` and, until the record is
written, the run's checkpoints in ``<out>/results/.checkpoints``
(``contrastive.train.checkpoint_path``). Without ``out`` the records go where the book reads them
(``contrastive.results.root``), the notebooks beside them.

A configuration whose record covers it (``config.shortfall``) is skipped, so an interrupted sweep
resumes (Ctrl-C ends it in one line, exit status 130); a record that does not is replaced by a run
started afresh, except that an off-protocol run never replaces a record at its protocol
(``contrastive.train.check_replaces``): the sweep then stops before running anything (exit status
2). One failing run does not stop the others; failures are listed at the end (exit status 1).
``shard`` = (i, n) runs every n-th configuration from the i-th, counted from 0 as Slurm numbers the
tasks of a job array (``--array=0-<n-1>``, ``benchmarks/sweep.sbatch``); ``plan`` lists them without
running.

    python -m contrastive.sweep --protocol cpu --data path/to/cifar10-jpeg.npz --out data
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import nbformat
import papermill

from . import paper, paths, results
from .checks import literal_assignments
from .config import Config, shortfall
from .data import check_npz
from .protocols import PROTOCOLS, configurations
from .schedules import BASE_TAU, SCHEDULES, moves
from .train import check_replaces, record_path

NOTEBOOK = paths.checkout() / "book" / "experiments" / "train.ipynb"
"""The run notebook (one run = one execution) of the checkout the command runs in."""
KERNEL = "python3"
DEFAULT_TIMEOUT = 86_400
"""Papermill's per-cell ``execution_timeout`` in seconds; the training cell is one cell (a day)."""
HIDE_TAG = "hide-input"


def run_config(protocol: str = "paper", **parameters: Any) -> Config:
    """The run notebook's parameters as a Config at ``protocol``: a parameter that is None takes the
    protocol's value (or, for the fields a protocol does not fix, the engine's default)."""
    return Config.at(protocol, **{k: v for k, v in parameters.items() if v is not None})


def notebook_config(namespace: dict[str, Any]) -> Config:
    """The run notebook's parameters, read from its ``namespace`` (``globals()``), as a Config (:func:`run_config`).

    Papermill only warns about a ``-p`` name the parameters cell lacks (a typo such as ``-p tua 0.3``), which the
    run would ignore; so ``ValueError`` naming each name, not a field of Config, that a cell run so far (IPython's
    ``In``: the parameters cell and papermill's injected one) sets to a literal.
    """
    names = {f.name for f in fields(Config)}
    if unknown := sorted(literal_assignments(namespace.get("In", ())) - names):
        raise ValueError(
            f"unknown run-notebook parameter {', '.join(unknown)}: the parameters are the fields of "
            f"the run configuration ({', '.join(sorted(names))})"
        )
    return run_config(**{name: namespace[name] for name in names})


def scheduled(
    losses: Sequence[str], schedules: Sequence[str], taus: Sequence[float] | None = None
) -> list[tuple[str, float | None, str]]:
    """``(loss, tau, schedule)``: :func:`configurations` for the paper's constant τ, and for each τ that moves
    (``contrastive.schedules``) every loss it can move with ``taus`` (None: the schedule's base value in its paper)."""
    jobs: list[tuple[str, float | None, str]] = []
    for schedule in schedules:
        if schedule == "constant":
            jobs += [(loss, tau, schedule) for loss, tau in configurations(losses, taus)]
            continue
        if schedule not in SCHEDULES:
            raise ValueError(f"schedules must be among {list(SCHEDULES)}, got {schedule!r}")
        jobs += [
            (loss, float(tau), schedule)
            for loss in losses
            if moves(schedule, loss)
            for tau in (taus or [BASE_TAU[schedule]])
        ]
    return jobs


def shard_of(jobs: list[Any], shard: tuple[int, int]) -> list[Any]:
    """Every n-th of ``jobs`` from the i-th (``shard = (i, n)``); ``ValueError`` unless 0 <= i < n."""
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {i}/{n}")
    return jobs[i::n]


SHARD_RULE = (
    "i/n with 0 <= i < n, counted from 0 as Slurm numbers array tasks: "
    "0/2 and 1/2 split a sweep in two"
)


def _shard(text: str) -> tuple[int, int]:
    """``--shard i/n`` as ``(i, n)``; checked here, so that a bad shard stops the sweep in
    argparse's one line."""
    i, _, n = text.partition("/")
    try:
        shard = int(i), int(n)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes {SHARD_RULE}; got {text!r}") from None
    if not 0 <= shard[0] < shard[1]:
        raise argparse.ArgumentTypeError(f"takes {SHARD_RULE}; got {text!r}")
    return shard


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's ``injected-parameters`` cell of the notebook at ``path`` with ``hide-input``."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and HIDE_TAG not in tags:
            tags.append(HIDE_TAG)
    nbformat.write(nb, path)


def notebook_parameters(notebook: Path) -> set[str]:
    """The names the run notebook's ``parameters`` cell defines."""
    return set(papermill.inspect_notebook(str(notebook)))


@dataclass
class Report:
    """What a sweep did: the record names it ran, skipped and the failures with their error."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)


def sweep(
    dataset: str,
    losses: Sequence[str],
    taus: Sequence[float] | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    data: str | Path | None = None,
    subset: int | None = None,
    device: str | None = None,
    parameters: dict[str, Any] | None = None,
    notebook: str | Path = NOTEBOOK,
    timeout: int = DEFAULT_TIMEOUT,
    log_output: bool = False,
    protocol: str = "paper",
    seeds: Sequence[int] = (0,),
    shard: tuple[int, int] = (0, 1),
    schedules: Sequence[str] = ("constant",),
    plan: bool = False,
) -> Report:
    """Execute the run notebook once per configuration of ``protocol`` and seed of ``seeds`` not yet
    covered by a record (module docstring); None: the protocol's values and the engine's defaults.
    ``shard``: see :func:`shard_of` (n processes sharing one records folder run one sweep between
    them); ``schedules``: how τ moves (:func:`scheduled`); ``parameters``: further Config fields,
    e.g. ``{"knn_k": 8}``. Every job's Config and ``check_replaces`` run first, so a bad value stops
    the sweep with a ``ValueError`` naming it before anything runs. ``plan``: only list this shard's
    record names (:attr:`Report.planned`), running nothing.
    """
    records = (Path(out) / "results" if out is not None else results.root()).resolve()
    out, notebook = records.parent, Path(notebook).resolve()
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    extra = dict(parameters or {})
    if unknown := sorted(set(extra) - notebook_parameters(notebook)):
        raise ValueError(f"parameters {unknown} are not parameters of the run notebook {notebook}")
    base = {
        "protocol": protocol,
        "dataset": dataset,
        "data": None if data is None else str(Path(data).resolve()),
        "subset": subset,
        "epochs": epochs,
        "device": device,
        "out": str(records),
        **extra,
    }
    jobs = shard_of(
        [
            {
                **base,
                "loss": loss,
                **({"tau": tau} if tau is not None else {}),
                "seed": seed,
                **({"schedule": schedule} if schedule != "constant" else {}),
            }
            for seed in seeds
            for loss, tau, schedule in scheduled(losses, schedules, taus)
        ],
        shard,
    )
    configs = [run_config(**job) for job in jobs]
    if plan:
        return Report(planned=[config.stem for config in configs])
    if data is not None:  # once, before any run starts a kernel
        check_npz(data, max((c.subset for c in configs if c.subset is not None), default=None))
    for config in configs:
        check_replaces(config)
    report = Report()
    for i, (job, config) in enumerate(zip(jobs, configs), start=1):
        name, record = config.stem, record_path(config)
        head = f"[{i}/{len(jobs)}] {dataset} {name}:"
        if record.is_file():
            if (reason := shortfall(results.read_record(record), config)) is None:
                print(head, f"skipped, {record} covers it", flush=True)
                report.skipped.append(name)
                continue
            print(
                head,
                f"{record} does not cover it ({reason}); a run started afresh replaces it",
                flush=True,
            )
        target = out / "runs" / protocol / dataset / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        print(head, f"running -> {target}", flush=True)
        start = time.perf_counter()
        try:
            _execute(notebook, target, job, timeout, log_output)
            if not record.is_file():
                raise RuntimeError(f"the notebook finished but wrote no record at {record}")
            report.ran.append(name)
            print(head, f"done in {time.perf_counter() - start:.0f} s, {record}", flush=True)
        except Exception as e:  # one failing run must not stop the others
            message = traceback.format_exception_only(type(e), e)[-1].strip()
            report.failed.append((name, message))
            print(head, f"FAILED after {time.perf_counter() - start:.0f} s: {message}", flush=True)
        finally:
            if target.is_file():
                hide_injected_parameters(target)
    return report


KERNEL_START_S = 300
"""Seconds a run's kernel may take to start (papermill's default, 60, is short where several shards
start kernels that import torch at once on a loaded machine)."""


def _execute(
    notebook: Path, target: Path, job: dict[str, Any], timeout: int, log_output: bool
) -> None:
    """One papermill execution of the run notebook; a run interrupted inside its kernel (Ctrl-C
    reaches the whole process group) is a ``KeyboardInterrupt`` of the sweep, not a failed run."""
    try:
        papermill.execute_notebook(
            str(notebook),
            str(target),
            parameters=job,
            kernel_name=KERNEL,
            execution_timeout=timeout,
            start_timeout=KERNEL_START_S,
            progress_bar=False,
            log_output=log_output,
        )
    except papermill.PapermillExecutionError as e:
        if e.ename == "KeyboardInterrupt":
            raise KeyboardInterrupt from None
        raise


INTERRUPTED = (
    "sweep: interrupted; run the same command again to resume: recorded configurations "
    "are skipped, the interrupted run resumes from its last checkpoint"
)


def _assignment(text: str) -> tuple[str, Any]:
    """A ``--set KEY=VALUE``: VALUE a Python literal (8, 0.5, None, True, 'x') or else the text itself."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set takes KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m contrastive.sweep", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--protocol",
        default="paper",
        choices=list(PROTOCOLS),
        help="the protocol every run starts from (default: paper)",
    )
    p.add_argument("--dataset", default="cifar10")
    p.add_argument(
        "--losses",
        nargs="+",
        default=list(paper.TABLE1_LOSSES),
        help="default: the four losses of Table 1",
    )
    p.add_argument(
        "--taus",
        nargs="*",
        type=float,
        default=None,
        help="default: each loss's grid (paper.GRIDS)",
    )
    p.add_argument("--epochs", type=int, default=None, help="default: the protocol's")
    p.add_argument("--device", default=None, help="default: cuda where available, else cpu")
    p.add_argument(
        "--data", default=None, help="the offline CIFAR-10 npz (default: torchvision download)"
    )
    p.add_argument(
        "--subset",
        type=int,
        default=None,
        help="N class-balanced training images (default: the protocol's)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="records go to OUT/results, notebooks to OUT/runs, checkpoints to "
        "OUT/checkpoints (default: records to $CONTRASTIVE_RESULTS or data/results, "
        "the others beside it)",
    )
    p.add_argument(
        "--timeout", type=int, default=DEFAULT_TIMEOUT, help="papermill's per-cell timeout, seconds"
    )
    p.add_argument(
        "--set",
        dest="parameters",
        type=_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another run-notebook parameter, e.g. --set knn_k=8 (repeatable)",
    )
    p.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0],
        help="the seeds of every configuration (default: 0)",
    )
    p.add_argument(
        "--schedules",
        nargs="+",
        default=["constant"],
        choices=SCHEDULES,
        help="how tau moves during a run (default: constant, the paper's; Beyond the paper: cosine, macl, "
        "learned, each from its paper's base tau unless --taus)",
    )
    p.add_argument(
        "--shard",
        type=_shard,
        default=(0, 1),
        metavar="I/N",
        help="run only shard I of N (I from 0 to N-1, as Slurm numbers the tasks of "
        "--array=0-<N-1>: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; "
        "benchmarks/sweep.sbatch)",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="list the record names this shard would make; run nothing",
    )
    p.add_argument("--notebook", default=str(NOTEBOOK))
    p.add_argument("--log-output", action="store_true", help="stream the notebooks' output")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The sweep's command line: exit status 0, 1 (a run failed), 2 (a bad value, before any run),
    130 (Ctrl-C)."""
    args = parser().parse_args(argv)
    if args.log_output:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report = sweep(
            **{**vars(args), "parameters": dict(args.parameters)}
        )  # each flag's dest is a parameter of sweep
    except ValueError as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    if args.plan:
        i, n = args.shard
        print(f"shard {i}/{n}: {' '.join(report.planned) or '(nothing)'}")
        return 0
    print(
        f"sweep: {len(report.ran)} ran, {len(report.skipped)} skipped, {len(report.failed)} failed"
    )
    for name, message in report.failed:
        print(f"  FAILED {name}: {message}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

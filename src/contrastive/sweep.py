"""``make sweep``: one papermill execution of the run notebook per configuration, resumable.

For every loss and temperature (the tau-free losses once) the run notebook
``book/experiments/train.ipynb`` is executed with papermill (kernel ``python3``, a per-cell
``execution_timeout``), leaving

- the executed notebook at ``<out>/runs/<dataset>/<record name>.ipynb`` (its papermill-injected
  parameters cell tagged ``hide-input``, so a rendered copy shows it folded), and
- the run record at ``<out>/results/<dataset>/<record name>.json`` (+ ``.npz``), written by the
  engine (``contrastive.train.run``); checkpoints go to ``<out>/checkpoints``.

A configuration whose record already exists is skipped when the record covers it (:func:`shortfall`:
the same settings in every field of the paper's protocol, the same seed and k, at least the requested
epochs, training and test images), so an interrupted sweep resumes; a record that does not cover it
(a smoke run with a tiny backbone, say) is replaced, except that an off-protocol run never replaces
a record at the paper's protocol (``contrastive.train.check_replaces``): the sweep then stops before
running anything (exit status 2). One failing run does not stop the others; failures are listed at
the end and the exit status is 1.

    python -m contrastive.sweep --dataset cifar10 --losses contrastive simple hard hard_simple \\
        --taus 0.07 0.3 0.7 1.0 --epochs 200 --device cuda --data ../shared/data/cifar10-jpeg.npz --out data
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import paper, protocol, results
from .losses import USES_K, USES_TAU, check_tau, loss_fn

if TYPE_CHECKING:
    from .train import Config

NOTEBOOK = Path(__file__).resolve().parents[2] / "book" / "experiments" / "train.ipynb"
"""The run notebook (one run = one execution)."""
KERNEL = "python3"
DEFAULT_TIMEOUT = 86_400
"""Papermill's per-cell ``execution_timeout`` in seconds; the training cell is one cell (a day)."""
DEFAULTED = ("device", "out", "checkpoint_dir", "datasets")
"""Run-notebook parameters whose ``None`` means "the engine's default" rather than a value."""
HIDE_TAG = "hide-input"


def run_config(**parameters: Any) -> Config:
    """The run notebook's parameters as a ``contrastive.train.Config`` (None in ``DEFAULTED`` = default)."""
    from .train import Config

    return Config(**{k: v for k, v in parameters.items() if not (k in DEFAULTED and v is None)})


def configurations(losses: Sequence[str], taus: Sequence[float]) -> list[tuple[str, float | None]]:
    """``(loss, tau)`` for every loss and tau; a loss without a temperature appears once, tau None."""
    if not losses:
        raise ValueError("losses must name at least one loss")
    if any(USES_TAU.get(loss) for loss in losses) and not taus:
        raise ValueError("taus must hold at least one temperature for the losses with one")
    configs: list[tuple[str, float | None]] = []
    for loss in losses:
        loss_fn(loss)
        if USES_TAU[loss]:
            for tau in taus:
                check_tau(tau)
                configs.append((loss, float(tau)))
        else:
            configs.append((loss, None))
    return list(dict.fromkeys(configs))


SAME = tuple(f for f in protocol.PROTOCOL_FIELDS if f not in ("epochs", "subset", "test_subset")) + ("seed",)
"""Fields a covering record must share with the requested run (``k`` too, for a loss with nearest negatives).
The data path is not compared: the same file lies at different paths on different machines."""


def wanted_images(config: Config) -> tuple[int | None, int | None]:
    """The most training and test images a run of ``config`` uses, None = the whole split: ``subset``
    training images; ``test_subset`` test images, else in a ``subset`` run at most ``subset`` of them
    (the engine's min(subset, test split size)), else all."""
    return config.subset, config.test_subset or config.subset


def whole_splits(record: dict[str, Any]) -> tuple[bool, bool]:
    """Whether ``record`` used the whole training and the whole test split, as far as its config and
    image counts tell without the split sizes: ``subset`` None; ``test_subset`` None and either
    ``subset`` None or fewer test images than ``subset`` (the engine's min(subset, test split size)
    was the split size)."""
    config, n_test = record["config"], record.get("provenance", {}).get("test_images")
    subset = config.get("subset", protocol.MISSING)
    cut_short = isinstance(subset, int) and isinstance(n_test, int) and n_test < subset
    return subset is None, config.get("test_subset", protocol.MISSING) is None and (subset is None or cut_short)


def _covers(whole: bool, have: int | None, want: int | None) -> bool:
    """A record that used the whole split (``whole``) or ``have`` >= ``want`` images covers ``want`` (None = all)."""
    return whole or (want is not None and have is not None and have >= want)


def shortfall(record: dict[str, Any], wanted: Config) -> str | None:
    """Why an existing ``record`` does not make the requested run ``wanted`` unnecessary, or None if it does.

    It must match ``wanted`` in every field of :data:`SAME` (and ``k`` for a loss with nearest
    negatives), have at least its epochs and have used at least the images of :func:`wanted_images`:
    the counts in its provenance (``train_images``, ``test_images``), or the whole split where
    :func:`whole_splits` knows it did. The split sizes are not known here, so a record whose
    ``subset`` or ``test_subset`` happened to equal its split's size does not cover a whole-split request.
    """
    have, want, prov = record["config"], asdict(wanted), record.get("provenance", {})
    names = SAME + (("k",) if USES_K[want["loss"]] else ())
    found = [str(d) for d in protocol.differences(have, want, names, reference="requested")]
    if not int(have.get("epochs") or 0) >= want["epochs"]:
        found.append(str(protocol.Deviation("epochs", have.get("epochs", protocol.MISSING), want["epochs"], "requested")))
    for name, whole, n in zip(("train_images", "test_images"), whole_splits(record), wanted_images(wanted)):
        if not _covers(whole, prov.get(name), n):
            found.append(str(protocol.Deviation(name, prov.get(name, protocol.MISSING), n, "requested")))
    return ", ".join(found) or None


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's ``injected-parameters`` cell of the notebook at ``path`` with ``hide-input``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and HIDE_TAG not in tags:
            tags.append(HIDE_TAG)
    nbformat.write(nb, path)


def notebook_parameters(notebook: Path) -> set[str]:
    """The names the run notebook's ``parameters`` cell defines."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


@dataclass
class Report:
    """What a sweep did: the record names it ran, skipped and the failures with their error."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def sweep(
    dataset: str,
    losses: Sequence[str],
    taus: Sequence[float],
    epochs: int,
    out: str | Path = "data",
    data: str | Path | None = None,
    subset: int | None = None,
    device: str | None = None,
    parameters: dict[str, Any] | None = None,
    notebook: str | Path = NOTEBOOK,
    timeout: int = DEFAULT_TIMEOUT,
    log_output: bool = False,
) -> Report:
    """Execute the run notebook once per configuration not yet covered by a record (module docstring).

    ``parameters`` are further run-notebook parameters (e.g. ``{"knn_k": 8}``); every configuration
    is checked with ``contrastive.train.Config`` and ``contrastive.train.check_replaces`` (an
    off-protocol run never replaces a record at the paper's protocol) before anything runs, so a bad
    value stops the sweep with a ``ValueError`` naming it.
    """
    import papermill

    from .train import check_replaces

    out, notebook = Path(out).resolve(), Path(notebook).resolve()
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    extra = dict(parameters or {})
    unknown = sorted(set(extra) - notebook_parameters(notebook))
    if unknown:
        raise ValueError(f"parameters {unknown} are not parameters of the run notebook {notebook}")
    base = {
        "dataset": dataset, "data": None if data is None else str(Path(data).resolve()), "subset": subset,
        "epochs": epochs, "device": device, "out": str(out / "results"), "checkpoint_dir": str(out / "checkpoints"), **extra,
    }
    jobs = [{**base, "loss": loss, **({"tau": tau} if tau is not None else {})} for loss, tau in configurations(losses, taus)]
    configs = [run_config(**job) for job in jobs]
    paths = [results.record_path(base["out"], dataset, job["loss"], job.get("tau")) for job in jobs]
    for config, record in zip(configs, paths):
        check_replaces(config, record)
    report = Report()
    for i, (job, config, record) in enumerate(zip(jobs, configs, paths), start=1):
        name = results.record_name(job["loss"], job.get("tau"))
        if record.is_file():
            reason = shortfall(results.read_record(record), config)
            if reason is None:
                print(f"[{i}/{len(jobs)}] {dataset} {name}: skipped, {record} covers it", flush=True)
                report.skipped.append(name)
                continue
            print(f"[{i}/{len(jobs)}] {dataset} {name}: {record} does not cover it ({reason}); it will be replaced", flush=True)
        target = out / "runs" / dataset / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{i}/{len(jobs)}] {dataset} {name}: running -> {target}", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook), str(target), parameters=job, kernel_name=KERNEL, execution_timeout=timeout,
                progress_bar=False, log_output=log_output,
            )
            if not record.is_file():
                raise RuntimeError(f"the notebook finished but wrote no record at {record}")
            report.ran.append(name)
            print(f"[{i}/{len(jobs)}] {dataset} {name}: done in {time.perf_counter() - start:.0f} s, {record}", flush=True)
        except Exception as e:  # one failing run must not stop the others
            message = traceback.format_exception_only(type(e), e)[-1].strip()
            report.failed.append((name, message))
            print(f"[{i}/{len(jobs)}] {dataset} {name}: FAILED after {time.perf_counter() - start:.0f} s: {message}", flush=True)
        finally:
            if target.is_file():
                hide_injected_parameters(target)
    return report


def _value(text: str) -> Any:
    """A ``--set`` value: a Python literal (8, 0.5, None, True, 'x') or else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _assignment(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set takes KEY=VALUE, got {text!r}")
    return key, _value(value)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m contrastive.sweep", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--losses", nargs="+", default=list(paper.TABLE1_LOSSES), help="default: the four losses of Table 1")
    p.add_argument("--taus", nargs="*", type=float, default=list(paper.TABLE1_TAUS), help="default: Table 1's")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--device", default=None, help="default: cuda where available, else cpu")
    p.add_argument("--data", default=None, help="the offline CIFAR-10 npz (default: torchvision download)")
    p.add_argument("--subset", type=int, default=None, help="first N training images (default: all)")
    p.add_argument("--out", default="data", help="records go to OUT/results, notebooks to OUT/runs (default: data)")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="papermill's per-cell timeout, seconds")
    p.add_argument("--set", dest="parameters", type=_assignment, action="append", default=[], metavar="KEY=VALUE",
                   help="another run-notebook parameter, e.g. --set knn_k=8 (repeatable)")
    p.add_argument("--notebook", default=str(NOTEBOOK))
    p.add_argument("--log-output", action="store_true", help="stream the notebooks' output")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.log_output:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report = sweep(
            args.dataset, args.losses, args.taus, args.epochs, args.out, args.data, args.subset, args.device,
            dict(args.parameters), args.notebook, args.timeout, args.log_output,
        )
    except ValueError as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2
    print(f"sweep: {len(report.ran)} ran, {len(report.skipped)} skipped, {len(report.failed)} failed")
    for name, message in report.failed:
        print(f"  FAILED {name}: {message}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Run records: one JSON file per training run, written atomically, read back as a table.

A record, what the book's experimental chapters draw and judge, is a dict with four required parts: ``config``
(what was run: dataset, loss, tau, k, epochs, batch_size, negatives, seed, ...), ``results`` (final numbers:
linear_top1 and knn_top1 in percent, uniformity_train and tolerance_train (Table 1's, on the training set),
uniformity_test, tolerance_test, alignment, pos_sim_mean, ...), ``curves`` (per-epoch series of the test set,
``{"epoch": [...], "loss": [...], "uniformity_test": [...], ...}``) and ``provenance`` (commit, versions, device, data source and its
sha256, wall seconds per phase, times). Larger arrays (embedding and similarity samples) go beside the JSON in
``<name>.npz``, whose sha256 the JSON holds. Records live at ``<root>/<dataset>/<name>.json`` (:func:`record_name`).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import reprlib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import paths
from .atomic import clean_temps, temp_file
from .losses import USES_TAU, check_loss

REQUIRED = ("config", "results", "curves", "provenance")
TABLE1_FIELDS = {
    "linear_top1": "linear_top1",
    "knn_top1": "knn_top1",
    "uniformity": "uniformity_train",
    "tolerance": "tolerance_train",
}
"""The ``results`` field that holds each metric of the paper's Table 1 (``paper.METRICS``) and kNN:
uniformity and tolerance on the training set, as the paper's."""
DEFAULT_ROOT = paths.checkout() / "data" / "results"
"""``data/results`` of the checkout the command runs in (``contrastive.paths.checkout``), never of
the package's install location."""
TRIALS_ROOT = DEFAULT_ROOT.parent / "trials"
"""``data/trials`` of the checkout: off-protocol diagnostic runs, ``<question>/<trial>/<protocol>/<dataset>/``;
the book shows them as diagnostics and never counts them for a claim."""
ROOT_ENV = "CONTRASTIVE_RESULTS"
"""Environment variable naming another records root (tests, other stores)."""


def root() -> Path:
    """Where the book reads records and runs write them: ``$CONTRASTIVE_RESULTS`` if set, else :data:`DEFAULT_ROOT`."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def shown_root() -> str:
    """:func:`root` as the book prints it: relative to the checkout where it lies inside it."""
    checkout = paths.checkout()
    path = root().resolve()
    return str(path.relative_to(checkout)) if path.is_relative_to(checkout) else str(path)


class MissingRecordError(FileNotFoundError):
    """A record that a chapter or command asked for has not been written (the run was not made)."""


def record_name(loss: str, tau: float | None, seed: int = 0, schedule: str = "constant") -> str:
    """``<loss>-tau<tau>-seed<seed>`` for losses with a temperature, ``<loss>-seed<seed>`` for simple and hard_simple;
    a τ that moves (``contrastive.schedules``) is named after the loss: ``contrastive-cosine-tau0.1-seed0``."""
    check_loss(loss)
    if not USES_TAU[loss]:
        return f"{loss}-seed{seed}"
    if tau is None:
        raise ValueError(f"tau is required for loss {loss!r}")
    moving = "" if schedule == "constant" else f"-{schedule}"
    return f"{loss}{moving}-tau{float(tau):g}-seed{seed}"


def record_path(
    root: str | os.PathLike,
    dataset: str,
    loss: str,
    tau: float | None,
    seed: int = 0,
    schedule: str = "constant",
) -> Path:
    """Where the record of (dataset, loss, tau, seed, schedule) lives under ``root``."""
    return Path(root) / dataset / f"{record_name(loss, tau, seed, schedule)}.json"


@dataclass(frozen=True)
class Record:
    """One run record as read back and checked; ``invalid`` says where it holds NaN or inf (never drawn or counted)."""

    config: dict[str, Any]
    results: dict[str, float]
    curves: dict[str, list]
    provenance: dict[str, Any]
    path: Path
    arrays_sha256: str | None = None
    invalid: str | None = None

    @property
    def protocol(self) -> str:
        """The protocol the run started from (the folder of its record)."""
        return self.config["protocol"]

    @property
    def dataset(self) -> str:
        return self.config["dataset"]

    @property
    def loss(self) -> str:
        return self.config["loss"]

    @property
    def tau(self) -> float | None:
        """τ, None for the losses without one."""
        return float(self.config["tau"]) if USES_TAU[self.loss] else None

    @property
    def seed(self) -> int:
        return self.config["seed"]

    @property
    def schedule(self) -> str:
        """How τ moved during the run (``contrastive.schedules``); records made before schedules existed: constant."""
        return self.config.get("schedule", "constant")

    @property
    def name(self) -> str:
        return record_name(self.loss, self.tau, self.seed, self.schedule)

    def value(self, metric: str) -> float:
        """The final ``metric`` of the run, named as the paper's Table 1 names it
        (:data:`TABLE1_FIELDS`): ``uniformity`` is ``results.uniformity_train``."""
        return self.results[TABLE1_FIELDS[metric]]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays stored beside the record (:func:`read_arrays`)."""
        return read_arrays(self)


class BadRecordError(ValueError):
    """A record file (or the arrays beside it) that cannot be used: ``"<path>: <problem>"``, both kept as attributes."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem


class RecordWarning(UserWarning):
    """A record file was skipped (:func:`load`, where asked to be tolerant) or holds NaN or inf
    (:func:`load_records`)."""


ARRAYS_KEY = "arrays_sha256"
"""Top-level key that :func:`write_record` sets: the sha256 (hex) of the record's ``<stem>.npz``, or None."""
BENCHMARK_NUMBERS = ("batch_size", "engine_s_per_epoch", "baseline_s_per_epoch", "speedup")
"""The numbers of an epoch-time benchmark that the book shows (besides its ``device``)."""


def _is_number(value: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_nonfinite(value: Any) -> bool:
    """NaN or ±inf (ints are always finite)."""
    return isinstance(value, float) and not math.isfinite(value)


def _present(part: dict[str, Any], key: str) -> str:
    """``part[key]`` shortened for a message, or "missing"."""
    return reprlib.repr(part[key]) if key in part else "missing"


def record_problem(record: Any) -> str | None:
    """What makes ``record`` unusable by the readers of records (a part missing or of the wrong type), or None."""
    if not isinstance(record, dict):
        return f"a record must be a JSON object, got {reprlib.repr(record)}"
    if missing := [k for k in REQUIRED if k not in record]:
        return f"lacks the required parts {missing} (required: {list(REQUIRED)})"
    if wrong := [k for k in REQUIRED if not isinstance(record[k], dict)]:
        return f"{wrong[0]} must be an object (dict), got {_present(record, wrong[0])}"
    config = record["config"]
    for key in ("protocol", "dataset", "loss"):
        if not isinstance(config.get(key), str):
            return f"config.{key} must be a string, got {_present(config, key)}"
    if config["loss"] not in USES_TAU:
        return f"config.loss must be one of {sorted(USES_TAU)}, got {config['loss']!r}"
    if isinstance(config.get("seed"), bool) or not isinstance(config.get("seed"), int):
        return f"config.seed must be an integer, got {_present(config, 'seed')}"
    if config.get("tau") is not None and not _is_number(config["tau"]):
        return f"config.tau must be a number or null, got {_present(config, 'tau')}"
    if bad := {
        k: v for k, v in record["results"].items() if not (isinstance(k, str) and _is_number(v))
    }:
        return f"results must map names to numbers, got {reprlib.repr(bad)}"
    if bad := {
        k: v
        for k, v in record["curves"].items()
        if not (isinstance(k, str) and isinstance(v, list))
    }:
        return f"curves must map names to lists, got {reprlib.repr(bad)}"
    if not isinstance(record.get(ARRAYS_KEY, 0), (str, type(None))):
        return f"{ARRAYS_KEY} must be a string or null, got {_present(record, ARRAYS_KEY)}"
    return None


def _nonfinite(record: dict[str, Any]) -> str | None:
    """Where the results and curves of a well-formed record hold NaN or ±inf, e.g.
    ``"non-finite results.uniformity = nan, curves.loss[3] = inf"``, or None."""
    found = [f"results.{k} = {v}" for k, v in record["results"].items() if _is_nonfinite(v)]
    found += [
        f"curves.{k}[{i}] = {v}"
        for k, vs in record["curves"].items()
        for i, v in enumerate(vs)
        if _is_nonfinite(v)
    ]
    return f"non-finite {', '.join(found)}" if found else None


def write_record(
    path: str | os.PathLike, record: dict[str, Any], arrays: dict[str, np.ndarray] | None = None
) -> Path:
    """Write ``record`` as JSON and ``arrays`` as ``<stem>.npz`` beside it, so that both become visible or neither.

    ``ValueError`` naming the path, before anything is written, where ``record`` is malformed (:func:`record_problem`),
    holds NaN or inf, or is not JSON. Temporary files of killed writes in the folder are removed.
    """
    path = Path(path)
    blob = None
    if arrays:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        blob = buffer.getvalue()
    record = {**record, ARRAYS_KEY: hashlib.sha256(blob).hexdigest() if blob else None}
    problem = record_problem(record)
    if problem is None and (found := _nonfinite(record)):
        problem = f"{found} (a record never holds NaN or inf)"
    if problem:
        raise ValueError(f"{path}: {problem}; not written")
    try:
        text = json.dumps(record, indent=1, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: the record is not JSON ({e}); not written") from None
    clean_temps(path.parent)
    _publish(path, text.encode(), blob)
    return path


def _publish(path: Path, text: bytes, blob: bytes | None) -> None:
    """Write both to temporary files, then rename the npz into place (or remove a stale one), then the JSON. A
    write killed between the two leaves the old JSON beside another npz, which :func:`read_arrays` refuses."""
    npz, temps = path.with_suffix(".npz"), []
    try:
        if blob is not None:
            temps.append(temp_file(npz, lambda f: f.write(blob)))
        temps.append(temp_file(path, lambda f: f.write(text)))
        if blob is None:
            npz.unlink(missing_ok=True)
        else:
            os.replace(temps[0], npz)
        os.replace(temps[-1], path)
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    """The JSON value in ``path``; ``BadRecordError`` naming it if it cannot be read, is empty or is not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadRecordError(path, f"cannot be read as text ({e})") from None
    if not text.strip():
        raise BadRecordError(path, "empty file (a write cut short?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BadRecordError(
            path, f"not valid JSON, truncated? ({e.msg} at line {e.lineno} column {e.colno})"
        ) from None


def read_record(path: str | os.PathLike) -> Record:
    """Read and check one record: ``MissingRecordError`` if it does not exist, ``BadRecordError`` if it is empty,
    not JSON or malformed (:func:`record_problem`). One holding NaN or inf is read, with ``invalid`` saying where."""
    path = Path(path)
    if not path.is_file():
        raise MissingRecordError(f"no run record at {path}: that run has not been made yet")
    record = _read_json(path)
    if problem := record_problem(record):
        raise BadRecordError(path, problem)
    return Record(
        **{k: record[k] for k in REQUIRED},
        path=path,
        arrays_sha256=record.get(ARRAYS_KEY),
        invalid=_nonfinite(record),
    )


def read_arrays(record: Record) -> dict[str, np.ndarray]:
    """The arrays stored beside a record (empty if it has none). ``BadRecordError`` naming the npz where it does
    not belong to the record: absent though listed, or its sha256 not the record's (e.g. left by a killed write)."""
    npz, want = record.path.with_suffix(".npz"), record.arrays_sha256
    if not npz.is_file():
        if want:
            raise BadRecordError(
                npz, f"missing, though its record lists arrays ({ARRAYS_KEY} {want[:12]}...)"
            )
        return {}
    data = npz.read_bytes()
    if (got := hashlib.sha256(data).hexdigest()) != want:
        listed = f"{ARRAYS_KEY} {want[:12]}..." if want else f"{ARRAYS_KEY} null: it has no arrays"
        raise BadRecordError(
            npz,
            f"stale: its sha256 {got[:12]}... is not its record's ({listed}), "
            "it is left from another write",
        )
    with np.load(io.BytesIO(data)) as f:
        return {k: f[k] for k in f.files}


def _read_each(
    paths: Iterable[Path],
    read: Callable[[Path], Any],
    problems: list[tuple[str, str]] | None,
    strict: bool,
) -> list:
    """``read(p)`` of each path. ``strict``: a ``BadRecordError`` (naming the file) is raised;
    otherwise the file is skipped with a :class:`RecordWarning` and, where ``problems`` is a list,
    ``(path, problem)`` appended to it."""
    good = []
    for path in paths:
        try:
            good.append(read(path))
        except BadRecordError as e:
            if strict:
                raise
            warnings.warn(f"{e.path}: {e.problem}; skipped", RecordWarning, stacklevel=3)
            if problems is not None:
                problems.append((e.path, e.problem))
    return good


def _strict(problems: list | None, strict: bool | None) -> bool:
    """Whether a reader raises on a bad file: unless the caller asked for tolerance, by
    ``strict=False`` or by passing a ``problems`` list to collect what was skipped."""
    return problems is None if strict is None else strict


def load(
    root: str | os.PathLike = DEFAULT_ROOT,
    dataset: str | None = None,
    problems: list[tuple[str, str]] | None = None,
    strict: bool | None = None,
) -> list[Record]:
    """All good records under ``root`` (optionally only those of ``dataset``, in any protocol's
    folder), by path.

    A file that :func:`read_record` rejects raises its ``BadRecordError`` naming the file: a chapter
    never drops a record that exists but cannot be read. Only where the caller asks for tolerance
    (``strict=False``, or a ``problems`` list) is such a file skipped with a :class:`RecordWarning`
    and ``(path, problem)`` appended to ``problems``. Records holding NaN or inf are kept. Temporary
    files of killed writes under the folder are removed.
    """
    base = Path(root)
    if not base.is_dir():
        return []
    clean_temps(base)
    strict = _strict(problems, strict)
    records = _read_each(sorted(base.rglob("*.json")), read_record, problems, strict)
    return [r for r in records if dataset is None or r.dataset == dataset]


def _read_benchmark(path: Path) -> dict[str, Any]:
    """One epoch-time measurement; ``BadRecordError`` naming the file if it is malformed."""
    benchmark = _read_json(path)
    if not isinstance(benchmark, dict):
        raise BadRecordError(
            path, f"a benchmark must be a JSON object, got {reprlib.repr(benchmark)}"
        )
    if not isinstance(benchmark.get("device"), str):
        raise BadRecordError(path, f"device must be a string, got {_present(benchmark, 'device')}")
    for key in BENCHMARK_NUMBERS:
        if not _is_number(benchmark.get(key)) or _is_nonfinite(benchmark[key]):
            raise BadRecordError(
                path, f"{key} must be a finite number, got {_present(benchmark, key)}"
            )
    return benchmark


def load_benchmarks(
    root: str | os.PathLike | None = None,
    problems: list[tuple[str, str]] | None = None,
    strict: bool | None = None,
) -> list[dict[str, Any]]:
    """The epoch-time measurements that ``benchmarks/epoch_time.py`` wrote
    (``data/benchmarks/*.json``); a bad file raises, or is skipped where the caller asks for it, as
    in :func:`load`."""
    base = Path(root) if root else DEFAULT_ROOT.parent / "benchmarks"
    if not base.is_dir():
        return []
    strict = _strict(problems, strict)
    return _read_each(sorted(base.glob("*.json")), _read_benchmark, problems, strict)


def load_records(dataset: str | None = None) -> list[Record]:
    """All records under :func:`root` (optionally of one data set), as :func:`load` reads them: a
    record that cannot be read raises ``BadRecordError`` naming the file; a record holding NaN or
    inf is kept, with a warning here, and never drawn (:func:`by_tau`, Table 1)."""
    records = load(root(), dataset)
    for r in records:
        if r.invalid:
            warnings.warn(
                f"{r.path}: invalid record ({r.invalid}); not drawn, not counted",
                RecordWarning,
                stacklevel=2,
            )
    return records

"""The run table: the one way the edition asks questions of the records (contrastive.edition.table)."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from contrastive import results
from contrastive.edition.table import RunTable, cached_reader, with_arrays
from contrastive.protocols import PAPER
from test_results import record


def write(root, protocol="paper", dataset="cifar10", loss="hard", tau=0.3, seed=0, **change):
    """A record of (loss, tau, seed) in ``protocol``'s folder, its config changed by ``change``."""
    made = record(dataset, loss, tau, seed=seed, protocol=protocol)
    made["config"].update(change)
    made["results"] = {"linear_top1": 80.0 + seed, "uniformity_train": 3.0}
    path = results.record_path(root / protocol, dataset, loss, tau, seed)
    results.write_record(path, made, {"pos_sim": np.ones(2)} if tau != 1.0 else None)
    return path


def at_protocol(**settings) -> dict:
    """The settings of the paper's protocol that ``record`` of test_results lacks."""
    return asdict(PAPER) | settings


def test_at_keeps_one_protocol_folder_and_one_data_set(tmp_path):
    write(tmp_path, **at_protocol())
    write(tmp_path, protocol="cpu", **at_protocol(epochs=180))
    write(tmp_path, dataset="svhn", **at_protocol())
    table = RunTable(results.load(tmp_path))
    runs = table.at("paper", "cifar10")
    assert [(r.protocol, r.dataset) for r in runs.records] == [("paper", "cifar10")]
    assert len(table.made_at("paper")) == 2 and table.at("cpu-short").records == []


def test_record_and_get_differ_on_runs_off_the_protocol(tmp_path):
    write(tmp_path, **at_protocol())
    write(tmp_path, tau=0.7, **at_protocol(epochs=20))  # off the paper's protocol
    runs = RunTable(results.load(tmp_path)).at("paper")
    assert runs.record("hard", 0.7).config["epochs"] == 20 and runs.get("hard", 0.7) is None
    assert runs.get("hard", 0.3) is runs.record("hard", 0.3) and runs.used == [
        runs.record("hard", 0.3)
    ]
    assert runs.record("hard", 0.3, seed=1) is None and runs.record("simple") is None


def test_seeds_mean_and_series_count_only_what_counts(tmp_path):
    for seed in (0, 1, 2):
        write(tmp_path, seed=seed, **at_protocol())
    write(tmp_path, seed=3, **at_protocol(epochs=20))  # off the protocol: a seed, never counted
    runs = RunTable(results.load(tmp_path)).at("paper")
    assert [r.seed for r in runs.seeds("hard", 0.3)] == [0, 1, 2, 3]
    assert [r.seed for r in runs.counted("hard", 0.3)] == [0, 1, 2]
    assert runs.mean("hard", 0.3, "linear_top1") == 81.0 and runs.most_seeds == 3
    assert runs.series("hard", "linear_top1", [0.3])[0] == 81.0
    assert math.isnan(runs.mean("hard", 0.07, "linear_top1"))  # nothing to average
    assert runs.afresh().used == [] and runs.afresh().most_seeds == 1


def test_by_tau_sorts_the_valid_constant_runs_and_with_arrays_keeps_those_with_the_keys(tmp_path):
    for tau in (1.0, 0.07, 0.3):
        write(tmp_path, tau=tau, **at_protocol())
    write(tmp_path, tau=0.5, **at_protocol(schedule="cosine"))  # a τ that moves
    runs = RunTable(results.load(tmp_path)).at("paper")
    pairs = runs.by_tau("hard")
    assert [t for t, _ in pairs] == [0.07, 0.3, 1.0] and runs.by_tau("hard", seed=1) == []
    assert [t for t, _, _ in with_arrays(pairs, ("pos_sim",))] == [0.07, 0.3]
    assert with_arrays(pairs, ("pos_sim", "neg_top10")) == []
    assert [r.schedule for r in runs.constant().records] == ["constant"] * 3


def test_an_invalid_record_is_no_seed_and_no_point(tmp_path):
    path = write(tmp_path, **at_protocol())
    made = results.read_record(path)
    assert not made.invalid
    broken = path.read_text().replace('"uniformity_train": 3.0', '"uniformity_train": NaN')
    path.write_text(broken)
    runs = RunTable(results.load(tmp_path)).at("paper")
    assert runs.seeds("hard", 0.3) == [] and runs.by_tau("hard") == []
    assert runs.record("hard", 0.3).invalid  # still found, so a verdict can name it


def test_the_cached_reader_reads_each_npz_once(tmp_path, monkeypatch):
    write(tmp_path, **at_protocol())
    reads, read_arrays = [], results.read_arrays
    monkeypatch.setattr(results, "read_arrays", lambda r: reads.append(r.path) or read_arrays(r))
    runs = RunTable(results.load(tmp_path), cached_reader()).at("paper")
    assert runs.arrays("hard", 0.3)["pos_sim"].tolist() == [1.0, 1.0]
    runs.arrays("hard", 0.3)
    assert len(reads) == 1

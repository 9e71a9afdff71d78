"""Run records: atomic writes, reading back, lookup, provenance, the paper's table."""

import json

import numpy as np
import pytest
import torch

from contrastive import paper, provenance, results


def record(dataset="cifar10", loss="contrastive", tau=0.3, epochs=200, seed=0, protocol="paper"):
    return {
        "config": {
            "protocol": protocol,
            "dataset": dataset,
            "loss": loss,
            "tau": tau,
            "epochs": epochs,
            "seed": seed,
        },
        "results": {"linear_top1": 80.0},
        "curves": {"epoch": [1], "loss": [5.0]},
        "provenance": {"commit": "abc"},
    }


def test_record_names():
    assert results.record_name("contrastive", 0.3) == "contrastive-tau0.3-seed0"
    assert results.record_name("hard", 1, seed=2) == "hard-tau1-seed2"
    assert results.record_name("simple", 0.3) == "simple-seed0"
    with pytest.raises(ValueError, match="loss must be one of"):
        results.record_name("triplet", 0.3)
    with pytest.raises(ValueError, match="tau is required"):
        results.record_name("hard", None)


def test_write_read_roundtrip_with_arrays(tmp_path):
    path = results.record_path(tmp_path, "cifar10", "hard", 0.7)
    results.write_record(path, record(loss="hard", tau=0.7), {"pos_sim": np.arange(3.0)})
    assert path == tmp_path / "cifar10" / "hard-tau0.7-seed0.json"
    back = results.read_record(path)
    assert back.results == {"linear_top1": 80.0} and back.path == path
    assert (back.protocol, back.dataset, back.loss, back.tau, back.seed, back.name) == (
        "paper",
        "cifar10",
        "hard",
        0.7,
        0,
        path.stem,
    )
    np.testing.assert_array_equal(results.read_arrays(back)["pos_sim"], np.arange(3.0))
    assert not list(tmp_path.rglob("*.tmp"))


def test_write_is_atomic_on_failure(tmp_path):
    path = tmp_path / "r.json"
    results.write_record(path, record())
    bad = record()
    bad["results"]["linear_top1"] = float("nan")
    with pytest.raises(
        ValueError, match=r"r\.json: non-finite results\.linear_top1 = nan .*; not written"
    ):
        results.write_record(path, bad)
    assert json.loads(path.read_text())["results"]["linear_top1"] == 80.0
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_rewriting_a_record_without_arrays_drops_its_stale_arrays(tmp_path):
    path = tmp_path / "r.json"
    results.write_record(path, record(), {"pos_sim": np.zeros(2)})
    results.write_record(path, json.loads(path.read_text()))
    assert json.loads(path.read_text())[results.ARRAYS_KEY] is None
    assert not path.with_suffix(".npz").exists() and results.read_record(path).arrays() == {}


def test_missing_parts_and_missing_record(tmp_path):
    with pytest.raises(ValueError, match="provenance"):
        results.write_record(tmp_path / "r.json", {k: {} for k in ("config", "results", "curves")})
    with pytest.raises(results.MissingRecordError, match="not been made"):
        results.read_record(tmp_path / "nope.json")


def test_load_and_find(tmp_path):
    for loss, tau in [("contrastive", 0.3), ("simple", None), ("hard", 0.07)]:
        results.write_record(
            results.record_path(tmp_path, "cifar10", loss, tau), record(loss=loss, tau=tau)
        )
    results.write_record(
        results.record_path(tmp_path, "svhn", "hard", 0.07), record("svhn", "hard", 0.07)
    )
    records = results.load(tmp_path)
    assert len(records) == 4 and len(results.load(tmp_path, "svhn")) == 1
    assert {r.name for r in records if r.dataset == "cifar10"} == {
        "contrastive-tau0.3-seed0",
        "simple-seed0",
        "hard-tau0.07-seed0",
    }
    assert results.load(tmp_path / "absent") == []
    results.write_record(
        results.record_path(tmp_path / "cpu", "svhn", "simple", None), record("svhn", "simple")
    )
    assert {r.loss for r in results.load(tmp_path, "svhn")} == {
        "hard",
        "simple",
    }  # any protocol's folder


def test_load_records_reads_the_root_and_warns_of_invalid_records(tmp_path, monkeypatch):
    monkeypatch.delenv(results.ROOT_ENV, raising=False)
    assert results.root() == results.DEFAULT_ROOT
    results.write_record(
        results.record_path(tmp_path, "svhn", "simple", None), record("svhn", "simple", None)
    )
    monkeypatch.setenv(results.ROOT_ENV, str(tmp_path))
    assert results.root() == tmp_path
    assert [r.loss for r in results.load_records("svhn")] == ["simple"]
    assert results.load_records("cifar10") == []
    bad = record(loss="hard") | {results.ARRAYS_KEY: None}
    bad["results"]["uniformity"] = float("nan")
    path = results.record_path(tmp_path, "cifar10", "hard", 0.3)
    path.parent.mkdir()
    path.write_text(json.dumps(bad))  # NaN, as another tool would write it
    with pytest.warns(
        results.RecordWarning,
        match=r"hard-tau0.3-seed0.json: invalid record \(non-finite results.uniformity = nan\); not drawn",
    ):
        records = results.load_records("cifar10")
    assert len(records) == 1 and records[0].invalid


def test_sha256(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert (
        provenance.sha256(tmp_path / "f")
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_environment_names_versions_and_commit():
    env = provenance.environment()
    assert {"torch", "torchvision", "device", "commit", "dirty"} <= env.keys()
    assert len(env["commit"]) == 40 and isinstance(env["dirty"], bool)
    assert provenance.environment("cpu")["device"].startswith("cpu")


def test_a_cpu_is_named_by_its_model_and_threads(monkeypatch):
    monkeypatch.setattr(provenance, "cpu_model", lambda: "AMD EPYC")
    assert (
        provenance.environment("cpu")["device"]
        == f"cpu (AMD EPYC, {torch.get_num_threads()} threads)"
    )


def test_commit_outside_a_repository_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(provenance.COMMIT_ENV, raising=False)
    assert provenance.git_commit(tmp_path) == {"commit": None, "dirty": None}
    monkeypatch.setenv(provenance.COMMIT_ENV, "f" * 40)
    assert provenance.git_commit(tmp_path) == {"commit": "f" * 40, "dirty": None}


def test_paper_table1():
    assert paper.table1("cifar10", "linear_top1", "contrastive", 0.3) == 83.27
    assert paper.table1("cifar10", "tolerance", "hard_simple") == 0.030
    assert paper.table1("svhn", "uniformity", "hard", 1) == 3.88
    assert paper.table1("cifar10", "linear_top1", "contrastive", 0.2) is None
    with pytest.raises(ValueError, match="dataset must be one of"):
        paper.table1("mnist", "linear_top1", "contrastive", 0.3)

"""contrastive.protocol: which run records are at the paper's protocol (one test per protocol field)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from contrastive import paper, protocol
from contrastive.train import Config

OFF = {
    "epochs": 100, "batch_size": 256, "lr": 0.06, "momentum": 0.8, "weight_decay": 1e-4, "milestones": [120, 160],
    "gamma": 0.2, "negatives": "batch", "bank_momentum": 0.9, "feature_dim": 64, "arch": "tiny", "head": "mlp",
    "hflip": False, "knn_k": 20, "knn_sigma": 0.1, "probe_epochs": 10, "subset": 5000, "test_subset": 1000,
}
"""An off-protocol value for every field of protocol.PROTOCOL_FIELDS."""


def record(loss="contrastive", **config):
    """The config of a record as the engine writes it (JSON round trip: tuples become lists)."""
    c = dataclasses.asdict(Config(device="cpu", loss=loss))
    c.update(config)
    return {"config": json.loads(json.dumps(c))}


def test_every_config_field_is_classified_once():
    groups = (protocol.PROTOCOL_FIELDS, protocol.HARD_FIELDS, protocol.FREE_FIELDS)
    names = [n for g in groups for n in g]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(Config))
    assert set(OFF) == set(protocol.PROTOCOL_FIELDS)


def test_the_engines_defaults_are_the_papers_protocol():
    config = Config(device="cpu")
    assert {name: getattr(config, name) for name in paper.PROTOCOL} == paper.PROTOCOL
    assert set(paper.PROTOCOL) == set(protocol.PROTOCOL_FIELDS + protocol.HARD_FIELDS)


def test_the_protocol_does_not_import_the_engine():
    code = "import sys, contrastive.protocol; print('contrastive.train' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_records_at_the_engines_defaults_are_at_the_protocol():
    for loss in ("contrastive", "hard", "simple", "hard_simple"):
        assert protocol.protocol_problem(record(loss)) is None
        assert protocol.deviations(record(loss, seed=3, tau=0.5, device="cuda", knn_every=1)) == []


@pytest.mark.parametrize("field", sorted(OFF))
def test_each_protocol_field_off_the_papers_value_is_named(field):
    r = record(**{field: OFF[field]})
    found = protocol.deviations(r)
    assert [d.field for d in found] == [field]
    assert found[0].have == OFF[field] and found[0].want == paper.PROTOCOL[field]
    assert protocol.protocol_problem(r).startswith(f"{field} ")


def test_problem_text_shows_values_and_whole_sets():
    r = record(arch="tiny", subset=5000, epochs=20)
    assert protocol.protocol_problem(r) == "epochs 20 (paper: 200), arch 'tiny' (paper: 'resnet18'), subset 5000 (paper: all)"
    assert protocol.off_protocol_fields([r, record(hflip=False)]) == ["epochs", "arch", "hflip", "subset"]


@pytest.mark.parametrize("loss, counts", [("hard", True), ("hard_simple", True), ("contrastive", False), ("simple", False)])
def test_k_counts_only_for_the_losses_with_nearest_negatives(loss, counts):
    problem = protocol.protocol_problem(record(loss, k=100))
    assert problem == ("k 100 (paper: 4095)" if counts else None)


def test_an_unrecorded_field_is_off_the_protocol():
    r = record()
    del r["config"]["hflip"]
    assert protocol.protocol_problem(r) == "hflip not recorded (paper: True)"


def test_config_label():
    assert protocol.config_label("contrastive", 0.07) == "ordinary τ=0.07"
    assert protocol.config_label("hard", 1) == "hard τ=1"
    assert protocol.config_label("hard_simple") == "HardSimple"


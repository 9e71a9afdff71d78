"""contrastive.protocol: field roles, the two protocols, and which protocol a run record is at (one test per protocol field)."""

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
    "hflip": False, "init": "torchvision", "knn_k": 20, "knn_sigma": 0.1, "probe_epochs": 10, "subset": 5000, "test_subset": 1000,
}
"""An off-protocol value for every ``protocol`` field."""


def record(loss="contrastive", **config):
    """The config of a record as the engine writes it (JSON round trip: tuples become lists)."""
    c = dataclasses.asdict(Config(device="cpu", loss=loss))
    c.update(config)
    return {"config": json.loads(json.dumps(c))}


def test_every_config_field_has_one_known_role():
    names = [n for role in protocol.ROLES for n in protocol.fields(role)]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(Config))
    assert set(OFF) == set(protocol.fields("protocol"))
    assert protocol.fields("hard") == ("k",) and set(protocol.fields("run")) == {"dataset", "loss", "tau"}
    with pytest.raises(ValueError, match="roles must be among"):
        protocol.fields("nonsense")


def test_every_protocol_gives_every_protocol_and_hard_field_a_valid_value():
    for name, values in protocol.PROTOCOLS.items():
        assert set(values) == set(protocol.fields("protocol", "hard")), name
        config = Config.at(name, device="cpu")
        assert config.protocol == name and {n: getattr(config, n) for n in values} == values
        assert config.knn_every == protocol.CADENCE[name] and 4 * config.epochs % (5 * config.knn_every) == 0  # a point at 80 %
        assert protocol.of(record(**dataclasses.asdict(config))) == name


def test_the_engines_defaults_are_the_papers_protocol():
    config = Config(device="cpu")
    assert {name: getattr(config, name) for name in paper.PROTOCOL} == paper.PROTOCOL
    assert config.protocol == "paper"


def test_the_cpu_protocol_scales_the_papers():
    cpu = protocol.PROTOCOLS["cpu"]
    same = {n for n in paper.PROTOCOL if cpu[n] == paper.PROTOCOL[n]}
    scaled = set(paper.PROTOCOL) - same
    assert {"arch", "subset", "epochs", "milestones", "k"} <= scaled <= {"arch", "subset", "epochs", "milestones", "k", "lr", "init", "batch_size"}
    e = cpu["epochs"]
    assert [m / e for m in cpu["milestones"]] == pytest.approx([0.8, 0.95], abs=0.5 / e)  # the paper's 160/200, 190/200
    assert abs(cpu["k"] - 4095 * cpu["subset"] / 50_000) <= 0.5  # the paper's share of the bank


def test_scaled_keeps_the_papers_fractions():
    v = protocol.scaled(arch="resnet18_w16", subset=10_000, epochs=50, lr=0.05)
    assert (v["milestones"], v["k"], v["lr"], v["arch"], v["subset"]) == ((40, 48), 819, 0.05, "resnet18_w16", 10_000)
    assert v["batch_size"] == paper.PROTOCOL["batch_size"] and v["negatives"] == "bank"


def test_a_record_is_judged_against_the_protocol_it_names():
    cpu = record(**{**dataclasses.asdict(Config.at("cpu", device="cpu"))})
    assert protocol.problem(cpu) is None and protocol.named(cpu) == "cpu"
    assert protocol.problem(cpu, "paper").startswith(f"subset {cpu['config']['subset']} (paper: all), epochs")
    off = record(**{**cpu["config"], "lr": 0.5})
    assert protocol.problem(off) == f"lr 0.5 (cpu: {cpu['config']['lr']})" and protocol.of(off) is None
    legacy = record()
    del legacy["config"]["protocol"]  # a record from before there were two protocols
    assert protocol.named(legacy) == "paper" and protocol.of(legacy) == "paper"
    assert protocol.at([cpu, off, legacy], "cpu") == [cpu, off]


def test_the_protocol_does_not_import_the_engine():
    code = "import sys, contrastive.protocol; print('contrastive.train' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_records_at_the_engines_defaults_are_at_the_protocol():
    for loss in ("contrastive", "hard", "simple", "hard_simple"):
        assert protocol.problem(record(loss)) is None
        assert protocol.deviations(record(loss, seed=3, tau=0.5, device="cuda", knn_every=1)) == []


@pytest.mark.parametrize("field", sorted(OFF))
def test_each_protocol_field_off_the_papers_value_is_named(field):
    r = record(**{field: OFF[field]})
    found = protocol.deviations(r)
    assert [d.field for d in found] == [field]
    assert found[0].have == OFF[field] and found[0].want == paper.PROTOCOL[field]
    assert protocol.problem(r).startswith(f"{field} ")


def test_problem_text_shows_values_and_whole_sets():
    r = record(arch="tiny", subset=5000, epochs=20)
    assert protocol.problem(r) == "subset 5000 (paper: all), epochs 20 (paper: 200), arch 'tiny' (paper: 'resnet18')"
    assert protocol.off_protocol_fields([r, record(hflip=False)]) == ["subset", "epochs", "arch", "hflip"]


@pytest.mark.parametrize("loss, counts", [("hard", True), ("hard_simple", True), ("contrastive", False), ("simple", False)])
def test_k_counts_only_for_the_losses_with_nearest_negatives(loss, counts):
    problem = protocol.problem(record(loss, k=100))
    assert problem == ("k 100 (paper: 4095)" if counts else None)


def test_an_unrecorded_field_is_off_the_protocol():
    r = record()
    del r["config"]["hflip"]
    assert protocol.problem(r) == "hflip not recorded (paper: True)"


def test_config_label():
    assert protocol.config_label("contrastive", 0.07) == "ordinary τ=0.07"
    assert protocol.config_label("hard", 1) == "hard τ=1"
    assert protocol.config_label("hard_simple") == "HardSimple"


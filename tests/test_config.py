"""contrastive.config: the protocols as data, the run configuration, and which protocol a record is at."""

import dataclasses
import json

import pytest

from contrastive import config, paper, protocols
from contrastive.config import Config
from contrastive.protocols import PAPER, PROTOCOLS, Protocol

OFF = {
    "epochs": 20,
    "batch_size": 64,
    "lr": 0.1,
    "momentum": 0.5,
    "weight_decay": 0.0,
    "milestones": (5, 10),
    "gamma": 0.5,
    "negatives": "batch",
    "bank_momentum": 0.9,
    "feature_dim": 64,
    "arch": "tiny",
    "head": "mlp",
    "init": "torchvision",
    "hflip": False,
    "knn_k": 20,
    "knn_sigma": 0.1,
    "probe_epochs": 10,
    "subset": 5000,
    "test_subset": 1000,
}
"""An off-protocol value for every setting a protocol fixes for every loss."""


def record_config(loss="contrastive", **values):
    """The config of a record as the engine writes it (JSON round trip: tuples become lists)."""
    c = dataclasses.asdict(Config(device="cpu", loss=loss))
    c.update(values)
    return json.loads(json.dumps(c))


def test_the_settings_are_the_protocols_fields_and_the_rest_bookkeeping_or_the_run():
    settings = {f.name for f in dataclasses.fields(Protocol)}
    assert set(OFF) | {"k", "knn_every"} == settings == set(protocols.SETTINGS)
    rest = {f.name for f in dataclasses.fields(Config)} - settings
    schedule = {name for names in config.SCHEDULE_FIELDS.values() for name in names}
    assert (
        rest
        == set(config.BOOKKEEPING) | {"dataset", "loss", "tau", "seed", "data", "device"} | schedule
    )


def test_the_engines_defaults_are_the_papers_protocol():
    c = Config(device="cpu")
    assert Protocol(**{n: getattr(c, n) for n in protocols.SETTINGS}) == PAPER == PROTOCOLS["paper"]
    assert (c.protocol, c.epochs, c.lr, c.batch_size, c.milestones, c.k, c.init) == (
        "paper",
        200,
        0.03,
        128,
        (160, 190),
        4095,
        "pytorch",
    )


def test_every_protocol_starts_a_run_at_itself_with_a_curve_point_at_80_percent():
    for name, protocol in PROTOCOLS.items():
        c = Config.at(name, device="cpu")
        assert c.protocol == name and protocols.deviations(dataclasses.asdict(c), name) == []
        assert c.knn_every == protocol.knn_every and 4 * c.epochs % (5 * c.knn_every) == 0


def test_the_short_cpu_protocol_is_the_first_pilots_choice_scaled_from_the_papers():
    short = PROTOCOLS["cpu-short"]
    differ = {
        f.name
        for f in dataclasses.fields(Protocol)
        if getattr(short, f.name) != getattr(PAPER, f.name)
    }
    assert differ == {"arch", "subset", "epochs", "milestones", "k", "lr", "init", "knn_every"}
    assert (short.milestones, short.k, short.knn_every, short.init) == (
        (48, 57),
        410,
        12,
        "torchvision",
    )


def test_scaled_keeps_the_papers_fractions_and_replaces_what_it_is_given():
    v = PAPER.scaled(arch="resnet18_w16", subset=10_000, epochs=50, lr=0.05, batch_size=32)
    assert (v.milestones, v.k, v.lr, v.arch, v.subset, v.batch_size, v.knn_every) == (
        (40, 48),
        819,
        0.05,
        "resnet18_w16",
        10_000,
        32,
        10,
    )
    assert v.negatives == "bank" and v.init == "pytorch"
    assert (
        PAPER.scaled("resnet18_w16", 5_000, 120, 0.03, knn_every=12).knn_every == 12
    )  # ten curve points, not five
    with pytest.raises(TypeError, match="batchsize"):
        PAPER.scaled("resnet18_w16", 5_000, 60, 0.03, batchsize=32)


def test_a_record_is_judged_against_a_named_protocol():
    short = record_config(**dataclasses.asdict(Config.at("cpu-short", device="cpu")))
    assert protocols.deviations(short, "cpu-short") == []
    assert [d.field for d in protocols.deviations(short, "paper")][:2] == ["epochs", "lr"]
    off = {**short, "lr": 0.5}
    assert [str(d) for d in protocols.deviations(off, "cpu-short")] == ["lr 0.5 (cpu-short: 0.06)"]


def test_the_run_and_free_fields_never_take_a_record_off_its_protocol():
    for loss in ("contrastive", "hard", "simple", "hard_simple"):
        assert (
            protocols.deviations(
                record_config(loss, seed=3, tau=0.5, device="cuda", knn_every=1), "paper"
            )
            == []
        )


@pytest.mark.parametrize("field", sorted(OFF))
def test_each_setting_off_the_papers_value_is_named(field):
    found = protocols.deviations(record_config(**{field: OFF[field]}), "paper")
    assert [d.field for d in found] == [field]
    assert found[0].have == json.loads(json.dumps(OFF[field])) and found[0].want == getattr(
        PAPER, field
    )


def test_a_deviation_shows_values_and_whole_sets():
    found = protocols.deviations(record_config(arch="tiny", subset=5000, epochs=20), "paper")
    assert [str(d) for d in found] == [
        "epochs 20 (paper: 200)",
        "arch 'tiny' (paper: 'resnet18')",
        "subset 5000 (paper: all)",
    ]


@pytest.mark.parametrize(
    "loss, counts",
    [("hard", True), ("hard_simple", True), ("contrastive", False), ("simple", False)],
)
def test_k_counts_only_for_the_losses_with_nearest_negatives(loss, counts):
    found = [str(d) for d in protocols.deviations(record_config(loss, k=100), "paper")]
    assert found == (["k 100 (paper: 4095)"] if counts else [])


def test_an_unrecorded_setting_is_off_the_protocol():
    c = record_config()
    del c["hflip"]
    assert [str(d) for d in protocols.deviations(c, "paper")] == [
        "hflip not recorded (paper: True)"
    ]


def test_config_label_and_describe():
    assert protocols.config_label("contrastive", 0.07) == "ordinary τ=0.07"
    assert protocols.config_label("hard", 1) == "hard τ=1"
    assert protocols.config_label("hard_simple") == "HardSimple"
    assert (
        protocols.describe("cpu-short")
        == "short CPU scale: ResNet-18 at width 16, 5,000 images, 60 epochs"
    )
    assert (
        protocols.describe("paper")
        == f"paper scale: ResNet-18, all training images, {paper.PAPER_EPOCHS} epochs"
    )


def test_a_config_is_frozen():
    c = Config(device="cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lr = 0.1

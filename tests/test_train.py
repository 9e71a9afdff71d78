"""Config validation, the schedule, a complete record, and bitwise resume after a killed run (CPU)."""

import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from contrastive import paths, results, train
from contrastive.config import Config
from contrastive.data import Dataset
from test_evaluate import RESULT_FIELDS


def synthetic(dataset, split="train", data=None, subset=None, device="cpu", root=None):
    """A stand-in for data.load: 48 training / 20 test images of 3 colour classes."""
    n = {"train": 48, "test": 20}[split] if subset is None else subset
    g = torch.Generator().manual_seed({"train": 0, "test": 1}[split])
    labels = torch.arange(n) % 3
    images = torch.randint(0, 100, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] += 150  # class c is brighter in channel c
    return Dataset(
        images.to(device),
        labels.to(device),
        ("r", "g", "b"),
        {"source": "synthetic", "path": "", "sha256": "", "note": "test"},
    )


def tiny(tmp_path, **kw):
    base = dict(
        dataset="cifar10",
        arch="tiny",
        epochs=2,
        batch_size=16,
        knn_k=5,
        knn_every=1,
        probe_epochs=2,
        device="cpu",
        bf16=False,
        out=str(tmp_path / "results"),
    )
    return Config(**{**base, **kw})


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setattr(train, "load", synthetic)
    torch.set_num_threads(1)


def test_defaults_are_the_papers_protocol():
    c = Config(device="cpu")
    assert (c.tau, c.k, c.epochs, c.batch_size, c.lr, c.momentum, c.weight_decay) == (
        0.07,
        4095,
        200,
        128,
        0.03,
        0.9,
        5e-4,
    )
    assert (c.milestones, c.gamma, c.negatives, c.bank_momentum, c.feature_dim) == (
        (160, 190),
        0.1,
        "bank",
        0.5,
        128,
    )
    assert (c.knn_k, c.knn_sigma, c.probe_epochs, c.arch, c.head) == (
        200,
        0.07,
        100,
        "resnet18",
        "linear",
    )
    assert [train.lr_at(c, e) for e in (1, 160, 161, 190, 191, 200)] == pytest.approx(
        [0.03, 0.03, 3e-3, 3e-3, 3e-4, 3e-4]
    )
    assert [e for e in range(1, 201) if train.evaluated(c, e)] == [1] + list(range(10, 201, 10))


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"tau": 0.0}, "tau"),
        ({"tau": -1.0}, "tau"),
        ({"loss": "infonce"}, "loss"),
        ({"dataset": "mnist"}, "dataset"),
        ({"negatives": "queue"}, "negatives"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1}, "batch_size"),
        ({"loss": "hard", "subset": 100}, "k"),  # k = 4095 > 99 negatives
        ({"loss": "hard", "k": 100, "subset": 100}, "k"),
        ({"loss": "hard_simple", "negatives": "batch", "k": 255}, "k"),
        ({"subset": 100}, "knn_k"),
        ({"milestones": (190, 160)}, "milestones"),
        ({"momentum": 1.0}, "momentum"),
        ({"lr": float("nan")}, "lr"),
        ({"arch": "vit"}, "arch"),
        ({"hflip": "yes"}, "hflip"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_values_raise_a_config_error_naming_the_field(kw, field):
    with pytest.raises(ValueError, match=f"^{field}: ") as e:
        Config(device="cpu", **kw)
    assert e.value.field == field


def test_edge_values_are_accepted():
    Config(device="cpu", loss="hard", k=99, subset=100, knn_k=100)
    Config(device="cpu", loss="hard", negatives="batch", k=254)
    Config(device="cpu", loss="simple", subset=100, knn_k=10)  # k unused by the simple loss


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_config_error():
    with pytest.raises(ValueError, match="^device: "):
        Config(device="cuda")


def test_k_is_checked_against_the_loaded_training_set(tmp_path):
    with pytest.raises(ValueError, match="^k: must be <= M = 47"):
        train.run(tiny(tmp_path, loss="hard", k=48))


def test_run_writes_a_complete_record(tmp_path):
    path = train.run(tiny(tmp_path, loss="hard", tau=0.5, k=10))
    assert path == results.record_path(tmp_path / "results" / "paper", "cifar10", "hard", 0.5)
    record = results.read_record(path)
    assert record.config["loss"] == "hard" and record.config["k"] == 10
    assert set(record.results) == RESULT_FIELDS
    curves = record.curves
    assert set(curves) == set(train.CURVES) and curves["epoch"] == [1, 2]
    assert len({len(v) for v in curves.values()}) == 1
    assert curves["knn_top1"][-1] == record.results["knn_top1"]
    assert (
        curves["uniformity_test"][-1] == record.results["uniformity_test"]
    )  # the curves follow the test set
    assert curves["tolerance_test"][-1] == record.results["tolerance_test"]
    assert curves["lr"] == [train.lr_at(tiny(tmp_path), e) for e in curves["epoch"]]
    prov = record.provenance
    for key in (
        "torch",
        "device",
        "commit",
        "data",
        "wall_seconds",
        "started",
        "finished",
        "seconds_per_epoch",
    ):
        assert key in prov
    assert "protocol" not in prov and prov["bf16"] is False  # the config says it, once
    assert prov["compiled"] is None  # eager: compile is off on the CPU by default
    assert set(prov["wall_seconds"]) == {"train", "evaluate", "total"}
    assert prov["data"]["source"] == "synthetic"
    arrays = results.read_arrays(record)
    assert {k: v.shape for k, v in arrays.items()} == {
        "pos_sim": (48,),
        "neg_top10": (48, 10),
        "hist_edges": (51,),
        "hist_pos": (50,),
        "hist_neg": (50,),
        "embedding": (20, 128),
        "embedding_labels": (20,),
    }
    assert tiny(tmp_path, loss="hard", tau=0.5, k=10).stem == "hard-tau0.5-seed0"
    # the record written, its checkpoint and lock are gone, and no folder is left for them
    assert not (tmp_path / "results" / train.CHECKPOINTS).exists()
    left = sorted(p.name for p in path.parent.iterdir())
    assert left == ["hard-tau0.5-seed0.json", "hard-tau0.5-seed0.npz"]


def test_in_batch_negatives_run(tmp_path):
    path = train.run(tiny(tmp_path, loss="simple", negatives="batch", epochs=1))
    record = results.read_record(path)
    assert path.name == "simple-seed0.json" and np.isfinite(record.curves["loss"]).all()


def kill_in_epoch(monkeypatch, dies: int):
    """Make every run die (Ctrl-C) when it starts epoch ``dies``; returns the undo."""
    original = train.Engine.train_epoch

    def dying(self, epoch, bar=None):
        if epoch == dies:
            raise KeyboardInterrupt
        return original(self, epoch, bar)

    monkeypatch.setattr(train.Engine, "train_epoch", dying)
    return lambda: monkeypatch.setattr(train.Engine, "train_epoch", original)


def test_a_killed_run_resumes_bitwise_identical(tmp_path, monkeypatch, capsys):
    straight = tiny(tmp_path / "a", epochs=3, checkpoint_every=2)
    path_a = train.run(straight)
    record_a = json.loads(path_a.read_text())

    killed = tiny(tmp_path / "b", epochs=3, checkpoint_every=2)
    undo = kill_in_epoch(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train.run(killed)
    assert torch.load(train.checkpoint_path(killed), weights_only=True)["epoch"] == 2
    assert not list(train.record_path(killed).parent.glob(".*.lock"))  # the lock goes with its run
    undo()
    capsys.readouterr()
    path_b = train.run(killed)
    assert f"resuming from epoch 2 ({train.checkpoint_path(killed)})" in capsys.readouterr().out
    record_b = json.loads(path_b.read_text())

    assert record_b["provenance"]["resumed_from_epoch"] == 2
    assert record_b["results"] == record_a["results"]
    assert record_b["curves"] == record_a["curves"]
    arrays_a, arrays_b = (results.read_arrays(results.read_record(p)) for p in (path_a, path_b))
    for key, value in arrays_a.items():
        assert np.array_equal(value, arrays_b[key]), key  # the same model: the same embeddings
    assert not train.checkpoint_path(killed).exists()


def test_a_checkpoint_of_another_config_is_set_aside(tmp_path, monkeypatch, capsys):
    undo = kill_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train.run(tiny(tmp_path, epochs=2, checkpoint_every=1))
    undo()
    other = train.checkpoint_path(tiny(tmp_path, epochs=2, checkpoint_every=1))
    capsys.readouterr()
    record = results.read_record(train.run(tiny(tmp_path, epochs=3, checkpoint_every=1)))
    said = capsys.readouterr().out
    assert (
        f"starting afresh: the checkpoint {other} is of another configuration "
        "(epochs 3 (checkpoint: 2))"
    ) in said
    assert record.provenance["resumed_from_epoch"] == 0 and record.config["epochs"] == 3
    assert other.is_file()  # set aside, not resumed and not removed


def test_two_outputs_never_share_a_checkpoint(tmp_path, monkeypatch):
    """Issue 30: one configuration into two --out folders, even with one --checkpoint-dir, trains
    twice."""
    shared = str(tmp_path / "ckpt")
    undo = kill_in_epoch(monkeypatch, 3)
    first = tiny(tmp_path / "one", epochs=3, checkpoint_every=2, checkpoint_dir=shared)
    with pytest.raises(KeyboardInterrupt):
        train.run(first)
    undo()
    second = tiny(tmp_path / "two", epochs=3, checkpoint_every=2, checkpoint_dir=shared)
    assert train.checkpoint_path(second) != train.checkpoint_path(first)
    assert results.read_record(train.run(second)).provenance["resumed_from_epoch"] == 0
    assert train.checkpoint_path(first).is_file()  # the first run's, untouched
    for kw in ({}, {"checkpoint_dir": shared}):
        a, b = tiny(tmp_path / "one", **kw), tiny(tmp_path / "two", **kw)
        assert train.checkpoint_path(a) != train.checkpoint_path(b)


def test_a_smoke_run_never_blocks_the_real_run(tmp_path, monkeypatch):
    """Issue 30: the README's smoke run into --out smoke, then the real one of the same loss and
    tau."""
    undo = kill_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train.run(tiny(tmp_path / "smoke", epochs=2, checkpoint_every=1))
    undo()
    train.run(tiny(tmp_path / "smoke", epochs=1))
    real = tiny(tmp_path / "real", epochs=2, arch="resnet18_w16", batch_size=24)
    record = results.read_record(train.run(real))
    assert record.config["arch"] == "resnet18_w16" and record.provenance["resumed_from_epoch"] == 0


def test_a_second_run_of_a_recorded_configuration_into_one_out_is_refused(tmp_path):
    path = train.run(tiny(tmp_path, epochs=1))
    written = path.read_bytes()
    with pytest.raises(
        ValueError,
        match="^out: .*contrastive-tau0.07-seed0.json already holds the "
        "record of this configuration; delete it",
    ) as e:
        train.run(tiny(tmp_path, epochs=1))
    assert e.value.field == "out" and path.read_bytes() == written
    assert not (tmp_path / "results" / train.CHECKPOINTS).exists()
    another = results.read_record(train.run(tiny(tmp_path, epochs=2)))  # replaces it
    assert another.config["epochs"] == 2


def test_a_record_names_no_absolute_path(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    config = tiny(tmp_path, epochs=1, data=None, datasets=str(tmp_path / "data" / "d"))
    c = json.loads(train.run(config).read_text())["config"]
    named = (c["out"], c["datasets"], c["checkpoint_dir"], c["data"])
    assert named == ("results", "data/d", None, None)
    outside = paths.portable("/elsewhere/cifar10-jpeg.npz", file=True)
    assert outside == "cifar10-jpeg.npz" and paths.portable("/elsewhere/results") == "results"
    assert paths.portable(tmp_path / "data" / "x.npz", file=True) == "x.npz"


def test_a_stale_lock_is_removed_by_the_next_run(tmp_path):
    config = tiny(tmp_path, epochs=1)
    stale = train.record_path(config).with_name(".simple-seed0.lock")  # left by a killed run
    stale.parent.mkdir(parents=True)
    stale.write_text("")
    train.run(config)
    assert not stale.exists() and not list(stale.parent.glob(".*.lock"))


@pytest.mark.parametrize(
    "kw, n_test", [({"subset": 10}, 20), ({"subset": 30}, 20), ({"test_subset": 7}, 7)]
)
def test_a_run_evaluates_on_all_test_images_unless_test_subset(tmp_path, kw, n_test):
    record = results.read_record(train.run(tiny(tmp_path, epochs=1, **kw)))
    assert record.provenance["test_images"] == n_test
    assert results.read_arrays(record)["embedding"].shape == (n_test, 128)


def test_an_off_protocol_run_never_replaces_a_protocol_record(tmp_path):
    protocol_run = Config(device="cpu", out=str(tmp_path))
    path = train.record_path(protocol_run)
    results.write_record(
        path,
        {"config": dataclasses.asdict(protocol_run), "results": {}, "curves": {}, "provenance": {}},
    )
    with pytest.raises(
        ValueError, match="out: .* at the paper protocol.*epochs 2 \\(paper: 200\\)"
    ):
        train.run(tiny(tmp_path, out=str(tmp_path), loss="contrastive", tau=0.07))
    assert results.read_record(path).config["epochs"] == 200
    train.check_replaces(protocol_run)  # a protocol run may replace it


def test_a_diverging_run_names_what_it_keeps_only_if_it_exists(tmp_path, monkeypatch):
    good = train.run(tiny(tmp_path, epochs=1))
    config = tiny(tmp_path, epochs=2, lr=1e30)
    with pytest.raises(
        train.Diverged,
        match="epoch 1: the mean training loss is (nan|inf).*lower "
        "lr or raise tau. Nothing of it was checkpointed.$",
    ):
        train.run(config)
    assert results.read_record(good).config["epochs"] == 1  # no record of the diverged run
    assert not train.checkpoint_path(config).exists()

    original = train.Engine.train_epoch

    def nan_in_epoch_3(self, epoch, bar=None):
        return float("nan") if epoch == 3 else original(self, epoch, bar)

    monkeypatch.setattr(train.Engine, "train_epoch", nan_in_epoch_3)
    late = tiny(tmp_path, epochs=3, checkpoint_every=1)
    kept = re.escape(str(train.checkpoint_path(late)))
    wanted = f"epoch 3: .*Its last good checkpoint \\(epoch 2\\) is kept at {kept}"
    with pytest.raises(train.Diverged, match=wanted):
        train.run(late)
    assert torch.load(train.checkpoint_path(late), weights_only=True)["epoch"] == 2


def test_config_at_a_protocol_takes_its_values_and_overrides():
    cpu = Config.at("cpu-short", device="cpu", lr=0.1)
    assert (cpu.protocol, cpu.arch, cpu.subset, cpu.lr) == ("cpu-short", "resnet18_w16", 5_000, 0.1)
    with pytest.raises(ValueError, match="^protocol: must be one of"):
        Config.at("gpu", device="cpu")
    with pytest.raises(ValueError, match="^protocol: must be one of"):
        Config(protocol="gpu", device="cpu")
    assert train.record_path(cpu).parts[-3:] == (
        "cpu-short",
        "cifar10",
        "contrastive-tau0.07-seed0.json",
    )
    ckpt = train.checkpoint_path(cpu)
    assert ckpt.parts[-5:-2] == (train.CHECKPOINTS, "cpu-short", "cifar10")
    assert ckpt.name == "last.pt" and ckpt.is_relative_to(cpu.out)
    assert ckpt.parent.name.startswith("contrastive-tau0.07-seed0-")
    assert (
        train.record_path(dataclasses.replace(cpu, seed=2)).name == "contrastive-tau0.07-seed2.json"
    )


@pytest.mark.parametrize("name", ["out", "checkpoint_dir"])
def test_unwritable_folders_stop_the_run_before_training(tmp_path, name):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(
        ValueError, match=f"^{name}: .*a-file.* is not a folder this run can write to"
    ):
        train.run(tiny(tmp_path, **{name: str(blocker)}))


def test_a_subset_without_two_images_of_a_class_stops_before_training(tmp_path):
    config = tiny(
        tmp_path, subset=3, knn_k=1
    )  # three classes, one image each: no tolerance (Eq. 11)
    with pytest.raises(
        ValueError, match="^subset: must give some class two or more training images"
    ):
        train.run(config)
    assert not train.checkpoint_path(config).exists()


def test_an_unreadable_checkpoint_is_said_and_the_run_starts_afresh(tmp_path, monkeypatch, capsys):
    config = tiny(tmp_path, epochs=2, checkpoint_every=1)
    undo = kill_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train.run(config)
    undo()
    path = train.checkpoint_path(config)
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a full disk
    capsys.readouterr()
    assert results.read_record(train.run(config)).provenance["resumed_from_epoch"] == 0
    assert f"starting afresh: the checkpoint {path} cannot be read" in capsys.readouterr().out


def test_a_checkpoint_whose_curves_miss_a_point_is_not_resumed(tmp_path, monkeypatch, capsys):
    config = tiny(tmp_path, epochs=2, checkpoint_every=1)
    undo = kill_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train.run(config)
    undo()
    path = train.checkpoint_path(config)
    state = torch.load(path, weights_only=True)
    state["curves"] = {
        k: v[:-1] for k, v in state["curves"].items()
    }  # an older version's: no last point
    torch.save(state, path)
    capsys.readouterr()
    assert results.read_record(train.run(config)).provenance["resumed_from_epoch"] == 0
    said = capsys.readouterr().out
    assert f"the checkpoint {path} holds curves that do not match its 1 epochs" in said


def test_no_resume_starts_afresh_and_says_so(tmp_path, monkeypatch, capsys):
    undo = kill_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train.run(tiny(tmp_path, epochs=2, checkpoint_every=1))
    undo()
    capsys.readouterr()
    afresh = tiny(tmp_path, epochs=2, checkpoint_every=1, resume=False)
    record = results.read_record(train.run(afresh))
    assert record.provenance["resumed_from_epoch"] == 0
    assert "starting afresh (--no-resume)" in capsys.readouterr().out


def test_a_checkpoint_of_the_older_layout_is_adopted_only_by_its_own_run(
    tmp_path, monkeypatch, capsys
):
    """A run interrupted under the code before issue 30 resumes under the new one."""
    config = tiny(tmp_path, epochs=2, checkpoint_every=1)
    undo = kill_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train.run(config)
    undo()
    old = train.legacy_path(config)  # <out>/../checkpoints/paper/cifar10/<stem>/last.pt
    old.parent.mkdir(parents=True)
    train.checkpoint_path(config).rename(old)
    other = tiny(tmp_path, epochs=3, checkpoint_every=1)
    assert train.legacy_path(other) == old
    train.adopt_legacy(other)  # another configuration's: left alone
    assert old.is_file()
    capsys.readouterr()
    assert results.read_record(train.run(config)).provenance["resumed_from_epoch"] == 1
    said = capsys.readouterr().out
    assert f"from the older layout ({old})" in said and "resuming from epoch 1" in said
    assert not old.exists()

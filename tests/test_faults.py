"""Bad input and faults: bad record files, non-finite numbers, killed writes, bad offline npz files.

Every error names the file and what is wrong with it; ``load`` raises on a bad record, or skips it
visibly where asked to be tolerant.
"""

import json
import os
import re
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

from contrastive import atomic, provenance, results
from contrastive import data as D
from contrastive.results import BadRecordError, RecordWarning
from test_data import CLASSES, jpeg, pictures


def record(**results_values):
    return {
        "config": {
            "protocol": "paper",
            "dataset": "cifar10",
            "loss": "hard",
            "tau": 0.3,
            "epochs": 200,
            "seed": 0,
        },
        "results": {"linear_top1": 80.0, **results_values},
        "curves": {"epoch": [1, 2], "loss": [5.0, 4.0]},
        "provenance": {"commit": "abc"},
        results.ARRAYS_KEY: None,
    }


def write_json(path, value, allow_nan=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, allow_nan=allow_nan))
    return path


def starts_with_path(error, path):
    return str(error.value).startswith(f"{path}: ")


# --- reading a record checks it -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (b'{"config": {"dataset": "cifar10", "loss"', "not valid JSON, truncated?"),
        (b"\xff\xfe\x00garbage", "cannot be read as text"),
        (b"[1, 2, 3]", "a record must be a JSON object, got [1, 2, 3]"),
    ],
)
def test_unreadable_record_names_the_file(tmp_path, content, problem):
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(BadRecordError) as error:
        results.read_record(path)
    assert (
        starts_with_path(error, path)
        and problem in str(error.value)
        and "\n" not in str(error.value)
    )
    assert error.value.path == str(path) and problem in error.value.problem
    assert isinstance(error.value, ValueError)


def test_truncated_record_names_the_file_and_where(tmp_path):
    path = results.write_record(tmp_path / "r.json", record())
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(BadRecordError, match=re.escape(f"{path}: not valid JSON, truncated? (")):
        results.read_record(path)


@pytest.mark.parametrize("part", results.REQUIRED)
def test_missing_part_is_named(tmp_path, part):
    path = write_json(tmp_path / "r.json", {k: v for k, v in record().items() if k != part})
    with pytest.raises(BadRecordError) as error:
        results.read_record(path)
    assert starts_with_path(error, path) and f"lacks the required parts ['{part}']" in str(
        error.value
    )


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda r: r.update(config=[1]), "config"),
        (lambda r: r.update(provenance=None), "provenance"),
        (lambda r: r["config"].update(dataset=10), "config.dataset"),
        (lambda r: r["config"].pop("loss"), "config.loss"),
        (lambda r: r["config"].update(loss="triplet"), "config.loss"),
        (lambda r: r["config"].pop("protocol"), "config.protocol"),
        (lambda r: r["config"].update(seed=True), "config.seed"),
        (lambda r: r["config"].update(tau="0.3"), "config.tau"),
        (lambda r: r["config"].update(tau=True), "config.tau"),
        (lambda r: r["results"].update(knn_top1="81"), "results"),
        (lambda r: r["results"].update(knn_top1=None), "results"),
        (lambda r: r["curves"].update(loss=5.0), "curves"),
        (lambda r: r.update(arrays_sha256=5), "arrays_sha256"),
        (lambda r: r.pop("arrays_sha256"), "arrays_sha256"),
    ],
)
def test_wrong_types_are_named_on_reading_and_never_written(tmp_path, change, field):
    bad = record()
    change(bad)
    path = write_json(tmp_path / "r.json", bad)
    with pytest.raises(BadRecordError) as error:
        results.read_record(path)
    assert error.value.path == str(path) and error.value.problem.startswith(f"{field} ")
    if field != "arrays_sha256":  # write_record sets that key itself
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'w.json'}: {field} ")):
            results.write_record(tmp_path / "w.json", bad)
        assert not (tmp_path / "w.json").exists()


def test_a_null_tau_is_fine_and_a_missing_file_stays_a_missing_record(tmp_path):
    simple = record()
    simple["config"]["tau"] = None
    assert results.read_record(write_json(tmp_path / "r.json", simple)).config["tau"] is None
    with pytest.raises(results.MissingRecordError, match="not been made"):
        results.read_record(tmp_path / "nope.json")


# --- load skips bad files visibly --------------------------------------------------------------


def test_load_skips_bad_records_with_a_warning_and_reports_them(tmp_path):
    good = results.write_record(tmp_path / "cifar10" / "hard-tau0.3.json", record())
    empty = tmp_path / "cifar10" / "hard-tau0.5.json"
    empty.write_text("")
    partial = write_json(tmp_path / "cifar10" / "simple.json", {"config": {}})
    problems = []
    with pytest.warns(RecordWarning) as caught:
        records = results.load(tmp_path, "cifar10", problems=problems)
    assert [r.path for r in records] == [good]
    assert [p for p, _ in problems] == [str(empty), str(partial)]
    assert "empty file" in problems[0][1] and "lacks the required parts" in problems[1][1]
    assert [str(w.message) for w in caught] == [f"{p}: {m}; skipped" for p, m in problems]


def test_load_raises_naming_a_bad_record_unless_asked_to_be_tolerant(tmp_path):
    """Issue 30: a record that exists but cannot be read is an error, never a silent gap in a
    chapter."""
    results.write_record(tmp_path / "cifar10" / "hard-tau0.3.json", record())
    (tmp_path / "cifar10" / "bad.json").write_text("{")
    named = re.escape(f"{tmp_path / 'cifar10' / 'bad.json'}: not valid JSON")
    with pytest.raises(BadRecordError, match=named):
        results.load(tmp_path)
    with pytest.warns(RecordWarning, match=named):
        assert [r.loss for r in results.load(tmp_path, strict=False)] == ["hard"]


def test_the_chapters_reader_fails_on_a_truncated_record_naming_it(tmp_path, monkeypatch):
    """Issue 30: one truncated seed of a configuration whose other seeds are intact fails
    load_records."""
    monkeypatch.setenv(results.ROOT_ENV, str(tmp_path))
    for seed in (0, 1, 2):
        config = {**record()["config"], "seed": seed}
        results.write_record(
            tmp_path / "paper" / "cifar10" / f"hard-tau0.3-seed{seed}.json",
            {**record(), "config": config},
        )
    cut = tmp_path / "paper" / "cifar10" / "hard-tau0.3-seed0.json"
    cut.write_bytes(cut.read_bytes()[:-40])
    with pytest.raises(BadRecordError, match=f"^{re.escape(str(cut))}: not valid JSON"):
        results.load_records("cifar10")


def test_load_benchmarks_skips_bad_files(tmp_path):
    good = {
        "device": "H200",
        "batch_size": 512,
        "engine_s_per_epoch": 3.0,
        "baseline_s_per_epoch": 30.0,
        "speedup": 10.0,
    }
    write_json(tmp_path / "a.json", good)
    write_json(tmp_path / "b.json", {**good, "speedup": float("inf")}, allow_nan=True)
    (tmp_path / "c.json").write_text("not json")
    with pytest.raises(BadRecordError, match="b.json: speedup must be a finite number"):
        results.load_benchmarks(tmp_path)
    problems = []
    with pytest.warns(RecordWarning, match="skipped"):
        assert results.load_benchmarks(tmp_path, problems=problems) == [good]
    assert problems[0] == (str(tmp_path / "b.json"), "speedup must be a finite number, got inf")
    assert problems[1][0] == str(tmp_path / "c.json") and "not valid JSON" in problems[1][1]


# --- no NaN or inf ever reaches a record ------------------------------------------------------


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda r: r["results"].update(uniformity=float("nan")), "results.uniformity = nan"),
        (lambda r: r["curves"].update(loss=[5.0, float("-inf")]), "curves.loss[1] = -inf"),
    ],
)
def test_non_finite_numbers_are_never_written(tmp_path, change, named):
    path = results.write_record(tmp_path / "r.json", record(), {"pos_sim": np.zeros(2)})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    bad = record()
    change(bad)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: non-finite {named} (a record never holds NaN or inf); not written"
        ),
    ):
        results.write_record(path, bad, {"pos_sim": np.ones(2)})
    assert {
        p.name: p.read_bytes() for p in tmp_path.iterdir()
    } == before  # nothing written, no temporary files


def test_a_record_holding_nan_loads_marked_invalid(tmp_path):
    bad = record(uniformity=float("nan"), tolerance=float("inf"))
    path = write_json(tmp_path / "cifar10" / "hard-tau0.3.json", bad, allow_nan=True)
    assert "NaN" in path.read_text()  # as another tool would write it
    loaded = results.read_record(path)
    assert loaded.invalid == "non-finite results.uniformity = nan, results.tolerance = inf"
    assert results.load(tmp_path)[0].invalid == loaded.invalid
    assert results.read_record(results.write_record(tmp_path / "ok.json", record())).invalid is None


# --- a record and its arrays become visible together ----------------------------------------


def test_the_record_holds_the_sha256_of_its_arrays(tmp_path):
    path = results.write_record(tmp_path / "r.json", record(), {"pos_sim": np.arange(3.0)})
    npz = path.with_suffix(".npz")
    assert json.loads(path.read_text())[results.ARRAYS_KEY] == provenance.sha256(npz)
    np.testing.assert_array_equal(
        results.read_arrays(results.read_record(path))["pos_sim"], np.arange(3.0)
    )
    results.write_record(
        path, json.loads(path.read_text())
    )  # without arrays: null, and the npz goes
    assert json.loads(path.read_text())[results.ARRAYS_KEY] is None and not npz.exists()


def test_a_write_killed_between_the_renames_is_refused_as_stale(tmp_path, monkeypatch):
    path = results.write_record(tmp_path / "r.json", record(), {"pos_sim": np.zeros(2)})
    replace, calls = os.replace, []

    def killed_at_the_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        results.write_record(path, record(knn_top1=70.0), {"pos_sim": np.ones(2)})
    monkeypatch.undo()
    assert [p.name for p in calls] == ["r.npz", "r.json"] and not list(tmp_path.glob(".*.tmp"))
    old = results.read_record(path)
    assert "knn_top1" not in old.results  # the old JSON, beside the new npz
    npz = path.with_suffix(".npz")
    with pytest.raises(BadRecordError, match=re.escape(f"{npz}: stale: its sha256 ")) as error:
        results.read_arrays(old)
    assert "is not its record's (arrays_sha256 " in str(error.value)


def test_arrays_that_do_not_belong_to_their_record_are_refused(tmp_path):
    path = results.write_record(tmp_path / "r.json", record(), {"pos_sim": np.zeros(2)})
    npz = path.with_suffix(".npz")
    npz.unlink()
    with pytest.raises(
        BadRecordError, match=re.escape(f"{npz}: missing, though its record lists arrays")
    ):
        results.read_arrays(results.read_record(path))
    results.write_record(path, record())
    np.savez(npz, pos_sim=np.zeros(2))  # an npz beside a record without arrays
    with pytest.raises(
        BadRecordError, match=re.escape(f"{npz}: stale: its sha256 ") + ".*no arrays"
    ):
        results.read_arrays(results.read_record(path))


def test_a_record_that_is_not_json_is_refused_before_anything_is_written(tmp_path):
    path = results.write_record(tmp_path / "r.json", record(), {"pos_sim": np.zeros(2)})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for value in (float("nan"), object()):
        bad = record()
        bad["provenance"]["seconds"] = value
        with pytest.raises(
            ValueError, match=re.escape(f"{path}: the record is not JSON (") + ".*; not written$"
        ):
            results.write_record(path, bad, {"pos_sim": np.ones(2)})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_write_killed_at_the_first_rename_leaves_the_old_pair_and_no_temporary_file(
    tmp_path, monkeypatch
):
    path = results.write_record(tmp_path / "r.json", record(), {"pos_sim": np.zeros(2)})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        results.write_record(path, record(knn_top1=70.0), {"pos_sim": np.ones(2)})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    np.testing.assert_array_equal(
        results.read_arrays(results.read_record(path))["pos_sim"], np.zeros(2)
    )


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_atomic_write_removes_its_temporary_file_on_any_failure(tmp_path, failure):
    path = tmp_path / "f.bin"
    atomic.atomic_write(path, lambda f: f.write(b"old"))

    def write(f):
        f.write(b"half")
        raise failure

    with pytest.raises(failure):
        atomic.atomic_write(path, write)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_a_folder_removed_by_another_run_meanwhile_is_made_again(tmp_path, monkeypatch):
    """Two shards of one sweep share the checkpoint folders, and a run removes the empty ones on its
    way out: a write whose folder vanished between its making and the write makes it again."""
    folder, mkstemp, pruned = tmp_path / ".checkpoints" / "cpu", tempfile.mkstemp, []

    def pruned_first(dir, **kwargs):
        if not pruned:  # another process's prune, just after this one made the folder
            pruned.append(dir)
            os.rmdir(dir)
        return mkstemp(dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", pruned_first)
    atomic.atomic_write(folder / "last.pt", lambda f: f.write(b"state"))
    assert pruned == [folder] and (folder / "last.pt").read_bytes() == b"state"


def test_a_folder_that_keeps_vanishing_is_given_up_naming_it(tmp_path):
    folder, tries = tmp_path / "gone", []

    def vanish(d):
        tries.append(d)
        d.rmdir()
        (d / "x").touch()

    with pytest.raises(FileNotFoundError, match="gone"):
        atomic.in_folder(folder, vanish)
    assert len(tries) == atomic.FOLDER_TRIES


def test_stray_temporary_files_older_than_an_hour_are_removed(tmp_path):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    old, fresh = folder / ".r.json.abc123.tmp", folder / ".r.json.def456.tmp"
    for p in (old, fresh):
        p.write_bytes(b"partial")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert (
        results.load(tmp_path) == [] and not old.exists() and fresh.exists()
    )  # a write may be under way
    os.utime(fresh, (two_hours_ago, two_hours_ago))
    results.write_record(folder / "r.json", record())
    assert sorted(p.name for p in folder.iterdir()) == ["r.json"]


# --- the offline npz is checked before any work ------------------------------------------------


def offline_npz(path, sizes=(("train", 6), ("test", 4)), size=32, **overrides):
    """A tiny offline npz (the format of /work/shared/data/cifar10-jpeg.npz); ``overrides`` replace
    or, with None, drop arrays."""
    arrays = {"classes": np.array(CLASSES)}
    for split, n in sizes:
        files = [jpeg(np.asarray(Image.fromarray(p).resize((size, size)))) for p in pictures(n, 0)]
        arrays[f"jpeg_{split}"] = np.frombuffer(b"".join(files), dtype=np.uint8)
        arrays[f"offsets_{split}"] = np.concatenate(
            [[0], np.cumsum([len(f) for f in files])]
        ).astype(np.int64)
        arrays[f"y_{split}"] = np.arange(n, dtype=np.int64) % 10
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_a_good_npz_passes(tmp_path):
    assert D.check_npz(offline_npz(tmp_path / "c.npz")) is None


def check_fails(path, *named):
    """``check_npz`` refuses ``path`` with a ValueError, one line naming the flag and the file, then the
    arrays (or words) ``named``."""
    with pytest.raises(ValueError) as error:
        D.check_npz(path)
    message = str(error.value)
    assert message.startswith(f"data: {path}: ") and "\n" not in message
    assert all(name in message for name in named), message


def test_an_npz_with_fewer_training_images_than_the_subset(tmp_path):
    path = offline_npz(tmp_path / "c.npz")
    n = len(np.load(path)["y_train"])
    assert D.check_npz(path, subset=n) is None
    with pytest.raises(
        ValueError,
        match=f"^data: {re.escape(str(path))}: holds {n} training images, fewer than the subset of {n + 1} ",
    ):
        D.check_npz(path, subset=n + 1)


def test_a_missing_npz(tmp_path):
    check_fails(tmp_path / "nowhere.npz", "no such file")


def test_random_bytes_and_a_truncated_npz(tmp_path):
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    check_fails(noise, "npz")
    cut = offline_npz(tmp_path / "cut.npz")
    cut.write_bytes(cut.read_bytes()[:-100])
    check_fails(cut, "npz")


def test_missing_keys(tmp_path):
    check_fails(offline_npz(tmp_path / "c.npz", y_test=None, classes=None), "'y_test'", "'classes'")


def test_offsets_that_do_not_match_the_labels(tmp_path):
    good = np.load(offline_npz(tmp_path / "good.npz"))
    short = offline_npz(tmp_path / "short.npz", offsets_train=good["offsets_train"][:-1])
    check_fails(short, "offsets_train", "y_train", "(6,)")
    beyond = good["offsets_test"] + np.array([0, 0, 0, 0, 10])
    check_fails(
        offline_npz(tmp_path / "beyond.npz", offsets_test=beyond),
        "offsets_test",
        "jpeg_test",
        str(beyond[-1]),
    )


@pytest.mark.parametrize(
    "labels, shown", [([0, 1, 2, 3, 4, 30], "0..30"), ([-1, 1, 2, 3, 4, 5], "-1..5")]
)
def test_labels_outside_the_classes(tmp_path, labels, shown):
    path = offline_npz(tmp_path / "c.npz", y_train=np.array(labels, dtype=np.int64))
    check_fails(path, "y_train", shown)


def test_images_that_are_not_32x32(tmp_path):
    check_fails(offline_npz(tmp_path / "c.npz", size=64), "jpeg_train", "64x64")


def test_a_first_image_that_is_not_a_jpeg(tmp_path):
    good = np.load(offline_npz(tmp_path / "good.npz"))
    garbage = good["jpeg_test"].copy()
    garbage[: good["offsets_test"][1]] = 7
    path = offline_npz(tmp_path / "c.npz", jpeg_test=garbage)
    with pytest.raises(
        ValueError, match=re.escape(f"data: {path}: the first image of jpeg_test does not decode (")
    ):
        D.check_npz(path)


def test_loading_checks_the_npz_before_any_work(tmp_path):
    path = offline_npz(tmp_path / "c.npz", y_test=np.array([0, 1, 2, 10]))
    with pytest.raises(ValueError, match=re.escape(f"data: {path}: y_test must lie in 0..9")):
        D.load("cifar10", "train", data=path, root=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # nothing decoded or cached
    with pytest.raises(ValueError, match=re.escape(f"data: {path}: y_test must lie in 0..9")):
        D.decode_npz(path, "train")


def test_a_lock_is_removed_by_its_holder_and_a_stale_one_by_the_next(tmp_path):
    """Issue 30: a lock file goes with its run; one left by a killed run, with the next."""
    path = tmp_path / ".run.lock"
    held = atomic.lock(path)
    assert held is not None and atomic.lock(path, patience=0.1) is None
    assert atomic.clean_locks(tmp_path) == [] and path.exists()  # a held lock is never removed
    atomic.unlock(path, held)
    assert not path.exists()
    path.write_text("")  # left by a killed run
    assert atomic.clean_locks(tmp_path) == [path] and not path.exists()

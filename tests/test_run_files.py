"""Issue 30: default paths follow the checkout a command runs in, and records name no machine's
absolute path (``contrastive.paths``, ``contrastive.migrate``)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contrastive import migrate, paths, results

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def fake_checkout(folder: Path) -> Path:
    """A folder that is a checkout of this project as :func:`contrastive.paths.checkout` sees one."""
    for marker in paths.MARKERS:
        (folder / marker).parent.mkdir(parents=True, exist_ok=True)
        (folder / marker).write_text("")
    return folder


def defaults_seen_from(cwd: Path, **env: str) -> dict[str, str]:
    """The default folders a fresh ``python`` started in ``cwd`` (the package imported from this
    checkout) uses."""
    code = (
        "import json; from contrastive import data, results, sweep, config; "
        "c = config.Config(device='cpu'); "
        "print(json.dumps({'results': str(results.root()), 'datasets': str(data.DATASETS_ROOT), "
        "'notebook': str(sweep.NOTEBOOK), 'out': c.out, 'config_datasets': c.datasets}))"
    )
    unset = (paths.HOME_ENV, results.ROOT_ENV)
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment |= {"PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.slow  # a subprocess (the shell script, a fresh Python): make test runs it
def test_defaults_follow_the_checkout_the_command_runs_in_not_the_package(tmp_path):
    other = fake_checkout(tmp_path / "clone")
    (other / "book" / "experiments").mkdir(parents=True, exist_ok=True)
    seen = defaults_seen_from(other / "book" / "experiments")  # a chapter runs in its own folder
    records, datasets = str(other / "data" / "results"), str(other / "data" / "datasets")
    assert seen == {
        "results": records,
        "datasets": datasets,
        "out": records,
        "notebook": str(other / "book" / "experiments" / "train.ipynb"),
        "config_datasets": datasets,
    }
    assert str(ROOT) not in json.dumps(seen)  # never the checkout the package was imported from


def test_contrastive_home_names_the_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    assert paths.checkout(fake_checkout(tmp_path / "clone")) == (tmp_path / "home").resolve()
    monkeypatch.chdir(tmp_path)
    assert paths.portable(tmp_path / "home" / "data" / "results") == "data/results"


def test_checkout_is_the_nearest_one_upwards_else_the_folder_itself(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    outer = fake_checkout(tmp_path / "outer")
    (outer / "a" / "b").mkdir(parents=True)
    assert paths.checkout(outer / "a" / "b") == outer
    assert paths.checkout(tmp_path) == tmp_path.resolve()


def old_record() -> dict:
    """A record as written before issue 30: absolute paths of the machine that ran it."""
    return {
        "arrays_sha256": "ab" * 32,
        "config": {
            "checkpoint_dir": "/work/sweep/data/checkpoints",
            "data": "/work/shared/data/cifar10-jpeg.npz",
            "dataset": "cifar10",
            "datasets": "/work/sweep/data/datasets",
            "epochs": 180,
            "loss": "hard",
            "milestones": [144, 171],
            "out": "/root/out",
            "protocol": "cpu",
            "seed": 0,
            "tau": 0.3,
            "test_subset": None,
        },
        "curves": {"epoch": [1, 18], "loss": [6.123456789012345, 5.5], "uniformity": [1.5, 3.25]},
        "provenance": {
            "data": {
                "path": ".carry/cifar10-jpeg.npz",
                "sha256": "4e" * 32,
                "source": "offline npz",
            },
            "device": "cpu (AMD EPYC, 2 threads)",
            "wall_seconds": {"total": 1234.5678901234},
        },
        "results": {
            "knn_top1": 47.99,
            "tolerance": 0.2345678901234567,
            "uniformity": 3.5712345678901234,
            "uniformity_test": 3.25,
        },
    }


def without_paths(record: dict) -> dict:
    """``record`` without the path fields that the migration may change, its fields under their
    names before issue 31."""
    stripped = copy.deepcopy(record)
    for part, names in migrate.RENAMED.items():
        old = {new: name for name, new in names.items()}
        stripped[part] = {old.get(k, k): v for k, v in stripped[part].items()}
    for key in (*migrate.FILES, *migrate.FOLDERS):
        stripped["config"].pop(key, None)
    stripped["provenance"]["data"].pop("path", None)
    return stripped


def test_the_migration_rewrites_only_the_paths_and_is_idempotent(tmp_path):
    folder = tmp_path / "beyond" / "results" / "cpu" / "cifar10"
    folder.mkdir(parents=True)
    path = folder / "hard-tau0.3-seed0.json"
    before = old_record()
    path.write_text(json.dumps(before, indent=1, sort_keys=True) + "\n")
    (folder / "hard-tau0.3-seed0.npz").write_bytes(b"arrays")

    assert migrate.main([str(tmp_path / "beyond" / "results")]) == 0
    after = json.loads(path.read_text())
    assert without_paths(after) == without_paths(before)  # every number, every other value
    assert after["results"]["uniformity_train"] == before["results"]["uniformity"]
    assert after["results"]["tolerance_train"] == before["results"]["tolerance"]
    assert after["curves"]["uniformity_test"] == before["curves"]["uniformity"]
    assert {"uniformity", "tolerance"}.isdisjoint({*after["results"], *after["curves"]})
    c = after["config"]
    assert (c["checkpoint_dir"], c["data"], c["datasets"], c["out"]) == (
        "data/checkpoints",
        "cifar10-jpeg.npz",
        "data/datasets",
        "out",
    )
    assert after["provenance"]["data"]["path"] == "cifar10-jpeg.npz"
    # the layout of write_record
    assert path.read_text() == json.dumps(after, indent=1, sort_keys=True) + "\n"
    assert (folder / "hard-tau0.3-seed0.npz").read_bytes() == b"arrays"
    text = path.read_text()
    assert migrate.migrate([tmp_path]) == [] and path.read_text() == text  # idempotent
    assert not absolute_paths(after)


def test_renamed_fields_keep_their_place_where_keys_are_not_sorted(tmp_path):
    path = tmp_path / "r.json"
    before = old_record()
    before["results"] = {"uniformity": 3.5, "knn_top1": 47.99, "tolerance": 0.25}
    path.write_text(json.dumps(before, indent=2) + "\n")  # an older writer's layout, unsorted
    assert migrate.migrate([path]) == [path]
    after = json.loads(path.read_text())
    assert list(after["results"]) == ["uniformity_train", "knn_top1", "tolerance_train"]
    assert list(after["curves"]) == ["epoch", "loss", "uniformity_test"]
    assert path.read_text() == json.dumps(after, indent=2) + "\n"
    benchmark = tmp_path / "b.json"
    benchmark.write_text(json.dumps({"results": [1], "uniformity": 2}, indent=1) + "\n")
    assert migrate.migrate([benchmark]) == []  # not a record: left alone


def test_no_committed_record_holds_a_field_under_its_old_name():
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode:
        pytest.skip("not a git checkout")
    records = [
        value
        for name in tracked.stdout.split()
        if name.endswith(".json") and "results" in (value := json.loads((ROOT / name).read_text()))
    ]
    assert len(records) > 40
    assert not [r for r in records if migrate.renamed(r) != r]


def test_the_migration_refuses_what_it_cannot_write_back_unchanged(tmp_path, capsys):
    (tmp_path / "odd.json").write_text(json.dumps(old_record(), indent=4))
    assert migrate.main([str(tmp_path)]) == 2
    assert "odd.json: its JSON layout" in capsys.readouterr().err
    assert migrate.main([str(tmp_path / "absent")]) == 2


def absolute_paths(value, where: str = "") -> list[str]:
    """Every string in a parsed JSON value that is an absolute path, as ``where: value``."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in absolute_paths(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in absolute_paths(v, f"{where}[{i}]")]
    return [f"{where}: {value}"] if isinstance(value, str) and value.startswith(("/", "~")) else []


def test_no_committed_record_holds_an_absolute_path():
    tracked = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode:
        pytest.skip("not a git checkout")
    files = [ROOT / name for name in tracked.stdout.split() if name.endswith(".json")]
    assert len(files) > 70
    found = {str(f.relative_to(ROOT)): absolute_paths(json.loads(f.read_text())) for f in files}
    assert not {f: p for f, p in found.items() if p}


@pytest.mark.slow
def test_a_chapter_fails_naming_a_record_it_cannot_read(tmp_path, monkeypatch):
    """Issue 30: with one seed's record of ordinary τ = 0.3 truncated, Table 1 fails (not "—")
    naming the file."""
    import shutil

    import papermill

    records = tmp_path / "results"
    shutil.copytree(ROOT / "data" / "results", records)
    cut = records / "cpu" / "cifar10" / "contrastive-tau0.3-seed0.json"
    cut.write_bytes(cut.read_bytes()[:500])
    monkeypatch.setenv(results.ROOT_ENV, str(records))
    monkeypatch.setenv("CONTRASTIVE_BOOK_BUILD", "1")
    with pytest.raises(papermill.PapermillExecutionError) as e:
        chapters = ROOT / "book" / "experiments"
        papermill.execute_notebook(
            str(chapters / "table1.ipynb"),
            str(tmp_path / "t.ipynb"),
            kernel_name="python3",
            progress_bar=False,
            cwd=str(chapters),
        )
    assert e.value.ename == "BadRecordError" and str(cut) in e.value.evalue

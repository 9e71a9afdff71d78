"""``make sweep`` end to end on the CPU: papermill runs of the run notebook on a tiny synthetic npz,
resuming, failure isolation, and the experimental chapters rendering the records it wrote.

Everything is written under tmp_path: the npz is a SYNTHETIC TEST FIXTURE in the offline format
(``contrastive.data.decode_npz``), not CIFAR-10.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from contrastive import config, paper, protocols, results, sweep, train
from contrastive.config import Config, ConfigError
from contrastive.edition.table import RunTable
from contrastive.protocols import PROTOCOLS

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--set",
    "arch='tiny'",
    "--set",
    "knn_k=8",
    "--set",
    "probe_epochs=1",
    "--set",
    "batch_size=16",
]


def tiny_npz(path: Path, n_train: int = 64, n_test: int = 32, classes: int = 4) -> Path:
    """JPEG images of ``classes`` brightness levels, in the offline CIFAR-10 npz format."""
    rng = np.random.default_rng(0)
    arrays = {"classes": np.array([f"class{c}" for c in range(classes)])}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % classes
        files = []
        for y in labels:
            buf = io.BytesIO()
            Image.fromarray((rng.integers(0, 60, (32, 32, 3)) + 60 * y).astype(np.uint8)).save(
                buf, format="JPEG", quality=75
            )
            files.append(np.frombuffer(buf.getvalue(), np.uint8))
        arrays[f"jpeg_{split}"] = np.concatenate(files)
        arrays[f"offsets_{split}"] = np.concatenate(
            [[0], np.cumsum([len(f) for f in files])]
        ).astype(np.int64)
        arrays[f"y_{split}"] = labels.astype(np.int64)
    np.savez(path, **arrays)
    return path


def cli(out: Path, data: Path, *args: str) -> list[str]:
    return [
        "--dataset",
        "cifar10",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--data",
        str(data),
        "--out",
        str(out),
        *TINY,
        "--set",
        f"datasets={str(out / 'datasets')!r}",
        *args,
    ]


def execute(chapter: str, target: Path) -> str:
    """Execute a chapter with papermill (as the book build does) and return its outputs as text."""
    import papermill

    papermill.execute_notebook(
        str(ROOT / "book" / chapter), str(target), kernel_name="python3", progress_bar=False
    )
    nb = nbformat.read(target, as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)


@pytest.mark.slow
def test_sweep_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data, out = tiny_npz(tmp_path / "tiny.npz"), tmp_path / "out"

    assert sweep.main(cli(out, data, "--losses", "contrastive", "--taus", "0.07", "0.3")) == 0
    for name in ("contrastive-tau0.07-seed0", "contrastive-tau0.3-seed0"):
        nb = nbformat.read(out / "runs" / "paper" / "cifar10" / f"{name}.ipynb", as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and "hide-input" in injected[0].metadata.tags
        assert "plotly" in json.dumps(nb.cells[-1].outputs)  # the run's curves
        record = results.read_record(out / "results" / "paper" / "cifar10" / f"{name}.json")
        assert record.config["epochs"] == 1 and record.config["arch"] == "tiny"
        assert set(results.read_arrays(record)) >= {"pos_sim", "neg_top10", "embedding"}

    again = sweep.sweep(
        "cifar10",
        ["contrastive"],
        [0.07, 0.3],
        1,
        out,
        data,
        device="cpu",
        parameters={"arch": "tiny", "knn_k": 8, "probe_epochs": 1, "batch_size": 16},
    )
    assert (
        again.skipped == ["contrastive-tau0.07-seed0", "contrastive-tau0.3-seed0"]
        and not again.ran
        and not again.failed
    )

    # hard with k = 4095 > the 63 negatives of a 64-image bank fails inside the notebook; the
    # ordinary run after it still runs, and the failures are listed with a non-zero exit.
    capsys.readouterr()
    assert (
        sweep.main(cli(out, data, "--losses", "hard", "contrastive", "--taus", "0.3", "0.7")) == 1
    )
    printed = capsys.readouterr().out
    assert (
        "2 failed" in printed
        and "FAILED hard-tau0.3-seed0" in printed
        and "FAILED hard-tau0.7-seed0" in printed
    )
    assert (out / "results" / "paper" / "cifar10" / "contrastive-tau0.7-seed0.json").is_file()
    assert not (out / "results" / "paper" / "cifar10" / "hard-tau0.3-seed0.json").exists()
    assert (out / "runs" / "paper" / "cifar10" / "hard-tau0.3-seed0.ipynb").is_file()

    monkeypatch.setenv("CONTRASTIVE_RESULTS", str(out / "results"))
    monkeypatch.setenv("CONTRASTIVE_BOOK_BUILD", "1")
    records = results.load(out / "results")
    u = (
        RunTable(records)
        .at("paper", "cifar10")
        .record("contrastive", 0.3)
        .results["uniformity_train"]
    )
    table = execute("experiments/table1.ipynb", tmp_path / "table1.ipynb")
    # the CPU-scale table comes first (no records there: all ten not yet run), then the paper-scale one
    paper_scale = table.split("<strong>paper scale: ")[1]
    assert (
        f"{u:.3f}" in paper_scale
        and "ordinary τ=0.07" not in paper_scale.split("No run record yet for")[1].split("</p>")[0]
    )
    curves = execute("experiments/uniformity_tolerance.ipynb", tmp_path / "ut.ipynb")
    assert (
        "ours: ordinary (1 epoch; off protocol: epochs, batch_size, arch, knn_k, probe_epochs)"
        in curves
    )
    dynamics = execute("experiments/dynamics.ipynb", tmp_path / "dynamics.ipynb")
    assert (
        "Training dynamics (ordinary loss), cifar10" in dynamics
        and "=0.7 (1 epoch; off protocol: epochs, batch_size, arch, knn_k, probe_epochs)"
        in dynamics
    )  # plotly escapes τ


def test_configurations_run_tau_free_losses_once():
    assert protocols.configurations(["simple", "contrastive", "hard_simple"], [0.3, 1.0]) == [
        ("simple", None),
        ("contrastive", 0.3),
        ("contrastive", 1.0),
        ("hard_simple", None),
    ]
    with pytest.raises(ValueError, match="loss must be one of"):
        protocols.configurations(["triplet"], [0.3])
    with pytest.raises(ValueError, match="taus must hold"):
        protocols.configurations(["hard"], [])


def engine_record(**config):
    """A record as the engine writes it for ``config`` (JSON round trip)."""
    c = {**dataclasses.asdict(Config(device="cpu")), **config}
    return results.Record(
        config=json.loads(json.dumps(c)), results={}, curves={}, provenance={}, path=Path("r.json")
    )


@pytest.mark.parametrize(
    "have, want, reason",
    [
        ({}, {}, None),
        ({"epochs": 100}, {}, "epochs 100 (requested: 200)"),
        (
            {},
            {"epochs": 100},
            "epochs 200 (requested: 100)",
        ),  # a longer run does not stand in for a shorter one
        ({"subset": 5000}, {}, "subset 5000 (requested: all)"),
        ({"subset": 5000}, {"subset": 256}, "subset 5000 (requested: 256)"),
        ({"test_subset": 100}, {}, "test_subset 100 (requested: all)"),
        (
            {"arch": "tiny"},
            {},
            "arch 'tiny' (requested: 'resnet18')",
        ),  # a smoke record never skips a real run
        ({"arch": "tiny", "epochs": 1}, {"epochs": 1}, "arch 'tiny' (requested: 'resnet18')"),
        ({"seed": 1, "hflip": False}, {}, "hflip False (requested: True), seed 1 (requested: 0)"),
        ({"loss": "hard", "k": 100}, {"loss": "hard"}, "k 100 (requested: 4095)"),
        ({"k": 100}, {}, None),  # k does not matter for the ordinary loss
        ({"device": "cuda", "knn_every": 1, "data": "elsewhere.npz", "bf16": True}, {}, None),
    ],
)
def test_shortfall(have, want, reason):
    assert config.shortfall(engine_record(**have), Config(device="cpu", **want)) == reason


def test_a_record_of_another_protocol_never_covers_a_run():
    cpu = Config.at("cpu-short", device="cpu")
    assert config.shortfall(engine_record(**dataclasses.asdict(cpu)), cpu) is None
    assert config.shortfall(
        engine_record(**{**dataclasses.asdict(cpu), "protocol": "paper"}), cpu
    ).startswith("protocol 'paper' (requested: 'cpu-short')")


def test_configurations_default_to_each_losss_grid_table1_first():
    configs = protocols.configurations(list(paper.TABLE1_LOSSES))
    assert len(configs) == 20 and len(set(configs)) == 20
    assert set(configs[:10]) == set(paper.COLUMNS)
    assert configs[10] == ("contrastive", 0.2)  # Fig. 2's second temperature next
    assert {t for loss, t in configs if loss == "contrastive"} == set(paper.GRIDS["contrastive"])
    assert {t for loss, t in configs if loss == "hard"} == set(paper.GRIDS["hard"])


def test_bad_parameters_stop_the_sweep_before_anything_runs(tmp_path, capsys):
    assert sweep.main(["--out", str(tmp_path), "--set", "nonsense=1", "--device", "cpu"]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert sweep.main(["--out", str(tmp_path), "--epochs", "0", "--device", "cpu"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert (
        sweep.main(
            ["--out", str(tmp_path), "--losses", "hard", "--taus", "0.3", "0", "--device", "cpu"]
        )
        == 2
    )
    assert "tau: must be a finite number > 0, got 0.0" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_an_off_protocol_sweep_stops_before_replacing_a_protocol_record(tmp_path, capsys):
    config = Config(device="cpu", out=str(tmp_path / "results"))
    path = train.record_path(config)
    record = {"config": dataclasses.asdict(config), "results": {}, "curves": {}, "provenance": {}}
    results.write_record(path, json.loads(json.dumps(record)))
    argv = [
        "--out",
        str(tmp_path),
        "--device",
        "cpu",
        "--losses",
        "simple",
        "contrastive",
        "--taus",
        "0.07",
        "--epochs",
        "1",
    ]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err
    assert (
        f"out: {path} holds a record made at the paper protocol" in err
        and "epochs 1 (paper: 200)" in err
    )
    assert not (tmp_path / "runs").exists() and not (tmp_path / "checkpoints").exists()


def test_run_config_keeps_the_engines_defaults_for_none():
    config = sweep.run_config(
        loss="hard", tau=0.7, device=None, out=None, checkpoint_dir=None, subset=None, epochs=3
    )
    assert (config.loss, config.tau, config.epochs, config.subset) == ("hard", 0.7, 3, None)
    assert config.out == str(results.DEFAULT_ROOT) and config.device in ("cpu", "cuda")
    cpu = sweep.run_config(
        protocol="cpu-short", loss="hard", tau=0.7, lr=None, epochs=None, subset=None, device="cpu"
    )
    want = PROTOCOLS["cpu-short"]
    assert (cpu.protocol, cpu.epochs, cpu.subset, cpu.k, cpu.arch) == (
        "cpu-short",
        want.epochs,
        want.subset,
        want.k,
        "resnet18_w16",
    )


def test_the_run_notebook_declares_every_config_field():
    declared = sweep.notebook_parameters(sweep.NOTEBOOK)
    assert declared == {f.name for f in dataclasses.fields(Config)}
    nb = nbformat.read(sweep.NOTEBOOK, as_version=4)
    assert not any("ipywidgets" in c.source for c in nb.cells)
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_make_sweep_passes_its_variables():
    dry = subprocess.run(
        [
            "make",
            "-n",
            "sweep",
            "EPOCHS=3",
            "SUBSET=256",
            "DATA=x.npz",
            "TAUS=0.3 1.0",
            "LOSSES=hard",
            "PROTOCOL=cpu-short",
            "DEVICE=cpu",
            "OUT=data",
            "SEEDS=0 1 2",
            "SHARD=1/4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = " ".join(dry.replace("\\\n", " ").split())
    assert (
        "-m contrastive.sweep" in line
        and "--epochs 3" in line
        and "--subset 256" in line
        and "--data x.npz" in line
    )
    assert (
        "--taus 0.3 1.0" in line
        and "--losses hard" in line
        and "--device cpu" in line
        and "--out data" in line
    )
    assert "--protocol cpu-short" in line and "--seeds 0 1 2" in line and "--shard 1/4" in line
    default = subprocess.run(
        ["make", "-n", "sweep"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--out" not in default  # records go where the book reads them (contrastive.results.root)
    default = " ".join(
        subprocess.run(
            ["make", "-n", "sweep", "DATA="], cwd=ROOT, capture_output=True, text=True, check=True
        )
        .stdout.replace("\\\n", " ")
        .split()
    )
    assert (
        "--protocol paper" in default
        and "--taus" not in default
        and "--epochs" not in default
        and "--device" not in default
    )


def test_notebook_config_refuses_a_name_that_is_not_a_parameter():
    names = sweep.notebook_parameters(sweep.NOTEBOOK)
    namespace = {name: None for name in names} | {
        "protocol": "cpu-short",
        "device": "cpu",
        "loss": "hard",
        "tau": 0.7,
    }
    cells = [
        'protocol = "paper"\ntau = 0.07',
        "%matplotlib inline",
        'protocol = "cpu-short"\ntau = 0.7\nloss = "hard"',
    ]
    config = sweep.notebook_config({**namespace, "In": cells})
    assert (config.protocol, config.loss, config.tau, config.arch) == (
        "cpu-short",
        "hard",
        0.7,
        "resnet18_w16",
    )
    with pytest.raises(
        ValueError, match="^unknown run-notebook parameter tua: the parameters are the fields of"
    ):
        sweep.notebook_config(
            {**namespace, "In": [*cells, "tua = 0.3\nlr2 = x + 1"]}
        )  # lr2: not a literal


@pytest.mark.slow
def test_papermill_with_a_misspelt_parameter_stops_before_training(tmp_path):
    import papermill

    with pytest.raises(
        papermill.PapermillExecutionError, match="unknown run-notebook parameter tua"
    ):
        papermill.execute_notebook(
            str(sweep.NOTEBOOK),
            str(tmp_path / "run.ipynb"),
            kernel_name="python3",
            progress_bar=False,
            parameters={"tua": 0.3, "out": str(tmp_path)},
        )
    assert not (tmp_path / "paper").exists()


def test_a_data_file_smaller_than_the_protocols_subset_stops_the_sweep_before_any_run(
    tmp_path, capsys
):
    data = tiny_npz(tmp_path / "tiny.npz")  # 64 training images; cpu-short takes 5,000
    argv = [
        "--protocol",
        "cpu-short",
        "--device",
        "cpu",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
        "--losses",
        "simple",
    ]
    assert sweep.main(argv) == 2
    assert (
        f"data: {data}: holds 64 training images, fewer than the subset of 5000"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "out" / "runs").exists()


def test_runs_write_where_the_book_reads(tmp_path, monkeypatch):
    monkeypatch.setenv(results.ROOT_ENV, str(tmp_path / "store" / "records"))
    config = Config(device="cpu")
    assert config.out == str(tmp_path / "store" / "records")
    assert config.checkpoint_dir is None  # the run's checkpoints lie inside out
    assert train.checkpoint_path(config).is_relative_to(tmp_path / "store" / "records")


def test_shards_are_disjoint_and_cover_the_sweep():
    jobs = list(range(20))
    shards = [sweep.shard_of(jobs, (i, 3)) for i in range(3)]
    assert sorted(j for shard in shards for j in shard) == jobs and shards[0] == [
        0,
        3,
        6,
        9,
        12,
        15,
        18,
    ]
    for bad in ((3, 3), (-1, 2), (0, 0)):
        with pytest.raises(ValueError, match="shard"):
            sweep.shard_of(jobs, bad)
    for bad in ("2/2", "one-of-two", "-1/2"):
        with pytest.raises(SystemExit) as e:
            sweep.main(["--shard", bad, "--device", "cpu"])
        assert e.value.code == 2


def test_a_record_being_made_is_claimed_by_one_run_only(tmp_path):
    path = tmp_path / "cifar10" / "hard-tau0.3-seed0.json"
    path.parent.mkdir()
    with train.claimed(path):
        with pytest.raises(ConfigError, match="being made by another run") as error:
            with train.claimed(path):
                pass
        assert error.value.field == "out"
    with train.claimed(path):  # released when its holder is done
        pass


@pytest.mark.slow
def test_two_shards_of_one_sweep_at_once_record_each_configuration_once(tmp_path):
    data, out = tiny_npz(tmp_path / "tiny.npz"), tmp_path / "out"
    argv = [
        sys.executable,
        "-m",
        "contrastive.sweep",
        *cli(
            out,
            data,
            "--losses",
            "contrastive",
            "simple",
            "--taus",
            "0.3",
            "0.7",
            "--seeds",
            "0",
            "1",
        ),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    shards = [
        subprocess.Popen([*argv, "--shard", f"{i}/2"], env=env, stdout=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    printed = [p.communicate(timeout=900)[0] for p in shards]
    assert [p.returncode for p in shards] == [0, 0], "\n".join(printed)
    made = sorted(r.name for r in results.load(out / "results"))
    assert made == sorted(
        f"{n}-seed{s}"
        for n in ("contrastive-tau0.3", "contrastive-tau0.7", "simple")
        for s in (0, 1)
    )
    ran = [
        line.split()[2].rstrip(":")
        for text in printed
        for line in text.splitlines()
        if "done in" in line
    ]
    assert sorted(ran) == made  # each configuration ran in exactly one shard


# --- issue 30: stale records, Ctrl-C, shards as Slurm numbers them ------------------------------


def in_process(monkeypatch):
    """Run each job of a sweep in this process (train.run), in place of a papermill execution."""

    def execute(notebook, target, parameters, **kwargs):
        train.run(sweep.run_config(**parameters))
        Path(target).write_text(json.dumps(nbformat.v4.new_notebook()))

    monkeypatch.setattr(sweep.papermill, "execute_notebook", execute)


def test_a_stale_record_is_replaced_by_a_run_started_afresh(tmp_path, monkeypatch, capsys):
    """Issue 30: make sweep ... EPOCHS=2, then EPOCHS=3, replaces the record in one line, exit 0."""
    in_process(monkeypatch)
    data, out = tiny_npz(tmp_path / "tiny.npz"), tmp_path / "out"
    argv = cli(out, data, "--losses", "simple")
    assert sweep.main(argv) == 0
    capsys.readouterr()
    assert sweep.main([*argv, "--epochs", "2"]) == 0
    said = capsys.readouterr().out
    assert "does not cover it (epochs 1 (requested: 2)); a run started afresh replaces it" in said
    assert "Traceback" not in said and "1 ran, 0 skipped, 0 failed" in said
    record = results.read_record(out / "results" / "paper" / "cifar10" / "simple-seed0.json")
    assert record.config["epochs"] == 2 and record.provenance["resumed_from_epoch"] == 0
    assert not (out / "results" / train.CHECKPOINTS).exists()  # no checkpoint outlives its record


def test_ctrl_c_of_a_sweep_is_one_line_on_how_to_resume(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):  # Ctrl-C reaches the kernel: papermill reports its error
        raise papermill.PapermillExecutionError(
            0, 1, "KeyboardInterrupt", "KeyboardInterrupt", "", []
        )

    import papermill

    monkeypatch.setattr(sweep.papermill, "execute_notebook", interrupted)
    data = tiny_npz(tmp_path / "tiny.npz")
    assert sweep.main(cli(tmp_path / "out", data, "--losses", "simple")) == 130
    err = capsys.readouterr().err.strip()
    assert err == sweep.INTERRUPTED and "run the same command again to resume" in err


def slurm_plan(task: int, count: int, tmp_path: Path, capsys, **env: str) -> list[str]:
    """The record names task ``task`` of an array of ``count`` runs under benchmarks/sweep.sbatch:
    the script's command line (caught by a stand-in for python) given to ``sweep.main`` here (a
    process each would take long)."""
    shim = tmp_path / "python"
    shim.write_text("#!/bin/sh\nprintf '%s\\0' \"$@\"\n")
    shim.chmod(0o755)
    environment = {
        **os.environ,
        "SLURM_ARRAY_TASK_ID": str(task),
        "SLURM_ARRAY_TASK_COUNT": str(count),
        "PLAN": "1",
        "PYTHON": str(shim),
        **env,
    }
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "sweep.sbatch")],
        env=environment,
        capture_output=True,
        check=True,
    )
    argv = done.stdout.decode().split("\0")[:-1]
    assert argv[:2] == ["-m", "contrastive.sweep"]
    capsys.readouterr()
    assert sweep.main(argv[2:]) == 0
    head, names = capsys.readouterr().out.strip().split(": ", 1)
    assert head == f"shard {task}/{count}"
    return names.split()


def test_the_slurm_script_runs_each_configuration_in_exactly_one_task(tmp_path, capsys):
    script = (ROOT / "benchmarks" / "sweep.sbatch").read_text()
    tasks = int(script.split("#SBATCH --array=0-")[1].split()[0]) + 1  # Slurm numbers them 0 .. n-1
    plans = [slurm_plan(i, tasks, tmp_path, capsys) for i in range(tasks)]
    losses = ["contrastive", "hard", "simple", "hard_simple"]  # the script's default
    every = [
        sweep.run_config("cpu", loss=loss, tau=tau, device="cpu").stem
        for loss, tau in protocols.configurations(losses)
    ]
    assert sorted(n for plan in plans for n in plan) == sorted(every) and len(every) == 20
    assert plans[0] == every[0::tasks]  # task 0 takes the first: Table 1's first column
    assert slurm_plan(1, 2, tmp_path, capsys, SEEDS="0 1", LOSSES="simple") == ["simple-seed1"]

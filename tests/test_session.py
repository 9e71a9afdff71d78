"""The prepared GPU slot (contrastive.session): its plan, on the CPU; its runs need a GPU."""

import dataclasses
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from contrastive import paper, protocols, results, session, train
from contrastive.config import Config

TABLE1_STEMS = [results.record_name(loss, tau) for loss, tau in paper.COLUMNS]


def write_record(out: Path, **config) -> Path:
    """A record of the paper protocol (JSON round trip), ``config`` over the engine's values."""
    run = {k: config[k] for k in ("loss", "tau") if k in config}
    c = Config.at("paper", device="cpu", out=str(out), **run)
    record = {
        "config": {**dataclasses.asdict(c), **config},
        "results": {},
        "curves": {},
        "provenance": {},
    }
    path = train.record_path(c)
    results.write_record(path, json.loads(json.dumps(record)))
    return path


def stems(planned: session.Plan) -> list[str]:
    return [r["stem"] for r in planned.runs]


def test_the_order_is_the_sweeps():
    configurations = protocols.configurations(list(paper.TABLE1_LOSSES))
    assert session.table1() == [c for c in configurations if c in paper.COLUMNS]


ESTIMATES = [
    session.Estimate(),
    session.Estimate(start_s=5, compile_s=0, step_ms=1),
    session.Estimate(step_ms=13.5, margin=1.0),
]


@pytest.mark.parametrize("minutes", [0.5, 1, 3, 8, 9.5, 10, 17, 25, 60, 600])
@pytest.mark.parametrize("estimate", ESTIMATES)
def test_never_plans_a_run_that_cannot_finish_in_the_minutes(tmp_path, minutes, estimate):
    planned = session.plan(minutes, estimate, out=str(tmp_path))
    one = estimate.run_seconds(session.run_config("contrastive", 0.07))
    fit = int((60 * minutes - estimate.start_s) // one)
    assert len(planned.runs) == min(10, max(0, fit))  # as many as fit
    ends = estimate.start_s
    for run, config in zip(planned.runs, planned.configs):
        ends += estimate.run_seconds(config)
        assert run["ends_s"] == pytest.approx(ends) and ends <= 60 * minutes
    assert stems(planned) + planned.left == TABLE1_STEMS  # in order, nothing skipped


def test_a_paper_run_takes_its_estimate():
    """200 epochs of 391 steps (the last one partial), 21 curve points, compile and evaluation."""
    e = session.Estimate()
    train_s = e.margin * 200 * 391 * e.step_ms / 1000
    expected = e.compile_s + train_s + 21 * e.point_s + e.evaluate_s
    assert e.run_seconds(session.run_config("hard", 0.7)) == pytest.approx(expected)


def test_skips_recorded_configurations_and_keeps_the_order(tmp_path):
    write_record(tmp_path, loss="contrastive", tau=0.07)
    write_record(tmp_path, loss="simple")
    write_record(tmp_path, loss="contrastive", tau=0.3, epochs=30)  # off protocol: covers nothing
    planned = session.plan(60, out=str(tmp_path))
    assert planned.recorded == ["contrastive-tau0.07-seed0", "simple-seed0"]
    assert stems(planned) + planned.left == [s for s in TABLE1_STEMS if s not in planned.recorded]
    assert stems(planned)[0] == "contrastive-tau0.3-seed0"


def test_planned_runs_are_table1_at_the_paper_protocol_checkpointed_at_their_end(tmp_path):
    planned = session.plan(600, out=str(tmp_path))
    assert len(planned.configs) == 10
    for config in planned.configs:
        assert (config.protocol, config.seed) == ("paper", 0)
        assert config.checkpoint_every == config.epochs
        assert not train.deviations(dataclasses.asdict(config), "paper")


def test_the_plan_writes_nothing_and_says_what_it_would_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(session, "ROOT", tmp_path)
    assert session.main(["--minutes", "9.5", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "run contrastive-tau0.07-seed0" in out
    assert "left for another slot: contrastive-tau0.3-seed0" in out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--minutes", "0", "--plan"], "--minutes"),
        (["--minutes", "nan", "--plan"], "--minutes"),
        (["--minutes", "5"], "--out"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(argv, flag, capsys):
    assert session.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"argument {flag}:" in err


def test_a_run_the_clock_no_longer_leaves_is_not_started(tmp_path, monkeypatch):
    planned = session.plan(10, out=str(tmp_path))
    monkeypatch.setattr(session, "execute", lambda config, root: pytest.fail("started"))
    done = session.run_plan(planned, tmp_path, started=0.0)  # the minutes are long gone
    assert [d["status"].split(":")[0] for d in done] == ["not started"] * len(planned.runs)


def test_a_failing_run_does_not_stop_the_next(tmp_path, monkeypatch):
    planned = session.plan(600, session.Estimate(compile_s=0, step_ms=0.01), out=str(tmp_path))

    def execute(config, root):
        if config.loss == "simple":
            raise RuntimeError("boom")
        return root / f"{config.stem}.json"

    monkeypatch.setattr(session, "execute", execute)
    done = session.run_plan(planned, tmp_path, started=time.time())
    statuses = [d["status"].split(":")[0] for d in done]
    assert statuses == ["recorded"] * 4 + ["failed"] + ["recorded"] * 5


def test_packs_what_the_call_made_in_at_most_eight_files(tmp_path):
    root, out = tmp_path / "checkout", tmp_path / "out"
    records = "data/results/paper/cifar10"
    made = [
        f"{records}/hard-tau0.7-seed0.json",
        f"{records}/hard-tau0.7-seed0.npz",
        "data/runs/paper/cifar10/hard-tau0.7-seed0.ipynb",
        "data/checks/nvidia-h200.json",
        "data/benchmarks/nvidia-h200.json",
        *(f"{records}/r{i}.json" for i in range(20)),
    ]
    old = [f"{records}/old.json", "data/results/cpu/cifar10/x.json", f"{records}/.x.lock"]
    for name in made + old:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    os.utime(root / old[0], (1000, 1000))
    files = session.new_files(root, since=2000)
    written = session.pack(files, root, out, {"runs": []})
    assert len(list(out.iterdir())) == len(written) <= session.MAX_FILES - 1  # and the log
    with tarfile.open(out / session.ARCHIVE) as tar:
        assert sorted(tar.getnames()) == sorted(made)
    summary = json.loads((out / session.SUMMARY).read_text())
    assert summary["archive"] == [str(f.relative_to(root)) for f in files]


def test_a_call_runs_the_plan_and_packs_its_records(tmp_path, monkeypatch, capsys):
    """The whole call on the CPU, each run replaced by writing its record (the runs need a GPU)."""
    root, out = tmp_path / "checkout", tmp_path / "out"
    monkeypatch.setattr(session, "ROOT", root)

    def execute(config, where):
        assert where == root and Path(config.out) == root / "data" / "results"
        assert Path(config.checkpoint_dir) == root / "data" / "checkpoints"
        return write_record(Path(config.out), loss=config.loss, tau=config.tau)

    monkeypatch.setattr(session, "execute", execute)
    argv = ["--minutes", "30", "--device", "cpu", "--out", str(out), "--compile-s", "0"]
    assert session.main(argv) == 0
    summary = json.loads((out / session.SUMMARY).read_text())
    made = [r["stem"] for r in summary["runs"] if r["status"].startswith("recorded")]
    assert made == TABLE1_STEMS[: len(made)] and len(made) >= 1
    with tarfile.open(out / session.ARCHIVE) as tar:
        assert sorted(tar.getnames()) == sorted(
            f"data/results/paper/cifar10/{stem}.json" for stem in made
        )
    assert sorted(p.name for p in out.iterdir()) == sorted([session.ARCHIVE, session.SUMMARY])
    assert session.main(["--minutes", "30", "--plan"]) == 0  # what was made is skipped next time
    assert f"recorded already, skipped: {', '.join(made)}" in capsys.readouterr().out


def slot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``bash benchmarks/gpu_session.sh`` with ``env``, this Python first on the PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", str(session.ROOT / "benchmarks" / "gpu_session.sh")],
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # a subprocess (the shell script, a fresh Python): make test runs it
def test_the_slot_command_plans_on_any_machine(tmp_path):
    done = slot(tmp_path, PLAN="1", MINUTES="9.5", SESSION_ARGS="--step-ms 1 --compile-s 0")
    assert done.returncode == 0, done.stderr
    assert "plan for 9.5 min" in done.stdout and "run contrastive-tau0.07-seed0" in done.stdout


@pytest.mark.slow  # a subprocess (the shell script, a fresh Python): make test runs it
def test_the_slot_command_without_time_for_a_run_returns_three_files(tmp_path):
    out = tmp_path / "out"
    done = slot(tmp_path, CHECK="0", BENCH="0", MINUTES="0.2", DEVICE="cpu", OUT=str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["session.json", "session.log", "session.tar"]
    assert json.loads((out / "session.json").read_text())["runs"] == []

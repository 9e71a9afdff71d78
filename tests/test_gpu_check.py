"""benchmarks/gpu_check.py on the CPU: the whole short run of its run check (eager here: the CUDA
graphs themselves need a GPU) and how it judges compilations after warm-up."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

from contrastive import results
from test_sweep import tiny_npz

ROOT = Path(__file__).resolve().parents[1]


def _load():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # as when run as a script: it imports epoch_time
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load()
TINY = dict(arch="tiny", batch_size=16, knn_k=8, test_subset=None)


def test_the_run_check_runs_a_whole_short_run_killed_and_resumed(tmp_path):
    torch.set_num_threads(1)
    data = tiny_npz(tmp_path / "tiny.npz", n_train=72)  # 72 = 4 x 16 + 8: a partial last batch
    report = gpu_check.check_run("cpu", str(data), 72, datasets=str(tmp_path / "datasets"), **TINY)
    assert report["ok"], report
    assert [(e["epoch"], e.get("killed", False), e.get("warmup")) for e in report["epochs"]] == [
        (1, False, True),
        (2, False, True),
        (3, False, False),
        (4, False, False),
        (5, True, None),
        (5, False, True),
        (6, False, True),
        (7, False, False),
    ]
    assert report["resumed_from_epoch"] == 4 and report["partial_batch"] == 8
    assert report["compile_mode"] is None


def record(resumed: int = 4) -> results.Record:
    return results.Record(
        config={},
        results={"knn_top1": 50.0},
        curves={"epoch": list(range(1, 8))},
        provenance={"resumed_from_epoch": resumed},
        path=Path("r.json"),
    )


def epoch(n: int, warmup: bool, graphs: int = 0, recordings: int = 0) -> dict:
    return {
        "epoch": n,
        "warmup": warmup,
        "seconds": 1.0,
        "graphs": graphs,
        "cudagraph_recordings": recordings,
        "cudagraph_skips": 0,
    }


def test_a_compilation_or_a_recording_after_warm_up_fails_the_check(tmp_path):
    config = gpu_check.run_config("cpu", None, 2000, str(tmp_path))
    clean = [
        epoch(1, True, graphs=2),
        epoch(2, True, recordings=8),
        epoch(3, False),
        epoch(4, False),
        epoch(5, True, 2),
        epoch(6, True, 0, 8),
        epoch(7, False),
    ]
    assert gpu_check.judge_run(config, clean, record())["ok"]
    for late in (epoch(7, False, graphs=1), epoch(7, False, recordings=4)):
        report = gpu_check.judge_run(config, [*clean[:6], late], record())
        assert not report["ok"] and report["recompiled_after_warmup"] == [7]
    assert not gpu_check.judge_run(config, clean, record(resumed=0))["ok"]
    whole = gpu_check.run_config("cpu", None, 2048, str(tmp_path))  # no partial batch to check
    assert not gpu_check.judge_run(whole, clean, record())["ok"]


def test_compile_counts_see_a_new_shape_compile():
    torch._dynamo.reset()
    f = torch.compile(lambda x: x * 2 + 1, backend="eager", dynamic=False)
    before = gpu_check.compile_counts()
    f(torch.ones(3))
    f(torch.ones(3))
    middle = gpu_check.compile_counts()
    f(torch.ones(5))
    after = gpu_check.compile_counts()
    assert middle["graphs"] - before["graphs"] == 1 and after["graphs"] - middle["graphs"] == 1

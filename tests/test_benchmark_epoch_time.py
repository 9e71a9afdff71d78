"""benchmarks/epoch_time.py on the CPU: the file names, the off-protocol note, and a whole-epoch run
of the cpu protocol's network on a tiny SYNTHETIC npz (tests/test_sweep.py), writing a complete record."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from contrastive import results
from contrastive.protocols import describe
from test_sweep import tiny_npz

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location(
        "epoch_time", ROOT / "benchmarks" / "epoch_time.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["epoch_time"] = module
    spec.loader.exec_module(module)
    return module


epoch_time = _load()
NUMBERS = (
    "engine_s_per_epoch",
    "baseline_s_per_epoch",
    "speedup",
    "engine_img_s",
    "baseline_img_s",
    "model_img_s",
    "engine_fraction_of_model",
    "gflop_per_image_fwd_bwd",
    "engine_gflop_s",
    "model_gflop_s",
)


def test_output_names(monkeypatch):
    monkeypatch.setattr(epoch_time.provenance, "cpu_model", lambda: "Intel(R) Xeon(R) Processor")
    cpu = torch.device("cpu")
    assert epoch_time.device_slug(cpu) == "intel-xeon-processor"
    assert epoch_time.output_path("out", "cpu-short", cpu) == Path(
        "out/cpu-short-intel-xeon-processor.json"
    )
    assert epoch_time.output_path("out", "paper", cpu) == Path("out/intel-xeon-processor.json")


def test_off_protocol_names_the_overrides():
    args = epoch_time.parse_args(["--protocol", "cpu-short", "--device", "cpu"])
    assert epoch_time.off_protocol(epoch_time.make_config(args), None) is None
    config = epoch_time.make_config(
        epoch_time.parse_args(["--protocol", "cpu-short", "--device", "cpu", "--batch-size", "16"])
    )
    assert (
        epoch_time.off_protocol(config, 32)
        == "batch_size 16 (cpu-short: 128), subset 32 (cpu-short: 5000)"
    )


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_interleaved_record(tmp_path, one_thread):
    data = tiny_npz(tmp_path / "tiny.npz", n_train=32, n_test=8)
    path = epoch_time.main(
        [
            "--protocol",
            "cpu-short",
            "--device",
            "cpu",
            "--data",
            str(data),
            "--datasets",
            str(tmp_path / "ds"),
            "--subset",
            "32",
            "--batch-size",
            "16",
            "--warmup",
            "0",
            "--blocks",
            "3",
            "--block-steps",
            "1",
            "--workers",
            "0",
            "--note",
            "a test",
            "--out",
            str(tmp_path / "bench"),
        ]
    )
    assert path.name.startswith("cpu-short-") and path.parent == tmp_path / "bench"
    record = json.loads(path.read_text())
    assert results.load_benchmarks(tmp_path / "bench") == [record]  # what the book reads
    for key in NUMBERS:
        assert math.isfinite(record[key]) and record[key] > 0, key
    assert record["speedup"] == pytest.approx(
        record["baseline_s_per_epoch"] / record["engine_s_per_epoch"]
    )
    matched = record["conventional_matched_s_per_epoch"] / record["engine_s_per_epoch"]
    assert record["speedup_same_precision"] == pytest.approx(matched)
    assert record["engine_gflop_s"] == pytest.approx(
        record["engine_img_s"] * record["gflop_per_image_fwd_bwd"]
    )
    assert (record["protocol"], record["arch"], record["train_images"], record["batch_size"]) == (
        "cpu-short",
        "resnet18_w16",
        32,
        16,
    )
    assert record["protocol_description"] == describe("cpu-short")
    assert (record["steps_per_epoch"], record["blocks"], record["block_steps"]) == (2, 3, 1)
    assert record["interleaved"] and record["conditions"] == "a test"
    assert record["off_protocol"] and "subset 32" in record["off_protocol"]
    timings = record["timings"]
    precision = "bfloat16" if record["bf16"] else "float32"
    names = {"engine", "model", "conventional_matched", "baseline"}
    assert set(timings) == names | ({"model_float32"} if record["bf16"] else set())
    for t in timings.values():  # median and range of three blocks, the epoch from the median
        assert len(t["img_s_blocks"]) == 3 and t["img_s_min"] <= t["img_s_median"] <= t["img_s_max"]
        assert t["s_per_epoch"] == pytest.approx(32 / t["img_s_median"])
    # each difference its own column: the matched pipeline differs in its data path only
    matched, engine = timings["conventional_matched"], timings["engine"]
    assert matched["precision"] == engine["precision"] == precision
    assert matched["compiled"] == engine["compiled"]
    assert (timings["baseline"]["precision"], timings["baseline"]["compiled"]) == ("float32", None)
    low, high = record["engine_fraction_of_model_range"]
    assert low <= record["engine_fraction_of_model"] <= high
    assert set(record["model_img_s_by_precision"]) == (
        {"bfloat16", "float32"} if record["bf16"] else {"float32"}
    )
    assert (record["threads"], record["workers"]) == (1, 0)
    assert "3x forward" in record["flops_note"]
    assert {"commit", "torch", "device", "data"} <= set(record["provenance"]) and record["measured"]


def test_interleave_alternates_the_order_and_skips_lead_in_steps():
    calls = []

    def pipeline(name, lead_in=0):
        step = lambda: calls.append(name) or 2  # noqa: E731 -- two images a step
        return epoch_time.Pipeline(name, step, "float32", None, "", lead_in)

    pipelines = [pipeline("a"), pipeline("b", lead_in=1)]
    rates = epoch_time.interleave(pipelines, 2, 1, torch.device("cpu"))
    assert calls == ["a", "b", "b", "b", "b", "a"]  # b's first step of a block is its lead-in
    assert {k: len(v) for k, v in rates.items()} == {"a": 2, "b": 2}

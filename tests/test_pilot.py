"""contrastive.pilot: the rules that chose the CPU scale, on synthetic records (test fixtures only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contrastive import pilot, pilot_run
from contrastive.config import Config
from contrastive.protocols import PAPER, PROTOCOLS
from contrastive.results import Record


def record(
    tau,
    knn,
    seconds=600.0,
    epochs=(1, 50, 80, 100),
    knn_curve=(10.0, 30.0, 40.0, 41.0),
    uniformity=(0.5, 2.0, 3.0, 3.1),
    subset=5_000,
):
    """A SYNTHETIC pilot record: final kNN ``knn``, its wall seconds, training images and curves."""
    return Record(
        config={"tau": tau, "subset": subset, "epochs": epochs[-1]},
        results={"knn_top1": knn, "linear_top1": knn - 1},
        curves={
            "epoch": list(epochs),
            "knn_top1": list(knn_curve),
            "uniformity_test": list(uniformity),
        },
        provenance={"wall_seconds": {"total": seconds}},
        path=Path("synthetic.json"),
    )


def test_flatness_is_the_move_over_the_last_fifth_as_a_share_of_the_range():
    curves = {"epoch": [1, 50, 80, 100], "x": [0.0, 5.0, 8.0, 10.0]}
    assert pilot.flatness(curves, "x") == pytest.approx(
        2.0 / 10.0
    )  # from epoch 80 (the first >= 80 % of 100)
    assert (
        pilot.flatness({"epoch": [1, 90, 100], "x": [1.0, 1.0, 1.0]}, "x") == 0.0
    )  # constant: flat
    assert pilot.flatness(
        {"epoch": [1, 70, 90, 100], "x": [0.0, 9.0, 10.0, 9.0]}, "x"
    ) == pytest.approx(0.1)


def test_assess_applies_rules_one_and_two():
    a = pilot.assess(record(0.1, 41.0))
    assert a["fast"] and a["flat"] and a["knn_top1"] == 41.0
    assert not pilot.assess(record(0.1, 41.0, seconds=12 * 60 + 1))["fast"]
    steep = pilot.assess(record(0.1, 41.0, knn_curve=(10.0, 20.0, 30.0, 41.0)))
    assert not steep["flat"] and steep["flatness"]["knn_top1"] == pytest.approx(11 / 31)


def test_verdict_takes_the_best_mean_knn_among_qualified_recipes():
    runs = {
        "a": [record(0.1, 40.0), record(0.7, 40.0)],
        "b": [record(0.1, 50.0), record(0.7, 20.0)],  # mean 35: the best at one τ is not enough
        "c": [record(0.1, 60.0, seconds=800.0), record(0.7, 60.0)],  # too slow
        "d": [record(0.1, 70.0)],  # incomplete
    }
    v = pilot.verdict(runs)
    assert v["chosen"] == "a" and v["flat"]
    rows = {r["recipe"]: r for r in v["rows"]}
    assert (
        not rows["c"]["fast"] and not rows["d"]["complete"] and rows["b"]["mean_knn_top1"] == 35.0
    )


def test_verdict_falls_back_to_the_flattest_fast_recipe_when_none_is_flat():
    steep = dict(knn_curve=(10.0, 20.0, 30.0, 41.0))
    runs = {
        "a": [record(0.1, 45.0, **steep), record(0.7, 45.0, **steep)],
        "b": [
            record(0.1, 40.0, knn_curve=(10.0, 30.0, 36.0, 40.0)),
            record(0.7, 40.0, knn_curve=(10.0, 30.0, 36.0, 40.0)),
        ],
    }
    v = pilot.verdict(runs)
    assert (
        v["chosen"] == "b" and not v["flat"]
    )  # worst flatness 4/30 < 11/31, though "a" has the better kNN
    assert (
        pilot.verdict({"a": [record(0.1, 45.0, seconds=1e4), record(0.7, 45.0)]})["chosen"] is None
    )


def test_the_second_pilot_counts_images_and_never_falls_back():
    steep = dict(knn_curve=(10.0, 20.0, 30.0, 41.0))
    assert pilot.assess(record(0.1, 41.0, seconds=1e6), pilot.SECOND.rules)[
        "fast"
    ]  # minutes do not count
    over = record(0.1, 41.0, epochs=(1, 50, 80, 181))  # 5,000 x 181 > 900,000 images
    assert not pilot.assess(over, pilot.SECOND.rules)["fast"]
    runs = {"a": [record(0.1, 45.0, **steep), record(0.7, 45.0, **steep)]}
    assert pilot.verdict(runs, pilot.FIRST)["chosen"] == "a"
    v = pilot.verdict(runs, pilot.SECOND)
    assert v["chosen"] is None and not v["flat"]
    flat = {"b": [record(0.1, 40.0), record(0.7, 42.0)], "c": [over, record(0.7, 60.0)]}
    assert pilot.verdict(flat, pilot.SECOND)["chosen"] == "b"


@pytest.mark.parametrize(
    "name, recipe", [(n, r) for n, p in pilot.PILOTS.items() for r in p.recipes]
)
def test_recipes_are_valid_configs_with_a_curve_point_at_80_percent(name, recipe, tmp_path):
    p = pilot.PILOTS[name]
    configs = [Config(**c) for c in pilot_run.configs(p, recipe, None, tmp_path)]
    assert [c.tau for c in configs] == list(p.taus)
    for c in configs:
        assert 4 * c.epochs % (5 * c.knn_every) == 0  # a point at 80 %: rule 2 compares against it
        assert c.milestones == (round(0.8 * c.epochs), round(0.95 * c.epochs))
        assert c.out == str(tmp_path / recipe)
        assert c.k == round(4095 * c.subset / 50_000)  # the paper's fraction of the bank


def test_second_pilot_recipes_fit_its_budget_at_the_papers_initialisation():
    for recipe in pilot.SECOND.recipes.values():
        values = PAPER.scaled(**recipe)
        assert values.subset * values.epochs <= pilot.SECOND.rules["max_images"]
        assert values.init == "pytorch" and values.lr == 0.03
    assert all(r["init"] == "torchvision" for r in pilot.FIRST.recipes.values())


def test_the_short_cpu_protocol_is_the_first_pilots_choice():
    assert PAPER.scaled(**pilot.FIRST.recipes["5k-60ep-lr0.06"]) == PROTOCOLS["cpu-short"]


def test_the_cpu_protocol_is_the_second_pilots_choice():
    """The committed records of the second pilot, judged by its rules, choose exactly ``cpu``."""
    verdict = pilot.verdict(pilot.recipe_records(pilot.SECOND), pilot.SECOND)
    assert verdict["complete"] and verdict["flat"], verdict["rows"]
    cpu = PROTOCOLS["cpu"]
    assert PAPER.scaled(**pilot.SECOND.recipes[verdict["chosen"]]) == cpu
    assert cpu.epochs // cpu.knn_every == pilot.SECOND.curve_points

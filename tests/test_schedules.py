"""Temperatures that move (contrastive.schedules): each schedule's τ against a hand computation, the learned τ's
gradient against autograd, a constant schedule bit-identical to a fixed τ, the sweep's grid and the criteria."""

import math

import pytest
import torch

from contrastive import losses, memory, results, schedules, sweep, train
from contrastive.config import Config
from contrastive.edition import moving
from contrastive.edition.table import RunTable
from test_train import offline, tiny  # noqa: F401  (the fixture keeps runs offline)


def test_cosine_follows_kukleva_et_al_scaled_to_the_run():
    assert schedules.cosine_period(2000) == 400 and schedules.cosine_period(180) == 36
    tau = [schedules.cosine_tau(e, 0.1, 1.0, 36) for e in (0, 9, 18, 27, 36, 54)]
    assert tau == pytest.approx([1.0, 0.55, 0.1, 0.55, 1.0, 0.1])
    assert schedules.cosine_tau(6, 0.1, 1.0, 36) == pytest.approx(
        0.1 + 0.45 * (1 + math.cos(math.pi / 3))
    )


def test_macl_temperature_and_weights_by_hand():
    s_pos = torch.tensor([0.2, 0.4], requires_grad=True)
    tau = schedules.macl_tau(s_pos, 0.1, 0.5, 0.0)
    assert tau.item() == pytest.approx(0.1 * (1 + 0.5 * 0.3)) and not tau.requires_grad
    assert schedules.macl_tau(s_pos, 0.1, 0.5, 0.3).item() == pytest.approx(0.1)
    per_anchor = torch.tensor([0.5, 3.0])  # -log P_ii
    assert schedules.macl_weight(per_anchor).tolist() == pytest.approx(
        [1 / (1 - math.exp(-0.5)), 1 / (1 - math.exp(-3))]
    )


def test_the_learned_tau_gradient_is_the_analytic_one():
    g = torch.Generator().manual_seed(0)
    s_pos, s_neg = torch.rand(6, generator=g) * 2 - 1, torch.rand(6, 40, generator=g) * 2 - 1
    temperature = Config(device="cpu", schedule="learned", tau=0.07).temperature()
    loss = losses.make("contrastive")(s_pos, s_neg, temperature(s_pos)).mean()  # as _loss does
    loss.backward()
    # τ = exp(-t): dL/dt = e^t (Σ_j P_j s_j - s_ii), averaged over anchors (Eq. 2's P over [s_ii, s_ij...])
    s = torch.cat([s_pos[:, None], s_neg], 1)
    p = torch.softmax(s / 0.07, 1)
    analytic = ((p * s).sum(1) - s_pos).mean() / 0.07
    assert temperature.logit_scale.grad.item() == pytest.approx(analytic.item(), rel=1e-4)


def test_the_learned_tau_is_clipped_to_its_bounds():
    temperature = Config(
        device="cpu", schedule="learned", tau=0.07, tau_max=1.0, tau_floor=0.01
    ).temperature()
    with torch.no_grad():
        temperature.logit_scale.fill_(10.0)
    temperature.clip()
    assert temperature(torch.zeros(1)).item() == pytest.approx(0.01)
    with torch.no_grad():
        temperature.logit_scale.fill_(-3.0)
    temperature.clip()
    assert temperature(torch.zeros(1)).item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"schedule": "warm"}, "schedule"),
        ({"schedule": "macl", "loss": "hard", "k": 10}, "schedule"),
        ({"schedule": "cosine", "loss": "simple"}, "schedule"),
        ({"schedule": "cosine", "tau": 1.0}, "tau_max"),
        ({"schedule": "learned", "tau_floor": 0.1}, "tau_floor"),
        ({"schedule": "cosine", "tau_period": 0}, "tau_period"),
        ({"schedule": "macl", "macl_alpha": 1.0}, "macl_alpha"),
        ({"schedule": "macl", "macl_a0": 2.0}, "macl_a0"),
    ],
)
def test_bad_schedules_name_their_field(kw, field):
    with pytest.raises(ValueError, match=f"^{field}: ") as e:
        Config(device="cpu", **kw)
    assert e.value.field == field


def test_record_names_say_how_tau_moved():
    assert Config(device="cpu", tau=0.1).stem == "contrastive-tau0.1-seed0"
    assert (
        Config(device="cpu", tau=0.1, schedule="cosine", seed=2).stem
        == "contrastive-cosine-tau0.1-seed2"
    )
    assert results.record_name("hard", 0.07, 0, "learned") == "hard-learned-tau0.07-seed0"


def old_objective(self, images, u, idx, vectors):
    """The training step's loss as it was before τ could move: the fixed tau of the config, no reweighting."""
    x = self.augment.apply(images, u).contiguous(memory_format=torch.channels_last)
    z = self.model(x)[1]
    s_pos, s_neg = memory.bank_similarities(z, idx, vectors)
    loss = losses.make(self.config.loss, self.config.k)(s_pos, s_neg, self.config.tau)
    return loss.mean(), z, self.config.tau


def test_a_constant_schedule_is_bit_identical_to_a_fixed_tau(tmp_path):
    config = tiny(tmp_path, tau=0.2)
    trained = []
    for loss_of in (None, old_objective):
        engine = train.Engine(config, train.load("cifar10"))
        if loss_of is not None:
            engine.loss_of = loss_of.__get__(engine)
        for epoch in (1, 2):
            engine.train_epoch(epoch)
        trained.append(engine.model.state_dict())
    assert all(torch.equal(trained[0][k], trained[1][k]) for k in trained[0])


@pytest.mark.parametrize("schedule", ["cosine", "macl", "learned"])
def test_a_moving_run_records_its_tau_at_every_curve_point(tmp_path, schedule):
    config = tiny(tmp_path, tau=0.1, schedule=schedule, epochs=3, tau_period=2)
    record = results.read_record(train.run(config))
    assert record.name == f"contrastive-{schedule}-tau0.1-seed0" and record.schedule == schedule
    tau = record.curves["tau"]
    assert len(tau) == len(record.curves["epoch"]) == 3 and all(0.01 <= t <= 1.0 for t in tau)
    if schedule == "cosine":
        assert tau == pytest.approx([schedules.cosine_tau(e, 0.1, 1.0, 2) for e in (1, 2, 3)])


def test_a_constant_run_records_no_tau_curve(tmp_path):
    assert "tau" not in results.read_record(train.run(tiny(tmp_path, tau=0.1))).curves


def test_the_sweep_grid_of_schedules():
    jobs = sweep.scheduled(["contrastive", "hard", "simple"], ["cosine", "macl", "learned"])
    assert jobs == [
        ("contrastive", 0.1, "cosine"),
        ("hard", 0.1, "cosine"),
        ("contrastive", 0.1, "macl"),
        ("contrastive", 0.07, "learned"),
        ("hard", 0.07, "learned"),
    ]
    assert sweep.scheduled(["contrastive"], ["constant"], [0.3]) == [
        ("contrastive", 0.3, "constant")
    ]
    with pytest.raises(ValueError, match="schedules must be among"):
        sweep.scheduled(["contrastive"], ["warm"])


def record(tau, seed, uniformity, tolerance, linear, knn, schedule="constant", protocol="cpu"):
    config = {
        **Config.at(protocol, tau=tau, seed=seed, device="cpu").__dict__,
        "schedule": schedule,
    }
    return results.Record(
        config,
        {"linear_top1": linear, "knn_top1": knn},
        {
            "epoch": [1, 180],
            "uniformity_test": [0.0, uniformity],
            "tolerance_test": [0.0, tolerance],
            "knn_top1": [10.0, knn],
        },
        {},
        path=None,
    )


def fixed_grid():
    """Three fixed τ on a dilemma (uniformity falls as tolerance rises), τ = 0.3 with two seeds."""
    return [
        record(0.07, 0, 3.5, 0.10, 47.0, 50.0),
        record(0.3, 0, 3.2, 0.15, 48.0, 46.0),
        record(0.3, 1, 3.2, 0.17, 49.0, 47.0),
        record(1.0, 0, 2.7, 0.23, 46.0, 42.0),
        record(0.2, 0, 3.0, 0.12, 40.0, 40.0),
    ]  # dominated by tau=0.3: not on the frontier


def test_the_frontier_and_its_noise():
    fixed = moving.fixed_points(
        RunTable(fixed_grid() + [record(0.5, 0, 9.0, 9.0, 99.0, 99.0, protocol="cpu-short")]).at(
            "cpu", "cifar10"
        )
    )
    assert [p.label for p in fixed] == [
        "τ = 0.07",
        "τ = 0.2",
        "τ = 0.3",
        "τ = 1",
    ]  # cpu-short does not count
    assert [c for point in moving.frontier(fixed) for c in point] == pytest.approx(
        [2.7, 0.23, 3.2, 0.16, 3.5, 0.10]
    )
    assert moving.frontier_tolerance(moving.frontier(fixed), 3.35) == pytest.approx(0.13)
    assert moving.frontier_tolerance(moving.frontier(fixed), 4.0) == pytest.approx(
        0.10
    )  # flat beyond the ends
    assert (
        moving.noise(fixed, "tolerance_test") == pytest.approx(0.02)
        and moving.noise(fixed, "linear_top1") == 1.0
    )


def test_the_criteria_hold_only_beyond_the_seed_noise():
    fixed = moving.fixed_points(RunTable(fixed_grid()).at("cpu", "cifar10"))
    above = moving.Point(
        "cosine",
        (
            record(0.1, 0, 3.35, 0.16, 50.0, 50.5, "cosine"),
            record(0.1, 1, 3.35, 0.16, 50.0, 50.5, "cosine"),
        ),
    )
    found = moving.judge(above, fixed)
    assert found["escapes"]["gap"] == pytest.approx(0.03) and found["escapes"]["holds"]
    assert found["linear_top1"]["gap"] == pytest.approx(1.5) and found["linear_top1"]["holds"]
    assert (
        found["knn_top1"]["gap"] == pytest.approx(0.5) and not found["knn_top1"]["holds"]
    )  # within 1.0 of noise
    inside = moving.Point("macl", (record(0.1, 0, 3.35, 0.14, 48.0, 49.0, "macl"),))
    assert not any(v["holds"] for v in moving.judge(inside, fixed).values())


def test_the_chapter_reads_each_moving_tau_at_its_protocol():
    from contrastive.edition.figures import moving as chapter

    cosine = [record(0.1, s, 3.35, 0.16, 50.0, 50.5, "cosine") for s in (0, 1)]
    off = record(
        0.1, 0, 3.0, 0.3, 60.0, 60.0, "macl", protocol="cpu-short"
    )  # another protocol: not read
    found = chapter.verdicts(RunTable(fixed_grid()).at("cpu"), RunTable(cosine + [off]).at("cpu"))
    assert list(found["methods"]) == ["cosine"] and found["methods"]["cosine"]["seeds"] == 2
    table = chapter.verdict_table(found)
    assert "✓ +0.030 (margin 0.020)" in table and "✗ +0.50 (margin 1.00)" in table
    assert chapter.answer(found) == {
        "run": 1,
        "planned": 3,
        "seeds": 2,
        "escapes": ("cosine schedule",),
        "linear_top1": ("cosine schedule",),
        "knn_top1": (),
    }
    assert found["methods"]["cosine"]["judged"]["linear_top1"]["best_label"] == "τ = 0.3"
    assert "not yet run" in chapter.verdict_table(
        chapter.verdicts(RunTable(fixed_grid()).at("cpu"), RunTable([off]).at("cpu"))
    )
    for draw in (
        chapter.plane_figure,
        chapter.trajectory_figure,
        chapter.training_figure,
        chapter.accuracy_figure,
    ):
        fig = draw(found)  # every figure draws from the same numbers and names their protocol
        assert fig.data and fig.layout.title.text.startswith("CPU scale")

"""The dilemma in miniature (contrastive.edition.toy): data, determinism, and the uniformity-tolerance trend."""

import ast
import math

import pytest
import torch

from contrastive.edition import toy
from contrastive.edition.figures import analytic
from contrastive.metrics import tolerance, uniformity

FAST = toy.ToyConfig(classes=3, per_class=8, steps=20, k=5)


def test_fibonacci_sphere_is_on_the_sphere_and_spread():
    x = toy.fibonacci_sphere(6)
    assert x.shape == (6, 3)
    assert torch.allclose(x.norm(dim=1), torch.ones(6), atol=1e-6)
    assert (x @ x.T - torch.eye(6)).max() < 0.5  # no two centres closer than 60 degrees


def test_inputs_are_labelled_clusters_drawn_by_seed():
    x, labels = toy.inputs(FAST)
    assert x.shape == (24, 3) and labels.tolist() == [c for c in range(3) for _ in range(8)]
    assert torch.allclose(x.norm(dim=1), torch.ones(24), atol=1e-6)
    assert torch.equal(x, toy.inputs(FAST)[0])
    assert not torch.equal(
        x, toy.inputs(toy.ToyConfig(classes=3, per_class=8, steps=20, k=5, seed=1))[0]
    )
    # each point is nearer its own class centre than any other centre
    centres = toy.fibonacci_sphere(3)
    assert torch.equal((x @ centres.T).argmax(dim=1), labels)


def test_pair_similarities_match_a_naive_loop():
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    s_pos, s_neg = toy.pair_similarities(z1, z2)
    assert s_pos.shape == (4,) and s_neg.shape == (4, 3)
    for i in range(4):
        assert s_pos[i] == pytest.approx((z1[i] @ z2[i]).item(), abs=1e-6)
        others = [(z1[i] @ z2[j]).item() for j in range(4) if j != i]
        assert s_neg[i].tolist() == pytest.approx(others, abs=1e-6)


def test_train_is_deterministic_under_a_seed_and_leaves_global_state_alone():
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    a = toy.train(0.1, config=FAST)
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), rng)
    b = toy.train(0.1, config=FAST)
    assert torch.equal(a.z, b.z) and a.uniformity == b.uniformity and a.tolerance == b.tolerance
    c = toy.train(0.1, config=toy.ToyConfig(classes=3, per_class=8, steps=20, k=5, seed=1))
    assert not torch.equal(a.z, c.z)


def test_result_holds_unit_embeddings_and_their_metrics():
    r = toy.train(0.3, "hard", FAST)
    assert (r.loss, r.tau) == ("hard", 0.3)
    assert r.z.shape == (24, 3) and torch.allclose(r.z.norm(dim=1), torch.ones(24), atol=1e-5)
    assert r.uniformity == uniformity(r.z) and r.tolerance == tolerance(r.z, r.labels)
    assert math.isfinite(r.final_loss)


def test_sweep_follows_the_tau_grid():
    results = toy.tau_sweep((0.5, 0.1), "contrastive", FAST)
    assert [r.tau for r in results] == [0.5, 0.1]


def test_the_numbers_of_a_sweep_are_plain_python_numbers_that_glue_can_paste():
    """The dilemma chapter glues toy_numbers; glue:text literal-evaluates each value's text, which a tensor or
    numpy scalar (``tensor(0.5)``, ``np.float64(0.5)``) would not survive."""
    results = toy.tau_sweep((0.5, 0.1, 0.3), "contrastive", FAST)
    numbers = analytic.toy_numbers(results)
    assert (numbers["tau_first"], numbers["tau_last"]) == (0.5, 0.3)
    assert (
        numbers["uniformity_last"] == results[-1].uniformity
        and numbers["tolerance_first"] == results[0].tolerance
    )
    assert numbers["tau_peak"] == max(results, key=lambda r: r.uniformity).tau
    assert all(type(v) in (int, float) and ast.literal_eval(repr(v)) == v for v in numbers.values())


@pytest.mark.parametrize(
    "field, value",
    [
        ("classes", 0),
        ("per_class", 1.5),
        ("steps", True),
        ("spread", -0.1),
        ("noise", float("nan")),
        ("lr", 0),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        toy.ToyConfig(**{field: value})


def test_config_rejects_k_beyond_the_negatives():
    with pytest.raises(ValueError, match="k must be <= N - 1 = 23"):
        toy.ToyConfig(classes=3, per_class=8, k=24)


def test_train_rejects_bad_tau_and_loss():
    with pytest.raises(ValueError, match="tau"):
        toy.train(0.0, config=FAST)
    with pytest.raises(ValueError, match="loss must be one of"):
        toy.train(0.1, "triplet", FAST)


def test_the_dilemma_in_miniature():
    """Default toy: the ordinary loss at tau = 1 keeps classes tighter (higher tolerance) and covers the
    sphere less evenly (lower uniformity) than at tau = 0.05; the hard loss stays more uniform at tau = 1."""
    small, large = toy.train(0.05), toy.train(1.0)
    assert large.tolerance > small.tolerance + 0.05
    assert large.uniformity < small.uniformity - 0.1
    assert toy.train(1.0, "hard").uniformity > large.uniformity + 0.1

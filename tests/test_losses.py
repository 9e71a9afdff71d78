"""Eq. 1-9 against autograd, naive references and their limits; the losses a run builds, bitwise the
ones the committed records were trained with; bad names."""

import inspect
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from contrastive import losses as L
from contrastive import memory, metrics
from contrastive.edition import penalty
from contrastive.edition.figures import source

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def similarities(b=6, m=9, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(b, m + 1, generator=g, dtype=dtype) * 2 - 1
    return s[:, 0].clone(), s[:, 1:].clone()


def naive_contrastive(s_pos, s_neg, tau):
    """Eq. 1 written out term by term in float64."""
    out = []
    for sp, sn in zip(s_pos.tolist(), s_neg.tolist()):
        den = sum(math.exp(s / tau) for s in sn) + math.exp(sp / tau)
        out.append(-math.log(math.exp(sp / tau) / den))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_contrastive_matches_eq1(tau):
    s_pos, s_neg = similarities()
    torch.testing.assert_close(
        L.contrastive_loss(s_pos, s_neg, tau), naive_contrastive(s_pos, s_neg, tau)
    )


@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0])
def test_eq4_gradients_match_autograd(tau):
    s_pos, s_neg = similarities()
    s_pos.requires_grad_(True)
    s_neg.requires_grad_(True)
    L.contrastive_loss(s_pos, s_neg, tau).sum().backward()
    g_pos, g_neg = L.gradients(s_pos.detach(), s_neg.detach(), tau)
    torch.testing.assert_close(g_pos, s_pos.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_neg, s_neg.grad, rtol=1e-12, atol=1e-12)


def test_negative_gradients_sum_to_positive_magnitude():
    g_pos, g_neg = L.gradients(*similarities(), tau=0.2)
    assert (g_pos < 0).all() and (g_neg > 0).all()
    torch.testing.assert_close(g_neg.sum(dim=1), -g_pos)


def test_negative_gradient_proportional_to_exp():
    s_pos, s_neg = similarities()
    tau = 0.3
    _, g_neg = L.gradients(s_pos, s_neg, tau)
    ratio = g_neg / torch.exp(s_neg / tau)
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))


def test_relative_penalty_rows_sum_to_one_and_equal_gradient_ratio():
    s_pos, s_neg = similarities()
    r = L.relative_penalty(s_neg, 0.2)
    torch.testing.assert_close(r.sum(dim=1), torch.ones(r.shape[0], dtype=r.dtype))
    g_pos, g_neg = L.gradients(s_pos, s_neg, 0.2)
    torch.testing.assert_close(r, g_neg / g_pos.abs()[:, None])


def test_penalty_entropy_strictly_increasing_in_tau():
    g = torch.Generator().manual_seed(1)
    s_neg = torch.rand(50, 40, generator=g, dtype=torch.float64) * 2 - 1
    taus = torch.logspace(-2, 1, 30).tolist()
    h = torch.stack([L.penalty_entropy(s_neg, t) for t in taus], dim=1)
    assert (h[:, 1:] > h[:, :-1]).all()
    assert (h[:, -1] <= math.log(40) + 1e-12).all()


def test_penalty_entropy_matches_naive():
    s_neg = similarities()[1]
    r = L.relative_penalty(s_neg, 0.4)
    torch.testing.assert_close(L.penalty_entropy(s_neg, 0.4), -(r * r.log()).sum(dim=1))


def test_small_tau_limit_is_margin0_triplet():
    s_pos, s_neg = similarities()
    tau = 1e-3
    torch.testing.assert_close(
        tau * L.contrastive_loss(s_pos, s_neg, tau),
        tau * L.triplet_limit(s_pos, s_neg, tau),
        atol=5e-3,
        rtol=0,
    )
    errs = [
        (t * (L.contrastive_loss(s_pos, s_neg, t) - L.triplet_limit(s_pos, s_neg, t)))
        .abs()
        .max()
        .item()
        for t in (1e-1, 1e-2, 1e-3)
    ]
    assert errs[0] > errs[1] > errs[2]


def test_large_tau_limit_is_simple_loss():
    s_pos, s_neg = similarities()
    errs = [
        (t * (L.contrastive_loss(s_pos, s_neg, t) - L.simple_limit(s_pos, s_neg, t)))
        .abs()
        .max()
        .item()
        for t in (1e1, 1e2, 1e3)
    ]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3
    tau = 1e3
    torch.testing.assert_close(
        tau * (L.contrastive_loss(s_pos, s_neg, tau) - math.log(10)),
        L.simple_loss(s_pos, s_neg),
        atol=2e-3,
        rtol=0,
    )


def test_simple_loss_matches_eq3_with_authors_lambda():
    s_pos, s_neg = similarities(m=4)
    expected = -s_pos + (s_pos + s_neg.sum(dim=1)) / 5
    torch.testing.assert_close(L.simple_loss(s_pos, s_neg), expected)


def test_hard_loss_equals_ordinary_when_k_is_m():
    s_pos, s_neg = similarities()
    torch.testing.assert_close(
        L.hard_contrastive_loss(s_pos, s_neg, 0.3, 9), L.contrastive_loss(s_pos, s_neg, 0.3)
    )
    torch.testing.assert_close(L.hard_simple_loss(s_pos, s_neg, 9), L.simple_loss(s_pos, s_neg))


def test_hard_loss_keeps_the_k_nearest_negatives():
    s_pos, s_neg = similarities()
    k = 3
    top = s_neg.sort(dim=1, descending=True).values[:, :k]
    torch.testing.assert_close(
        L.hard_contrastive_loss(s_pos, s_neg, 0.5, k), naive_contrastive(s_pos, top, 0.5)
    )
    torch.testing.assert_close(
        L.hard_simple_loss(s_pos, s_neg, k), -s_pos + (s_pos + top.sum(dim=1)) / (k + 1)
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_finite_at_tau_001(dtype):
    s_pos, s_neg = similarities(b=64, m=4096, dtype=torch.float32)
    s_pos, s_neg = s_pos.to(dtype), s_neg.to(dtype)
    s_neg[:, 0] = 1.0
    s_pos[:] = -1.0
    s_pos.requires_grad_(True)
    s_neg.requires_grad_(True)
    for name in L.LOSSES:
        value = L.make(name, 4095)(s_pos, s_neg, 0.01)
        assert torch.isfinite(value).all(), name
        value.sum().backward()
        assert torch.isfinite(s_pos.grad).all() and torch.isfinite(s_neg.grad).all(), name
        s_pos.grad = s_neg.grad = None
    for out in (
        *L.gradients(s_pos.detach(), s_neg.detach(), 0.01),
        L.relative_penalty(s_neg.detach(), 0.01),
        L.penalty_entropy(s_neg.detach(), 0.01),
    ):
        assert torch.isfinite(out).all()


def trained(name, s_pos, s_neg, tau, k):
    """Each loss as the training step computed it when the committed records were made (through
    ``memory.objective``, commit 1c29c57): the same operations in the same order, written out."""

    def up(x):
        return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x

    if name in ("hard", "hard_simple"):
        s_neg = torch.topk(s_neg, k, dim=-1, sorted=False).values
    if name in ("contrastive", "hard"):
        z = up(torch.cat([s_pos[:, None], s_neg], dim=1)) / tau
        return F.cross_entropy(z, torch.zeros(z.shape[0], dtype=torch.long), reduction="none")
    s_pos, s_neg = up(s_pos), up(s_neg)
    return -s_pos + (s_pos + s_neg.sum(dim=1)) / (s_neg.shape[1] + 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("tau", [0.01, 0.07, torch.tensor(0.5)])
@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_the_built_losses_are_bitwise_the_trained_ones(name, tau, dtype):
    """Values and gradients of ``make(name, k)`` equal, bit for bit, those of the records' training
    step."""
    s_pos, s_neg = (s.to(dtype) for s in similarities(b=32, m=500, seed=3, dtype=torch.float32))
    out = []
    for loss in (L.make(name, 40), lambda p, n, t: trained(name, p, n, t, 40)):
        p, n = s_pos.clone().requires_grad_(), s_neg.clone().requires_grad_()
        value = loss(p, n, tau)
        value.mean().backward()
        out.append((value, p.grad, n.grad))
    assert all(torch.equal(a, b) for a, b in zip(*out)), name


def test_make_builds_a_loss_by_name():
    s_pos, s_neg = similarities()
    built = {name: L.make(name, 2)(s_pos, s_neg, 0.3) for name in L.LOSSES}
    assert torch.equal(built["contrastive"], L.contrastive_loss(s_pos, s_neg, 0.3))
    assert torch.equal(built["hard"], L.hard_contrastive_loss(s_pos, s_neg, 0.3, 2))
    assert torch.equal(built["simple"], L.simple_loss(s_pos, s_neg))
    assert torch.equal(built["hard_simple"], L.hard_simple_loss(s_pos, s_neg, 2))
    with pytest.raises(ValueError, match=r"^loss must be one of"):
        L.make("triplet", 2)
    with pytest.raises(ValueError, match=r"^k is required for loss 'hard_simple'$"):
        L.make("hard_simple")


def test_the_loss_table_says_which_losses_use_tau_and_k():
    s_pos, s_neg = similarities(b=4, m=9, dtype=torch.float64)
    for name, loss in L.LOSSES.items():
        at_3, at_9 = L.make(name, 3), L.make(name, 9)
        same_tau = torch.equal(at_3(s_pos, s_neg, 0.1), at_3(s_pos, s_neg, 0.5))
        same_k = torch.equal(at_3(s_pos, s_neg, 0.1), at_9(s_pos, s_neg, 0.1))
        assert (
            (not same_tau, not same_k)
            == (loss.uses_tau, loss.uses_k)
            == (L.USES_TAU[name], L.USES_K[name])
        ), name


@pytest.mark.parametrize("s", [1.0, 0.3, -0.5])
def test_collapsed_loss_is_each_loss_at_equal_similarities(s):
    s_pos, s_neg = (
        torch.full((3,), s, dtype=torch.float64),
        torch.full((3, 20), s, dtype=torch.float64),
    )
    for name in L.LOSSES:
        value = L.make(name, 5)(s_pos, s_neg, 0.07).mean().item()
        assert value == pytest.approx(L.collapsed_loss(name, 20, 5), abs=1e-12), name
    assert L.collapsed_loss("hard", 20, 5) == pytest.approx(math.log(6)) and L.collapsed_loss(
        "contrastive", 20, 5
    ) == pytest.approx(math.log(21))


def test_the_equations_are_plain_functions_and_nothing_unwraps_one():
    """No decorator wraps an equation, so no caller reaches past one: ``__wrapped__`` appears
    nowhere in the package or the book."""
    for module in (L, metrics, penalty, memory):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            assert fn.__module__ != module.__name__ or not hasattr(fn, "__wrapped__"), name
    unwrapping = [
        path
        for folder in ("src", "book")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".ipynb", ".md")
        and "_build" not in path.parts
        and "__wrapped__" in path.read_text()
    ]
    assert not unwrapping


def test_the_chapters_show_equations_not_checks():
    """Every function of losses, metrics or memory that a chapter shows with ``show_source`` reads as its
    equation: no decorator, no check, no raise."""
    modules = {"losses": L, "metrics": metrics, "memory": memory}
    shown = {
        name
        for page in BOOK.rglob("*.ipynb")
        for name in re.findall(
            r"show_source\(((?:losses|metrics|memory)\.[\w.]+)\)", page.read_text()
        )
    }
    assert {"losses.contrastive_loss", "metrics.uniformity", "memory.bank_similarities"} <= shown
    for name in shown:
        module, *path = name.split(".")
        obj = modules[module]
        for part in path:
            obj = getattr(obj, part)
        text = source(obj)
        assert text.startswith("def ") and "check" not in text and "raise" not in text, name

"""Eq. 10-11 against naive float64 loops."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from contrastive import metrics


def sphere(n, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)


def test_uniformity_matches_naive_loop():
    z = sphere(40)
    terms = [
        math.exp(-2 * ((z[i] - z[j]) ** 2).sum().item())
        for i in range(40)
        for j in range(i + 1, 40)
    ]
    assert metrics.uniformity(z) == pytest.approx(-math.log(sum(terms) / len(terms)), rel=1e-12)


def test_uniformity_chunks_agree(monkeypatch):
    z = sphere(300).float()
    whole = metrics.uniformity(z, t=3.0)
    monkeypatch.setattr(metrics, "_PAIRS_PER_CHUNK", 1000)
    assert metrics.uniformity(z, t=3.0) == pytest.approx(whole, rel=1e-10)


def test_uniformity_limits():
    collapsed = torch.ones(50, 8) / math.sqrt(8)
    assert metrics.uniformity(collapsed) == pytest.approx(0.0, abs=1e-12)
    high_dim = metrics.uniformity(sphere(2000, d=512))
    assert 3.9 < high_dim < 4.0


def naive_tolerance(z, labels):
    """Per anchor, the mean similarity to the other members of its class; then the mean over anchors."""
    per_anchor = []
    for i in range(len(z)):
        sims = [(z[i] @ z[j]).item() for j in range(len(z)) if j != i and labels[j] == labels[i]]
        if sims:
            per_anchor.append(sum(sims) / len(sims))
    return sum(per_anchor) / len(per_anchor)


def test_tolerance_matches_naive_loop():
    z = sphere(30)
    labels = torch.arange(30) % 4
    assert metrics.tolerance(z, labels) == pytest.approx(naive_tolerance(z, labels), rel=1e-12)


def test_tolerance_weighs_classes_by_anchors_not_pairs():
    z = sphere(40, seed=3)
    labels = torch.tensor([0] * 30 + [1] * 9 + [2])  # unbalanced, and one class of a single sample
    assert metrics.tolerance(z, labels) == pytest.approx(naive_tolerance(z, labels), rel=1e-12)
    pairs = [
        (z[i] @ z[j]).item()
        for i in range(40)
        for j in range(40)
        if i != j and labels[i] == labels[j]
    ]
    assert abs(metrics.tolerance(z, labels) - sum(pairs) / len(pairs)) > 1e-4


def test_tolerance_of_collapsed_classes_is_one():
    z = F.normalize(torch.eye(3, 5, dtype=torch.float64), dim=1).repeat_interleave(4, dim=0)
    assert metrics.tolerance(z, torch.arange(3).repeat_interleave(4)) == pytest.approx(1.0)


def test_alignment_matches_naive():
    z1, z2 = sphere(20, seed=1), sphere(20, seed=2)
    naive = sum(((a - b) ** 2).sum().item() for a, b in zip(z1, z2)) / 20
    assert metrics.alignment(z1, z2) == pytest.approx(naive, rel=1e-12)
    assert metrics.alignment(z1, z1) == 0.0


@pytest.mark.parametrize(
    "z, labels, name",
    [
        (sphere(10)[0], torch.zeros(10), "z"),
        (sphere(10), torch.zeros(9), "labels"),
        (sphere(10), torch.arange(10), "labels"),  # no class of two or more
    ],
)
def test_bad_input_names_the_parameter(z, labels, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        metrics.check_embeddings(z, labels)


@pytest.mark.parametrize("labels, tol", [([0, 0, 1, 1], 0.0), ([0, 1, 0, 1], -1.0)])
def test_sample_metrics_of_a_float16_square(labels, tol):
    """The corners of a square on the circle, stored in float16 as a record's sample is: 4 pairs at
    ||z_i - z_j||^2 = 2 and 2 at 4; neighbours are orthogonal, opposite corners have z_i . z_j = -1."""
    z = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.float16)
    u, t = metrics.sample_metrics(z, np.array(labels))
    assert u == pytest.approx(-math.log((4 * math.exp(-4) + 2 * math.exp(-8)) / 6), rel=1e-12)
    assert t == pytest.approx(tol, abs=1e-12)


def test_sample_metrics_rejects_mismatched_labels():
    with pytest.raises(ValueError, match=r"^labels\b"):
        metrics.sample_metrics([[1.0, 0.0], [0.0, 1.0]], [0, 0, 1])

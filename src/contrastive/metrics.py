"""Uniformity, tolerance and alignment of embeddings on the unit sphere (Wang & Liu 2021, Eq. 10-11).

``z`` is an (N, d) tensor of embeddings, normally L2-normalised. The sums over pairs are exact and
chunked, so N = 50,000 fits in a few hundred MB whatever the device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

_PAIRS_PER_CHUNK = 1 << 24


def _check_embeddings(z: Tensor, name: str = "z") -> None:
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f"{name} must have shape (N, d) with N >= 2, got {tuple(z.shape)}")


def uniformity(z: Tensor, t: float = 2.0) -> float:
    """Eq. 10 negated: -L_uniformity = -log mean_{i<j} exp(-t ||z_i - z_j||^2) over distinct pairs.

    Larger is more uniform; for a uniform distribution on a high-dimensional sphere it tends to
    2t = 4 at t = 2. This is Wang & Isola's ``pdist`` form, evaluated as a log-sum-exp in float64
    over row chunks.
    """
    _check_embeddings(z)
    if not t > 0:
        raise ValueError(f"t must be > 0, got {t!r}")
    n = z.shape[0]
    z = z.double()
    rows = max(1, _PAIRS_PER_CHUNK // n)
    parts = []
    for a in range(0, n - 1, rows):
        b = min(a + rows, n - 1)
        sq = torch.cdist(z[a:b], z).square()
        upper = torch.arange(n, device=z.device)[None, :] > torch.arange(a, b, device=z.device)[:, None]
        parts.append(torch.logsumexp((-t * sq)[upper], dim=0))
    n_pairs = n * (n - 1) / 2
    return -(torch.logsumexp(torch.stack(parts), dim=0).item() - math.log(n_pairs))


def tolerance(z: Tensor, labels: Tensor) -> float:
    """Eq. 11 as the authors' code computes it: for each anchor, the mean similarity z_i . z_j to the
    other samples of its class (j != i); then the mean over anchors.

    Per class c with sum S_c and n_c >= 2 members this is (||S_c||^2 - sum_i ||z_i||^2) / (n_c - 1)
    summed over its anchors, so each class weighs by its size n_c (not by its n_c^2 pairs); anchors
    alone in their class have no same-class partner and are left out.
    """
    _check_embeddings(z)
    if labels.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape ({z.shape[0]},) to match z, got {tuple(labels.shape)}")
    z = z.double()
    total, anchors = 0.0, 0
    for c in torch.unique(labels):
        zc = z[labels == c]
        n_c = zc.shape[0]
        if n_c < 2:
            continue
        total += (zc.sum(dim=0).square().sum() - zc.square().sum()).item() / (n_c - 1)
        anchors += n_c
    if anchors == 0:
        raise ValueError("labels must contain at least one class with two or more samples")
    return total / anchors


def alignment(z1: Tensor, z2: Tensor, alpha: float = 2.0) -> float:
    """Wang & Isola's alignment: the mean ||z1_i - z2_i||^alpha over positive pairs (smaller is better)."""
    _check_embeddings(z1, "z1")
    if z2.shape != z1.shape:
        raise ValueError(f"z2 must have the shape of z1 {tuple(z1.shape)}, got {tuple(z2.shape)}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    return (z1.double() - z2.double()).norm(dim=1).pow(alpha).mean().item()


def sample_metrics(z: ArrayLike, labels: ArrayLike) -> tuple[float, float]:
    """:func:`uniformity` (−L_uniformity, Eq. 10) and :func:`tolerance` (Eq. 11) of an embedding sample
    given as arrays, e.g. a run record's stored float16 test-feature sample and its labels."""
    z = torch.as_tensor(np.asarray(z))
    return uniformity(z), tolerance(z, torch.as_tensor(np.asarray(labels)))

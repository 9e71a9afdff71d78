"""Uniformity, tolerance and alignment of embeddings on the unit sphere (Wang & Liu 2021, Eq. 10-11).

``z`` is an (N, d) tensor of embeddings, normally L2-normalised. The metrics are pure functions;
embeddings that come from outside (a record's sample) are checked once, :func:`check_embeddings`.
The sums over pairs are exact and chunked (:func:`pair_logsumexp`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

_PAIRS_PER_CHUNK = 1 << 24


def check_embeddings(z: Tensor, labels: Tensor) -> None:
    """``ValueError`` unless z has shape (N, d) with N >= 2 and labels shape (N,), one per row of z,
    with some class of two or more samples (what :func:`uniformity` and :func:`tolerance` need)."""
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f"z must have shape (N, d) with N >= 2, got {tuple(z.shape)}")
    if labels.shape != (z.shape[0],):
        raise ValueError(
            f"labels must have shape ({z.shape[0]},) to match z, got {tuple(labels.shape)}"
        )
    if not (torch.unique(labels, return_counts=True)[1] >= 2).any():
        raise ValueError("labels must contain at least one class with two or more samples")


def pair_logsumexp(z: Tensor, t: float) -> float:
    """log sum_{i<j} exp(-t ||z_i - z_j||^2), exact, in float64 and over row chunks so that N = 50,000 fits in a few
    hundred MB whatever the device."""
    n, z = z.shape[0], z.double()
    rows = max(1, _PAIRS_PER_CHUNK // n)
    parts = []
    for a in range(0, n - 1, rows):
        b = min(a + rows, n - 1)
        upper = (
            torch.arange(n, device=z.device)[None, :] > torch.arange(a, b, device=z.device)[:, None]
        )
        parts.append(torch.logsumexp(-t * torch.cdist(z[a:b], z).square()[upper], dim=0))
    return torch.logsumexp(torch.stack(parts), dim=0).item()


def uniformity(z: Tensor, t: float = 2.0) -> float:
    """Eq. 10 negated: -L_uniformity = -log mean_{i<j} exp(-t ||z_i - z_j||^2) over the N(N-1)/2 distinct pairs.

    Larger is more uniform; for a uniform distribution on a high-dimensional sphere it tends to
    2t = 4 at t = 2. This is Wang & Isola's ``pdist`` form, as a log-sum-exp.
    """
    n = z.shape[0]
    return math.log(n * (n - 1) / 2) - pair_logsumexp(z, t)


def tolerance(z: Tensor, labels: Tensor) -> float:
    """Eq. 11 as the authors' code computes it: T = mean_i (1/(n_c - 1)) sum_{j != i, y_j = y_i} z_i . z_j, the
    mean similarity of each anchor i to the other n_c - 1 samples of its class c, averaged over anchors.

    So each class weighs by its size n_c (not by its n_c^2 pairs); anchors alone in their class have
    no same-class partner and are left out. The sum is z_i . S_c - ||z_i||^2, S_c the sum of class c.
    """
    _, c, n = torch.unique(
        labels.to(z.device), return_inverse=True, return_counts=True
    )  # each anchor's class c, sizes
    z, n_c = z.double(), n[c]
    s_c = torch.zeros(len(n), z.shape[1], dtype=z.dtype, device=z.device).index_add_(0, c, z)[c]
    same_class = (z * s_c).sum(dim=1) - z.square().sum(dim=1)  # sum_{j != i, y_j = y_i} z_i . z_j
    paired = n_c >= 2
    return (same_class[paired] / (n_c[paired] - 1)).mean().item()


def alignment(z1: Tensor, z2: Tensor, alpha: float = 2.0) -> float:
    """Wang & Isola's alignment: the mean ||z1_i - z2_i||^alpha over positive pairs (smaller is better)."""
    return (z1.double() - z2.double()).norm(dim=1).pow(alpha).mean().item()


def sample_metrics(z: ArrayLike, labels: ArrayLike) -> tuple[float, float]:
    """:func:`uniformity` and :func:`tolerance` of arrays, e.g. a run record's float16 test-feature sample and labels."""
    z, labels = torch.as_tensor(np.asarray(z)), torch.as_tensor(np.asarray(labels))
    check_embeddings(z, labels)
    return uniformity(z), tolerance(z, labels)

"""Summaries of the relative penalty of Eq. 5, a Boltzmann distribution over anchor i's M negatives: how many
negatives the temperature listens to, and how much of the penalty the hard loss of Eq. 9 keeps.

Without a run record, negative similarities come from a *model*, not from data: embeddings spread uniformly on the
unit sphere S^{d-1}, the limit that the paper's small-tau runs approach (uniformity close to 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..checks import check_int
from ..losses import nearest_negatives, penalty_entropy, upcast

FEATURE_DIM = 128
"""The paper's feature dimension d (the 128-d normalised output of the head)."""
CIFAR_NEGATIVES = 49_999
"""N - 1: the negatives of one anchor in a memory bank of CIFAR's 50,000 training images."""
SAMPLE_BLOCK = 2**22
"""How many normal numbers :func:`sphere_similarities` draws at a time (16 MB of float32)."""


def effective_negatives(s_neg: Tensor, tau: float) -> Tensor:
    """exp H(r_i), the perplexity of the Eq. 5 penalty per row of ``s_neg``: the number of negatives that effectively
    receive gradient, M when all are penalised alike (tau -> inf), tending to 1 as tau -> 0 when the nearest is unique."""
    return penalty_entropy(s_neg, tau).exp()


def _log_shares(s_neg: Tensor, tau: float, k: int) -> tuple[Tensor, Tensor]:
    """log of the Eq. 5 penalty mass on the k nearest negatives and on the other M - k, per row."""
    x = upcast(s_neg) / tau
    log_all = torch.logsumexp(x, dim=-1)
    top = nearest_negatives(x, k)  # dividing by tau > 0 keeps the order
    rest = torch.topk(
        x, x.shape[-1] - k, dim=-1, largest=False
    ).values  # empty when k = M: logsumexp gives -inf
    return torch.logsumexp(top, dim=-1) - log_all, torch.logsumexp(rest, dim=-1) - log_all


def top_k_share(s_neg: Tensor, tau: float, k: int) -> Tensor:
    """The share sum_{top k} r_i(s_ij) of the Eq. 5 penalty carried by the k nearest negatives of each row:
    what the hard loss of Eq. 9 keeps. A log-sum-exp ratio, finite at tau = 0.01 in float32."""
    return _log_shares(s_neg, tau, k)[0].exp()


def dropped_share(s_neg: Tensor, tau: float, k: int) -> Tensor:
    """1 - :func:`top_k_share`, the share that Eq. 9 drops, computed directly so that tiny shares keep their
    precision; 0 when k = M."""
    return _log_shares(s_neg, tau, k)[1].exp()


def solve_tau(
    summary: Callable[[float], float],
    target: float,
    low: float = 1e-3,
    high: float = 1e3,
    steps: int = 60,
) -> float:
    """The tau in [low, high] at which ``summary(tau)``, an Eq. 5 penalty summary increasing with tau (such as the
    anchors' mean :func:`effective_negatives` or :func:`dropped_share`), equals ``target``: bisection in log tau."""
    if not (0 < low < high < math.inf):
        raise ValueError(
            f"low and high must satisfy 0 < low < high < inf, got low={low!r}, high={high!r}"
        )
    at_low, at_high = summary(low), summary(high)
    if not at_low <= target <= at_high:
        raise ValueError(
            f"target must lie in [{at_low:.6g}, {at_high:.6g}], the summary at tau = {low:g} and {high:g}; got {target!r}"
        )
    for _ in range(steps):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if summary(mid) < target else (low, mid)
    return math.sqrt(low * high)


def sphere_similarities(m: int, d: int = FEATURE_DIM, b: int = 1, seed: int = 0) -> Tensor:
    """A MODEL, not data: the similarities s = z_i . z_j (b, m) of b anchors to m embeddings z_j drawn uniformly on
    the unit sphere S^{d-1}, seeded. By symmetry the anchor can be the first basis vector, so s is the first coordinate
    of a standard normal vector in R^d divided by its norm: exactly the density proportional to (1 - s^2)^((d-3)/2) on
    [-1, 1], mean 0, variance 1/d (up to float32 rounding: the normals are drawn in float32, s returned in float64)."""
    check_int("m (the number of negatives)", m, 1)
    check_int("d (the dimension of the embedding space)", d, 2)
    check_int("b (the number of anchors)", b, 1)
    generator = torch.Generator().manual_seed(seed)
    n, rows = b * m, max(1, SAMPLE_BLOCK // d)
    blocks = []
    for i in range(0, n, rows):
        g = torch.randn(min(rows, n - i), d, generator=generator)
        blocks.append((g[:, 0] / g.norm(dim=1)).double())
    return torch.cat(blocks).view(b, m)


def histogram_similarities(
    edges: np.ndarray | Tensor, density: np.ndarray | Tensor, m: int
) -> Tensor:
    """m negative similarities (1, m) that follow a histogram (a run record's ``hist_edges``, ``hist_neg``): the
    midpoint quantiles (i + 1/2)/m of the distribution uniform within each bin, so deterministic. A record's
    histogram pools many anchors' negatives: these describe a typical anchor, not any one of them."""
    edges, density = (torch.as_tensor(a, dtype=torch.float64) for a in (edges, density))
    if edges.dim() != 1 or density.shape != (edges.shape[0] - 1,) or density.shape[0] < 1:
        raise ValueError(
            f"edges must have shape (n + 1,) and density shape (n,), n >= 1, "
            f"got {tuple(edges.shape)} and {tuple(density.shape)}"
        )
    width = edges.diff()
    if not (width > 0).all():
        raise ValueError("edges must increase strictly")
    mass = density * width
    if (mass < 0).any() or not math.isfinite(mass.sum().item()) or mass.sum() <= 0:
        raise ValueError("density must be >= 0 in every bin, with a positive, finite total")
    check_int("m (the number of negatives)", m, 1)
    cdf = torch.cat([mass.new_zeros(1), (mass / mass.sum()).cumsum(0)])
    q = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    bin_ = (torch.searchsorted(cdf, q, right=True) - 1).clamp(0, density.shape[0] - 1)
    fraction = ((q - cdf[bin_]) / (cdf[bin_ + 1] - cdf[bin_])).clamp(0, 1)
    return (edges[bin_] + fraction * width[bin_])[None, :]

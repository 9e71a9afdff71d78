"""The paper's analytic claims (claims 1-2, Figs. 1 and 3), checked by computation in float64 on fixed similarities.

Each check returns whether the statement holds and the numbers that show it, for ``contrastive.edition.claims``'s table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .. import losses, metrics
from .examples import autograd_gradients, random_similarities, similarity_grid
from .toy import pair_similarities

ANCHORS, NEGATIVES = 64, 255
"""The random similarities of the checks: anchors × negatives per anchor."""


def check_gradients(taus: Sequence[float] = (0.07, 0.2, 1.0)) -> tuple[bool, str]:
    """Claim 1 (Eq. 4): autograd's dL/ds_ij of Eq. 1 is proportional to exp(s_ij/τ) within each anchor,
    and the negative gradients sum to |dL/ds_ii|; both to a relative 1e-9 in float64."""
    s_pos, s_neg = random_similarities(ANCHORS, NEGATIVES)
    worst_ratio, worst_sum = 0.0, 0.0
    for tau in taus:
        g_pos, g_neg = autograd_gradients(s_pos, s_neg, tau)
        ratio = g_neg / torch.exp(s_neg / tau)
        worst_ratio = max(
            worst_ratio, ((ratio.max(1).values - ratio.min(1).values) / ratio.mean(1)).max().item()
        )
        worst_sum = max(worst_sum, ((g_neg.sum(1) + g_pos).abs() / g_pos.abs()).max().item())
    ok = worst_ratio < 1e-9 and worst_sum < 1e-9
    detail = (
        f"autograd on Eq. 1, {ANCHORS} anchors × {NEGATIVES} negatives, τ ∈ {list(taus)}: largest relative spread of "
        f"(∂L/∂s_ij)/exp(s_ij/τ) within an anchor {worst_ratio:.1e}; largest |Σ_j ∂L/∂s_ij + ∂L/∂s_ii|/|∂L/∂s_ii| {worst_sum:.1e}"
    )
    return ok, detail


def check_entropy_and_limits() -> tuple[bool, str]:
    """Claim 2: H(r_i) (Eq. 5) strictly increases with τ on a grid of 40 τ in [0.01, 10] for every anchor;
    τ·|L − L_triplet| < 1e-3 at τ = 1e-4 (Eq. 6) and |L − L_simple-limit| < 1e-5 at τ = 1e3 (Eq. 7)."""
    s_pos, s_neg = random_similarities(ANCHORS, NEGATIVES)
    taus = np.geomspace(0.01, 10, 40)
    h = torch.stack([losses.penalty_entropy(s_neg, float(t)) for t in taus], dim=1)
    monotone = bool((h.diff(dim=1) > 0).all())
    small, large = 1e-4, 1e3
    err_small = (
        small
        * (losses.contrastive_loss(s_pos, s_neg, small) - losses.triplet_limit(s_pos, s_neg, small))
        .abs()
        .max()
    ).item()
    err_large = (
        (losses.contrastive_loss(s_pos, s_neg, large) - losses.simple_limit(s_pos, s_neg, large))
        .abs()
        .max()
        .item()
    )
    ok = monotone and err_small < 1e-3 and err_large < 1e-5
    detail = (
        f"{ANCHORS} anchors × {NEGATIVES} negatives: H(r_i) strictly increasing in τ on 40 τ in [0.01, 10]: {monotone}; "
        f"τ·max|L − L_triplet| at τ = 1e-4: {err_small:.1e}; max|L − L_simple-limit| at τ = 1e3: {err_large:.1e}"
    )
    return ok, detail


def check_equal_loss(tau: float = 0.2) -> tuple[bool, str]:
    """Fig. 1: four instances of classes (a, a, b, b) on the corners of a square, classes side by side or interleaved:
    the loss (Eq. 1) agrees to 1e-12, tolerance (Eq. 11) differs by more than 0.5; the loss does not see the labels."""
    angles = torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64) * math.pi
    corners = torch.stack([angles.cos(), angles.sin()], dim=1)
    labels = torch.tensor([0, 0, 1, 1])
    side_by_side, interleaved = corners, corners[[0, 2, 1, 3]]
    # Eq. 1 averaged over instances: each one's positive is its own point, the others its negatives
    l_a, l_b = (
        losses.contrastive_loss(*pair_similarities(z, z), tau).mean().item()
        for z in (side_by_side, interleaved)
    )
    t_a, t_b = metrics.tolerance(side_by_side, labels), metrics.tolerance(interleaved, labels)
    ok = abs(l_a - l_b) < 1e-12 and abs(t_a - t_b) > 0.5
    detail = f"τ = {tau:g}: loss {l_a:.4f} vs {l_b:.4f}; tolerance {t_a:.2f} (classes side by side) vs {t_b:.2f} (interleaved)"
    return ok, detail


def check_penalty_concentration(taus: Sequence[float] = (0.07, 0.2, 0.5, 1.0)) -> tuple[bool, str]:
    """Fig. 3: with the negatives of its grid (``examples.similarity_grid()``, spread evenly over [−1, 1]),
    the share of the relative penalty (Eq. 5) on the hardest tenth (s_ij ≥ 0.8) strictly decreases as τ grows."""
    s_neg = similarity_grid()
    shares = [losses.relative_penalty(s_neg, t)[s_neg >= 0.8].sum().item() for t in taus]
    ok = all(a > b for a, b in zip(shares, shares[1:]))
    detail = "share of the penalty on s_ij ≥ 0.8: " + ", ".join(
        f"τ={t:g}: {v:.3f}" for t, v in zip(taus, shares)
    )
    return ok, detail

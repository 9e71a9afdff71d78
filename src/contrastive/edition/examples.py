"""Fixed float64 similarities for the analytic chapters (Eqs. 1-5), shared by their figures and the checks of the
paper's claims 1-2 and Fig. 3, so both look at the same numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import losses


def random_similarities(b: int, m: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """s_pos (b,) and s_neg (b, m) drawn uniformly from [-1, 1] in float64, seeded."""
    if b < 1 or m < 1:
        raise ValueError(
            f"b and m must be >= 1 (anchors, negatives per anchor), got b={b!r}, m={m!r}"
        )
    s = (
        2 * torch.rand(b, 1 + m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        - 1
    )
    return s[:, 0].contiguous(), s[:, 1:].contiguous()


def similarity_grid(n: int = 201) -> Tensor:
    """``n`` negative similarities s_ij spread evenly over [-1, 1] (one anchor, shape (1, n)), as in Fig. 3."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n!r}")
    return torch.linspace(-1.0, 1.0, n, dtype=torch.float64)[None, :]


def autograd_gradients(s_pos: Tensor, s_neg: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """dL/ds_ii and dL/ds_ij of the per-anchor loss of Eq. 1, by torch.autograd."""
    s_pos, s_neg = s_pos.detach().requires_grad_(), s_neg.detach().requires_grad_()
    losses.contrastive_loss(s_pos, s_neg, tau).sum().backward()
    return s_pos.grad, s_neg.grad

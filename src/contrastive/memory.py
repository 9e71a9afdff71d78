"""Where the negatives of Eq. 1 come from: the paper's memory bank (Wu et al. 2018 [code]; s_ii = f(x_i)^T v_i,
M = N - 1), or the other views of the batch (SimCLR style, M = 2B - 2). Both give ``s_pos`` (B,) and ``s_neg`` (B, M).

The order of the negatives within a row is not the image order: every loss of ``contrastive.losses`` is a
symmetric function of a row of s_neg (sums, log-sum-exp, top-k), so it does not matter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_int, check_real


def drop_own_entry(s_all: Tensor, idx: Tensor) -> Tensor:
    """s_neg (B, N - 1): each row of ``s_all`` (B, N) without its own column ``idx[b]``. Column idx[b] is
    overwritten with column 0 and column 0 dropped: the N - 1 entries j != idx[b] (in another order), with one
    (B, N) copy and no index tensor. Gradients flow to every kept entry."""
    return s_all.scatter(1, idx[:, None], s_all[:, :1])[:, 1:]


def bank_similarities(z: Tensor, idx: Tensor, vectors: Tensor) -> tuple[Tensor, Tensor]:
    """(s_pos, s_neg) of anchors z (B, d) of images ``idx`` (B,) against bank ``vectors`` (N, d), float32.

    s_pos[b] = z_b^T v_idx[b] (B,); s_neg[b] = z_b^T v_j for all j != idx[b], (B, N - 1). A pure
    function of its tensors, so a compiled training step can take the bank as an input.
    """
    with torch.autocast(z.device.type, enabled=False):
        s_all = z.float() @ vectors.T
    return s_all.gather(1, idx[:, None]).squeeze(1), drop_own_entry(s_all, idx)


class MemoryBank:
    """The memory bank of the paper: N unit vectors v_i of dimension d, one per training image, an exponential moving
    average of its embedding (the paper's ``momentum`` is 0.5); random at first, as the authors' and Wu et al.'s."""

    def __init__(
        self,
        n: int,
        dim: int,
        momentum: float = 0.5,
        device: str | torch.device = "cpu",
        generator: torch.Generator | None = None,
    ) -> None:
        check_int("n (the number of training images)", n, 2)
        check_real("bank_momentum", momentum, "in [0, 1)", lambda m: 0 <= m < 1)
        self.momentum = momentum
        self.vectors = F.normalize(torch.randn(n, dim, generator=generator), dim=1).to(device)

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @torch.no_grad()
    def update(self, z: Tensor, idx: Tensor) -> None:
        """v_i <- normalize(m v_i + (1 - m) z_i) for the images ``idx`` (distinct) of the batch."""
        mixed = self.momentum * self.vectors[idx] + (1 - self.momentum) * z.detach().float()
        self.vectors.index_copy_(0, idx, F.normalize(mixed, dim=1))

    def state_dict(self) -> dict:
        return {"vectors": self.vectors, "momentum": self.momentum}

    def load_state_dict(self, state: dict) -> None:
        if state["vectors"].shape != self.vectors.shape:
            raise ValueError(
                f"bank state has shape {tuple(state['vectors'].shape)}, expected {tuple(self.vectors.shape)}"
            )
        self.vectors.copy_(state["vectors"])
        self.momentum = state["momentum"]


def _partners_and_others(b: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """For 2B views ordered [view 1 of images 0..B-1, view 2 of images 0..B-1]: each view's
    partner (2B,) and the indices of its 2B - 2 negatives (2B, 2B - 2), by arithmetic: column t
    skips the smaller and then the larger of (view, partner). No data-dependent shapes."""
    i = torch.arange(2 * b, device=device)
    partner = (i + b) % (2 * b)
    lo, hi = torch.minimum(i, partner)[:, None], torch.maximum(i, partner)[:, None]
    t = torch.arange(2 * b - 2, device=device)[None, :]
    j = t + (t >= lo).long()
    return partner, j + (j >= hi).long()


def batch_similarities(z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """In-batch (SimCLR) similarities of two views z1, z2 (B, d) of B images, float32: s_pos (2B,), each view's to
    the other view of its image, and s_neg (2B, 2B - 2), its similarities to the views of the other images."""
    with torch.autocast(z1.device.type, enabled=False):
        z = torch.cat([z1, z2]).float()
        s = z @ z.T
    partner, others = _partners_and_others(z1.shape[0], z.device)
    return s.gather(1, partner[:, None]).squeeze(1), s.gather(1, others)

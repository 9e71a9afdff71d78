"""The contrastive loss and its relatives as functions of similarities (Wang & Liu 2021, Eq. 1-9).

Notation follows the paper: for a batch of B anchors, ``s_pos`` (shape (B,)) holds the positive
similarities s_ii and ``s_neg`` (shape (B, M)) the negative similarities s_ij, j != i. ``tau`` is the
temperature and ``k`` the number of nearest (most similar) negatives kept by the hard losses.
Every loss returns the per-anchor loss, shape (B,). All exponentials go through log-sum-exp forms,
so the functions stay finite at tau = 0.01 in float32 and bfloat16.

The equations are pure functions that check nothing: values are checked once, where they enter (a
run's ``Config``, :func:`make`, the toy's settings). A run builds its loss once, :func:`make`, and
calls it every step.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

LossFn = Callable[[Tensor, Tensor, float | Tensor], Tensor]
"""A run's loss, ``fn(s_pos, s_neg, tau)``: tau a number, or a 0-dim tensor where τ moves."""


def upcast(x: Tensor) -> Tensor:
    """Half-precision inputs are computed in float32; float32 and float64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def logits(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """The (B, 1 + M) logits [s_ii, s_ij...] / tau, positive first."""
    return upcast(torch.cat([s_pos[:, None], s_neg], dim=1)) / tau


def contrastive_loss(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 1: -log[exp(s_ii/tau) / (sum_k exp(s_ik/tau) + exp(s_ii/tau))], as a cross-entropy."""
    z = logits(s_pos, s_neg, tau)
    positive_first = torch.zeros(z.shape[0], dtype=torch.long, device=z.device)
    return F.cross_entropy(z, positive_first, reduction="none")


def probabilities(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 2: P_ij, the softmax of the logits; column 0 is the positive P_ii. Shape (B, 1 + M)."""
    return torch.softmax(logits(s_pos, s_neg, tau), dim=1)


def gradients(s_pos: Tensor, s_neg: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """Eq. 4: (dL/ds_ii, dL/ds_ij) = (-(1/tau) sum_k P_ik, (1/tau) P_ij), shapes (B,) and (B, M).

    The negative gradients of each anchor sum to the magnitude of its positive gradient.
    """
    p_neg = probabilities(s_pos, s_neg, tau)[:, 1:]
    return -p_neg.sum(dim=1) / tau, p_neg / tau


def relative_penalty(s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 5: r_i(s_ij) = exp(s_ij/tau) / sum_k exp(s_ik/tau), a Boltzmann distribution; rows sum to 1."""
    return torch.softmax(upcast(s_neg) / tau, dim=-1)


def penalty_entropy(s_neg: Tensor, tau: float) -> Tensor:
    """The entropy H(r_i) of the relative penalty of Eq. 5 (in nats), one value per row of s_neg."""
    log_r = torch.log_softmax(upcast(s_neg) / tau, dim=-1)
    return -(log_r.exp() * log_r).sum(dim=-1)


def nearest_negatives(s_neg: Tensor, k: int) -> Tensor:
    """The k largest negative similarities of each anchor (Eq. 8's informative interval), shape (B, k)."""
    return torch.topk(s_neg, k, dim=-1, sorted=False).values


def hard_contrastive_loss(s_pos: Tensor, s_neg: Tensor, tau: float, k: int) -> Tensor:
    """Eq. 9: the contrastive loss over the k most similar negatives only (the paper uses k = 4095)."""
    return contrastive_loss(s_pos, nearest_negatives(s_neg, k), tau)


def simple_loss(s_pos: Tensor, s_neg: Tensor) -> Tensor:
    """Eq. 3 with the authors' lambda: -s_ii + (s_ii + sum_j s_ij) / (M + 1), M + 1 = the bank size N."""
    s_pos, s_neg = upcast(s_pos), upcast(s_neg)
    return -s_pos + (s_pos + s_neg.sum(dim=1)) / (s_neg.shape[1] + 1)


def hard_simple_loss(s_pos: Tensor, s_neg: Tensor, k: int) -> Tensor:
    """HardSimple: the simple loss over the k most similar negatives, -s_ii + (s_ii + sum_topk s_ij) / (k + 1)."""
    return simple_loss(s_pos, nearest_negatives(s_neg, k))


def triplet_limit(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 6, the tau -> 0+ limit: (1/tau) max(s_max - s_ii, 0), a margin-0 triplet loss on the nearest negative."""
    return torch.relu(s_neg.max(dim=1).values - s_pos) / tau


def simple_limit(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 7, the tau -> +inf limit: -((N-1)/(N tau)) s_ii + (1/(N tau)) sum_k s_ik + log N, N = M + 1.

    This is the simple loss of Eq. 3 divided by tau, plus log N.
    """
    return simple_loss(s_pos, s_neg) / tau + math.log(s_neg.shape[1] + 1)


def collapsed_loss(loss: str, m: int, k: int) -> float:
    """The value of loss ``loss`` (a name of :data:`LOSSES`) at an anchor whose M = ``m`` negatives and
    positive are all equally similar to it, as when every embedding sits at one point (a collapse, where
    Eq. 4's gradients cancel): log(1 + M) for Eq. 1, log(1 + k) for Eq. 9, 0 for Simple and HardSimple."""
    if not LOSSES[loss].uses_tau:
        return 0.0
    return math.log(1 + (k if LOSSES[loss].uses_k else m))


class Loss(NamedTuple):
    """One loss of Table 1: its equation, whether it uses the temperature and k, and the book's name
    for it."""

    equation: Callable[..., Tensor]
    uses_tau: bool
    uses_k: bool
    label: str


LOSSES: dict[str, Loss] = {
    "contrastive": Loss(contrastive_loss, True, False, "ordinary"),
    "hard": Loss(hard_contrastive_loss, True, True, "hard"),
    "simple": Loss(simple_loss, False, False, "Simple"),
    "hard_simple": Loss(hard_simple_loss, False, True, "HardSimple"),
}
"""The four losses of Table 1 by name (Eq. 1, 9, 3 and HardSimple)."""
USES_TAU = {name: loss.uses_tau for name, loss in LOSSES.items()}
USES_K = {name: loss.uses_k for name, loss in LOSSES.items()}
LABELS = {name: loss.label for name, loss in LOSSES.items()}


def check_loss(name: str) -> None:
    """``ValueError`` naming the choices unless ``name`` is one of :data:`LOSSES`."""
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}")


def make(name: str, k: int | None = None) -> LossFn:
    """The loss ``name`` of :data:`LOSSES` as ``fn(s_pos, s_neg, tau)``, its ``k`` fixed (the hard
    losses'; others ignore it, as the simple losses ignore tau). A run builds it once, its values
    checked by its ``Config``, and calls it every step; ``ValueError`` for an unknown name or a
    missing k."""
    check_loss(name)
    loss = LOSSES[name]
    if loss.uses_k and k is None:
        raise ValueError(f"k is required for loss {name!r}")
    kept = {"k": k} if loss.uses_k else {}
    if loss.uses_tau:
        return functools.partial(loss.equation, **kept)
    return lambda s_pos, s_neg, tau: loss.equation(s_pos, s_neg, **kept)

"""The contrastive loss and its relatives as functions of similarities (Wang & Liu 2021, Eq. 1-9).

Notation follows the paper: for a batch of B anchors, ``s_pos`` (shape (B,)) holds the positive
similarities s_ii and ``s_neg`` (shape (B, M)) the negative similarities s_ij, j != i. ``tau`` is the
temperature and ``k`` the number of nearest (most similar) negatives kept by the hard losses.
Every loss returns the per-anchor loss, shape (B,). All exponentials go through log-sum-exp forms,
so the functions stay finite at tau = 0.01 in float32 and bfloat16. Each function checks its arguments
once, before any work (``checks.validated``); one equation calls another unchecked, ``fn.__wrapped__``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_real, validated

LossFn = Callable[[Tensor, Tensor, float, int], Tensor]


def check_tau(tau: float) -> None:
    """Raise ``ValueError`` unless tau > 0 and finite."""
    check_real("tau", tau)


def check_negatives(s_neg: Tensor) -> None:
    """Raise ``ValueError`` unless s_neg holds at least one negative in its last dimension."""
    if s_neg.dim() < 1 or s_neg.shape[-1] < 1:
        raise ValueError(f"s_neg must have at least one negative in its last dimension, got {tuple(s_neg.shape)}")


def check_k(s_neg: Tensor, k: int) -> None:
    """Raise ``ValueError`` unless 1 <= k <= M, the number of negatives (the last dimension of s_neg)."""
    m = s_neg.shape[-1]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= m:
        raise ValueError(f"k must be an integer with 1 <= k <= M = {m} (the number of negatives), got {k!r}")


def check_similarities(s_pos: Tensor, s_neg: Tensor) -> None:
    """Raise ``ValueError`` unless s_pos has shape (B,) and s_neg shape (B, M) with M >= 1."""
    if s_pos.dim() != 1 or s_neg.dim() != 2 or s_neg.shape[0] != s_pos.shape[0] or s_neg.shape[1] < 1:
        raise ValueError(f"s_pos must have shape (B,) and s_neg shape (B, M) with M >= 1, "
                         f"got s_pos {tuple(s_pos.shape)} and s_neg {tuple(s_neg.shape)}")


def upcast(x: Tensor) -> Tensor:
    """Half-precision inputs are computed in float32; float32 and float64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


@validated(check_similarities, check_tau)
def logits(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """The (B, 1 + M) logits [s_ii, s_ij...] / tau, positive first."""
    return upcast(torch.cat([s_pos[:, None], s_neg], dim=1)) / tau


@validated(check_similarities, check_tau)
def contrastive_loss(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 1: -log[exp(s_ii/tau) / (sum_k exp(s_ik/tau) + exp(s_ii/tau))], as a cross-entropy."""
    z = logits.__wrapped__(s_pos, s_neg, tau)
    positive_first = torch.zeros(z.shape[0], dtype=torch.long, device=z.device)
    return F.cross_entropy(z, positive_first, reduction="none")


@validated(check_similarities, check_tau)
def probabilities(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 2: P_ij, the softmax of the logits; column 0 is the positive P_ii. Shape (B, 1 + M)."""
    return torch.softmax(logits.__wrapped__(s_pos, s_neg, tau), dim=1)


@validated(check_similarities, check_tau)
def gradients(s_pos: Tensor, s_neg: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """Eq. 4: (dL/ds_ii, dL/ds_ij) = (-(1/tau) sum_k P_ik, (1/tau) P_ij), shapes (B,) and (B, M).

    The negative gradients of each anchor sum to the magnitude of its positive gradient.
    """
    p_neg = probabilities.__wrapped__(s_pos, s_neg, tau)[:, 1:]
    return -p_neg.sum(dim=1) / tau, p_neg / tau


@validated(check_negatives, check_tau)
def relative_penalty(s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 5: r_i(s_ij) = exp(s_ij/tau) / sum_k exp(s_ik/tau), a Boltzmann distribution; rows sum to 1."""
    return torch.softmax(upcast(s_neg) / tau, dim=-1)


@validated(check_negatives, check_tau)
def penalty_entropy(s_neg: Tensor, tau: float) -> Tensor:
    """The entropy H(r_i) of the relative penalty of Eq. 5 (in nats), one value per row of s_neg."""
    log_r = torch.log_softmax(upcast(s_neg) / tau, dim=-1)
    return -(log_r.exp() * log_r).sum(dim=-1)


@validated(check_negatives, check_k)
def nearest_negatives(s_neg: Tensor, k: int) -> Tensor:
    """The k largest negative similarities of each anchor (Eq. 8's informative interval), shape (B, k)."""
    return torch.topk(s_neg, k, dim=-1, sorted=False).values


@validated(check_similarities, check_tau, check_k)
def hard_contrastive_loss(s_pos: Tensor, s_neg: Tensor, tau: float, k: int) -> Tensor:
    """Eq. 9: the contrastive loss over the k most similar negatives only (the paper uses k = 4095)."""
    return contrastive_loss.__wrapped__(s_pos, nearest_negatives.__wrapped__(s_neg, k), tau)


@validated(check_similarities)
def simple_loss(s_pos: Tensor, s_neg: Tensor) -> Tensor:
    """Eq. 3 with the authors' lambda: -s_ii + (s_ii + sum_j s_ij) / (M + 1), M + 1 = the bank size N."""
    s_pos, s_neg = upcast(s_pos), upcast(s_neg)
    return -s_pos + (s_pos + s_neg.sum(dim=1)) / (s_neg.shape[1] + 1)


@validated(check_similarities, check_k)
def hard_simple_loss(s_pos: Tensor, s_neg: Tensor, k: int) -> Tensor:
    """HardSimple: the simple loss over the k most similar negatives, -s_ii + (s_ii + sum_topk s_ij) / (k + 1)."""
    return simple_loss.__wrapped__(s_pos, nearest_negatives.__wrapped__(s_neg, k))


@validated(check_similarities, check_tau)
def triplet_limit(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 6, the tau -> 0+ limit: (1/tau) max(s_max - s_ii, 0), a margin-0 triplet loss on the nearest negative."""
    return torch.relu(s_neg.max(dim=1).values - s_pos) / tau


@validated(check_similarities, check_tau)
def simple_limit(s_pos: Tensor, s_neg: Tensor, tau: float) -> Tensor:
    """Eq. 7, the tau -> +inf limit: -((N-1)/(N tau)) s_ii + (1/(N tau)) sum_k s_ik + log N, N = M + 1.

    This is the simple loss of Eq. 3 divided by tau, plus log N.
    """
    return simple_loss.__wrapped__(s_pos, s_neg) / tau + math.log(s_neg.shape[1] + 1)


def collapsed_loss(loss: str, m: int, k: int) -> float:
    """The value of loss ``loss`` (a name of :data:`LOSSES`) at an anchor whose M = ``m`` negatives and
    positive are all equally similar to it, as when every embedding sits at one point (a collapse, where
    Eq. 4's gradients cancel): log(1 + M) for Eq. 1, log(1 + k) for Eq. 9, 0 for Simple and HardSimple."""
    if not LOSSES[loss].uses_tau:
        return 0.0
    return math.log(1 + (k if LOSSES[loss].uses_k else m))


class Loss(NamedTuple):
    """One loss of Table 1: ``fn(s_pos, s_neg, tau, k)``, whether it uses the temperature and k, and
    the book's name for it."""

    fn: LossFn
    uses_tau: bool
    uses_k: bool
    label: str


LOSSES: dict[str, Loss] = {
    "contrastive": Loss(lambda s_pos, s_neg, tau, k: contrastive_loss.__wrapped__(s_pos, s_neg, tau), True, False, "ordinary"),
    "hard": Loss(hard_contrastive_loss.__wrapped__, True, True, "hard"),
    "simple": Loss(lambda s_pos, s_neg, tau, k: simple_loss.__wrapped__(s_pos, s_neg), False, False, "Simple"),
    "hard_simple": Loss(lambda s_pos, s_neg, tau, k: hard_simple_loss.__wrapped__(s_pos, s_neg, k), False, True, "HardSimple"),
}
"""The four losses of Table 1 by name (Eq. 1, 9, 3 and HardSimple), unchecked: the training step calls one every
step, its run's ``Config`` having checked loss, tau and k once."""
USES_TAU = {name: loss.uses_tau for name, loss in LOSSES.items()}
USES_K = {name: loss.uses_k for name, loss in LOSSES.items()}
LABELS = {name: loss.label for name, loss in LOSSES.items()}


def loss_fn(name: str) -> LossFn:
    """The loss called ``name`` (one of ``LOSSES``, unchecked); ``ValueError`` naming the choices otherwise."""
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}")
    return LOSSES[name].fn

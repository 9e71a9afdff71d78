"""Temperatures that move: τ as a schedule of the run, beyond the paper's fixed τ.

The paper (Sec. 5) ends on the uniformity-tolerance dilemma of a fixed τ. Three answers proposed since, each as its
authors state it, with the run's ``tau`` as the schedule's base value:

* ``constant`` — the paper's: τ = ``tau`` at every step (the default; runs are bit-identical to a fixed τ).
* ``cosine`` — Kukleva et al. (ICLR 2023), their cosine schedule: τ(t) = τ⁻ + ½ (τ⁺ − τ⁻)(1 + cos(2π t / T)), t the epoch,
  τ⁻ = ``tau``, τ⁺ = ``tau_max``; their CIFAR runs use τ⁻ = 0.1, τ⁺ = 1 and T = 400 of 2,000 epochs (five periods,
  their code's ``t_max`` = T/2 = 200), which :func:`cosine_period` scales to the run's epochs.
* ``macl`` — Huang et al. (ICML 2023), Model-Aware Contrastive Learning: τ_A = τ₀ [1 + α (A − A₀)], A the batch's
  mean positive similarity (the magnitude of alignment, no gradient), τ₀ = ``tau``; and the gradient reweighting,
  each anchor's loss times sg[1 / (1 − P_ii)] (Eq. 2's P_ii). α = 0.5 and A₀ = 0 as in their released settings.
* ``learned`` — CLIP (Radford et al. 2021): τ is trained with the network as the logit scale log(1/τ),
  starting at ``tau`` (CLIP: 0.07) and clipped after each step to [``tau_floor``, ``tau_max``] (CLIP's floor 0.01:
  a logit scale of at most 100).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .losses import USES_TAU

SCHEDULES = ("constant", "cosine", "macl", "learned")
"""The schedules of τ by name (module docstring)."""
MOVING = SCHEDULES[1:]
BASE_TAU = {"cosine": 0.1, "macl": 0.1, "learned": 0.07}
"""The base τ of each schedule in its paper: the cosine's τ⁻ (Kukleva et al.), MACL's τ₀, CLIP's initial τ."""
COSINE_PERIOD_FRACTION = 400 / 2000
"""Kukleva et al.'s period T as a fraction of training: 400 of their 2,000 CIFAR epochs."""


def moves(schedule: str, loss: str) -> bool:
    """Whether ``schedule`` can move the τ of ``loss``: any loss with a τ, and MACL (whose reweighting
    is of Eq. 1's P_ii) only the ordinary one."""
    return USES_TAU[loss] and (schedule != "macl" or loss == "contrastive")


def cosine_period(epochs: int) -> int:
    """T in epochs for a run of ``epochs``: Kukleva et al.'s 400 of 2,000, in proportion (36 of 180), at least 1."""
    return max(1, round(COSINE_PERIOD_FRACTION * epochs))


def cosine_tau(epoch: int, tau_min: float, tau_max: float, period: int) -> float:
    """Kukleva et al.'s cosine schedule: τ of (1-based) ``epoch``, τ⁻ + ½ (τ⁺ − τ⁻)(1 + cos(2π epoch / T))."""
    return tau_min + 0.5 * (tau_max - tau_min) * (1 + math.cos(2 * math.pi * epoch / period))


def macl_tau(s_pos: Tensor, tau0: float, alpha: float, a0: float) -> Tensor:
    """MACL's model-aware temperature τ_A = τ₀ [1 + α (A − A₀)], A the mean of ``s_pos`` without its gradient."""
    return tau0 * (1 + alpha * (s_pos.detach().float().mean() - a0))


def macl_weight(per_anchor: Tensor) -> Tensor:
    """MACL's reweighting sg[1 / (1 − P_ii)] from each anchor's loss −log P_ii (Eq. 1), without its gradient."""
    return 1 / (-torch.expm1(-per_anchor.detach())).clamp_min(torch.finfo(per_anchor.dtype).eps)


class Temperature(nn.Module):
    """The τ of one run, step by step: :meth:`at_epoch` before each epoch, then ``self(s_pos)`` in every step gives
    the τ the loss divides by; :meth:`reweight` the per-anchor loss (MACL's, else unchanged). ``learned`` holds its
    logit scale as a parameter (:meth:`clip` after each optimiser step)."""

    def __init__(
        self,
        schedule: str,
        tau: float,
        tau_max: float,
        tau_floor: float,
        period: int,
        alpha: float,
        a0: float,
    ) -> None:
        super().__init__()
        self.schedule, self.tau, self.tau_max, self.tau_floor = schedule, tau, tau_max, tau_floor
        self.period, self.alpha, self.a0 = period, alpha, a0
        self.epoch_tau: Tensor | float = tau
        if schedule == "learned":
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / tau)))

    def at_epoch(self, epoch: int, device: torch.device) -> None:
        """Set the τ of ``epoch`` where it depends on the epoch alone (cosine: a tensor, so a compiled step reuses)."""
        if self.schedule == "cosine":
            self.epoch_tau = torch.tensor(
                cosine_tau(epoch, self.tau, self.tau_max, self.period), device=device
            )

    def forward(self, s_pos: Tensor) -> Tensor | float:
        if self.schedule == "macl":
            return macl_tau(s_pos, self.tau, self.alpha, self.a0)
        if self.schedule == "learned":
            return torch.exp(-self.logit_scale)
        return self.epoch_tau

    def reweight(self, per_anchor: Tensor) -> Tensor:
        return per_anchor * macl_weight(per_anchor) if self.schedule == "macl" else per_anchor

    @torch.no_grad()
    def clip(self) -> None:
        """CLIP's clipping of the logit scale: τ stays in [tau_floor, tau_max]."""
        if self.schedule == "learned":
            self.logit_scale.clamp_(math.log(1 / self.tau_max), math.log(1 / self.tau_floor))

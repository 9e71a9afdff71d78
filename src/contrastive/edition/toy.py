"""The dilemma in miniature: contrastive learning of clusters of points on the sphere S², on the CPU.

A tiny MLP f: S² -> S² is trained by instance discrimination (two noisy views of every point, one of the losses of
:mod:`contrastive.losses`) and its embeddings measured by uniformity (Eq. 10) and tolerance (Eq. 11), the two sides
of the dilemma. Labels serve only tolerance. Everything is seeded and runs on one CPU thread, so runs are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastive.checks import check_int, check_real
from contrastive.losses import make
from contrastive.metrics import tolerance, uniformity

TAUS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
"""The toy's default temperature grid."""


@dataclass(frozen=True)
class ToyConfig:
    """The toy's data, model and optimiser; the defaults run a whole tau grid in a few seconds. Points are cluster
    centres moved by Gaussian noise of std ``spread``, views move them by noise of std ``noise``. ``k``, the hard
    loss's nearest negatives: 26 of a class of 32 is the paper's ratio 4095 / 5000 (its k over a CIFAR-10 class)."""

    classes: int = 4
    per_class: int = 32
    spread: float = 0.15
    noise: float = 0.05
    hidden: int = 64
    steps: int = 400
    lr: float = 0.01
    k: int = 26
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("classes", "per_class", "hidden", "steps", "k"):
            check_int(name, getattr(self, name), 1)
        n = self.classes * self.per_class
        if n < 2:
            raise ValueError("classes * per_class must be >= 2 (one positive and one negative)")
        if self.k > n - 1:
            raise ValueError(
                f"k must be <= N - 1 = {n - 1} (the negatives per anchor), got {self.k}"
            )
        for name in ("spread", "noise", "lr"):
            check_real(name, getattr(self, name))


@dataclass(frozen=True)
class ToyResult:
    """One trained toy: the clean inputs' embeddings ``z`` (N, 3), their ``labels`` and the metrics."""

    loss: str
    tau: float
    z: Tensor
    labels: Tensor
    uniformity: float
    tolerance: float
    final_loss: float


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one torch thread (deterministic, and polite on shared CPUs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fibonacci_sphere(n: int) -> Tensor:
    """``n`` nearly evenly spaced unit vectors on S² (the Fibonacci lattice), shape (n, 3)."""
    i = torch.arange(n, dtype=torch.float64) + 0.5
    polar = torch.acos(1 - 2 * i / n)
    azimuth = math.pi * (1 + math.sqrt(5)) * i
    return torch.stack(
        [polar.sin() * azimuth.cos(), polar.sin() * azimuth.sin(), polar.cos()], dim=1
    ).float()


def perturb(x: Tensor, scale: float, generator: torch.Generator) -> Tensor:
    """Points ``x`` on S² moved by isotropic Gaussian noise of std ``scale`` and renormalised."""
    return F.normalize(x + scale * torch.randn(x.shape, generator=generator), dim=1)


def sphere_clusters(config: ToyConfig, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The data: ``classes`` clusters on S² around Fibonacci-lattice centres; (x (N, 3), labels (N,))."""
    labels = torch.arange(config.classes).repeat_interleave(config.per_class)
    return perturb(fibonacci_sphere(config.classes)[labels], config.spread, generator), labels


def encoder(hidden: int) -> nn.Module:
    """The tiny model: an MLP R³ -> R³ with two hidden layers; outputs are normalised by the caller."""
    return nn.Sequential(
        nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 3)
    )


def embed(model: nn.Module, x: Tensor) -> Tensor:
    """f(x) on the unit sphere."""
    return F.normalize(model(x), dim=1)


def pair_similarities(z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """s_pos = z1_i·z2_i, shape (N,), and s_neg = z1_i·z2_j for j != i, shape (N, N - 1)."""
    s = z1 @ z2.T
    n = s.shape[0]
    return s.diagonal(), s[~torch.eye(n, dtype=torch.bool)].reshape(n, n - 1)


def train(tau: float, loss: str = "contrastive", config: ToyConfig = ToyConfig()) -> ToyResult:
    """Train the toy with ``loss`` (a name in :data:`contrastive.losses.LOSSES`) at temperature ``tau``."""
    check_real("tau", tau)
    fn = make(loss, config.k)
    with one_thread():
        generator = torch.Generator().manual_seed(config.seed)
        x, labels = sphere_clusters(config, generator)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = encoder(config.hidden)
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
        for _ in range(config.steps):
            z1, z2 = (
                embed(model, perturb(x, config.noise, generator)) for _ in range(2)
            )  # two augmented views
            value = fn(*pair_similarities(z1, z2), tau).mean()
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
        with torch.no_grad():
            z = embed(model, x)
    return ToyResult(loss, tau, z, labels, uniformity(z), tolerance(z, labels), value.item())


def tau_sweep(
    taus: Sequence[float] = TAUS, loss: str = "contrastive", config: ToyConfig = ToyConfig()
) -> list[ToyResult]:
    """:func:`train` at every tau of ``taus``, same data and initialisation for each."""
    return [train(tau, loss, config) for tau in taus]


def inputs(config: ToyConfig = ToyConfig()) -> tuple[Tensor, Tensor]:
    """The toy's clean inputs and labels, the same draw as :func:`train` makes for ``config.seed``."""
    return sphere_clusters(config, torch.Generator().manual_seed(config.seed))

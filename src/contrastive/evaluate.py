"""Evaluation of a trained encoder: the authors' kNN monitor [code], the paper's linear probe, a record's measurements.

The probe is the paper's linear evaluation protocol: one linear layer on frozen global-pooled features, 100 epochs,
batch 256, lr 30 x0.2 at 40/60/80, momentum 0.9, no weight decay, horizontal-flip augmentation. The features of every
image and of its mirror image are extracted once, so the whole probe is a few thousand small matrix products.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import metrics
from .checks import check_int
from .data import Dataset, normalize
from .memory import MemoryBank, bank_similarities
from .models import Encoder, encode

PROBE_MILESTONES = (0.4, 0.6, 0.8)
"""The probe's lr steps as fractions of its epochs: 40/60/80 of the paper's 100."""
N_ANCHORS = 1000
N_EMBEDDING = 2000
N_NEAREST = 10
HIST_BINS = 50


def knn_predict(
    z: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    k: int = 200,
    sigma: float = 0.07,
    num_classes: int | None = None,
    batch_size: int = 1024,
) -> Tensor:
    """Weighted kNN labels (Q,) of queries z (Q, d) against bank (N, d) with labels (N,): each query's k most similar
    entries (s = z^T v) vote for their label with weight exp(s / sigma) (Wu et al. 2018)."""
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(f"knn_k must satisfy 1 <= k <= {bank.shape[0]} (the bank size), got {k!r}")
    if not sigma > 0:
        raise ValueError(f"knn_sigma must be > 0, got {sigma!r}")
    num_classes = num_classes or int(bank_labels.max()) + 1
    preds = []
    for a in range(0, z.shape[0], batch_size):
        s, j = (z[a : a + batch_size].float() @ bank.float().T).topk(k, dim=1)
        votes = torch.zeros(s.shape[0], num_classes, device=z.device)
        votes.scatter_add_(1, bank_labels[j], (s / sigma).exp())
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


def knn_top1(
    z: Tensor,
    labels: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    k: int = 200,
    sigma: float = 0.07,
    num_classes: int | None = None,
) -> float:
    """Top-1 accuracy (%) of :func:`knn_predict` on queries z with true ``labels``."""
    return (
        100.0
        * (knn_predict(z, bank, bank_labels, k, sigma, num_classes) == labels)
        .double()
        .mean()
        .item()
    )


def probe_milestones(epochs: int) -> list[int]:
    """The epochs after which the probe's lr is multiplied by 0.2 (40/60/80 for 100 epochs)."""
    return [round(f * epochs) for f in PROBE_MILESTONES]


def linear_probe(
    h_train: Tensor,
    y_train: Tensor,
    h_test: Tensor,
    y_test: Tensor,
    h_train_flip: Tensor | None = None,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 30.0,
    momentum: float = 0.9,
    gamma: float = 0.2,
    num_classes: int | None = None,
    seed: int = 0,
) -> float:
    """Top-1 test accuracy (%) of one linear layer trained by SGD on frozen features (the paper's probe).

    ``h_train_flip`` holds the features of the mirrored training images; each epoch, every sample takes its mirrored
    or plain feature with probability 1/2 (the flip augmentation). The layer starts at zero (the problem is convex).
    """
    check_int("probe_epochs", epochs, 1)
    device = h_train.device
    num_classes = num_classes or int(y_train.max()) + 1
    layer = torch.nn.Linear(h_train.shape[1], num_classes, device=device)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, probe_milestones(epochs), gamma)
    gen = torch.Generator(device).manual_seed(seed)
    n = h_train.shape[0]
    for _ in range(epochs):
        x = h_train
        if h_train_flip is not None:
            flip = torch.rand(n, 1, generator=gen, device=device) < 0.5
            x = torch.where(flip, h_train_flip, h_train)
        perm = torch.randperm(n, generator=gen, device=device)
        for a in range(0, n, batch_size):
            idx = perm[a : a + batch_size]
            loss = F.cross_entropy(layer(x[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        return 100.0 * (layer(h_test).argmax(dim=1) == y_test).double().mean().item()


def anchor_similarities(z: Tensor, idx: Tensor, bank: MemoryBank) -> dict[str, np.ndarray]:
    """Fig. 8 and the similarity histograms for anchors z (A, d) of training images ``idx`` (A,): pos_sim (A,), s_ii =
    z_i^T v_i against the anchor's own bank entry; neg_top10 (A, 10), its 10 largest negative similarities, descending;
    hist_edges (51,) over [-1, 1] and the densities hist_pos, hist_neg (50,) of the positive and all negative ones."""
    with torch.no_grad():
        s_pos, s_neg = bank_similarities(z, idx, bank.vectors)
        top = s_neg.topk(min(N_NEAREST, s_neg.shape[1]), dim=1).values
    return {
        "pos_sim": s_pos.cpu().numpy().astype(np.float32),
        "neg_top10": top.cpu().numpy().astype(np.float32),
        "hist_edges": np.linspace(-1.0, 1.0, HIST_BINS + 1),
        "hist_pos": _density(s_pos),
        "hist_neg": _density(s_neg),
    }


def _density(s: Tensor) -> np.ndarray:
    """Histogram density of similarities over [-1, 1] in HIST_BINS bins (values clamped into range)."""
    counts = torch.histc(s.float().clamp(-1, 1), bins=HIST_BINS, min=-1, max=1).double()
    return (counts / (counts.sum() * (2.0 / HIST_BINS))).cpu().numpy()


def monitor(
    z_test: Tensor,
    test_labels: Tensor,
    bank: MemoryBank,
    train_labels: Tensor,
    knn_k: int,
    knn_sigma: float,
    num_classes: int,
) -> dict[str, float]:
    """One point of the training curves: kNN top-1 (%) against the bank, uniformity and tolerance of the un-augmented
    test embeddings (Eq. 10-11; the test set keeps the monitor cheap)."""
    return {
        "knn_top1": knn_top1(
            z_test, test_labels, bank.vectors, train_labels, knn_k, knn_sigma, num_classes
        ),
        "uniformity_test": metrics.uniformity(z_test),
        "tolerance_test": metrics.tolerance(z_test, test_labels),
    }


def evaluate(
    model: Encoder,
    bank: MemoryBank,
    train: Dataset,
    test: Dataset,
    dataset: str,
    augment: Callable[[Tensor, torch.Generator], Tensor],
    knn_k: int = 200,
    knn_sigma: float = 0.07,
    probe_epochs: int = 100,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The ``results`` of a run record and its arrays (``contrastive.results``), from the final model and bank.

    Uniformity and tolerance (Table 1) are measured on the un-augmented training embeddings, as the authors' code does
    for tolerance ("the mean over all training samples of its class"): ``uniformity_train`` and ``tolerance_train``;
    the test embeddings give kNN and ``uniformity_test`` / ``tolerance_test`` (the curves' last point). Every random choice comes from a generator seeded
    with ``seed``, never the training RNG; the anchors and the embedding sample are drawn first, so they are the same
    for every run on the same data.
    """
    device = test.images.device
    num_classes = len(train.classes)
    plain = lambda x: normalize(x, dataset)  # noqa: E731
    gen = torch.Generator(device).manual_seed(seed)
    anchors = torch.randperm(len(train), generator=gen, device=device)[:N_ANCHORS]
    sample = torch.randperm(len(test), generator=gen, device=device)[:N_EMBEDDING]
    view = lambda x: augment(x, gen)  # noqa: E731

    h_test, z_test = encode(model, test.images, plain)
    point = monitor(z_test, test.labels, bank, train.labels, knn_k, knn_sigma, num_classes)
    results = {
        "knn_top1": point["knn_top1"],
        "uniformity_test": point["uniformity_test"],
        "tolerance_test": point["tolerance_test"],
    }
    results["alignment"] = metrics.alignment(
        encode(model, test.images, view)[1], encode(model, test.images, view)[1]
    )

    arrays = anchor_similarities(encode(model, train.images[anchors], view)[1], anchors, bank)
    results["pos_sim_mean"] = float(arrays["pos_sim"].mean())

    arrays["embedding"] = z_test[sample].cpu().numpy().astype(np.float16)
    arrays["embedding_labels"] = test.labels[sample].cpu().numpy()

    h_train, z_train = encode(model, train.images, plain)
    results["uniformity_train"] = metrics.uniformity(z_train)
    results["tolerance_train"] = metrics.tolerance(z_train, train.labels)
    h_flip = encode(model, train.images.flip(3), plain)[0]
    results["linear_top1"] = linear_probe(
        h_train,
        train.labels,
        h_test,
        test.labels,
        h_flip,
        epochs=probe_epochs,
        num_classes=num_classes,
        seed=seed,
    )
    return results, arrays

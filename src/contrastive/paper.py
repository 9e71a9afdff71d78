"""The paper's own numbers (Wang & Liu, CVPR 2021, Table 1), shown beside ours and always labelled as the paper's.
Columns are (loss, tau), tau None for the simple losses; accuracy is linear top-1 in %, uniformity is -L_uniformity.
"""

from __future__ import annotations

COLUMNS: list[tuple[str, float | None]] = [
    ("contrastive", 0.07), ("contrastive", 0.3), ("contrastive", 0.7), ("contrastive", 1.0), ("simple", None),
    ("hard", 0.07), ("hard", 0.3), ("hard", 0.7), ("hard", 1.0), ("hard_simple", None),
]

_ROWS: dict[tuple[str, str], list[float]] = {
    ("cifar10", "linear_top1"): [79.75, 83.27, 82.69, 82.21, 74.83, 79.20, 83.63, 84.19, 84.19, 84.84],
    ("cifar10", "uniformity"): [3.86, 3.60, 3.17, 2.96, 1.68, 3.88, 3.89, 3.87, 3.86, 3.85],
    ("cifar10", "tolerance"): [0.04, 0.178, 0.333, 0.372, 0.61, 0.034, 0.0267, 0.030, 0.030, 0.030],
    ("cifar100", "linear_top1"): [51.82, 56.44, 50.99, 48.33, 39.31, 50.77, 56.55, 57.54, 56.77, 55.71],
    ("cifar100", "uniformity"): [3.86, 3.60, 3.18, 2.96, 2.12, 3.87, 3.88, 3.87, 3.86, 3.86],
    ("cifar100", "tolerance"): [0.10, 0.269, 0.331, 0.343, 0.39, 0.088, 0.124, 0.158, 0.172, 0.174],
    ("svhn", "linear_top1"): [92.55, 95.47, 94.17, 92.07, 70.83, 91.82, 94.79, 95.02, 95.26, 94.99],
    ("svhn", "uniformity"): [3.88, 3.65, 3.27, 3.05, 1.50, 3.89, 3.91, 3.90, 3.88, 3.85],
    ("svhn", "tolerance"): [0.032, 0.137, 0.186, 0.197, 0.074, 0.025, 0.021, 0.021, 0.023, 0.026],
    ("imagenet100", "linear_top1"): [71.53, 75.10, 69.03, 63.57, 48.09, 68.33, 74.21, 74.70, 74.28, 74.31],
    ("imagenet100", "uniformity"): [3.917, 3.693, 3.323, 3.08, 1.742, 3.929, 3.932, 3.927, 3.923, 3.917],
    ("imagenet100", "tolerance"): [0.093, 0.380, 0.427, 0.456, 0.528, 0.067, 0.096, 0.121, 0.134, 0.157],
}

DATASETS = ("cifar10", "cifar100", "svhn", "imagenet100")
METRICS = ("linear_top1", "uniformity", "tolerance")
PAPER_EPOCHS = 200
HARD_K = 4095
"""The paper's number of nearest negatives for the hard losses."""
TRAIN_IMAGES = 50_000
"""The training set of CIFAR-10 and CIFAR-100, the bank of the paper's CIFAR runs (HARD_K of it are kept)."""
TABLE1_TAUS: tuple[float, ...] = tuple(tau for loss, tau in COLUMNS if loss == "contrastive")
"""The temperatures of Table 1 and Figs. 4-9 (0.07, 0.3, 0.7, 1.0)."""
TABLE1_LOSSES: tuple[str, ...] = tuple(dict.fromkeys(loss for loss, _ in COLUMNS))
"""The four losses of Table 1, in its order."""
GRIDS: dict[str, tuple[float, ...]] = {
    "contrastive": (0.05, 0.07, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "hard": (0.07, 0.2, 0.3, 0.5, 0.7, 1.0),
}
"""The temperatures a sweep runs by default: the ordinary loss on the authors' grid (their Figs. 4-5 and 9), the
hard loss on a coarser one that holds Table 1's four; the simple losses once."""
FIG2_TAUS = (0.07, 0.2)
"""The two temperatures of Fig. 2 (t-SNE of the embeddings)."""

def table1(dataset: str, metric: str, loss: str, tau: float | None = None) -> float | None:
    """The paper's Table 1 value, or None where the paper has no such column."""
    if (dataset, metric) not in _ROWS:
        raise ValueError(f"dataset must be one of {DATASETS} and metric one of {METRICS}, got {dataset!r}, {metric!r}")
    key = (loss, None if loss in ("simple", "hard_simple") else float(tau))
    return dict(zip(COLUMNS, _ROWS[(dataset, metric)])).get(key)


AUTHORS_HARD_LOG = {
    "dataset": "cifar100", "loss": "hard", "tau": 0.07, "steps_per_epoch": 391,
    "epoch": (10, 20, 30, 190),
    "mean_s_ii": (0.992, 0.848, 0.796, 0.849),
    "p_positive": (3.0e-5, 9.4e-4, 0.023, 0.434),
}
"""The authors' own log of their hard loss (Eq. 9) at τ = 0.07 on CIFAR-100 at the paper's scale (391 SGD
steps an epoch), from their public notebook (WangFeng18/InvariancePropagation, ``CLS/Lab.ipynb``): the mean
positive similarity s_ii and the probability of the positive, P(positive) at τ over all 50,000 bank entries
(1/N = 2e-5). Near a collapse at epoch 10 (every bank entry next to the positive), out of it by epoch 30."""

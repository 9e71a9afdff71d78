"""The paper's own numbers (Wang & Liu, CVPR 2021, Table 1), shown beside ours and always labelled as the paper's.
Columns are (loss, tau), tau None for the simple losses; accuracy is linear top-1 in %, uniformity is -L_uniformity.
"""

from __future__ import annotations

COLUMNS: list[tuple[str, float | None]] = [
    ("contrastive", 0.07),
    ("contrastive", 0.3),
    ("contrastive", 0.7),
    ("contrastive", 1.0),
    ("simple", None),
    ("hard", 0.07),
    ("hard", 0.3),
    ("hard", 0.7),
    ("hard", 1.0),
    ("hard_simple", None),
]

_ROWS: dict[tuple[str, str], list[float]] = {
    ("cifar10", "linear_top1"): [
        79.75,
        83.27,
        82.69,
        82.21,
        74.83,
        79.20,
        83.63,
        84.19,
        84.19,
        84.84,
    ],
    ("cifar10", "uniformity"): [3.86, 3.60, 3.17, 2.96, 1.68, 3.88, 3.89, 3.87, 3.86, 3.85],
    ("cifar10", "tolerance"): [0.04, 0.178, 0.333, 0.372, 0.61, 0.034, 0.0267, 0.030, 0.030, 0.030],
    ("cifar100", "linear_top1"): [
        51.82,
        56.44,
        50.99,
        48.33,
        39.31,
        50.77,
        56.55,
        57.54,
        56.77,
        55.71,
    ],
    ("cifar100", "uniformity"): [3.86, 3.60, 3.18, 2.96, 2.12, 3.87, 3.88, 3.87, 3.86, 3.86],
    ("cifar100", "tolerance"): [0.10, 0.269, 0.331, 0.343, 0.39, 0.088, 0.124, 0.158, 0.172, 0.174],
    ("svhn", "linear_top1"): [92.55, 95.47, 94.17, 92.07, 70.83, 91.82, 94.79, 95.02, 95.26, 94.99],
    ("svhn", "uniformity"): [3.88, 3.65, 3.27, 3.05, 1.50, 3.89, 3.91, 3.90, 3.88, 3.85],
    ("svhn", "tolerance"): [0.032, 0.137, 0.186, 0.197, 0.074, 0.025, 0.021, 0.021, 0.023, 0.026],
    ("imagenet100", "linear_top1"): [
        71.53,
        75.10,
        69.03,
        63.57,
        48.09,
        68.33,
        74.21,
        74.70,
        74.28,
        74.31,
    ],
    ("imagenet100", "uniformity"): [
        3.917,
        3.693,
        3.323,
        3.08,
        1.742,
        3.929,
        3.932,
        3.927,
        3.923,
        3.917,
    ],
    ("imagenet100", "tolerance"): [
        0.093,
        0.380,
        0.427,
        0.456,
        0.528,
        0.067,
        0.096,
        0.121,
        0.134,
        0.157,
    ],
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
        raise ValueError(
            f"dataset must be one of {DATASETS} and metric one of {METRICS}, got {dataset!r}, {metric!r}"
        )
    key = (loss, None if loss in ("simple", "hard_simple") else float(tau))
    return dict(zip(COLUMNS, _ROWS[(dataset, metric)])).get(key)


AUTHORS_HARD_LOG = {
    "dataset": "cifar100",
    "loss": "hard",
    "tau": 0.07,
    "steps_per_epoch": 391,
    "epoch": (10, 20, 30, 190),
    "mean_s_ii": (0.992, 0.848, 0.796, 0.849),
    "p_positive": (3.0e-5, 9.4e-4, 0.023, 0.434),
}
"""The authors' own log of their hard loss (Eq. 9) at τ = 0.07 on CIFAR-100 at the paper's scale (391 SGD
steps an epoch), from their public notebook (WangFeng18/InvariancePropagation, ``CLS/Lab.ipynb``): the mean
positive similarity s_ii and the probability of the positive, P(positive) at τ over all 50,000 bank entries
(1/N = 2e-5). Near a collapse at epoch 10 (every bank entry next to the positive), out of it by epoch 30."""


SWEEP_TAUS: tuple[float, ...] = (0.05, 0.07, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""The temperatures of the authors' sweep (:data:`AUTHORS_SWEEP`), their grid of Figs. 4-5 and 9."""
AUTHORS_SWEEP: dict[tuple[str, str, str], tuple[float, ...]] = {
    ("cifar10", "contrastive", "knn_top1"): (
        78.65,
        80.91,
        81.53,
        81.04,
        79.92,
        78.00,
        76.23,
        75.82,
        75.09,
        74.50,
        72.55,
        72.00,
    ),
    ("cifar10", "contrastive", "linear_top1"): (
        76.10,
        79.75,
        81.82,
        83.78,
        83.27,
        83.22,
        82.54,
        82.97,
        82.69,
        82.67,
        81.97,
        82.21,
    ),
    ("cifar10", "hard", "knn_top1"): (
        77.52,
        80.75,
        81.86,
        82.50,
        83.19,
        83.19,
        83.40,
        83.46,
        83.31,
        83.40,
        83.23,
        83.25,
    ),
    ("cifar10", "hard", "linear_top1"): (
        76.22,
        79.20,
        80.40,
        83.28,
        83.63,
        84.14,
        84.31,
        84.60,
        84.19,
        84.60,
        84.45,
        84.19,
    ),
    ("cifar10", "contrastive", "uniformity"): (
        3.852,
        3.862,
        3.850,
        3.739,
        3.595,
        3.454,
        3.338,
        3.260,
        3.172,
        3.085,
        2.946,
        2.964,
    ),
    ("cifar10", "contrastive", "tolerance"): (
        0.0511,
        0.0436,
        0.0496,
        0.1070,
        0.1777,
        0.2363,
        0.2694,
        0.3062,
        0.3332,
        0.3557,
        0.3980,
        0.3717,
    ),
    ("cifar100", "contrastive", "knn_top1"): (
        49.90,
        51.77,
        52.19,
        48.90,
        44.81,
        40.87,
        37.85,
        34.60,
        30.97,
        28.66,
        28.67,
        26.29,
    ),
    ("cifar100", "contrastive", "linear_top1"): (
        49.80,
        51.82,
        52.46,
        56.05,
        56.44,
        55.47,
        54.17,
        53.05,
        50.99,
        50.08,
        50.21,
        48.33,
    ),
    ("cifar100", "hard", "knn_top1"): (
        49.42,
        52.36,
        53.09,
        53.12,
        53.42,
        53.72,
        53.19,
        52.69,
        53.44,
        52.56,
        52.85,
        52.52,
    ),
    ("cifar100", "hard", "linear_top1"): (
        49.21,
        50.77,
        51.91,
        55.61,
        56.55,
        55.66,
        57.37,
        57.17,
        57.54,
        57.15,
        56.53,
        56.77,
    ),
    ("svhn", "contrastive", "knn_top1"): (
        87.89,
        92.17,
        93.38,
        93.76,
        93.30,
        91.90,
        87.14,
        83.90,
        82.74,
        80.63,
        79.21,
        77.48,
    ),
    ("svhn", "contrastive", "linear_top1"): (
        88.96,
        92.55,
        94.21,
        95.46,
        95.47,
        95.36,
        94.66,
        94.47,
        94.17,
        93.22,
        92.66,
        92.07,
    ),
    ("svhn", "hard", "knn_top1"): (
        87.86,
        91.64,
        93.39,
        94.15,
        94.13,
        93.92,
        94.10,
        93.85,
        93.93,
        93.95,
        94.07,
        94.13,
    ),
    ("svhn", "hard", "linear_top1"): (
        89.07,
        91.82,
        93.37,
        94.58,
        94.79,
        94.62,
        94.93,
        95.06,
        95.02,
        95.03,
        95.08,
        95.26,
    ),
}
"""The authors' own temperature sweep at the paper's scale (200 epochs, ResNet-18, all training
images), from their public notebook (WangFeng18/InvariancePropagation, ``CLS/PosStatistics.ipynb``,
its ``results`` dict), not from the paper: (dataset, loss, metric) -> the value at each τ of
:data:`SWEEP_TAUS`. Linear and weighted-kNN top-1 (%) for both losses on three data sets;
uniformity (−L_unif) and tolerance of the ordinary loss on CIFAR-10 only. Where Table 1 has a
value the two agree."""


def authors_sweep(dataset: str, loss: str, metric: str) -> list[tuple[float, float]]:
    """The authors' sweep of ``metric`` for ``loss`` on ``dataset`` as (τ, value) pairs; [] where
    it has none."""
    return list(zip(SWEEP_TAUS, AUTHORS_SWEEP.get((dataset, loss, metric), ())))

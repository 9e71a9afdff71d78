"""The paper's data sets (the paper's experiments: CIFAR-10, CIFAR-100, SVHN) as uint8 tensors on a device.

Two sources: ``data=None``, the real data set, downloaded by torchvision into ``root`` (needs internet); or
``data=path/to/cifar10-jpeg.npz``, the offline CIFAR-10 copy, whose pixels are a JPEG re-encoding (``JPEG_NOTE``),
decoded once with Pillow and cached, decoded, in ``root``. ``augment`` normalises with the same ``MEAN``/``STD``.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from . import paths
from .atomic import atomic_write
from .provenance import OFFLINE_SOURCE, sha256

DATASETS = ("cifar10", "cifar100", "svhn")
SPLITS = {
    "cifar10": ("train", "test"),
    "cifar100": ("train", "test"),
    "svhn": ("train", "test", "extra"),
}
OFFLINE_SPLITS = ("train", "test")
OFFLINE_KEYS = tuple(
    f"{key}_{split}" for split in OFFLINE_SPLITS for key in ("jpeg", "offsets", "y")
) + ("classes",)
"""The arrays of the offline npz that :func:`check_npz` requires."""
DATASETS_ROOT = paths.checkout() / "data" / "datasets"
"""``data/datasets`` of the checkout the command runs in (git-ignored): downloads and the decoded
offline copy."""

MEAN = {
    "cifar10": (0.4914, 0.4822, 0.4465),
    "cifar100": (0.5071, 0.4865, 0.4409),
    "svhn": (0.4377, 0.4438, 0.4728),
}
"""Per-channel RGB mean of each training set, in [0, 1]."""
STD = {
    "cifar10": (0.2470, 0.2435, 0.2616),
    "cifar100": (0.2673, 0.2564, 0.2762),
    "svhn": (0.1980, 0.2010, 0.1970),
}
"""Per-channel RGB standard deviation of each training set. (The authors' code [code] normalises every data set with
CIFAR-10's mean and the often-quoted std (0.2023, 0.1994, 0.2010); before a batch-normalised network only the scale of
the input differs.)"""

JPEG_NOTE = (
    "offline CIFAR-10 copy: the pixels are a JPEG re-encoding (quality 75, 4:2:0 chroma subsampling) of the "
    "CIFAR-10 images, not the original pixels (mean absolute error 5.8/255); results can differ a little from "
    "published CIFAR-10 numbers"
)


@dataclass(frozen=True)
class Dataset:
    """One split of a data set as device tensors, with where it came from."""

    images: Tensor  # uint8, (N, 3, 32, 32)
    labels: Tensor  # int64, (N,)
    classes: tuple[str, ...]
    source: dict  # {"source", "path", "sha256", "note"}

    def __len__(self) -> int:
        return self.labels.shape[0]


def load(
    dataset: str,
    split: str = "train",
    data: str | Path | None = None,
    subset: int | None = None,
    device: str | torch.device = "cpu",
    root: str | Path = DATASETS_ROOT,
) -> Dataset:
    """``split`` of ``dataset`` (the class-balanced :func:`balanced` ``subset`` if given) as tensors on ``device``,
    from ``data``, the offline CIFAR-10 npz (only with ``dataset="cifar10"``), else downloaded into ``root``."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if data is not None and dataset != "cifar10":
        raise ValueError(
            f"data (the offline npz) holds CIFAR-10 only; it cannot be used with dataset {dataset!r}"
        )
    splits = SPLITS[dataset] if data is None else OFFLINE_SPLITS
    if split not in splits:
        raise ValueError(f"split must be one of {splits} for dataset {dataset!r}, got {split!r}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be >= 1 (or None for the whole split), got {subset!r}")
    root = Path(root)
    images, labels, classes, source = (
        _download(dataset, split, root) if data is None else _offline(Path(data), split, root)
    )
    if subset is not None and subset > len(labels):
        raise ValueError(
            f"subset must be <= {len(labels)}, the size of the {dataset} {split} split, got {subset}"
        )
    keep = slice(None) if subset is None else balanced(labels, subset)
    return Dataset(
        images=torch.from_numpy(np.ascontiguousarray(images[keep])).to(device),
        labels=torch.from_numpy(np.asarray(labels[keep], dtype=np.int64)).to(device),
        classes=tuple(classes),
        source=source,
    )


def balanced(labels: np.ndarray, n: int) -> np.ndarray:
    """The indices of a fixed, class-balanced subset of ``n`` images, in the split's order: the first images of every
    class in turn (round robin over the classes), so each class has ``n / C`` images (within one) whenever the split
    has that many of each; ``n`` = the split size keeps all of them."""
    labels = np.asarray(labels)
    rank = np.empty(len(labels), dtype=np.int64)  # how many earlier images share this image's class
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    order = np.lexsort((labels, rank))  # rank first, then class: round robin
    return np.sort(order[:n])


def normalize(x: Tensor, dataset: str) -> Tensor:
    """Pixels (B, 3, H, W) -> float32 ``(x - MEAN) / STD`` per channel; uint8 input is scaled by 1/255 first, floating
    input is taken to be in [0, 1]. The constants stay Python floats (no host-to-device copy): safe in CUDA graphs."""
    if dataset not in MEAN:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"x must have shape (B, 3, H, W), got {tuple(x.shape)}")
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    return torch.stack([(x[:, c] - MEAN[dataset][c]) / STD[dataset][c] for c in range(3)], dim=1)


def _offline(
    path: Path, split: str, root: Path
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict]:
    """The offline npz's ``split``, decoded (uint8 (N, 3, 32, 32), labels, classes, source)."""
    check_npz(path)
    digest = sha256(path)
    cache = root / f"cifar10-jpeg-decoded-{digest[:12]}-{split}.npz"
    if not cache.is_file():
        images, labels, classes = decode_npz(path, split)
        atomic_write(
            cache, lambda f: np.savez(f, images=images, labels=labels, classes=np.array(classes))
        )
    with np.load(cache) as f:
        images, labels, classes = f["images"], f["labels"], tuple(str(c) for c in f["classes"])
    source = {"source": OFFLINE_SOURCE, "path": str(path), "sha256": digest, "note": JPEG_NOTE}
    return images, labels, classes, source


def decode_npz(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Decode every JPEG of ``split`` in the offline npz (checked first) with Pillow: uint8 images (N, 3, 32, 32), int64
    labels (N,) and the class names. The format: ``jpeg_<split>`` the concatenated files, ``offsets_<split>`` (N+1,)
    their boundaries, ``y_<split>`` the labels, ``classes`` the names."""
    if split not in OFFLINE_SPLITS:
        raise ValueError(
            f"split must be one of {OFFLINE_SPLITS} for the offline npz, got {split!r}"
        )
    check_npz(path)
    with np.load(path) as f:
        jpeg, offsets, labels, classes = (
            f[k] for k in (f"jpeg_{split}", f"offsets_{split}", f"y_{split}", "classes")
        )
    images = np.empty((len(labels), 32, 32, 3), dtype=np.uint8)
    for i in range(len(labels)):
        images[i] = np.asarray(
            Image.open(io.BytesIO(jpeg[offsets[i] : offsets[i + 1]].tobytes())).convert("RGB")
        )
    return (
        images.transpose(0, 3, 1, 2).copy(),
        labels.astype(np.int64),
        tuple(str(c) for c in classes),
    )


def check_npz(path: str | Path, subset: int | None = None) -> None:
    """``ValueError`` ``data: <path>: <what is wrong>`` unless the offline CIFAR-10 npz (``--data``) is sound and its
    training split holds the ``subset`` a run takes; checked before any work (decoding each split's first image only)."""
    path = Path(path)
    if problem := _npz_problem(path):
        raise ValueError(f"data: {path}: {problem}")
    if subset is not None:
        with np.load(path) as f:
            if subset > (n := len(f["y_train"])):
                raise ValueError(
                    f"data: {path}: holds {n} training images, fewer than the subset of {subset} a run takes"
                )


def _npz_problem(path: Path) -> str | None:
    """What is wrong with the file at ``path`` as the offline CIFAR-10 copy, or None."""
    if path.is_dir():
        return (
            "a folder, not a file (--data names the offline CIFAR-10 npz file, "
            "e.g. data/cifar10-jpeg.npz)"
        )
    if not path.is_file():
        return "no such file (--data names the offline CIFAR-10 npz)"
    if not zipfile.is_zipfile(path):
        return "not an npz (zip) file, or cut short"
    try:
        with np.load(path) as f:
            if missing := [k for k in OFFLINE_KEYS if k not in f.files]:
                return f"not an offline CIFAR-10 npz, it lacks {missing}"
            n_classes = len(f["classes"])
            for split in OFFLINE_SPLITS:
                if problem := _split_problem(
                    split, f[f"jpeg_{split}"], f[f"offsets_{split}"], f[f"y_{split}"], n_classes
                ):
                    return problem
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        return f"unreadable npz ({type(e).__name__}: {e})"
    return None


def _split_problem(
    split: str, jpeg: np.ndarray, offsets: np.ndarray, labels: np.ndarray, n_classes: int
) -> str | None:
    """What is wrong with one split of the offline npz, decoding its first image only, or None."""
    if labels.ndim != 1 or len(labels) == 0 or not np.issubdtype(labels.dtype, np.integer):
        return f"y_{split} must be a non-empty 1-d array of integer labels, has shape {labels.shape} and dtype {labels.dtype}"
    if offsets.shape != (len(labels) + 1,) or not np.issubdtype(offsets.dtype, np.integer):
        return (
            f"offsets_{split} must be {len(labels) + 1} integers (one more than y_{split}), "
            f"has shape {offsets.shape} and dtype {offsets.dtype}"
        )
    if offsets[0] != 0 or offsets[-1] != len(jpeg) or np.any(np.diff(offsets) <= 0):
        return (
            f"offsets_{split} must rise from 0 to {len(jpeg)} (the bytes of jpeg_{split}), "
            f"runs from {offsets[0]} to {offsets[-1]}"
        )
    if labels.min() < 0 or labels.max() >= n_classes:
        return f"y_{split} must lie in 0..{n_classes - 1} (one of the {n_classes} classes), holds {labels.min()}..{labels.max()}"
    try:
        height, width = np.asarray(
            Image.open(io.BytesIO(jpeg[: offsets[1]].tobytes())).convert("RGB")
        ).shape[:2]
    except OSError as e:
        return f"the first image of jpeg_{split} does not decode ({e})"
    if (height, width) != (32, 32):
        return f"the first image of jpeg_{split} decodes to {width}x{height} pixels, not 32x32"
    return None


class DownloadError(ValueError):
    """torchvision could not download a data set (no network): a bad input of the run, named in one
    line."""


def _first_line(error: BaseException) -> str:
    """The first line of ``error``'s text, shortened to 120 characters."""
    text = str(error).strip().splitlines()
    return text[0][:120] if text else "no message"


def _download(
    dataset: str, split: str, root: Path
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict]:
    """``split`` of ``dataset`` through torchvision (download=True; torchvision checks its md5)."""
    import torchvision.datasets as tvd

    try:
        if dataset == "svhn":
            ds = tvd.SVHN(str(root), split=split, download=True)
            images, labels, classes = (
                ds.data,
                np.asarray(ds.labels),
                tuple(str(d) for d in range(10)),
            )
        else:
            cls = tvd.CIFAR10 if dataset == "cifar10" else tvd.CIFAR100
            ds = cls(str(root), train=split == "train", download=True)
            images, labels, classes = (
                ds.data.transpose(0, 3, 1, 2),
                np.asarray(ds.targets),
                tuple(ds.classes),
            )
    except (OSError, RuntimeError) as e:
        raise DownloadError(
            f"data: could not download {dataset} into {root} (no network? "
            f"{type(e).__name__}: {_first_line(e)}); offline, pass the CIFAR-10 "
            "copy: --data path/to/cifar10-jpeg.npz (data/README.md)"
        ) from None
    archive = root / ds.filename
    kept = archive.is_file()
    source = {
        "source": "torchvision download",
        "path": str(archive),
        "sha256": sha256(archive) if kept else None,
        "note": f"torchvision.datasets.{type(ds).__name__}, md5-checked by torchvision"
        + ("" if kept else "; the archive was not kept, so no sha256"),
    }
    return images, labels, classes, source

"""Data loading: the offline npz format (on a tiny npz built here), the cache, torchvision dispatch, errors."""

import io
import urllib.error

import numpy as np
import pytest
import torch
import torchvision.datasets
import torchvision.transforms.v2 as T2
from PIL import Image

from contrastive import data as D
from contrastive.provenance import sha256

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def pictures(n: int, seed: int) -> np.ndarray:
    """Smooth uint8 RGB pictures (n, 32, 32, 3) that survive JPEG well."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, 32)
    a, b = rng.uniform(0, 255, (2, n, 1, 1, 3))
    return (
        (a * ramp[None, :, None, None] + b * ramp[None, None, :, None] * 0.5 + 20)
        .clip(0, 255)
        .astype(np.uint8)
    )


def jpeg(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(
        buffer, format="JPEG", quality=75, subsampling=2
    )  # 4:2:0, as the real copy
    return buffer.getvalue()


@pytest.fixture
def tiny(tmp_path):
    """An offline npz in the format of /work/shared/data/cifar10-jpeg.npz: 6 train and 4 test images."""
    arrays, originals = {"classes": np.array(CLASSES)}, {}
    for split, n, seed in (("train", 6, 0), ("test", 4, 1)):
        originals[split] = pictures(n, seed)
        files = [jpeg(p) for p in originals[split]]
        arrays[f"jpeg_{split}"] = np.frombuffer(b"".join(files), dtype=np.uint8)
        arrays[f"offsets_{split}"] = np.concatenate(
            [[0], np.cumsum([len(f) for f in files])]
        ).astype(np.int64)
        arrays[f"y_{split}"] = np.arange(n, dtype=np.int64) % 10
        arrays[f"file_id_{split}"] = np.arange(n, dtype=np.int32)
    path = tmp_path / "tiny.npz"
    np.savez(path, **arrays)
    return path, originals


def test_decode_npz_reads_the_format(tiny):
    path, originals = tiny
    images, labels, classes = D.decode_npz(path, "test")
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2, 3] and labels.dtype == np.int64 and classes == CLASSES
    error = np.abs(images.transpose(0, 2, 3, 1).astype(float) - originals["test"]).mean()
    assert error < 6  # JPEG q75 of smooth pictures: close to, not equal to, the originals
    with np.load(path) as f:
        second = f["jpeg_test"][f["offsets_test"][1] : f["offsets_test"][2]].tobytes()
    assert np.array_equal(
        images[1], np.asarray(Image.open(io.BytesIO(second)).convert("RGB")).transpose(2, 0, 1)
    )


def test_load_offline_returns_tensors_with_provenance(tiny, tmp_path):
    path, _ = tiny
    ds = D.load("cifar10", "train", data=path, root=tmp_path / "cache")
    assert ds.images.shape == (6, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert (
        ds.labels.dtype == torch.int64 and ds.labels.tolist() == [0, 1, 2, 3, 4, 5] and len(ds) == 6
    )
    assert ds.classes == CLASSES
    assert ds.source["sha256"] == sha256(path) and ds.source["path"] == str(path)
    assert "JPEG" in ds.source["note"] and "not the original" in ds.source["note"]
    assert (tmp_path / "cache" / f"cifar10-jpeg-decoded-{sha256(path)[:12]}-train.npz").is_file()


def test_second_load_reads_the_cache(tiny, tmp_path, monkeypatch):
    path, _ = tiny
    first = D.load("cifar10", "test", data=path, root=tmp_path)

    def no_decoding(*args):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(D, "decode_npz", no_decoding)
    second = D.load("cifar10", "test", data=path, root=tmp_path)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert second.classes == CLASSES


def test_subset_is_class_balanced_and_device_is_honoured(tiny, tmp_path):
    path, _ = tiny
    full = D.load("cifar10", "train", data=path, root=tmp_path)
    part = D.load("cifar10", "train", data=path, subset=3, root=tmp_path)
    keep = D.balanced(full.labels.numpy(), 3)
    assert torch.equal(part.images, full.images[keep]) and torch.equal(
        part.labels, full.labels[keep]
    )
    on_meta = D.load("cifar10", "train", data=path, subset=2, device="meta", root=tmp_path)
    assert on_meta.images.device.type == "meta" and on_meta.labels.device.type == "meta"


def test_balanced_takes_the_first_images_of_every_class_in_turn():
    labels = np.array([0, 0, 0, 1, 2, 0, 1, 2, 2, 1, 1, 0])
    keep = D.balanced(labels, 6)
    assert keep.tolist() == [0, 1, 3, 4, 6, 7]  # the first two of each class, in the split's order
    assert np.bincount(labels[D.balanced(labels, 7)]).tolist() == [
        3,
        2,
        2,
    ]  # within one when n / C is not whole
    assert D.balanced(labels, 12).tolist() == list(range(12))
    rng = np.random.default_rng(0)
    big = rng.integers(0, 10, 5000)
    assert np.bincount(big[D.balanced(big, 1000)]).tolist() == [100] * 10


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(dataset="mnist"), ValueError, "dataset"),
        (dict(dataset="cifar10", split="valid"), ValueError, "split"),
        (
            dict(dataset="cifar10", split="extra"),
            ValueError,
            "split",
        ),  # SVHN's extra split, not in the npz
        (dict(dataset="cifar100"), ValueError, "CIFAR-10 only"),
        (dict(dataset="cifar10", subset=0), ValueError, "subset"),
        (dict(dataset="cifar10", subset=7), ValueError, "subset"),
    ],
)
def test_bad_arguments_raise(tiny, tmp_path, kwargs, error, name):
    with pytest.raises(error, match=name):
        D.load(**{"data": tiny[0], "root": tmp_path, **kwargs})


def test_missing_or_foreign_npz_raises(tmp_path):
    with pytest.raises(ValueError, match=r"^data: .*nowhere\.npz: no such file"):
        D.load("cifar10", data=tmp_path / "nowhere.npz", root=tmp_path)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(
        ValueError, match=r"^data: .*other\.npz: not an offline CIFAR-10 npz, it lacks"
    ):
        D.load("cifar10", data=tmp_path / "other.npz", root=tmp_path)


# --- torchvision downloads, with fakes in place of the network ----------------------------------


class FakeCIFAR100:
    filename = "cifar-100-python.tar.gz"
    calls = []

    def __init__(self, root, train, download):
        FakeCIFAR100.calls.append((root, train, download))
        self.data = pictures(5, 2)  # (N, 32, 32, 3) as torchvision's CIFAR
        self.targets = [3, 1, 4, 1, 5]
        self.classes = [f"class{k}" for k in range(100)]


class FakeSVHN:
    calls = []

    def __init__(self, root, split, download):
        FakeSVHN.calls.append((root, split, download))
        self.filename = f"{split}_32x32.mat"
        self.data = pictures(4, 3).transpose(0, 3, 1, 2)  # (N, 3, 32, 32) as torchvision's SVHN
        self.labels = np.array([9, 0, 2, 6])


def test_download_dispatches_to_torchvision(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "CIFAR100", FakeCIFAR100)
    (tmp_path / FakeCIFAR100.filename).write_bytes(b"archive")
    ds = D.load("cifar100", "test", subset=4, root=tmp_path)
    assert FakeCIFAR100.calls[-1] == (str(tmp_path), False, True)
    # labels 3, 1, 4, 1, 5: the balanced subset of 4 takes the first image of each of four classes
    assert torch.equal(
        ds.images, torch.from_numpy(pictures(5, 2)[[0, 1, 2, 4]]).permute(0, 3, 1, 2)
    )
    assert ds.labels.tolist() == [3, 1, 4, 5] and len(ds.classes) == 100
    assert ds.source["source"] == "torchvision download"
    assert ds.source["sha256"] == sha256(tmp_path / FakeCIFAR100.filename)


def test_svhn_passes_its_split_and_names_digits(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "SVHN", FakeSVHN)
    ds = D.load("svhn", "extra", root=tmp_path)
    assert FakeSVHN.calls[-1] == (str(tmp_path), "extra", True)
    assert ds.images.shape == (4, 3, 32, 32) and ds.labels.tolist() == [9, 0, 2, 6]
    assert ds.classes == tuple("0123456789") and ds.source["sha256"] is None  # no archive kept here


def test_download_failure_says_no_network_and_suggests_the_offline_copy(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    wanted = "^data: could not download.*no network.*--data path/to/cifar10-jpeg.npz"
    with pytest.raises(D.DownloadError, match=wanted):
        D.load("cifar10", root=tmp_path)


# --- normalisation ------------------------------------------------------------------------------


def test_mean_and_std_cover_every_dataset():
    assert set(D.MEAN) == set(D.STD) == set(D.DATASETS)


def test_normalize_equals_torchvision_and_accepts_uint8_or_unit_floats():
    x = torch.from_numpy(pictures(3, 4)).permute(0, 3, 1, 2).contiguous()
    expected = T2.Normalize(D.MEAN["svhn"], D.STD["svhn"])(x.float() / 255)
    assert torch.allclose(D.normalize(x, "svhn"), expected, atol=1e-6)
    assert torch.allclose(D.normalize(x.float() / 255, "svhn"), expected, atol=1e-6)
    assert D.normalize(x, "svhn").dtype == torch.float32


def test_normalize_rejects_bad_input():
    with pytest.raises(ValueError, match="dataset"):
        D.normalize(torch.zeros(1, 3, 4, 4), "imagenet")
    with pytest.raises(ValueError, match="shape"):
        D.normalize(torch.zeros(3, 4, 4), "cifar10")

"""kNN monitor against a naive loop, the linear probe on separable features, the record's measurements."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from contrastive import evaluate, memory, metrics, models
from contrastive.augment import Augment
from contrastive.data import Dataset, normalize

RESULT_FIELDS = {
    "linear_top1",
    "knn_top1",
    "uniformity_train",
    "tolerance_train",
    "alignment",
    "pos_sim_mean",
    "uniformity_test",
    "tolerance_test",
}
"""The final numbers a run record holds (``results``): each says the split it was measured on."""


def naive_knn(z, bank, labels, k, sigma, num_classes):
    preds = []
    for q in z:
        sims = [(float(q @ v), int(y)) for v, y in zip(bank, labels)]
        sims.sort(key=lambda t: -t[0])
        votes = [0.0] * num_classes
        for s, y in sims[:k]:
            votes[y] += np.exp(s / sigma)
        preds.append(int(np.argmax(votes)))
    return preds


def test_knn_matches_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(40, 8, generator=g), dim=1)
    labels = torch.randint(0, 4, (40,), generator=g)
    z = F.normalize(torch.randn(15, 8, generator=g), dim=1)
    for k, sigma in [(1, 0.07), (7, 0.07), (40, 0.5)]:
        pred = evaluate.knn_predict(z, bank, labels, k, sigma, 4, batch_size=4)
        assert pred.tolist() == naive_knn(z, bank, labels, k, sigma, 4)
    query_labels = torch.tensor(naive_knn(z, bank, labels, 7, 0.07, 4))
    assert evaluate.knn_top1(z, query_labels, bank, labels, 7, 0.07, 4) == 100.0


def test_knn_rejects_bad_k_and_sigma():
    bank, labels = torch.eye(3), torch.arange(3)
    with pytest.raises(ValueError, match="knn_k"):
        evaluate.knn_predict(bank, bank, labels, k=4)
    with pytest.raises(ValueError, match="knn_sigma"):
        evaluate.knn_predict(bank, bank, labels, k=1, sigma=0.0)


def separable(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    h = torch.relu(
        centres[y] + 0.3 * torch.randn(n, 4, generator=g)
    )  # non-negative, like pooled ReLU features
    return torch.cat([h, torch.rand(n, 12, generator=g)], dim=1), y


def test_linear_probe_separates_separable_features():
    h, y = separable(600, 0)
    h_flip = h + 0.05 * torch.randn(h.shape, generator=torch.Generator().manual_seed(1))
    h_test, y_test = separable(300, 2)
    acc = evaluate.linear_probe(h, y, h_test, y_test, h_flip, epochs=5, batch_size=64)
    assert acc > 99.0
    chance = evaluate.linear_probe(
        h,
        y[torch.randperm(600, generator=torch.Generator().manual_seed(3))],
        h_test,
        y_test,
        epochs=5,
        batch_size=64,
    )
    assert chance < 60.0  # shuffled labels cannot be learnt


def test_probe_schedule_and_bad_epochs():
    assert evaluate.probe_milestones(100) == [40, 60, 80]
    h, y = separable(10, 0)
    with pytest.raises(ValueError, match="probe_epochs"):
        evaluate.linear_probe(h, y, h, y, epochs=0)


def test_anchor_similarities_against_the_bank():
    bank = memory.MemoryBank(30, 6, generator=torch.Generator().manual_seed(0))
    idx = torch.tensor([2, 17, 29, 0])
    z = F.normalize(torch.randn(4, 6, generator=torch.Generator().manual_seed(1)), dim=1)
    a = evaluate.anchor_similarities(z, idx, bank)
    sims = z @ bank.vectors.T
    np.testing.assert_allclose(a["pos_sim"], sims[torch.arange(4), idx].numpy(), rtol=1e-6)
    for b, i in enumerate(idx.tolist()):
        others = torch.cat([sims[b, :i], sims[b, i + 1 :]])
        np.testing.assert_allclose(
            a["neg_top10"][b], others.sort(descending=True).values[:10].numpy(), rtol=1e-6
        )
    assert a["hist_edges"].shape == (51,) and a["hist_pos"].shape == a["hist_neg"].shape == (50,)
    width = 2 / 50
    assert a["hist_pos"].sum() * width == pytest.approx(1.0)
    assert a["hist_neg"].sum() * width == pytest.approx(1.0)


def test_evaluate_returns_every_result_and_array():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)

    def make(n: int) -> Dataset:
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        return Dataset(images, torch.arange(n) % 3, ("a", "b", "c"), {})

    train, test = make(24), make(12)
    model = models.Encoder("tiny")
    bank = memory.MemoryBank(24, 128, generator=g)
    results, arrays = evaluate.evaluate(
        model, bank, train, test, "cifar10", Augment("cifar10"), knn_k=5, probe_epochs=2
    )
    assert set(results) == RESULT_FIELDS
    assert all(isinstance(v, float) and np.isfinite(v) for v in results.values())
    plain = lambda x: normalize(x, "cifar10")  # noqa: E731
    z_train, z_test = (
        models.encode(model, train.images, plain)[1],
        models.encode(model, test.images, plain)[1],
    )
    assert results["uniformity_train"] == pytest.approx(
        metrics.uniformity(z_train)
    )  # Table 1: the training set
    assert results["tolerance_train"] == pytest.approx(metrics.tolerance(z_train, train.labels))
    assert results["tolerance_test"] == pytest.approx(metrics.tolerance(z_test, test.labels))
    assert arrays["pos_sim"].shape == (24,) and arrays["neg_top10"].shape == (24, 10)
    assert arrays["embedding"].shape == (12, 128) and arrays["embedding"].dtype == np.float16
    assert arrays["embedding_labels"].shape == (12,)
    assert results["pos_sim_mean"] == pytest.approx(float(arrays["pos_sim"].mean()))

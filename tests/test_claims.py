"""contrastive.claims: statuses computed from synthetic run records (test fixtures in tmp_path only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from contrastive import claims, losses, paper, results

ROOT = Path(__file__).resolve().parents[1]


def write_synthetic(root, dataset, loss, tau=None, epochs=200, subset=None, k=4095, arrays=None, **values):
    """A SYNTHETIC TEST FIXTURE record (never under data/): results from ``values``, others 0."""
    final = {m: 0.0 for m in ("linear_top1", "knn_top1", "uniformity", "tolerance", "alignment", "pos_sim_mean")}
    final.update(values)
    record = {
        "config": {"dataset": dataset, "loss": loss, "tau": 0.07 if tau is None else tau, "k": k, "epochs": epochs,
                   "subset": subset, "arch": "resnet18", "negatives": "bank"},
        "results": final,
        "curves": {"epoch": [1, epochs], "loss": [5.0, 4.0], "knn_top1": [10.0, final["knn_top1"]],
                   "uniformity": [1.0, final["uniformity"]], "tolerance": [0.9, final["tolerance"]], "lr": [0.03, 0.0003]},
        "provenance": {"device": "synthetic test fixture", "data": {"source": "synthetic", "path": "", "sha256": "", "note": ""}},
    }
    return results.write_record(results.record_path(root, dataset, loss, tau), record, arrays)


def paper_records(root, dataset="cifar10", overrides=None):
    """Records whose results are the paper's own Table 1 values (``overrides[(loss, tau)]`` replaces some)."""
    for loss, tau in paper.COLUMNS:
        values = {m: paper.table1(dataset, m, loss, tau) for m in paper.METRICS}
        values.update((overrides or {}).get((loss, tau), {}))
        write_synthetic(root, dataset, loss, tau, **values)
    return results.load(root)


def status(records, key):
    return {r.key: r for r in claims.status_table(records)}[key]


def test_analytic_rows_are_reproduced_by_computation():
    rows = {r.key: r for r in claims.status_table([])}
    for key in ("claim 1", "claim 2", "Fig. 1", "Fig. 3"):
        assert rows[key].status == claims.REPRODUCED, rows[key]


def test_gradient_check_fails_for_a_loss_without_the_temperature_on_negatives(monkeypatch):
    def wrong(s_pos, s_neg, tau):  # the negatives not divided by tau: not Eq. 1
        return torch.logsumexp(torch.cat([s_pos[:, None] / tau, s_neg], dim=1), dim=1) - s_pos / tau

    monkeypatch.setattr(losses, "contrastive_loss", wrong)
    assert claims.check_gradients().status == claims.NOT_REPRODUCED


def test_every_claim_table_and_figure_has_a_row_and_an_existing_chapter():
    keys = [r.key for r in claims.status_table([])]
    assert [f"claim {i}" for i in range(1, 8)] == keys[:7]
    assert "Table 1" in keys
    figures = " ".join(k for k in keys if k.startswith("Fig"))
    for n in range(1, 10):
        assert str(n) in figures
    for r in claims.status_table([]):
        for chapter in r.chapters:
            assert (ROOT / f"{chapter}.ipynb").is_file() or (ROOT / f"{chapter}.md").is_file(), chapter


def test_no_records_is_not_yet_run_naming_the_missing_configurations():
    row = status([], "claim 3")
    assert row.status == claims.NOT_YET_RUN
    assert "ordinary τ=0.07" in row.detail and "ordinary τ=1" in row.detail


def test_the_papers_own_numbers_pass_every_table_criterion(tmp_path):
    for dataset in paper.DATASETS:
        paper_records(tmp_path, dataset)
    records = results.load(tmp_path)
    for key in ("claim 3", "claim 4", "claim 5", "claim 6", "Table 1", "Figs. 4–5", "Figs. 6–7", "Fig. 9"):
        row = status(records, key)
        assert row.status == claims.REPRODUCED, row
        assert row.detail.count(claims.REPRODUCED) == len(paper.DATASETS)


def test_claim_3_reversed_trend_is_not_reproduced(tmp_path):
    for tau, u, t in zip(claims.TAUS, (2.9, 3.2, 3.6, 3.9), (0.4, 0.3, 0.2, 0.1)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    assert status(results.load(tmp_path), "claim 3").status == claims.NOT_REPRODUCED


def test_claim_3_monotone_trend_is_reproduced(tmp_path):
    for tau, u, t in zip(claims.TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    row = status(results.load(tmp_path), "claim 3")
    assert row.status == claims.REPRODUCED
    assert "3.900" in row.detail and "0.400" in row.detail


def test_claim_3_a_missing_temperature_is_not_yet_run(tmp_path):
    for tau, u, t in zip(claims.TAUS[:3], (3.9, 3.6, 3.2), (0.1, 0.2, 0.3)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    row = status(results.load(tmp_path), "claim 3")
    assert row.status == claims.NOT_YET_RUN and "ordinary τ=1" in row.detail


@pytest.mark.parametrize("short, reason", [
    ({"epochs": 199}, "199 epochs < the paper's 200"),
    ({"subset": 5000}, "subset of 5000"),
    ({"arch": "tiny"}, "arch tiny"),
    ({"negatives": "batch"}, "negatives 'batch'"),
])
def test_records_below_the_protocol_do_not_count(tmp_path, short, reason):
    for tau, u, t in zip(claims.TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        path = write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
        if tau == 0.3:
            record = results.read_record(path)
            record["config"].update(short)
            results.write_record(path, record)
    row = status(results.load(tmp_path), "claim 3")
    assert row.status == claims.NOT_YET_RUN and reason in row.detail


def test_hard_records_with_another_k_do_not_count(tmp_path):
    records = paper_records(tmp_path)
    write_synthetic(tmp_path, "cifar10", "hard", 1.0, k=100, **{m: paper.table1("cifar10", m, "hard", 1.0) for m in paper.METRICS})
    row = status(results.load(tmp_path), "claim 6")
    assert row.status == claims.NOT_YET_RUN and "k = 100" in row.detail
    assert status(records, "claim 6").status == claims.REPRODUCED


def test_a_failing_second_data_set_makes_the_claim_not_reproduced(tmp_path):
    paper_records(tmp_path, "cifar10")
    flat = {("contrastive", t): {"linear_top1": 50.0 + 10 * t} for t in claims.TAUS}  # best at tau = 1
    records = paper_records(tmp_path, "cifar100", flat)
    row = status(records, "claim 4")
    assert row.status == claims.NOT_REPRODUCED
    assert "cifar10: reproduced" in row.detail and "cifar100: not reproduced" in row.detail


def test_claim_4_counts_a_tau_0_2_record_when_present(tmp_path):
    paper_records(tmp_path)
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.2, linear_top1=83.78)
    row = status(results.load(tmp_path), "claim 4")
    assert row.status == claims.REPRODUCED and "best at τ = 0.2" in row.detail


def test_table1_criterion_fails_beyond_the_tolerance(tmp_path):
    records = paper_records(tmp_path, overrides={("hard", 0.7): {"uniformity": 3.87 - 0.2}})
    row = status(records, "Table 1")
    assert row.status == claims.NOT_REPRODUCED and "uniformity -0.200" in row.detail


def anchors(pos, hardest, n=1000, seed=0):
    """pos_sim around ``pos`` and 10 sorted nearest negatives just below ``hardest``."""
    rng = np.random.default_rng(seed)
    neg = np.sort(hardest - np.abs(rng.normal(0, 0.02, (n, 10))), axis=1)[:, ::-1]
    return {"pos_sim": pos + rng.normal(0, 0.01, n), "neg_top10": neg}


def test_claim_7_from_the_arrays(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07, arrays=anchors(0.8, 0.3))
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.95, 0.9))
    row = status(results.load(tmp_path), "claim 7")
    assert row.status == claims.REPRODUCED, row
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.7, 0.1))
    assert status(results.load(tmp_path), "claim 7").status == claims.NOT_REPRODUCED


def test_claim_7_without_arrays_is_not_yet_run(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07)
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0)
    row = status(results.load(tmp_path), "claim 7")
    assert row.status == claims.NOT_YET_RUN and "no arrays" in row.detail


def embedding_arrays(spread, n=300, classes=3, seed=0):
    """Points around ``classes`` centres on the sphere, ``spread`` the noise (large = uniform)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 128))
    labels = np.arange(n) % classes
    z = centres[labels] + spread * rng.normal(size=(n, 128))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return {"embedding": z.astype(np.float16), "embedding_labels": labels}


def test_fig_2_from_the_embedding_samples(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07, arrays=embedding_arrays(spread=5.0))
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.2, arrays=embedding_arrays(spread=0.3))
    assert status(results.load(tmp_path), "Fig. 2").status == claims.REPRODUCED
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07, arrays=embedding_arrays(spread=0.1))
    assert status(results.load(tmp_path), "Fig. 2").status == claims.NOT_REPRODUCED


def test_links_are_relative_to_the_page():
    rows = claims.status_table([], keys=["claim 1", "Table 1"])
    assert [r.key for r in rows] == ["claim 1", "Table 1"]
    html = claims.to_html(rows, page="book/intro")
    assert 'href="hardness.html"' in html and 'href="experiments/table1.html"' in html
    html = claims.to_html(rows, page="book/experiments/table1")
    assert 'href="../hardness.html"' in html and 'href="table1.html"' in html
    md = claims.to_markdown(rows)
    assert md.splitlines()[2].startswith("| claim 1 |") and "**reproduced**" in md


def test_status_rejects_unknown_rows():
    with pytest.raises(ValueError, match="keys must be among"):
        claims.status([], keys=["claim 8"])
    assert "not yet run" in claims.status([], keys=["claim 3"])._repr_html_()

"""contrastive.edition.claims: statuses computed from synthetic run records (test fixtures in tmp_path only)."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastive import losses, paper, protocols, results
from contrastive.config import Config
from contrastive.edition import claims, derivations
from contrastive.edition.figures import status as grid
from contrastive.edition.table import RunTable
from contrastive.protocols import JUDGED

ROOT = Path(__file__).resolve().parents[1]
TAUS = paper.TABLE1_TAUS


SYNTHETIC_DATA = {"source": "synthetic", "path": "", "sha256": "", "note": ""}
JPEG_DATA = {
    "source": "offline npz",
    "path": "cifar10-jpeg.npz",
    "sha256": "",
    "note": "pixels are a JPEG re-encoding",
}


def write_synthetic(
    root,
    dataset,
    loss,
    tau=None,
    epochs=200,
    subset=None,
    k=4095,
    arrays=None,
    config=None,
    data=SYNTHETIC_DATA,
    seed=0,
    **values,
):
    """A SYNTHETIC TEST FIXTURE record (never under data/): the engine's default config (the paper's
    protocol) with the given fields, ``config`` overriding any other field; results from ``values`` (by metric
    names: ``uniformity`` is ``results.uniformity_train``), others 0;
    ``data`` its provenance's data source."""
    final = {
        m: 0.0
        for m in ("linear_top1", "knn_top1", "uniformity", "tolerance", "alignment", "pos_sim_mean")
    }
    final.update(values)
    fields = {
        "dataset": dataset,
        "loss": loss,
        "tau": 0.07 if tau is None else tau,
        "k": k,
        "epochs": epochs,
        "subset": subset,
        "seed": seed,
    }
    record = {
        "config": {**asdict(Config(device="cpu")), **fields, **(config or {})},
        "results": {results.TABLE1_FIELDS.get(m, m): v for m, v in final.items()},
        "curves": {
            "epoch": [1, epochs],
            "loss": [5.0, 4.0],
            "knn_top1": [10.0, final["knn_top1"]],
            "uniformity_test": [1.0, final["uniformity"]],
            "tolerance_test": [0.9, final["tolerance"]],
            "lr": [0.03, 0.0003],
        },
        "provenance": {"device": "synthetic test fixture", "data": data},
    }
    return results.write_record(results.record_path(root, dataset, loss, tau, seed), record, arrays)


def paper_records(root, dataset="cifar10", overrides=None):
    """Records whose results are the paper's own Table 1 values (``overrides[(loss, tau)]`` replaces some)."""
    for loss, tau in paper.COLUMNS:
        values = {m: paper.table1(dataset, m, loss, tau) for m in paper.METRICS}
        values.update((overrides or {}).get((loss, tau), {}))
        write_synthetic(root, dataset, loss, tau, **values)
    return results.load(root)


def status(records, key, scale="paper"):
    """The outcome of the row ``key`` at protocol ``scale``."""
    return {r.key: r.outcomes[scale] for r in claims.status_table(records)}[key]


def test_analytic_rows_are_reproduced_by_computation():
    rows = {r.key: r for r in claims.status_table([])}
    for key in ("claim 1", "claim 2", "Fig. 1", "Fig. 3"):
        assert {o.status for o in rows[key].outcomes.values()} == {claims.REPRODUCED}, rows[key]


def test_gradient_check_fails_for_a_loss_without_the_temperature_on_negatives(monkeypatch):
    def wrong(s_pos, s_neg, tau):  # the negatives not divided by tau: not Eq. 1
        return torch.logsumexp(torch.cat([s_pos[:, None] / tau, s_neg], dim=1), dim=1) - s_pos / tau

    monkeypatch.setattr(losses, "contrastive_loss", wrong)
    holds, detail = derivations.check_gradients()
    assert not holds, detail


def figure_numbers(key):
    """The figures a row's key names: "Fig. 2" -> [2], "Figs. 4–5" -> [4, 5]."""
    first, _, last = re.fullmatch(r"Figs?\. (\d)(–(\d))?", key).groups()
    return list(range(int(first), int(last or first) + 1))


def test_every_claim_table_and_figure_has_a_row_and_an_existing_chapter():
    keys = [r.key for r in claims.status_table([])]
    claim_keys = [k for k in keys if k.startswith("claim ")]
    assert (
        sorted({int(k.split()[1].rstrip("ab")) for k in claim_keys}) == list(range(1, 8))
        and keys[: len(claim_keys)] == claim_keys
    )
    assert keys[len(claim_keys)] == "Table 1"
    assert sorted(n for k in keys[len(claim_keys) + 1 :] for n in figure_numbers(k)) == list(
        range(1, 10)
    )
    for r in claims.status_table([]):
        for chapter in r.chapters:
            assert (ROOT / f"{chapter}.ipynb").is_file() or (ROOT / f"{chapter}.md").is_file(), (
                chapter
            )


def test_no_records_is_not_yet_run_naming_the_missing_configurations():
    row = status([], "claim 3")
    assert row.status == claims.NOT_YET_RUN and row.verdicts == {"cifar10": claims.NOT_YET_RUN}
    assert (
        row.detail == "cifar10: needs ordinary τ=0.07, ordinary τ=0.3, ordinary τ=0.7, ordinary τ=1"
    )


def test_the_papers_own_numbers_pass_every_table_criterion(tmp_path):
    for dataset in paper.DATASETS:
        paper_records(tmp_path, dataset)
    records = results.load(tmp_path)
    for key in (
        "claim 3",
        "claim 4",
        "claim 5a",
        "claim 5b",
        "claim 6a",
        "claim 6b",
        "Table 1",
        "Figs. 4–5",
        "Figs. 6–7",
        "Fig. 9",
    ):
        row = status(records, key)
        assert row.status == claims.REPRODUCED, row
        assert row.verdicts == {d: claims.REPRODUCED for d in paper.DATASETS}


def test_claim_3_reversed_trend_is_not_reproduced(tmp_path):
    for tau, u, t in zip(TAUS, (2.9, 3.2, 3.6, 3.9), (0.4, 0.3, 0.2, 0.1)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    assert status(results.load(tmp_path), "claim 3").status == claims.NOT_REPRODUCED


def test_a_claim_compares_the_means_over_seeds(tmp_path):
    """Seed 0 alone reverses the trend at τ = 1; with seeds 1 and 2 the means are monotone."""
    for tau, u, t in zip(TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 1.0, uniformity=3.3, tolerance=0.4
    )  # seed 0 above τ = 0.7's 3.2
    assert status(results.load(tmp_path), "claim 3").status == claims.NOT_REPRODUCED
    for seed in (1, 2):
        write_synthetic(
            tmp_path, "cifar10", "contrastive", 1.0, seed=seed, uniformity=2.7, tolerance=0.4
        )
    row = status(results.load(tmp_path), "claim 3")
    assert (
        row.status == claims.REPRODUCED and "uniformity 3.900, 3.600, 3.200, 2.900" in row.detail
    )  # (3.3 + 2 x 2.7) / 3
    assert "(means over up to 3 seeds)" in row.detail


def test_claim_3_monotone_trend_is_reproduced(tmp_path):
    for tau, u, t in zip(TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    row = status(results.load(tmp_path), "claim 3")
    assert row.status == claims.REPRODUCED
    assert row.detail == (
        "cifar10: reproduced; ordinary, τ = 0.07, 0.3, 0.7, 1: uniformity 3.900, 3.600, 3.200, 2.900; "
        "tolerance 0.100, 0.200, 0.300, 0.400"
    )


def test_evidence_names_the_counted_runs_that_had_not_levelled_off(tmp_path):
    for tau, u, t in zip(TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    records = results.load(tmp_path)
    records[0].curves.update(
        {"epoch": [1, 100, 160, 200], "uniformity_test": [1.0, 2.0, 2.5, 3.9]}
    )  # τ = 0.07: 1.4 of 2.9 late
    row = status(records, "claim 3")
    assert row.status == claims.REPRODUCED  # the verdict is the criterion's
    assert row.detail.endswith("; not levelled off by the pilots' rule 2: ordinary τ=0.07")


def test_claim_3_a_missing_temperature_is_not_yet_run(tmp_path):
    for tau, u, t in zip(TAUS[:3], (3.9, 3.6, 3.2), (0.1, 0.2, 0.3)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    row = status(results.load(tmp_path), "claim 3")
    assert row.status == claims.NOT_YET_RUN and row.detail == "cifar10: needs ordinary τ=1"


@pytest.mark.parametrize(
    "off, reason",
    [
        ({"epochs": 400}, "epochs 400 (paper: 200)"),
        ({"subset": 5000}, "subset 5000 (paper: all)"),
        (
            {"arch": "tiny", "hflip": False},
            "arch 'tiny' (paper: 'resnet18'), hflip False (paper: True)",
        ),
    ],
)
def test_records_off_the_protocol_do_not_count(tmp_path, off, reason):
    for tau, u, t in zip(TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(
            tmp_path,
            "cifar10",
            "contrastive",
            tau,
            uniformity=u,
            tolerance=t,
            config=off if tau == 0.3 else None,
        )
    row = status(results.load(tmp_path), "claim 3")
    assert row.status == claims.NOT_YET_RUN
    assert row.detail == f"cifar10: needs ordinary τ=0.3 (off protocol: {reason})"


def test_hard_records_with_another_k_do_not_count(tmp_path):
    records = paper_records(tmp_path)
    write_synthetic(
        tmp_path,
        "cifar10",
        "hard",
        1.0,
        k=100,
        **{m: paper.table1("cifar10", m, "hard", 1.0) for m in paper.METRICS},
    )
    row = status(results.load(tmp_path), "claim 6a")
    assert row.status == claims.NOT_YET_RUN
    assert row.detail == "cifar10: needs hard τ=1 (off protocol: k 100 (paper: 4095))"
    assert status(records, "claim 6a").status == claims.REPRODUCED


def test_a_failing_second_data_set_makes_the_claim_not_reproduced(tmp_path):
    paper_records(tmp_path, "cifar10")
    flat = {("contrastive", t): {"linear_top1": 50.0 + 10 * t} for t in TAUS}  # best at tau = 1
    records = paper_records(tmp_path, "cifar100", flat)
    row = status(records, "claim 4")
    assert row.status == claims.NOT_REPRODUCED
    assert row.verdicts == {"cifar10": claims.REPRODUCED, "cifar100": claims.NOT_REPRODUCED}


def test_claim_4_counts_a_tau_0_2_record_when_present(tmp_path):
    paper_records(tmp_path)
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.2, linear_top1=83.78)
    row = status(results.load(tmp_path), "claim 4")
    assert row.status == claims.REPRODUCED and row.detail.endswith(
        "τ=0.2: 83.78, τ=0.3: 83.27, τ=0.7: 82.69, τ=1: 82.21; best at τ = 0.2"
    )


def test_table1_criterion_fails_beyond_the_tolerance(tmp_path):
    records = paper_records(tmp_path, overrides={("hard", 0.7): {"uniformity": 3.87 - 0.2}})
    assert status(records, "Table 1").status == claims.NOT_REPRODUCED
    ok, evidence = claims.table1_close(RunTable(records).at("paper", "cifar10"))
    assert not ok and evidence == (
        "largest ours − paper: linear_top1 +0.000 (allowed ±2), uniformity -0.200 (allowed ±0.1), tolerance +0.000 (allowed ±0.05)"
    )


def anchors(pos, hardest, n=1000, seed=0):
    """pos_sim around ``pos`` and 10 sorted nearest negatives just below ``hardest``."""
    rng = np.random.default_rng(seed)
    neg = np.sort(hardest - np.abs(rng.normal(0, 0.02, (n, 10))), axis=1)[:, ::-1]
    return {"pos_sim": pos + rng.normal(0, 0.01, n), "neg_top10": neg}


def test_claim_7_from_the_arrays(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07, arrays=anchors(0.8, 0.3))
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.95, 0.9))
    records = results.load(tmp_path)
    assert (
        status(records, "claim 7a").status
        == status(records, "claim 7b").status
        == claims.REPRODUCED
    )
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.7, 0.1)
    )  # a wider gap and a lower s_ii at τ = 1
    records = results.load(tmp_path)
    assert (
        status(records, "claim 7a").status
        == status(records, "claim 7b").status
        == claims.NOT_REPRODUCED
    )
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.7, 0.6)
    )  # narrower gap, lower s_ii: one part holds
    records = results.load(tmp_path)
    assert (status(records, "claim 7a").status, status(records, "claim 7b").status) == (
        claims.REPRODUCED,
        claims.NOT_REPRODUCED,
    )
    assert status(records, "Fig. 8").status == claims.NOT_REPRODUCED  # the figure shows both


def test_claim_7_without_arrays_is_not_yet_run(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07)
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0)
    row = status(results.load(tmp_path), "claim 7a")
    assert row.status == claims.NOT_YET_RUN
    assert (
        row.detail
        == "cifar10: needs ordinary τ=0.07 (no arrays ['pos_sim', 'neg_top10']), ordinary τ=1 (no arrays ['pos_sim', 'neg_top10'])"
    )


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


def test_the_table_is_myst_with_doc_links_and_a_column_per_scale():
    rows = claims.status_table([], keys=["claim 1", "Table 1"])
    assert [r.key for r in rows] == ["claim 1", "Table 1"]
    md = grid.to_markdown(rows)
    assert md.splitlines()[0] == "| | the paper says | where | paper scale | CPU scale | evidence |"
    assert md.splitlines()[2].startswith(
        "| claim 1 | The negative gradient is proportional to $\\exp(s_{ij}/\\tau)$"
    )
    dash, not_here = (grid.status_cell(s) for s in (claims.NOT_YET_RUN, claims.NOT_APPLICABLE))
    ok = grid.status_cell(claims.REPRODUCED, analytic=True)
    assert f"| {{doc}}`/book/hardness` | {ok} | {ok} |" in md
    assert (
        f"| {dash} | {not_here} |" in md.splitlines()[3]
    )  # Table 1: its closeness at paper scale only
    assert grid.table([], keys=["claim 1"])._repr_markdown_() == grid.to_markdown(
        claims.status_table([], keys=["claim 1"])
    )


def background(cell):
    return re.search(r"background-color:(#[0-9a-f]{6})", cell).group(1)


def contrast(a, b):
    """The WCAG contrast ratio of two #rrggbb colours."""

    def luminance(colour):
        c = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_status_cells_are_coloured_by_status_and_keep_their_marks():
    outcomes = dict(
        zip(
            JUDGED,
            (claims.Outcome(claims.REPRODUCED, ""), claims.Outcome(claims.NOT_REPRODUCED, "")),
        )
    )
    md = grid.to_markdown(
        [claims.Row("claim 3", "says", ("book/hardness",), outcomes)], evidence_column=False
    )
    ok, bad = re.findall(r"<span [^>]*>[^<]*</span>", md.splitlines()[2])
    assert ok.endswith(">✓ reproduced</span>") and bad.endswith(">✗ not reproduced</span>")
    assert background(ok) != background(bad)
    statuses = (claims.REPRODUCED, claims.NOT_REPRODUCED, claims.NOT_YET_RUN, claims.INVALID)
    assert len({background(grid.status_cell(s)) for s in statuses}) == len(statuses)
    for status in grid.GRID:  # dark text on a pale cell: WCAG AA in the light theme
        cell = grid.status_cell(status)
        assert (
            contrast(re.search(r";color:(#[0-9a-f]{6})", cell).group(1), background(cell)) >= 4.5
        ), status


def test_analytic_rows_say_no_run_was_needed_at_any_scale():
    md = grid.to_markdown(claims.status_table([], ["claim 1", "claim 3"]), evidence_column=False)
    analytic, judged = md.splitlines()[2:4]
    assert analytic.count(">✓ analytic (no run needed)</span>") == len(JUDGED)
    assert "analytic" not in judged


def test_every_chapter_a_claim_names_exists_and_the_compound_claims_come_in_parts():
    for claim in claims.CLAIMS:
        for chapter in claim.chapters:
            assert (ROOT / f"{chapter}.ipynb").is_file(), (claim.key, chapter)
    assert [k for k in claims.KEYS if k.startswith("claim")] == [
        "claim 1",
        "claim 2",
        "claim 3",
        "claim 4",
        "claim 5a",
        "claim 5b",
        "claim 6a",
        "claim 6b",
        "claim 7a",
        "claim 7b",
    ]


def test_status_rejects_unknown_rows():
    with pytest.raises(ValueError, match="keys must be among"):
        grid.table([], keys=["claim 8"])
    shown = grid.table([], keys=["claim 3"])._repr_markdown_()
    dash = grid.status_cell(claims.NOT_YET_RUN)
    assert (
        f"| {dash} | {dash} |" in shown
        and "cifar10: needs ordinary τ=0.07" in shown
        and "not yet run" not in shown
    )
    compact = grid.table([])._repr_markdown_()
    assert "evidence" not in compact.splitlines()[0] and compact.count("\n— : ") == 1


def test_twin_rows_share_one_outcome_and_each_npz_is_read_once(tmp_path, monkeypatch):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07, arrays=anchors(0.8, 0.3))
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.95, 0.9))
    reads = []
    read_arrays = results.read_arrays
    monkeypatch.setattr(
        results, "read_arrays", lambda record: reads.append(record.path) or read_arrays(record)
    )
    rows = {r.key: r for r in claims.status_table(results.load(tmp_path))}
    assert (
        rows["claim 7a"].outcomes["paper"].status
        == rows["Fig. 8"].outcomes["paper"].status
        == claims.REPRODUCED
    )
    assert rows["claim 3"].outcomes is rows["Figs. 4–5"].outcomes
    assert sorted(reads) == sorted(tmp_path.rglob("*.json"))  # claim 7, Fig. 8 and Fig. 2 read them
    claims.status_table(results.load(tmp_path), keys=["claim 7a"])
    assert len(reads) == 4  # a new call reads afresh: no cache outlives it


def test_evidence_says_where_a_counted_record_is_on_the_jpeg_copy(tmp_path):
    for tau, u, t in zip(TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(
            tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t, linear_top1=80.0
        )
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.2, linear_top1=83.0, data=JPEG_DATA)
    records = results.load(tmp_path)
    assert status(records, "claim 4").detail.endswith(
        "best at τ = 0.2 (offline JPEG copy of CIFAR-10)"
    )
    assert (
        "JPEG" not in status(records, "claim 3").detail
    )  # the τ = 0.2 record does not count for claim 3
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 0.7, uniformity=3.2, tolerance=0.3, data=JPEG_DATA
    )
    row = status(results.load(tmp_path), "claim 3")
    assert row.status == claims.REPRODUCED and row.detail.endswith(
        "tolerance 0.100, 0.200, 0.300, 0.400 (offline JPEG copy of CIFAR-10)"
    )


def test_each_protocol_is_judged_on_its_own_records(tmp_path, monkeypatch):
    monkeypatch.setitem(
        protocols.PROTOCOLS, "cpu", protocols.PROTOCOLS["cpu-short"]
    )  # until the second pilot names it
    cpu = {
        k: v
        for k, v in asdict(Config.at("cpu-short", device="cpu")).items()
        if k not in ("dataset", "loss", "tau")
    }
    cpu["protocol"] = "cpu"
    for tau, u, t in zip(TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(
            tmp_path / "cpu", "cifar10", "contrastive", tau, uniformity=u, tolerance=t, config=cpu
        )
    records = results.load(tmp_path)
    assert status(records, "claim 3", "cpu").status == claims.REPRODUCED
    assert (
        status(records, "claim 3", "paper").status == claims.NOT_YET_RUN
    )  # the CPU records do not count there
    assert status(records, "Table 1", "cpu").status == claims.NOT_APPLICABLE
    write_synthetic(
        tmp_path / "cpu",
        "cifar10",
        "contrastive",
        0.3,
        uniformity=3.6,
        tolerance=0.2,
        config={**cpu, "lr": 0.5},
    )
    row = status(results.load(tmp_path), "claim 3", "cpu")
    assert row.status == claims.NOT_YET_RUN
    assert row.detail == f"cifar10: needs ordinary τ=0.3 (off protocol: lr 0.5 (cpu: {cpu['lr']}))"


def test_a_record_with_nan_is_invalid_not_judged(tmp_path):
    for tau, u, t in zip(TAUS, (3.9, 3.6, 3.2, 2.9), (0.1, 0.2, 0.3, 0.4)):
        write_synthetic(tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t)
    path = tmp_path / "cifar10" / "contrastive-tau0.3-seed0.json"
    path.write_text(path.read_text().replace('"uniformity_train": 3.6', '"uniformity_train": NaN'))
    row = status(results.load(tmp_path), "claim 3")
    assert (
        row.status == claims.INVALID
        and "ordinary τ=0.3 (non-finite results.uniformity_train = nan)" in row.detail
    )
    for key in ("claim 4", "claim 6a", "claim 6b", "Fig. 9"):
        assert status(results.load(tmp_path), key).status in (claims.INVALID, claims.NOT_YET_RUN)


def test_the_landing_page_counts_the_experimental_claim_parts_by_status(tmp_path):
    assert grid.EXPERIMENTAL == (
        "claim 3",
        "claim 4",
        "claim 5a",
        "claim 5b",
        "claim 6a",
        "claim 6b",
        "claim 7a",
        "claim 7b",
    )
    assert grid.numbers(claims.status_table([]), "cpu") == {
        "parts": 8,
        "reproduced": 0,
        "not_reproduced": 0,
        "waiting": 8,
    }
    for tau, u, t in zip(
        TAUS, (2.9, 3.2, 3.6, 3.9), (0.4, 0.3, 0.2, 0.1)
    ):  # claim 3 reversed; claim 4 has its taus
        write_synthetic(
            tmp_path, "cifar10", "contrastive", tau, uniformity=u, tolerance=t, linear_top1=80 - tau
        )
    counts = grid.numbers(claims.status_table(results.load(tmp_path)), "paper")
    assert counts == {"parts": 8, "reproduced": 0, "not_reproduced": 2, "waiting": 6}


# --- results at a glance: the deciding numbers, their margins and seed noise -----------------


def test_the_glance_reads_the_papers_table_1_and_its_margins_pass(tmp_path):
    """On records holding the paper's own Table 1, ours at the paper's scale equal the paper's,
    and every margin of a passing criterion is positive; claim 5a's is the distance to its bound."""
    lines = {g.key: g for g in claims.glance(paper_records(tmp_path))}
    assert list(lines) == list(claims.GLANCE_KEYS)
    assert lines["claim 1"].analytic and lines["claim 1"].ours == dict.fromkeys(JUDGED)
    for key in ("claim 3", "claim 4", "claim 5a", "claim 5b", "claim 6a", "claim 6b"):
        line = lines[key]
        assert line.status["paper"] == claims.REPRODUCED and line.ours["cpu"] is None
        assert line.ours["paper"] == line.theirs and all(m.value > 0 for m in line.theirs.margins)
        assert line.spread["paper"] == {m.metric: None for m in line.theirs.margins}
        assert line.noise == dict.fromkeys(JUDGED, False)
    simple = lines["claim 5a"].theirs
    best = max(paper.table1("cifar10", "linear_top1", "contrastive", t) for t in TAUS)
    assert simple.numbers["best"] == best and simple.numbers["below"] == pytest.approx(best - 74.83)
    assert simple.margins[0].value == pytest.approx(best - 74.83 - claims.SIMPLE_GAP)
    assert lines["claim 7a"].theirs is None and lines["Fig. 2"].theirs is None  # figures only


def test_a_failing_margin_is_negative_by_how_much_it_misses(tmp_path):
    overrides = {("simple", None): {"linear_top1": 80.0}}  # 3.27 under 83.27: misses 5 by 1.73
    records = paper_records(tmp_path, overrides=overrides)
    line = {g.key: g for g in claims.glance(records)}["claim 5a"]
    assert line.status["paper"] == claims.NOT_REPRODUCED
    assert line.ours["paper"].margins[0].value == pytest.approx(-1.73)


def test_seed_spread_is_the_largest_difference_between_two_seeds_of_one_configuration(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.3, linear_top1=50.0)
    look = RunTable(results.load(tmp_path)).at("paper", "cifar10")
    assert claims.seed_spread(look, "linear_top1") is None  # one seed: no spread yet
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.3, seed=1, linear_top1=51.5)
    write_synthetic(tmp_path, "cifar10", "hard", 0.3, seed=0, linear_top1=40.0)
    write_synthetic(tmp_path, "cifar10", "hard", 0.3, seed=1, linear_top1=40.5)
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.7, linear_top1=20.0)  # one seed only
    look = RunTable(results.load(tmp_path)).at("paper", "cifar10")
    assert claims.seed_spread(look, "linear_top1") == pytest.approx(1.5)
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.8, 0.3))
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 1.0, seed=1, arrays=anchors(0.9, 0.3, seed=1)
    )
    look = RunTable(results.load(tmp_path)).at("paper", "cifar10")
    assert claims.seed_spread(look, "s_ii") == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize(
    "status, margins, noisy",
    [
        (claims.REPRODUCED, (0.5,), True),  # holds by less than the seeds differ
        (claims.REPRODUCED, (3.0,), False),
        (claims.REPRODUCED, (3.0, 0.5), True),  # one condition could turn
        (claims.NOT_REPRODUCED, (-0.5, 3.0), True),  # the only failing condition misses by little
        (claims.NOT_REPRODUCED, (-0.5, -3.0), False),  # another fails beyond the noise
        (claims.NOT_YET_RUN, (0.5,), False),
    ],
)
def test_within_seed_noise(status, margins, noisy):
    reading = claims.Reading({}, tuple(claims.Margin("linear_top1", m) for m in margins))
    assert claims.within_noise(status, reading, {"linear_top1": 1.9}) is noisy
    assert not claims.within_noise(status, reading, {"linear_top1": None})  # no second seed

"""contrastive.edition.figures (experiments, runs, pilots) on synthetic run records (test fixtures in tmp_path only)."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from contrastive import config, paper, protocols, results
from contrastive.edition.figures import class_colour, pilots, runs, show, verdicts
from contrastive.edition.figures import experiments as ex
from contrastive.edition.figures import records as rec
from contrastive.edition.table import RunTable
from test_claims import anchors, embedding_arrays, paper_records, write_synthetic

CPU = {
    k: v
    for k, v in dataclasses.asdict(config.Config.at("cpu", device="cpu")).items()
    if k not in ("dataset", "loss", "tau")
}
"""The run configuration of the cpu protocol, less what each record sets."""
BUILDERS = {
    "uniformity_tolerance": ex.uniformity_tolerance,
    "accuracy": ex.accuracy,
    "similarities": ex.similarities,
    "histograms": ex.histograms,
    "embeddings": ex.embeddings,
    "dynamics": runs.dynamics,
}


def histogram_arrays(seed=0):
    rng = np.random.default_rng(seed)
    edges = np.linspace(-1, 1, 51)
    pos, _ = np.histogram(rng.normal(0.8, 0.05, 1000), edges, density=True)
    neg, _ = np.histogram(rng.normal(0.0, 0.2, 1000), edges, density=True)
    return {"hist_edges": edges, "hist_pos": pos, "hist_neg": neg}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("scale", ["paper", "cpu-short"])
def test_every_figure_with_no_records_says_not_yet_run(name, scale):
    note = BUILDERS[name](RunTable([]).at(scale, "cifar10"))
    assert isinstance(note, rec.NotYetRun)
    assert "No run record yet for" in note._repr_html_() and "not yet run" in note.text()
    assert (
        "not yet run" not in note._repr_html_() and "data/results" not in note._repr_html_()
    )  # the page says it once
    assert note.missing and all("τ=" in m for m in note.missing)
    assert ("CPU scale" if scale == "cpu-short" else "paper scale") in note.what


def test_the_authors_sweep_agrees_with_table_1_where_both_have_a_value():
    for (dataset, loss, metric), values in paper.AUTHORS_SWEEP.items():
        assert len(values) == len(paper.SWEEP_TAUS)
        for tau, value in paper.authors_sweep(dataset, loss, metric):
            if tau in paper.TABLE1_TAUS and metric in paper.METRICS:
                assert value == pytest.approx(paper.table1(dataset, metric, loss, tau), abs=0.01)
    assert paper.authors_sweep("cifar10", "hard", "uniformity") == []


@pytest.mark.parametrize("builder", [ex.uniformity_tolerance, ex.accuracy])
def test_curves_vs_tau_at_a_cpu_scale_put_the_paper_in_panels_of_their_own(tmp_path, builder):
    """No rescaled second axis: ours in the top row, the paper's scale below on the same τ axis."""
    for tau in (0.07, 0.3, 0.7, 1.0):
        write_synthetic(
            tmp_path / "cpu",
            "cifar10",
            "contrastive",
            tau,
            config=CPU,
            uniformity=3.0,
            tolerance=0.2,
            linear_top1=48.0,
            knn_top1=45.0,
        )
        write_synthetic(
            tmp_path / "cpu",
            "cifar10",
            "hard",
            tau,
            config=CPU,
            uniformity=3.5,
            tolerance=0.1,
            linear_top1=47.0,
            knn_top1=47.0,
        )
    fig = builder(RunTable(results.load(tmp_path)).at("cpu", "cifar10"))
    assert not [a for a in fig.select_yaxes() if a.overlaying]  # no second axis on any panel
    ours = {(t.xaxis, t.yaxis) for t in fig.data if t.name.startswith("ours")}
    theirs = {(t.xaxis, t.yaxis) for t in fig.data if not t.name.startswith("ours")}
    assert ours and theirs and not ours & theirs  # panels of their own
    shared = {fig.layout[f"xaxis{x[1:]}"].matches for x, _ in ours}
    assert shared == {x for x, _ in theirs}  # one τ axis per column
    names = [t.name for t in fig.data if t.showlegend]
    assert len(names) <= 8 and len(set(names)) == len(names)
    assert "authors' notebook: ordinary" in names
    assert fig.layout.legend.yanchor == "top"  # several lines of legend grow off the axis title
    dashes = {t.line.dash for t in fig.data if t.name.startswith("ours: hard")}
    assert dashes == {rec.DASHES["hard"]} != {rec.DASHES["contrastive"]}


def test_builders_show_the_records_of_their_protocol_only(tmp_path):
    from dataclasses import asdict

    from contrastive.config import Config

    cpu = {
        k: v
        for k, v in asdict(Config.at("cpu-short", device="cpu")).items()
        if k not in ("dataset", "loss", "tau")
    }
    write_synthetic(
        tmp_path / "cpu-short", "cifar10", "contrastive", 0.3, config=cpu, uniformity=2.5
    )
    write_synthetic(tmp_path / "paper", "cifar10", "contrastive", 0.3, uniformity=3.5)
    records = results.load(tmp_path)
    for scale, u in (("cpu-short", 2.5), ("paper", 3.5)):
        ours = [
            t
            for t in ex.uniformity_tolerance(RunTable(records).at(scale, "cifar10")).data
            if t.name.startswith("ours")
        ]
        assert list(ours[0].y) == [u], scale
    html = ex.table1(RunTable(records).at("cpu-short", "cifar10"))._repr_html_()
    assert "Δ" not in html and "CPU scale" in html  # no difference across scales
    assert "Δ" in ex.table1(RunTable(records).at("paper", "cifar10"))._repr_html_()


def test_table1_with_no_records_is_one_sentence():
    note = ex.table1(RunTable([]).at("paper", "cifar10"))
    assert isinstance(note, rec.NotYetRun) and "<table" not in note._repr_html_()
    assert "No run record yet for any of its ten columns." in note._repr_html_()
    assert all(
        r["record"] is None and r["linear_top1"]["diff"] is None
        for r in ex.table1_rows(RunTable([]).at("paper", "cifar10"))
    )


def test_table1_difference_is_ours_minus_paper(tmp_path):
    write_synthetic(
        tmp_path, "cifar10", "hard", 0.7, linear_top1=80.0, uniformity=3.5, tolerance=0.1
    )
    records = results.load(tmp_path)
    rows = {
        (r["loss"], r["tau"]): r for r in ex.table1_rows(RunTable(records).at("paper", "cifar10"))
    }
    row = rows[("hard", 0.7)]
    assert row["linear_top1"] == {
        "paper": 84.19,
        "ours": 80.0,
        "diff": pytest.approx(80.0 - 84.19),
        "sd": None,
        "seeds": 1,
    }
    assert row["tolerance"]["diff"] == pytest.approx(0.1 - 0.030)
    assert row["epochs"] == 200 and row["device"] == "synthetic test fixture"
    assert rows[("simple", None)]["record"] is None
    html = ex.table1(RunTable(records).at("paper", "cifar10"))._repr_html_()
    assert (
        "-4.19" in html and "80.00" in html and "Simple" in html
    )  # Simple is still listed as missing


def test_table1_marks_the_jpeg_copy(tmp_path):
    path = write_synthetic(tmp_path, "cifar10", "simple")
    record = __import__("json").loads(path.read_text())
    record["provenance"]["data"] = {
        "source": "offline npz",
        "note": "pixels are a JPEG re-encoding",
    }
    results.write_record(path, record)
    html = ex.table1(RunTable(results.load(tmp_path)).at("paper", "cifar10"))._repr_html_()
    assert "offline npz *" in html and "* pixels are a JPEG re-encoding" in html


def test_uniformity_tolerance_draws_ours_and_the_paper_labelled(tmp_path):
    records = paper_records(tmp_path, overrides={("contrastive", 0.3): {"uniformity": 3.0}})
    fig = ex.uniformity_tolerance(RunTable(records).at("paper", "cifar10"))
    assert isinstance(fig, go.Figure)
    ours = [t for t in fig.data if t.name.startswith("ours: ordinary")]
    theirs = [t for t in fig.data if t.name.startswith("authors' notebook: ordinary")]
    hard = [t for t in fig.data if t.name.startswith("paper: hard (Table 1)")]  # no sweep of it
    assert len(ours) == 2 and len(theirs) == 2 and len(hard) == 2  # one per panel
    assert (
        list(ours[0].x) == list(paper.TABLE1_TAUS)
        and ours[0].y[1] == 3.0
        and "200 epochs" in ours[0].name
    )
    assert list(theirs[0].x) == list(paper.SWEEP_TAUS)
    assert list(theirs[0].y) == list(paper.AUTHORS_SWEEP[("cifar10", "contrastive", "uniformity")])
    table1 = [paper.table1("cifar10", "uniformity", "hard", t) for t in paper.TABLE1_TAUS]
    assert list(hard[0].y) == table1
    missing = fig.layout.title.text.split("no run record yet: ")[
        1
    ]  # the grid's other temperatures, counted
    assert missing.startswith(
        f"{len(paper.GRIDS['contrastive']) + len(paper.GRIDS['hard']) - 8} of its configurations"
    )


def test_partial_records_name_what_is_missing(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.3, epochs=1, uniformity=1.0)
    fig = ex.uniformity_tolerance(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert (
        "no run record yet: 17 of its configurations" in fig.layout.title.text
    )  # counted: the page names them
    write_synthetic(tmp_path, "cifar10", "hard", 0.3, epochs=1, uniformity=1.0)
    few = ex.uniformity_tolerance(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert "no run record yet: 16 of" in few.layout.title.text
    assert (
        rec.missing_note(["ordinary τ=0.07", "hard τ=1"])
        == "<br><sup>no run record yet: ordinary τ=0.07, hard τ=1</sup>"
    )
    assert [t.name for t in fig.data if t.name.startswith("ours")] == [
        "ours: ordinary (1 epoch; off protocol: epochs)"
    ] * 2


def test_table1_marks_records_off_the_protocol(tmp_path):
    write_synthetic(
        tmp_path, "cifar10", "hard", 0.7, linear_top1=80.0, uniformity=3.5, tolerance=0.1
    )
    write_synthetic(
        tmp_path,
        "cifar10",
        "contrastive",
        0.3,
        epochs=20,
        subset=5000,
        linear_top1=60.0,
        config={"arch": "tiny"},
    )
    records = results.load(tmp_path)
    rows = {
        (r["loss"], r["tau"]): r for r in ex.table1_rows(RunTable(records).at("paper", "cifar10"))
    }
    assert rows[("hard", 0.7)]["off_protocol"] is None
    assert (
        rows[("contrastive", 0.3)]["off_protocol"]
        == "epochs 20 (paper: 200), arch 'tiny' (paper: 'resnet18'), subset 5000 (paper: all)"
    )
    html = ex.table1(RunTable(records).at("paper", "cifar10"))._repr_html_()
    assert "<td>60.00 †</td><td>-23.27 †</td>" in html and "<td>80.00</td><td>-4.19</td>" in html
    assert (
        "<li>ordinary τ=0.3: epochs 20 (paper: 200), arch &#x27;tiny&#x27; (paper: &#x27;resnet18&#x27;), subset 5000 (paper: all)</li>"
        in html
    )
    assert "<li>hard τ=0.7" not in html
    assert (
        "<p>hard τ=0.7: 200 epochs, data synthetic, on synthetic test fixture.</p>" in html
    )  # a note
    assert "<th>device</th>" not in html  # the machine is named in the note, not per row


def test_figures_mark_points_off_the_protocol(tmp_path):
    records = paper_records(tmp_path)
    write_synthetic(tmp_path, "cifar10", "hard", 0.3, config={"hflip": False}, uniformity=3.9)
    fig = ex.uniformity_tolerance(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    hard = next(t for t in fig.data if t.name.startswith("ours: hard"))
    assert hard.name == "ours: hard (200 epochs; off protocol: hflip)"
    assert list(hard.marker.symbol) == ["circle", "circle-open", "circle", "circle"]
    assert (
        hard.customdata[1][1] == "off protocol: hflip False (paper: True)"
        and hard.customdata[0][1] == "at the paper protocol"
    )
    ordinary = next(
        t
        for t in ex.uniformity_tolerance(RunTable(records).at("paper", "cifar10")).data
        if t.name.startswith("ours: ordinary")
    )
    assert ordinary.name == "ours: ordinary (200 epochs)"


def test_accuracy_at_the_papers_scale_shares_the_axes_with_the_authors_sweep(tmp_path):
    fig = ex.accuracy(RunTable(paper_records(tmp_path)).at("paper", "cifar10"))
    assert {t.xaxis for t in fig.data if t.name.startswith("authors")} == {"x", "x2"}  # kNN too
    assert {t.xaxis for t in fig.data if t.name.startswith("ours")} == {"x", "x2"}


def test_spearman_ranks_with_ties():
    assert ex.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert ex.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert ex.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    tied = np.corrcoef([1.5, 1.5, 3, 4], [1, 2, 3, 4])[0, 1]  # the tie shares ranks 1 and 2
    assert ex.spearman([1, 1, 2, 3], [5, 6, 7, 8]) == pytest.approx(tied)


def test_sweep_agreement_and_the_knn_linear_split(tmp_path):
    """Ours ordered as the authors' sweep in uniformity and against it in tolerance; the hard loss
    ahead in kNN but behind in linear top-1 at τ = 0.7 and 1."""
    theirs = dict(paper.authors_sweep("cifar10", "contrastive", "uniformity"))
    for tau in (0.07, 0.3, 0.7, 1.0):
        write_synthetic(
            tmp_path / "cpu",
            "cifar10",
            "contrastive",
            tau,
            config=CPU,
            uniformity=theirs[tau],
            tolerance=-tau,
            knn_top1=40.0,
            linear_top1=50.0,
        )
        write_synthetic(
            tmp_path / "cpu",
            "cifar10",
            "hard",
            tau,
            config=CPU,
            knn_top1=40.0 + (tau > 0.5),
            linear_top1=50.0 - (tau > 0.5),
        )
    records = results.load(tmp_path)
    found = ex.sweep_agreement(RunTable(records).at("cpu", "cifar10"))
    assert found[("contrastive", "uniformity")] == (pytest.approx(1.0), 4)
    assert found[("contrastive", "tolerance")][0] == pytest.approx(-1.0)
    assert ("hard", "uniformity") not in found  # the authors' notebook has no such sweep
    assert math.isnan(found[("contrastive", "knn_top1")][0])  # ours constant: no ranking
    split = ex.knn_linear_split(RunTable(records).at("cpu", "cifar10"))
    assert split["ours"] == [(0.7, 1.0, -1.0), (1.0, 1.0, -1.0)]
    assert split["theirs"] and all(knn * linear < 0 for _, knn, linear in split["theirs"])


def test_box_stats_match_numpy():
    x = np.random.default_rng(0).normal(size=501)
    x[0] = 10.0  # an outlier beyond the upper whisker
    s = ex.box_stats(x)
    q1, q3 = np.percentile(x, [25, 75])
    assert (s["q1"], s["median"], s["q3"]) == (q1, np.median(x), q3)
    assert s["upperfence"] == x[x <= q3 + 1.5 * (q3 - q1)].max() < 10.0
    assert s["lowerfence"] == x[x >= q1 - 1.5 * (q3 - q1)].min()


def test_similarities_one_slider_step_per_tau_with_arrays(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07, arrays=anchors(0.8, 0.3))
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0, arrays=anchors(0.95, 0.9))
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.3)  # no arrays: not drawn
    fig = ex.similarities(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.07", "1"]
    assert len(fig.data) == 2 * 11
    a = anchors(0.8, 0.3)
    assert fig.data[0].median[0] == pytest.approx(np.median(a["pos_sim"]))
    assert fig.data[1].q3[0] == pytest.approx(np.percentile(a["neg_top10"][:, 0], 75))
    assert "ordinary τ=0.3" in fig.layout.title.text


def test_a_slider_title_names_the_runs_epochs_only_where_the_protocol_does_not(tmp_path):
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 0.07, arrays=anchors(0.8, 0.3)
    )  # the paper's 200 epochs
    scale = ex.similarities(
        RunTable(results.load(tmp_path)).at("paper", "cifar10")
    ).layout.title.text.split("<br>")[1]
    assert scale == protocols.describe("paper")
    write_synthetic(tmp_path, "cifar10", "contrastive", 1.0, epochs=20, arrays=anchors(0.95, 0.9))
    scale = ex.similarities(
        RunTable(results.load(tmp_path)).at("paper", "cifar10")
    ).layout.title.text.split("<br>")[1]
    assert scale == f"{protocols.describe('paper')} (20–200 epochs; off protocol: epochs)"


def test_histograms_draw_the_stored_densities(tmp_path):
    arrays = histogram_arrays()
    write_synthetic(tmp_path, "cifar10", "hard", 0.7, arrays=arrays)
    fig = ex.histograms(RunTable(results.load(tmp_path)).at("paper", "cifar10"), loss="hard")
    assert list(fig.data[0].y) == list(arrays["hist_pos"]) and list(fig.data[1].y) == list(
        arrays["hist_neg"]
    )


def test_embeddings_project_each_tau(tmp_path):
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 0.2, arrays=embedding_arrays(spread=0.3, n=90)
    )
    fig = ex.embeddings(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert isinstance(fig, go.Figure)
    assert sum(len(t.x) for t in fig.data) == 90 and {t.name for t in fig.data} == {
        "airplane",
        "automobile",
        "bird",
    }
    assert "ordinary τ=0.07" in fig.layout.title.text  # the other panel is not yet run
    assert "tolerance" in fig.layout.annotations[0].text
    lines = (
        fig.layout.title.text.count("<br>") + 1 + fig.layout.annotations[0].text.count("<br>") + 1
    )
    assert fig.layout.margin.t >= 80 + 25 * (
        lines - 2
    )  # room above the panels for the title's and the panels' lines
    assert fig.layout.legend.itemsizing == "constant"  # legible legend dots beside 3 px markers


def test_cat_and_dog_do_not_share_a_look_alike_colour():
    from contrastive.edition.figures import class_colour

    cat, dog = (class_colour(ex.SWAPPED_COLOURS.get(c, c)) for c in (3, 5))
    assert ex.CIFAR10_CLASSES[3] == "cat" and ex.CIFAR10_CLASSES[5] == "dog"
    assert dog == class_colour(8) and cat != dog


def test_project_is_a_2d_map_of_every_point():
    xy = ex.project(embedding_arrays(spread=0.3, n=60)["embedding"])
    assert xy.shape == (60, 2) and np.isfinite(xy).all()


def test_dynamics_slider_and_curves(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.07, uniformity=3.8)
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.7, uniformity=3.1)
    fig = runs.dynamics(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.07", "0.7"]
    assert len(fig.data) == 2 * len(rec.CURVE_PANELS)
    labels = [rec.math_text(rec.METRIC_LABELS[c]) for c in rec.CURVE_PANELS]
    assert [a.text for a in fig.layout.annotations] == labels
    assert "−ℒ<sub>unif</sub>" in fig.layout.annotations[2].text
    assert all(a.text.endswith("test set") for a in fig.layout.annotations[1:])
    uniformity = [t for t in fig.data if t.yaxis == "y3"]
    assert [list(t.y) for t in uniformity] == [[1.0, 3.8], [1.0, 3.1]]
    with pytest.raises(ValueError, match="loss must be one of"):
        runs.dynamics(RunTable([]).at("paper", "cifar10"), loss="simple")


def test_run_curves_and_summary_of_one_record(tmp_path):
    record = results.read_record(
        write_synthetic(tmp_path, "cifar10", "hard", 0.3, linear_top1=81.5)
    )
    fig = runs.run_curves(record)
    assert len(fig.data) == len(rec.CURVE_PANELS) and "hard τ=0.3" in fig.layout.title.text
    html = runs.run_summary(record)._repr_html_()
    assert (
        "<td>linear top-1 (%)</td><td>81.50</td><td>83.63</td>" in html
        and "synthetic test fixture" in html
    )
    assert '<td>protocol</td><td colspan="2">at the paper protocol</td>' in html
    assert '<td>training steps in</td><td colspan="2">float32</td>' in html
    record.provenance["bf16"] = True
    assert (
        '<td>training steps in</td><td colspan="2">bfloat16</td>'
        in runs.run_summary(record)._repr_html_()
    )


def test_show_displays_every_kind(monkeypatch, capsys):
    monkeypatch.setenv("CONTRASTIVE_BOOK_BUILD", "1")
    show(rec.NotYetRun("x", ("ordinary τ=1",)))
    show(ex.table1(RunTable([]).at("paper", "cifar10")))
    show(go.Figure())
    out = capsys.readouterr().out
    assert "not yet run" in out and "Table 1" in out


def test_table1_findings_are_read_from_table_1():
    found = ex.table1_findings("cifar10")
    assert (found["tau_best"], found["acc_best"], found["acc_low"], found["acc_high"]) == (
        0.3,
        83.27,
        79.75,
        82.21,
    )
    assert (found["unif_low"], found["unif_high"], found["tol_low"], found["tol_high"]) == (
        3.86,
        2.96,
        0.04,
        0.372,
    )
    assert (found["acc_simple"], found["acc_hard_simple"], found["hard_k"]) == (74.83, 84.84, 4095)
    assert (found["top_column"], found["acc_top"]) == ("HardSimple", 84.84)
    svhn = ex.table1_findings("svhn")
    assert (svhn["top_column"], svhn["acc_top"]) == ("ordinary τ=0.3", 95.47)
    assert svhn["acc_top"] == max(paper.table1("svhn", "linear_top1", *c) for c in paper.COLUMNS)


def test_run_times_from_benchmarks_and_records(tmp_path):
    assert isinstance(runs.run_times([], []), rec.NotYetRun)
    bench = {
        "device": "NVIDIA H100 80GB HBM3",
        "engine_s_per_epoch": 1.25,
        "baseline_s_per_epoch": 5.0,
        "speedup": 4.0,
        "batch_size": 128,
        "measured": "2026-12-01T00:00:00+00:00",
    }
    record = results.read_record(write_synthetic(tmp_path, "cifar10", "hard", 0.3))
    html = runs.run_times([record], [bench])._repr_html_()
    assert (
        "1.25" in html and "5.00 (conventional; ×4.0)" in html and "H100 80GB HBM3, float32" in html
    )
    assert f"{record.provenance['device']}, float32" in html
    assert "H100 80GB HBM3, bfloat16" in runs.run_times([], [{**bench, "bf16": True}])._repr_html_()
    assert "paper protocol: cifar10, 200 epochs, hard τ=0.3" in html and "s / epoch" in html
    again = results.read_record(write_synthetic(tmp_path, "cifar10", "hard", 0.7))
    both = runs.run_times([record, again], [])._repr_html_()  # one machine: one row, named once
    assert both.count("<tr>") == 2 and "2 runs" in both
    assert both.count(record.provenance["device"]) == 1
    assert "eager steps" not in html  # a CPU run: no GPU step to compile
    gpu = dataclasses.replace(
        record,
        config={**record.config, "device": "cuda"},
        provenance={**record.provenance, "compiled": None},
    )
    assert "eager steps" in runs.run_times([gpu], [])._repr_html_()
    compiled = dataclasses.replace(
        gpu, provenance={**gpu.provenance, "compiled": "reduce-overhead"}
    )
    assert "eager steps" not in runs.run_times([compiled], [])._repr_html_()


def test_load_benchmarks_reads_the_json_files(tmp_path):
    assert results.load_benchmarks(tmp_path / "absent") == []
    bench = {
        "device": "x",
        "batch_size": 128,
        "engine_s_per_epoch": 1.0,
        "baseline_s_per_epoch": 2.0,
        "speedup": 2.0,
    }
    (tmp_path / "gpu.json").write_text(__import__("json").dumps(bench))
    assert results.load_benchmarks(tmp_path) == [bench]


def test_pilot_table_and_finding(tmp_path):
    from contrastive import pilot

    assert isinstance(pilots.pilot_table(pilot.verdict({})), rec.NotYetRun)
    curves = {
        "epoch": [1, 50, 80, 100],
        "uniformity_test": [0.5, 2.0, 3.0, 3.1],
        "knn_top1": [10.0, 30.0, 40.0, 41.0],
        "loss": [1.0] * 4,
        "tolerance_test": [0.5] * 4,
        "lr": [0.03] * 4,
    }
    runs = {
        "5k-100ep": [
            results.Record(
                config={"tau": t},
                results={"knn_top1": k, "linear_top1": k},
                curves=curves,
                provenance={"wall_seconds": {"total": 600.0}},
                path=tmp_path / f"{t}.json",
            )
            for t, k in ((0.1, 41.0), (0.7, 39.0))
        ]
    }
    verdict = pilot.verdict(runs)
    html = pilots.pilot_table(verdict)._repr_html_()
    assert "5k-100ep (chosen)" in html and "<td>10.0</td>" in html and "40.00" in html
    assert (
        verdict["chosen"] == "5k-100ep" and verdict["flat"] and not verdict["complete"]
    )  # the pilot has more recipes
    assert isinstance(pilots.pilot_curves(runs), go.Figure)


def test_repeat_numbers_pairs_one_computation_made_twice(tmp_path):
    arrays = {"pos_sim": np.ones(3)}
    for side, knn in (("first", 50.0), ("again", 50.0 * (1 + 1e-12))):
        write_synthetic(tmp_path / side, "cifar10", "contrastive", 0.1, knn_top1=knn, arrays=arrays)
        write_synthetic(
            tmp_path / side, "cifar10", "contrastive", 0.7, seed={"first": 0, "again": 1}[side]
        )  # seeds differ
        write_synthetic(
            tmp_path / side,
            "cifar10",
            "hard",
            0.3,
            config={"k": {"first": 4095, "again": 409}[side]},
        )
    first, again = results.load(tmp_path / "first"), results.load(tmp_path / "again")
    n = runs.repeat_numbers(first, again)
    assert n["pairs"] == 1 and n["names"] == "ordinary τ=0.1" and n["same_arrays"] == 1
    assert n["largest"] == pytest.approx(1e-12, rel=1e-3) and n["precision"] == "float32"
    assert runs.repeat_numbers(first, [])["pairs"] == 0


def test_protocols_table_lists_every_fixed_setting():
    html = pilots.protocols_table()._repr_html_()
    assert "resnet18_w16" in html and "paper scale" in html and "CPU scale" in html
    assert html.index("arch") < html.index("momentum")  # the settings that differ come first
    assert "&#x27;" not in html and "True" not in html and "[" not in html  # no Python reprs
    assert "(cpu-short)" in html  # the protocol's name, once, in its column's head


def test_levelled_off_measures_the_last_fifth_of_each_run(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.3, config={"protocol": "cpu-short"})
    write_synthetic(tmp_path, "cifar10", "hard", 0.7, config={"protocol": "cpu-short"})
    flat, climbing = sorted(results.load(tmp_path), key=lambda r: r.loss)
    flat.provenance["train_images"] = climbing.provenance["train_images"] = 5000
    epochs = [1, 12, 24, 36, 48, 60]
    flat.curves.update(
        {
            "epoch": epochs,
            "uniformity_test": [0.5, 2, 2.5, 2.9, 3.0, 3.05],
            "knn_top1": [10, 20, 30, 35, 40, 40],
        }
    )
    climbing.curves.update(
        {
            "epoch": epochs,
            "uniformity_test": [0.5, 1, 1.5, 2, 2.5, 3.0],
            "knn_top1": [10, 20, 30, 35, 40, 40],
        }
    )
    html = runs.levelled_off(RunTable([flat, climbing]).at("cpu-short", "cifar10"))._repr_html_()
    assert runs.levelled_numbers(RunTable([flat, climbing]).at("cpu-short", "cifar10")) == {
        "runs": 2,
        "levelled": 1,
        "collapsed": 0,
        "window": 48,
        "milestone": 48,
    }
    assert "CPU scale" in html  # the table names its protocol
    # ordinary: uniformity 3.0 -> 3.05 of a 2.55 range = 0.020; hard: 2.5 -> 3.0 of 2.5 = 0.200; kNN flat in both
    assert (
        "<td>ordinary τ=0.3</td><td>3 → 3.05</td><td>40 → 40</td><td>0.020</td><td>0.000</td><td>yes</td>"
        in html
    )
    assert (
        "<td>hard τ=0.7</td><td>2.5 → 3</td><td>40 → 40</td><td>0.200</td><td>0.000</td><td>no</td>"
        in html
    )
    assert html.index("ordinary") < html.index("hard")
    assert "<td>4.0000 / 8.5172</td>" in html  # log(1 + 4,999)
    climbing.curves["loss"][-1] = math.log(1 + climbing.config["k"])  # the hard loss at a collapse
    html = runs.levelled_off(RunTable([flat, climbing]).at("cpu-short", "cifar10"))._repr_html_()
    assert (
        runs.levelled_numbers(RunTable([flat, climbing]).at("cpu-short", "cifar10"))["collapsed"]
        == 1
        and "<td>8.3178 / 8.3178</td>" in html
    )
    assert isinstance(
        runs.levelled_off(RunTable([flat, climbing]).at("paper", "cifar10")), rec.NotYetRun
    )


def test_collapse_trials_name_each_trials_change_and_judge_its_escape(tmp_path):
    from dataclasses import asdict

    from contrastive.config import Config

    cpu = {
        k: v
        for k, v in asdict(Config.at("cpu-short", device="cpu")).items()
        if k not in ("dataset", "loss", "tau")
    }
    short = {"epochs": 12, "milestones": [12], "probe_epochs": 1}
    for loss in ("hard", "contrastive"):  # the protocol's own runs, 60 epochs
        write_synthetic(tmp_path / "results", "cifar10", loss, 0.3, config=cpu)
    write_synthetic(
        tmp_path / "trials" / "lr" / "cpu-short",
        "cifar10",
        "hard",
        0.3,
        config={**cpu, **short, "lr": 0.03},
    )
    write_synthetic(
        tmp_path / "trials" / "k" / "cpu-short",
        "cifar10",
        "hard",
        0.3,
        config={**cpu, **short, "k": 4999},
    )
    records, trials = results.load(tmp_path / "results"), results.load(tmp_path / "trials")
    for r in records + trials:
        r.provenance.update({"train_images": 5000, "bf16": r.config["k"] == 410})
    uniformity = {"hard": [0.1, 0.01, 0, 0, 0, 0], "contrastive": [0.5, 1.2, 2, 2, 2, 2]}
    for r in records:
        r.curves.update(
            {
                "epoch": [1, 12, 24, 36, 48, 60],
                "uniformity_test": uniformity[r.loss],
                "loss": [8.0, 6.0, 6.0, 6.0, 6.0, 6.0],
            }
        )
    lr, k = sorted(trials, key=lambda r: r.config["lr"])
    lr.curves.update(
        {"epoch": [1, 6, 12], "uniformity_test": [0.1, 0.05, 0.01], "loss": [8, 7, 6.02]}
    )
    k.curves.update(
        {"epoch": [1, 6, 12], "uniformity_test": [0.4, 0.9, 1.0], "loss": [9, 8.5, 8.3]}
    )
    html = runs.collapse_trials(trials, RunTable(records).at("cpu-short", "cifar10"))._repr_html_()
    found = runs.trial_numbers(trials, RunTable(records).at("cpu-short", "cifar10"))
    assert (found["trials"], found["epochs"], found["escaped"], found["escaped_names"]) == (
        2,
        12,
        1,
        "hard τ=0.3, trial k",
    )
    assert "probe_epochs 1 (cpu-short: 100)" in found["shared"] and "probe_epochs" not in html
    assert (
        "<td>hard τ=0.3, trial k</td><td>k 4999 (cpu-short: 410)</td><td>float32</td><td>1: 0.400, 6: 0.900, 12: 1.000</td>"
        "<td>8.3000 / 8.5172 (epoch 12)</td><td>yes</td>"
    ) in html  # k = M: log(1 + 4,999)
    assert (
        "<td>hard τ=0.3, trial lr</td><td>lr 0.03 (cpu-short: 0.06)</td><td>bfloat16</td>" in html
    )
    # the protocol's runs, cut at the trials' last epoch: hard first, then the ordinary loss at the same tau
    assert (
        "<td>hard τ=0.3, cpu-short protocol</td><td>nothing: its first epochs</td><td>bfloat16</td><td>1: 0.100, 12: 0.010</td>"
        in html
    )
    assert "<td>ordinary τ=0.3, cpu-short protocol</td>" in html and "1: 0.500, 12: 1.200" in html
    assert (
        html.index("hard τ=0.3, cpu-short protocol")
        < html.index("ordinary τ=0.3, cpu-short protocol")
        < html.index("<td>hard τ=0.3, trial k")
    )
    note = runs.collapse_trials([], RunTable(records).at("cpu-short", "cifar10"))
    assert isinstance(note, rec.NotYetRun) and "looked in data/trials/hard-collapse" in note.text()


def test_a_collapsed_run_is_marked_where_it_is_drawn(tmp_path):
    import json

    for loss, tau in (("hard", 0.3), ("contrastive", 0.3)):
        path = write_synthetic(tmp_path, "cifar10", loss, tau, k=100, uniformity=0.01)
        record = json.loads(path.read_text())
        record["provenance"]["train_images"] = 5000
        if loss == "hard":  # its last training loss at log(1 + k): every similarity equal
            record["curves"]["loss"][-1] = math.log(1 + 100)
        results.write_record(path, record)
    records = results.load(tmp_path)
    assert [rec.collapsed(r) for r in sorted(records, key=lambda r: r.loss)] == [False, True]
    fig = ex.uniformity_tolerance(RunTable(records).at("paper", "cifar10"))
    hard = next(t for t in fig.data if t.name.startswith("ours: hard"))
    assert (
        list(hard.marker.symbol) == ["diamond-open"]
        and "collapsed at τ = 0.3 (diamonds)" in hard.name
    )  # k 100: off
    ordinary = next(t for t in fig.data if t.name.startswith("ours: ordinary"))
    assert list(ordinary.marker.symbol) == ["circle"] and "collapsed" not in ordinary.name
    html = ex.table1(RunTable(records).at("paper", "cifar10"))._repr_html_()
    assert f"{rec.COLLAPSED_MARK} Ended collapsed" in html and "hard τ=0.3." in html


def test_several_seeds_are_drawn_as_their_mean_and_spread(tmp_path):
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.3, linear_top1=40.0)
    write_synthetic(tmp_path, "cifar10", "contrastive", 0.7, linear_top1=38.0)
    one = next(
        t
        for t in ex.accuracy(RunTable(results.load(tmp_path)).at("paper", "cifar10")).data
        if t.name.startswith("ours")
    )
    assert list(one.y) == [40.0, 38.0] and not one.error_y.visible and "seeds" not in one.name
    for seed, value in ((1, 42.0), (2, 44.0)):
        write_synthetic(tmp_path, "cifar10", "contrastive", 0.3, seed=seed, linear_top1=value)
    records = results.load(tmp_path)
    found = RunTable(records).at("paper", "cifar10").seeds("contrastive", 0.3)
    assert [r.seed for r in found] == [0, 1, 2]
    ours = next(
        t
        for t in ex.accuracy(RunTable(records).at("paper", "cifar10")).data
        if t.name.startswith("ours")
    )
    assert (
        list(ours.y) == [42.0, 38.0]
        and ours.error_y.visible
        and list(ours.error_y.array) == [2.0, 0.0]
    )
    assert (
        "mean ± sd over seeds" in ours.name
        and "mean of 3 seeds: 40, 42, 44" in ours.customdata[0][2]
    )
    row = next(
        r
        for r in ex.table1_rows(RunTable(records).at("paper", "cifar10"))
        if (r["loss"], r["tau"]) == ("contrastive", 0.3)
    )
    assert (row["linear_top1"]["ours"], row["linear_top1"]["sd"], row["linear_top1"]["seeds"]) == (
        42.0,
        2.0,
        3,
    )
    html = ex.table1(RunTable(records).at("paper", "cifar10"))._repr_html_()
    assert "42.00 ± 2.00 (3)" in html and "mean ± sd (how many seeds)" in html


def test_leaving_the_collapse_puts_our_hard_runs_and_the_authors_log_on_sgd_steps(tmp_path):
    from dataclasses import asdict

    from contrastive.config import Config

    cpu = {
        k: v
        for k, v in asdict(Config.at("cpu-short", device="cpu")).items()
        if k not in ("dataset", "loss", "tau")
    }
    write_synthetic(tmp_path, "cifar10", "hard", 0.3, config=cpu)
    write_synthetic(
        tmp_path, "cifar10", "hard", 0.7, config={**cpu, "lr": 0.03}
    )  # off the protocol: not drawn
    records = results.load(tmp_path)
    for r in records:
        r.provenance["train_images"] = 5000
        r.curves.update({"epoch": [1, 30, 60], "uniformity_test": [0.1, 0.0, 2.0]})
    fig = runs.leaving_the_collapse([RunTable(records).at(p, "cifar10") for p in ("cpu-short",)])
    ours, theirs = (t for t in fig.data if t.x != (None,))
    keys = [t.name for t in fig.data if t.x == (None,)]  # τ by colour, scale by dash: an entry each
    assert keys == ["τ=0.3", "short CPU scale"] and not ours.showlegend
    assert list(ours.x) == [40, 1200, 2400] and list(ours.y) == [
        0.1,
        0.0,
        2.0,
    ]  # ceil(5,000 / 128) = 40 steps an epoch
    assert "τ=0.3" in ours.name and ours.xaxis == "x"
    log = paper.AUTHORS_HARD_LOG
    assert list(theirs.x) == [e * 391 for e in log["epoch"]] and list(theirs.y) == list(
        log["mean_s_ii"]
    )
    assert "authors" in theirs.name and theirs.xaxis == "x2"
    assert (fig.layout.shapes[0].x0, fig.layout.shapes[0].x1) == (3910, 11730)
    assert (
        "hard τ=0.07 (cpu-short)" in fig.layout.title.text
        and "hard τ=0.7 (cpu-short)" in fig.layout.title.text
    )


def test_exit_numbers_count_the_hard_runs_that_left_the_collapse_and_when(tmp_path):
    from dataclasses import asdict

    from contrastive.config import Config

    cpu = {
        k: v
        for k, v in asdict(Config.at("cpu", device="cpu")).items()
        if k not in ("dataset", "loss", "tau")
    }
    for tau in (0.07, 0.3, 0.5, 0.7):
        write_synthetic(
            tmp_path, "cifar10", "hard", tau, config={**cpu, "lr": 0.06} if tau == 0.7 else cpu
        )  # 0.7: off
    records = results.load(tmp_path)
    curves = {
        0.07: [1.2, 0.0, 1.0, 3.0],
        0.3: [0.1, 0.0, 0.5, 0.9],
        0.5: [0.1, 0.1, 2.0, 3.0],  # 0.07 fell back after epoch 1
        0.7: [0.1, 2.0, 3.0, 3.0],
    }
    for r in records:
        r.provenance["train_images"] = 5000
        r.curves.update({"epoch": [1, 18, 36, 180], "uniformity_test": curves[r.tau]})
    assert runs.exit_numbers(RunTable(records).at("cpu", "cifar10")) == {
        "runs": 3,
        "left": 2,
        "bar": runs.ESCAPED,  # 36 epochs × 40 steps
        "steps": "τ = 0.07 from step 1,440, τ = 0.5 from step 1,440",
    }
    assert (
        runs.exit_numbers(RunTable(records).at("cpu", "cifar10"), taus=paper.TABLE1_TAUS)["steps"]
        == "τ = 0.07 from step 1,440"
    )  # not 0.5
    assert runs.exit_numbers(RunTable([]).at("cpu", "cifar10")) == {
        "runs": 0,
        "left": 0,
        "bar": runs.ESCAPED,
        "steps": "none",
    }


def test_the_first_epochs_at_the_paper_scale_are_drawn_dash_dot_and_counted(tmp_path):
    from dataclasses import asdict

    from contrastive.config import Config

    first = {
        k: v
        for k, v in asdict(Config.at("paper", device="cpu", epochs=30)).items()
        if k not in ("dataset", "loss", "tau")
    }
    for loss, tau in (("hard", 0.07), ("hard", 0.3), ("contrastive", 0.3)):
        write_synthetic(tmp_path, "cifar10", loss, tau, config=first)
    early = results.load(tmp_path)
    curves = {0.07: [0.8, 1.2, 0.46, 0.9, 1.4, 3.4], 0.3: [0.59, 1.2, 2.0, 2.5, 3.0, 3.4]}
    for r in early:
        r.provenance["train_images"] = 50_000
        r.curves.update({"epoch": [1, 4, 7, 10, 12, 30], "uniformity_test": curves[r.tau]})
    fig = runs.leaving_the_collapse([RunTable([]).at(p, "cifar10") for p in ()], early=early)
    ours = [t for t in fig.data if t.xaxis == "x" and t.x != (None,)]
    names = ["τ=0.07, paper scale, first epochs (30)", "τ=0.3, paper scale, first epochs (30)"]
    assert [t.name for t in ours] == names
    assert {t.line.dash for t in ours} == {"dashdot"} and list(ours[0].x) == [
        391,
        1564,
        2737,
        3910,
        4692,
        11730,
    ]
    assert runs.early_numbers(early, "cifar10") == {
        "runs": 2,
        "epochs": 30,
        "taus": "0.07 and 0.3",
        "lowest": "0.46 at step 2,737 (τ = 0.07); 0.59 at step 391 (τ = 0.3)",
        "left": "τ = 0.07 from step 4,692; τ = 0.3 from step 1,564",
    }  # 0.07 rose past the bar at epoch 4 and fell back
    assert runs.early_numbers([], "cifar10")["left"] == "none"


def test_steps_of_a_run_at_each_protocol():
    steps = runs.steps_numbers(("paper", "cpu-short"))
    assert steps == {"paper": 391 * 200, "cpu_short": 40 * 60, "exit_from": 3910, "exit_by": 11730}


def test_sweep_numbers_count_configurations_and_runs_with_their_seeds(tmp_path):
    minutes = {
        ("contrastive", 0.3, 0): 10,
        ("contrastive", 0.3, 1): 20,
        ("contrastive", 0.7, 0): 30,
        ("hard", 0.3, 0): 40,
    }
    for loss, tau, seed in minutes:
        write_synthetic(
            tmp_path, "cifar10", loss, tau, seed=seed, epochs=10 if loss == "hard" else 200
        )  # hard: off the protocol
    records = results.load(tmp_path)
    for r in records:
        r.provenance["wall_seconds"] = {"total": 60.0 * minutes[(r.loss, r.tau, r.config["seed"])]}
    n = runs.sweep_numbers(RunTable(records), "paper")
    assert (n["configurations"], n["runs"], n["planned"]) == (2, 3, 20)
    assert (n["hours"], n["fastest"], n["slowest"]) == (1.0, 10.0, 30.0)
    records[0].provenance["device"] = "cpu (AMD EPYC, 2 threads)"
    assert (
        runs.sweep_numbers(RunTable(records), "paper")["devices"]
        == f"cpu (AMD EPYC, 2 threads), {records[1].provenance['device']}"
    )
    assert runs.sweep_numbers(RunTable(records), "paper")["precisions"] == "float32 in 3 runs"
    records[2].provenance["bf16"] = True
    assert (
        runs.sweep_numbers(RunTable(records), "paper")["precisions"]
        == "bfloat16 in 1 run, float32 in 2 runs"
    )
    assert runs.sweep_numbers(RunTable([]), "paper")["runs"] == 0


def test_hard_beside_ordinary_sets_each_hard_run_by_the_ordinary_one_with_its_exit_from_the_collapse(
    tmp_path,
):
    records = paper_records(tmp_path)
    uniformity = {
        0.07: [0.0, 2.0, 3.0, 3.0],
        0.3: [2.0, 3.0, 3.0, 3.0],
        0.7: [0.0, 0.5, 0.5, 3.0],
        1.0: [0.0, 2.0, 2.0, 0.5],
    }  # τ = 1: fell back
    for r in records:
        r.provenance["train_images"] = 50000  # 391 steps an epoch at the paper's protocol
        if r.loss == "hard":
            r.curves.update(
                {
                    "epoch": [1, 100, 160, 200],
                    "uniformity_test": uniformity[r.tau],
                    "knn_top1": [10.0, 20.0, 20.0, 30.0],
                }
            )
    taus = paper.TABLE1_TAUS
    hard = {t: paper.table1("cifar10", "uniformity", "hard", t) for t in taus}
    linear = {
        (loss, t): paper.table1("cifar10", "linear_top1", loss, t)
        for loss in ("contrastive", "hard")
        for t in taus
    }
    n = verdicts.hard_numbers(RunTable(records).at("paper", "cifar10"))
    assert (n["late_tau"], n["late_step"], n["late_steps"]) == (
        0.7,
        200 * 391,
        200 * 391,
    )  # latest exit: τ = 0.7
    assert n["late_share"] == 100 and n["late_hard"] == pytest.approx(hard[0.7])
    assert n["late_ordinary"] == pytest.approx(
        paper.table1("cifar10", "uniformity", "contrastive", 0.7)
    )
    assert n["spread"] == pytest.approx(max(hard.values()) - min(hard.values()))
    rest = [hard[t] for t in taus if t != 0.7]
    assert n["spread_rest"] == pytest.approx(max(rest) - min(rest))
    assert n["seeds"] == 1 and n["high_gap"] == pytest.approx(
        linear[("hard", 1.0)] - linear[("contrastive", 1.0)]
    )
    ordinary = [linear[("contrastive", t)] for t in taus]
    assert n["ordinary_range"] == pytest.approx(n["paper_range"]) and n[
        "paper_range"
    ] == pytest.approx(max(ordinary) - min(ordinary))  # ours are the paper's here
    rows = re.findall(
        r"<tr>(.*?)</tr>",
        verdicts.hard_beside_ordinary(RunTable(records).at("paper", "cifar10"))._repr_html_(),
    )[1:]
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows]
    assert [c[0] for c in cells] == [f"{t:g}" for t in taus]
    assert [c[4] for c in cells] == [
        f"{100 * 391:,} of {200 * 391:,}",
        f"{391:,} of {200 * 391:,}",
        f"{200 * 391:,} of {200 * 391:,}",
        "no",
    ]
    assert cells[0][1] == f"{linear[('contrastive', 0.07)]:.2f} / {linear[('hard', 0.07)]:.2f}"
    assert {c[5] for c in cells} == {
        "yes / no"
    }  # each hard run's kNN rose by half its range over its last stretch


def test_hard_numbers_give_the_largest_difference_between_two_seeds(tmp_path):
    def numbers():
        records = results.load(tmp_path)
        for r in records:
            r.provenance["train_images"] = 50000
        return verdicts.hard_numbers(RunTable(records).at("paper", "cifar10"))

    paper_records(tmp_path)
    assert numbers()["seed_gap"] is None  # one seed each
    top1 = paper.table1("cifar10", "linear_top1", "contrastive", 0.7)
    for seed, shift in (
        (1, 1.5),
        (2, -0.5),
    ):  # at τ = 0.7: seeds 2 points apart; at τ = 0.3 a smaller gap
        write_synthetic(
            tmp_path, "cifar10", "contrastive", 0.7, seed=seed, linear_top1=top1 + shift
        )
    write_synthetic(
        tmp_path,
        "cifar10",
        "contrastive",
        0.3,
        seed=1,
        linear_top1=paper.table1("cifar10", "linear_top1", "contrastive", 0.3) + 1.0,
    )
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 1.0, seed=1, epochs=20, linear_top1=0.0
    )  # off the protocol: not counted
    n = numbers()
    assert (n["seed_gap"], n["seed_gap_tau"], n["seeds"]) == (pytest.approx(2.0), 0.7, 3)


def test_hard_numbers_wait_for_every_run_of_table_1(tmp_path):
    records = [r for r in paper_records(tmp_path) if not (r.loss == "hard" and r.tau == 1.0)]
    assert set(verdicts.hard_numbers(RunTable(records).at("paper", "cifar10")).values()) == {None}
    assert isinstance(
        verdicts.hard_beside_ordinary(RunTable([]).at("paper", "cifar10")), rec.NotYetRun
    )


def test_simple_numbers_set_claim_5s_differences_beside_the_papers(tmp_path):
    records = paper_records(tmp_path)
    n = verdicts.simple_numbers(RunTable(records).at("paper", "cifar10"))
    linear = {c: paper.table1("cifar10", "linear_top1", *c) for c in paper.COLUMNS}
    best = max(paper.TABLE1_TAUS, key=lambda t: linear[("contrastive", t)])
    for who in ("ours", "paper"):  # the records hold the paper's own numbers
        assert n[f"{who}_best_tau"] == best and n[f"{who}_columns"] == 10
        assert n[f"{who}_simple_diff"] == pytest.approx(
            linear[("simple", None)] - linear[("contrastive", best)]
        )
        assert n[f"{who}_hard_simple_diff"] == pytest.approx(
            linear[("hard_simple", None)] - linear[("contrastive", best)]
        )
        assert n[f"{who}_span"] == pytest.approx(max(linear.values()) - min(linear.values()))
    assert (n["simple_bound"], n["hard_simple_bound"]) == (5, 2)
    without = [r for r in records if r.loss != "simple"]
    n = verdicts.simple_numbers(RunTable(without).at("paper", "cifar10"))
    assert (
        n["ours_simple"] is None
        and n["ours_simple_diff"] is None
        and n["ours_columns"] == 9
        and n["paper_simple"] is not None
    )


def test_grid_trends_find_where_claim_3s_trends_start_and_turn_back_over_the_whole_grid(tmp_path):
    unif = {
        0.05: 3.0,
        0.1: 3.6,
        0.3: 3.3,
        0.7: 2.8,
        1.0: 2.9,
    }  # highest at 0.1, lower at 0.05, turns back at 0.7 → 1
    tol = {
        0.05: 0.2,
        0.1: 0.1,
        0.3: 0.15,
        0.7: 0.2,
        1.0: 0.25,
    }  # lowest at 0.1, rising at every step above it
    for t in unif:
        write_synthetic(tmp_path, "cifar10", "contrastive", t, uniformity=unif[t], tolerance=tol[t])
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 0.3, seed=1, uniformity=3.5, tolerance=0.15
    )  # mean 3.4 at τ = 0.3
    write_synthetic(
        tmp_path, "cifar10", "contrastive", 0.2, epochs=10, uniformity=9.0
    )  # off the protocol: not read
    trends = verdicts.grid_trends(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert trends["taus"] == [0.05, 0.1, 0.3, 0.7, 1.0]
    u, t = trends["uniformity"], trends["tolerance"]
    assert u["start"] == (0.1, 3.6) and u["below"] == [(0.05, 3.0)]
    assert u["turns"] == [(0.7, 1.0, 2.8, 2.9)] and u["seed_spread"] == (pytest.approx(0.2), 0.3)
    assert t["start"] == (0.1, 0.1) and t["below"] == [(0.05, 0.2)] and t["turns"] == []
    assert (
        verdicts.grid_trends(RunTable(results.load(tmp_path)).at("cpu", "cifar10")) is None
    )  # none at cpu
    n = verdicts.grid_numbers(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert (n["taus"], n["uniformity_start_tau"], n["uniformity_start"]) == ("5", "0.1", "3.600")
    assert n["uniformity_turns"] == "τ = 0.7 → 1: 2.800 → 2.900" and n["tolerance_turns"] == "none"
    assert n["uniformity_below"] == "3.000 at τ = 0.05" and (
        n["uniformity_seed_spread"],
        n["uniformity_seed_tau"],
    ) == ("0.200", "0.3")
    accuracy = verdicts.grid_numbers(
        RunTable(results.load(tmp_path)).at("paper", "cifar10"), signs={"linear_top1": -1}
    )
    assert accuracy["linear_top1_start"] == "0.00" and "uniformity_start" not in accuracy
    assert set(verdicts.grid_numbers(RunTable([]).at("paper", "cifar10")).values()) == {"—"}


def test_after_the_drop_reads_the_second_half_of_rule_2s_window_of_the_runs_it_does_not_level(
    tmp_path,
):
    import json

    epochs = list(range(10, 201, 10))  # rule 2's window opens at 160; τ = 0.3 steps at 170
    step = [1.0 + e / 200 if e < 170 else 3.0 for e in epochs]
    for tau, curve in ((0.3, step), (0.7, [min(1.0 + e / 200, 1.5) for e in epochs])):
        path = write_synthetic(tmp_path, "cifar10", "contrastive", tau)
        record = json.loads(path.read_text())
        record["curves"] = {
            "epoch": epochs,
            "loss": [5.0] * 20,
            "uniformity_test": curve,
            "knn_top1": curve,
            "tolerance_test": [0.1] * 20,
            "lr": [0.03] * 20,
        }
        results.write_record(path, record)
    drop = runs.after_the_drop(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert (drop["from"], drop["to"], drop["limit"]) == (180, 200, runs.RULE_2["max_flatness"])
    ((name, seed, moved),) = drop["runs"]  # τ = 0.7 levelled off by rule 2: not read
    assert (name, seed) == ("ordinary τ=0.3", 0) and moved == {
        "uniformity_test": 0.0,
        "knn_top1": 0.0,
    }


def test_the_two_pilots_figures_have_titles_of_their_own():
    from contrastive import pilot

    titles = [
        pilots.pilot_curves(pilot.recipe_records(which), which).layout.title.text
        for which in (pilot.FIRST, pilot.SECOND)
    ]
    assert titles[0] != titles[1] and "first" in titles[0] and "second" in titles[1]


def test_the_measured_penalty_figures_key_tau_by_colour_and_loss_by_dash(tmp_path):
    from contrastive.edition.figures import negatives
    from test_penalty import hist_record

    for loss in ("contrastive", "hard"):
        for tau in paper.TABLE1_TAUS:
            hist_record(tmp_path, loss, tau)
    figures = negatives.measured_figures(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert [a.text.split(" ")[0] for a in figures[0].layout.annotations] == ["M", "k"]
    for fig in figures:
        keys = [t.name for t in fig.data if t.showlegend is not False]
        assert keys == [f"τ = {t:g}" for t in paper.TABLE1_TAUS] + [
            "measured, ordinary loss",
            "measured, hard loss",
        ]  # 6 entries, not one per run
        drawn = [t for t in fig.data if t.name and t.name.startswith("measured: hard τ=0.3")]
        assert drawn[0].line.dash == rec.DASHES["hard"] and drawn[0].line.color == class_colour(1)

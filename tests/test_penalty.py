"""contrastive.edition.penalty (summaries of the Eq. 5 penalty) and the figures of contrastive.edition.figures.negatives."""

import json
import math

import numpy as np
import pytest
import torch

from contrastive import paper, results
from contrastive.edition.examples import random_similarities
from contrastive.edition.figures import negatives as fig_neg
from contrastive.edition.figures.records import NotYetRun
from contrastive.edition.penalty import (
    dropped_share,
    effective_negatives,
    histogram_similarities,
    solve_tau,
    sphere_similarities,
    top_k_share,
)
from contrastive.edition.table import RunTable
from contrastive.losses import relative_penalty
from test_claims import write_synthetic
from test_figures_analytic import glued_markdown, render_glue


def naive_entropy(row, tau):
    weights = [math.exp(s / tau) for s in row]
    z = sum(weights)
    return -sum(w / z * math.log(w / z) for w in weights)


def naive_top_k_share(row, tau, k):
    weights = sorted((math.exp(s / tau) for s in row), reverse=True)
    return sum(weights[:k]) / sum(weights)


# --- contrastive.edition.penalty ---------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.1, 0.3, 1.0, 5.0])
def test_effective_negatives_is_exp_of_the_naive_entropy(tau):
    _, s_neg = random_similarities(4, 30, seed=1)
    expected = [math.exp(naive_entropy(row, tau)) for row in s_neg.tolist()]
    assert effective_negatives(s_neg, tau).tolist() == pytest.approx(expected, rel=1e-10)


def test_effective_negatives_limits():
    _, s_neg = random_similarities(3, 50, seed=2)  # distinct similarities
    assert effective_negatives(s_neg, 1e6).tolist() == pytest.approx([50.0] * 3, rel=1e-6)
    assert effective_negatives(s_neg, 1e-4).tolist() == pytest.approx([1.0] * 3, abs=1e-6)
    assert effective_negatives(torch.zeros(1, 7), 0.01).item() == pytest.approx(
        7.0
    )  # all equal: uniform at any tau


@pytest.mark.parametrize("tau,k", [(0.05, 1), (0.2, 5), (1.0, 17), (3.0, 29)])
def test_top_k_share_against_a_naive_sorted_sum(tau, k):
    _, s_neg = random_similarities(4, 30, seed=3)
    expected = [naive_top_k_share(row, tau, k) for row in s_neg.tolist()]
    assert top_k_share(s_neg, tau, k).tolist() == pytest.approx(expected, rel=1e-10)
    assert (top_k_share(s_neg, tau, k) + dropped_share(s_neg, tau, k)).tolist() == pytest.approx(
        [1.0] * 4, rel=1e-12
    )


def test_top_k_share_of_all_negatives_is_one_and_nothing_is_dropped():
    _, s_neg = random_similarities(3, 20, seed=4)
    assert top_k_share(s_neg, 0.07, 20).tolist() == pytest.approx([1.0] * 3, rel=1e-12)
    assert dropped_share(s_neg, 0.07, 20).tolist() == [0.0] * 3


def test_the_top_k_share_falls_as_tau_grows():
    _, s_neg = random_similarities(6, 200, seed=5)
    taus = torch.logspace(-2, 2, 40, dtype=torch.float64).tolist()
    shares = torch.stack([top_k_share(s_neg, tau, 10) for tau in taus])  # (taus, anchors)
    assert (shares.diff(dim=0) <= 1e-12).all()
    assert (shares[0] > 0.99).all() and shares[-1].tolist() == pytest.approx(
        [10 / 200] * 6, rel=0.05
    )
    entropy = torch.stack([effective_negatives(s_neg, tau) for tau in taus])
    assert (entropy.diff(dim=0) > 0).all()


def test_finite_at_tau_001_in_float32():
    _, s_neg = random_similarities(4, 1000, seed=6)
    s32 = s_neg.float()
    for fn in (
        lambda s: effective_negatives(s, 0.01),
        lambda s: top_k_share(s, 0.01, 100),
        lambda s: dropped_share(s, 0.01, 100),
    ):
        got = fn(s32)
        assert got.dtype == torch.float32 and torch.isfinite(got).all()
        assert got.double().tolist() == pytest.approx(fn(s_neg).tolist(), rel=1e-3, abs=1e-6)
    assert (effective_negatives(s32, 0.01) >= 1).all() and (top_k_share(s32, 0.01, 100) <= 1).all()


def test_dropped_share_keeps_precision_where_one_minus_the_top_share_would_not():
    s_neg = torch.tensor([[0.9, 0.0]], dtype=torch.float32)
    assert dropped_share(s_neg, 0.01, 1).item() == pytest.approx(math.exp(-90), rel=1e-4)
    assert 1 - top_k_share(s_neg, 0.01, 1).item() == 0.0


@pytest.mark.parametrize("d", [3, 16, 128])
def test_sphere_similarities_have_mean_zero_and_variance_one_over_d(d):
    n = 20_000
    s = sphere_similarities(n, d, b=1, seed=7)
    assert s.shape == (1, n) and s.dtype == torch.float64 and s.abs().max() <= 1
    var = 1 / d
    var_of_s2 = 3 / (d * (d + 2)) - var**2  # E s^4 = 3 / (d (d + 2)) on S^{d-1}
    assert abs(s.mean().item()) < 5 * math.sqrt(var / n)
    assert abs((s**2).mean().item() - var) < 5 * math.sqrt(var_of_s2 / n)


def test_sphere_similarities_follow_the_known_density():
    s3 = sphere_similarities(20_000, 3, seed=8)  # d = 3: uniform on [-1, 1] (Archimedes)
    assert (s3.abs() < 0.5).double().mean().item() == pytest.approx(0.5, abs=0.015)
    s2 = sphere_similarities(
        20_000, 2, seed=8
    )  # d = 2: cos of a uniform angle, P(|s| < cos(pi/4)) = 1/2
    assert (s2.abs() < math.cos(math.pi / 4)).double().mean().item() == pytest.approx(
        0.5, abs=0.015
    )
    tail = 1 - 2 / math.pi * math.asin(
        0.95
    )  # d = 2 piles up at +-1: P(|s| > 0.95) = 0.20, against 0.05 for d = 3
    assert (s2.abs() > 0.95).double().mean().item() == pytest.approx(tail, abs=0.015)


def test_sphere_similarities_are_seeded():
    assert torch.equal(
        sphere_similarities(100, 16, 2, seed=1), sphere_similarities(100, 16, 2, seed=1)
    )
    assert not torch.equal(
        sphere_similarities(100, 16, 2, seed=1), sphere_similarities(100, 16, 2, seed=2)
    )
    assert sphere_similarities(100, 16, 3).shape == (3, 100)


def test_histogram_similarities_follow_the_histogram():
    edges = np.linspace(-1, 1, 5)
    assert histogram_similarities(edges, np.full(4, 0.5), 4)[0].tolist() == pytest.approx(
        [-0.75, -0.25, 0.25, 0.75]
    )
    density = np.array(
        [0.0, 0.5, 0.0, 1.5]
    )  # a quarter of the mass in [-0.5, 0), three quarters in [0.5, 1]
    s = histogram_similarities(edges, density, 400)
    assert s.shape == (1, 400) and torch.equal(s, s.sort().values)
    counts, _ = np.histogram(s.numpy()[0], bins=edges)
    assert counts.tolist() == [0, 100, 0, 300]


def test_solve_tau_finds_the_tau_of_a_target():
    _, s_neg = random_similarities(2, 300, seed=9)
    tau = solve_tau(lambda t: effective_negatives(s_neg, t).mean().item(), 100.0)
    assert effective_negatives(s_neg, tau).mean().item() == pytest.approx(100.0, rel=1e-6)
    with pytest.raises(ValueError, match="target"):
        solve_tau(lambda t: effective_negatives(s_neg, t).mean().item(), 301.0)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda s: sphere_similarities(10, 1), "d"),
        (lambda s: sphere_similarities(0, 16), "m"),
        (lambda s: sphere_similarities(10, 16, b=0), "b"),
        (lambda s: histogram_similarities(np.linspace(-1, 1, 5), np.ones(3), 10), "edges"),
        (lambda s: histogram_similarities(np.linspace(-1, 1, 5), -np.ones(4), 10), "density"),
        (lambda s: histogram_similarities(np.linspace(-1, 1, 5), np.ones(4), 0), "m"),
        (lambda s: histogram_similarities(np.array([-1.0, 0.0, 0.0]), np.ones(2), 10), "edges"),
        (lambda s: solve_tau(lambda t: t, 1.0, low=0.0), "low"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    _, s_neg = random_similarities(2, 10)
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call(s_neg)


# --- contrastive.edition.figures.negatives -----------------------------------------------------------------

TAUS = (0.05, 0.3, 1.0)


@pytest.fixture(scope="module")
def model():
    return {fig_neg.model_label(d): sphere_similarities(500, d, b=2) for d in (16, 128)}


def test_effective_figure_plots_the_function(model):
    label = fig_neg.model_label(128)
    fig = fig_neg.effective_figure(model, {label: [0.07, 0.7]}, taus=TAUS, k=50)
    assert len(fig.data) == 2 + 1 + 1 + 1  # two lines, the marks on one, M, k
    for trace, s_neg in zip((fig.data[0], fig.data[1]), model.values()):
        assert list(trace.x) == list(TAUS)
        assert list(trace.y) == pytest.approx(
            [effective_negatives(s_neg, t).mean().item() for t in TAUS], rel=1e-12
        )
    marks = fig.data[2]
    assert list(marks.x) == [0.07, 0.7]
    assert list(marks.y) == pytest.approx(
        [effective_negatives(model[label], t).mean().item() for t in (0.07, 0.7)], rel=1e-12
    )
    assert list(fig.data[3].y) == [500, 500] and list(fig.data[4].y) == [50, 50]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_dropped_figure_plots_the_function_and_its_limit(model):
    fig = fig_neg.dropped_figure(model, taus=TAUS, k=50)
    assert len(fig.data) == 2 + 1
    for trace, s_neg in zip(fig.data[:2], model.values()):
        assert list(trace.y) == pytest.approx(
            [dropped_share(s_neg, t, 50).mean().item() for t in TAUS], rel=1e-12
        )
    assert list(fig.data[2].y) == pytest.approx([450 / 500] * 2)


def test_ranked_penalty_figure_has_one_step_per_tau_and_plots_the_sorted_penalty(model):
    s_neg = model[fig_neg.model_label(128)]
    fig = fig_neg.ranked_penalty_figure(s_neg, taus=TAUS, k=50, active=0, points=40)
    assert len(fig.data) == 2 * len(TAUS)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["0.05", "0.3", "1"]
    assert steps[1].args[0]["visible"] == [j // 2 == 1 for j in range(len(fig.data))]
    ranks = fig_neg.log_ranks(500, 40)
    assert ranks[0] == 1 and ranks[-1] == 500 and ranks == sorted(set(ranks))
    for i, tau in enumerate(TAUS):
        line, cut = fig.data[2 * i], fig.data[2 * i + 1]
        r = relative_penalty(s_neg[:1], tau)[0].sort(descending=True).values
        assert list(line.x) == ranks
        assert list(line.y) == pytest.approx([r[j - 1].item() for j in ranks], rel=1e-12)
        assert list(cut.x) == [50, 50]
        assert f"{top_k_share(s_neg[:1], tau, 50)[0].item():.1%}" in line.name


def test_table_is_computed(model):
    s_neg = model[fig_neg.model_label(128)]
    rows = fig_neg.penalty_rows(s_neg, (0.07, 1.0), k=50)
    assert rows[0]["effective"] == pytest.approx(effective_negatives(s_neg, 0.07).mean().item())
    assert rows[1]["dropped"] == pytest.approx(dropped_share(s_neg, 1.0, 50).mean().item())
    html = fig_neg.penalty_table(s_neg, (0.07, 1.0), k=50)
    assert html.count("<tr>") == 3 and f"{rows[0]['dropped']:.1%}" in html


def naive_effective(s_neg, tau):
    return sum(math.exp(naive_entropy(row, tau)) for row in s_neg.tolist()) / len(s_neg)


def naive_dropped(s_neg, tau, k):
    return sum(1 - naive_top_k_share(row, tau, k) for row in s_neg.tolist()) / len(s_neg)


def test_penalty_numbers_against_naive_sums(model):
    s_neg = model[fig_neg.model_label(128)]
    numbers = fig_neg.penalty_numbers(s_neg, (0.07, 1.0), k=50, small=0.01)
    assert {
        key: numbers[key] for key in ("m", "anchors", "k", "small", "tau_first", "tau_last")
    } == {
        "m": 500,
        "anchors": 2,
        "k": 50,
        "small": 0.01,
        "tau_first": 0.07,
        "tau_last": 1.0,
    }
    for end, tau in (("first", 0.07), ("last", 1.0)):
        assert numbers[f"effective_{end}"] == pytest.approx(naive_effective(s_neg, tau), rel=1e-9)
        assert numbers[f"fraction_{end}"] == pytest.approx(
            naive_effective(s_neg, tau) / 500, rel=1e-9
        )
        assert numbers[f"dropped_{end}"] == pytest.approx(naive_dropped(s_neg, tau, 50), rel=1e-9)
    assert naive_effective(s_neg, numbers["tau_k"]) == pytest.approx(50, rel=1e-6)
    assert naive_dropped(s_neg, numbers["tau_small"], 50) == pytest.approx(0.01, rel=1e-6)
    assert all(
        type(v) in (int, float) for v in numbers.values()
    )  # glue:text literal-evaluates their text


def test_the_chapter_prints_the_penalty_numbers(model):
    """The chapter's sentences, pasted with penalty_numbers, say what the sentences built in code used to."""
    s_neg = model[fig_neg.model_label(128)]
    numbers = fig_neg.penalty_numbers(s_neg, (0.07, 1.0), k=50, small=0.01)
    text = render_glue(glued_markdown("temperature_negatives.ipynb", "tau_small"), numbers)
    for math_text, plain in (
        ("$\\tau \\approx$", "τ ≈"),
        ("$\\tau$", "τ"),
        ("$M$", "M"),
        ("$k$", "k"),
    ):
        text = text.replace(math_text, plain)

    def at_tau(tau: float) -> str:
        effective = naive_effective(s_neg, tau)
        return (
            f"τ = {tau:g}, about {effective:,.0f} negatives ({effective / 500:.1%} of M) effectively share the "
            f"penalty and the hard loss drops {naive_dropped(s_neg, tau, 50):.1%} of it"
        )

    assert text == (
        f"On the uniform sphere model with $d = 128$ (500 negatives per anchor, mean over 2 anchors): at "
        f"{at_tau(0.07)}; at {at_tau(1.0)}. The effective number equals the k = 50 negatives that "
        f"Eq. 9 keeps at τ ≈ {numbers['tau_k']:.3g}, and Eq. 9 drops less than 1% of the penalty only below "
        f"τ ≈ {numbers['tau_small']:.3g}."
    )


def hist_record(root, loss, tau, train_images=501):
    """A SYNTHETIC TEST FIXTURE record with a negative-similarity histogram (never under data/)."""
    edges = np.linspace(-1, 1, 51)
    density = np.exp(-((edges[:-1] + 0.02) ** 2) / 0.02)
    density /= density.sum() * 0.04
    path = write_synthetic(
        root, "cifar10", loss, tau, arrays={"hist_edges": edges, "hist_neg": density}
    )
    record = json.loads(path.read_text())
    if train_images is not None:
        record["provenance"]["train_images"] = train_images
    results.write_record(path, record, {"hist_edges": edges, "hist_neg": density})
    return edges, density


def test_measured_figures_say_not_yet_run_without_records(tmp_path):
    items = fig_neg.measured_figures(RunTable(results.load(tmp_path)).at("paper", "cifar10"))
    assert len(items) == 1 and isinstance(items[0], NotYetRun)
    assert "ordinary τ=0.07" in items[0].text() and "hard τ=1" in items[0].text()
    hist_record(tmp_path, "contrastive", 0.3, train_images=None)  # no image count: not usable
    assert isinstance(
        fig_neg.measured_figures(RunTable(results.load(tmp_path)).at("paper", "cifar10"))[0],
        NotYetRun,
    )


def test_measured_figures_plot_the_records_histograms(tmp_path, model):
    edges, density = hist_record(tmp_path, "contrastive", 0.3, train_images=5001)
    reference = {fig_neg.model_label(128): model[fig_neg.model_label(128)]}
    effective, dropped = fig_neg.measured_figures(
        RunTable(results.load(tmp_path)).at("paper", "cifar10"), reference=reference
    )
    s_neg = histogram_similarities(edges, density, 5000)
    line, mark = effective.data[0], effective.data[1]
    assert line.name.startswith("measured: ordinary τ=0.3")
    assert list(line.y) == pytest.approx(
        [effective_negatives(s_neg, t).item() for t in line.x], rel=1e-12
    )
    assert list(mark.x) == [0.3] and list(mark.y) == pytest.approx(
        [effective_negatives(s_neg, 0.3).item()]
    )
    assert effective.data[2].name == fig_neg.model_label(128)
    expected = [dropped_share(s_neg, t, paper.HARD_K).item() for t in dropped.data[0].x]
    assert (
        list(dropped.data[0].y) == pytest.approx(expected, rel=1e-12)
        and 0 < min(expected) < max(expected) < 1
    )
    assert "no run record yet" in effective.layout.title.text

"""Figures of the analytic chapters: they plot exactly what contrastive.losses / metrics compute."""

import math
import re
from pathlib import Path

import nbformat
import pytest
import torch
from myst_nb.core.variables import format_plain_text

from contrastive.edition import examples
from contrastive.edition.figures import Html, analytic, class_colour, html_table
from contrastive.edition.toy import ToyResult
from contrastive.losses import (
    LABELS,
    contrastive_loss,
    penalty_entropy,
    relative_penalty,
    simple_limit,
)
from contrastive.metrics import tolerance, uniformity

TAUS = (0.05, 0.2, 1.0)
BOOK = Path(__file__).resolve().parents[1] / "book"
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")


def glued_markdown(chapter: str, name: str) -> str:
    """The one Markdown cell of ``chapter`` that pastes the glued number ``name``."""
    cells = [
        c.source
        for c in nbformat.read(BOOK / chapter, as_version=4).cells
        if c.cell_type == "markdown" and f"{{glue:text}}`{name}" in c.source
    ]
    assert len(cells) == 1, chapter
    return cells[0]


def render_glue(markdown: str, numbers: dict) -> str:
    """``markdown`` with each {glue:text}`name:spec` pasted as myst-nb does (the value's text literal-evaluated,
    then formatted), on one line."""

    def paste(match: re.Match) -> str:
        name, spec = (match[1].rsplit(":", 1) + [""])[:2]
        return format_plain_text(repr(numbers[name]), spec)

    return " ".join(GLUE_TEXT.sub(paste, markdown).split())


def visible_steps(fig):
    return [step["args"][0]["visible"] for step in fig.layout.sliders[0].steps]


def test_penalty_figure_plots_eq5_per_tau_with_a_working_slider():
    fig = analytic.penalty_figure(TAUS, n=11, active=1)
    per = len(TAUS) + 1  # faint lines for every tau, then the bold one
    assert len(fig.data) == per * len(TAUS)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.05", "0.2", "1"]
    s_neg = examples.similarity_grid(11)
    for i, tau in enumerate(TAUS):
        bold = fig.data[i * per + per - 1]
        assert list(bold.x) == pytest.approx([-1 + 0.2 * j for j in range(11)], abs=1e-12)
        assert list(bold.y) == pytest.approx(relative_penalty(s_neg, tau)[0].tolist(), rel=1e-12)
        assert visible_steps(fig)[i] == [j // per == i for j in range(len(fig.data))]
    assert [bool(t.visible) for t in fig.data] == visible_steps(fig)[1]


def test_penalty_concentrates_on_the_hardest_negative_at_small_tau():
    fig = analytic.penalty_snapshot(0.05, n=201)
    y = fig.data[0].y
    assert y[-1] == max(y) and sum(y) == pytest.approx(1.0)
    assert y[-1] > 10 * analytic.penalty_snapshot(1.0, n=201).data[0].y[-1]


def test_entropy_figure_is_eq5_entropy_and_increases_strictly():
    taus = analytic.log_taus(-2, 1, 13)
    fig = analytic.entropy_figure(taus, n=51)
    h = list(fig.data[0].y)
    expected = [penalty_entropy(examples.similarity_grid(51), t)[0].item() for t in taus]
    assert h == pytest.approx(expected)
    assert all(b > a for a, b in zip(h, h[1:]))
    assert h[-1] < math.log(51) == pytest.approx(fig.data[1].y[0])


def test_gradient_check_agrees_with_autograd():
    rows = analytic.gradient_check(TAUS, b=4, m=16)
    assert [r["tau"] for r in rows] == list(TAUS)
    for r in rows:
        assert r["positive"] < 1e-10 and r["negative"] < 1e-10 and r["sum"] < 1e-10


def test_autograd_gradients_are_autograd_of_the_loss():
    s_pos, s_neg = examples.random_similarities(3, 5)
    g_pos, g_neg = examples.autograd_gradients(s_pos, s_neg, 0.5)
    eps = 1e-6
    bumped = s_neg.clone()
    bumped[1, 2] += eps
    numeric = (contrastive_loss(s_pos, bumped, 0.5) - contrastive_loss(s_pos, s_neg, 0.5))[1] / eps
    assert g_neg[1, 2].item() == pytest.approx(numeric.item(), rel=1e-4)
    assert g_pos.shape == (3,) and not s_pos.requires_grad


def test_gradient_figure_points_lie_on_the_diagonal():
    fig = analytic.gradient_figure(tau=0.1, b=4, m=8)
    for trace in fig.data[1:]:
        assert list(trace.y) == pytest.approx(list(trace.x), abs=1e-12)
    assert len(fig.data[1].x) == 32 and len(fig.data[2].x) == 4


def test_gradient_table_lists_every_tau():
    table = analytic.gradient_table(analytic.gradient_check(TAUS, b=2, m=4))
    assert table.count("<tr>") == 1 + len(TAUS) and "<td>0.05</td>" in table


def test_limit_example_has_an_easy_and_a_hard_anchor():
    s_pos, s_neg = analytic.limit_example()
    assert s_pos[0] > s_neg[0].max() and s_pos[1] < s_neg[1].max()
    assert torch.equal(s_neg[0], s_neg[1])


def test_triplet_limit_figure_approaches_eq6_as_tau_goes_to_zero():
    s_pos, s_neg = analytic.limit_example()
    taus = [1e-3, 1e-2, 1.0]
    fig = analytic.triplet_limit_figure(s_pos, s_neg, taus)
    limit_easy, scaled_easy, limit_hard, scaled_hard = (list(t.y) for t in fig.data)
    assert scaled_hard[1] == pytest.approx(
        taus[1] * contrastive_loss(s_pos, s_neg, taus[1])[1].item()
    )
    assert limit_hard[0] == pytest.approx((s_neg[1].max() - s_pos[1]).item())
    assert limit_easy[0] == 0.0
    assert scaled_hard[0] == pytest.approx(limit_hard[0], abs=1e-2)
    assert scaled_easy[0] == pytest.approx(0.0, abs=1e-6)
    assert abs(scaled_hard[2] - limit_hard[0]) > 0.5  # far from the limit at tau = 1


def test_triplet_limit_figure_draws_each_limit_wide_and_pale_beneath_its_curve():
    """Where a curve reaches its limit the two overlap; the limit must not hide the curve (nor the reverse)."""
    s_pos, s_neg = analytic.limit_example()
    fig = analytic.triplet_limit_figure(s_pos, s_neg, [1e-3, 1e-2, 1.0])
    order = {trace.name: i for i, trace in enumerate(fig.data)}
    limits = [t for t in fig.data if t.name.startswith("τ·Eq. 6")]
    curves = [t for t in fig.data if t.name.startswith("τ·L")]
    assert len(limits) == len(curves) == 2 and len(fig.data) <= 12
    for limit, curve in zip(limits, curves):
        assert limit.line.color == curve.line.color
        assert order[limit.name] < order[curve.name]  # drawn first, so beneath
        assert (
            limit.line.width >= 3 * curve.line.width and limit.opacity < 1 and curve.opacity is None
        )
        assert curve.y[0] == pytest.approx(limit.y[0], abs=1e-2)  # they do meet at small tau


def test_simple_limit_figure_gap_shrinks_like_one_over_tau_squared():
    s_pos, s_neg = analytic.limit_example()
    taus = [10.0, 100.0, 1000.0]
    fig = analytic.simple_limit_figure(s_pos, s_neg, taus)
    eq7_gap, log_n_gap = list(fig.data[0].y), list(fig.data[1].y)
    loss = contrastive_loss(s_pos, s_neg, 100.0)[0].item()
    assert eq7_gap[1] == pytest.approx(abs(loss - simple_limit(s_pos, s_neg, 100.0)[0].item()))
    assert 50 < eq7_gap[1] / eq7_gap[2] < 200  # ~ 1/tau^2
    assert 5 < log_n_gap[1] / log_n_gap[2] < 20  # ~ 1/tau
    assert eq7_gap[2] < log_n_gap[2] / 100
    keys = [t.name for t in fig.data if t.showlegend is not False]  # anchor by colour, gap by dash
    assert len(keys) == s_pos.shape[0] + 2 and keys[-2:] == ["|L − Eq. 7|", "|L − log N|"]


def fake_results(loss, taus, n_per_class=3, classes=2):
    torch.manual_seed(0)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    out = []
    for tau in taus:
        z = torch.nn.functional.normalize(torch.randn(len(labels), 3), dim=1)
        out.append(ToyResult(loss, tau, z, labels, uniformity(z), tolerance(z, labels), 0.0))
    return out


def test_toy_sphere_figure_has_one_trace_per_class_and_tau():
    results = fake_results("contrastive", TAUS)
    fig = analytic.toy_sphere_figure(results)
    assert len(fig.data) == 2 * len(TAUS)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.05", "0.2", "1"]
    second = fig.data[2]  # tau = 0.2, class 0
    assert list(second.x) == pytest.approx(results[1].z[:3, 0].tolist())
    assert list(second.z) == pytest.approx(results[1].z[:3, 2].tolist())


def test_toy_metrics_figure_and_table_show_the_results():
    sweeps = {"contrastive": fake_results("contrastive", TAUS), "hard": fake_results("hard", TAUS)}
    x, labels = sweeps["contrastive"][0].z, sweeps["contrastive"][0].labels
    fig = analytic.toy_metrics_figure(sweeps, x, labels)
    assert len(fig.data) == 4
    assert list(fig.data[0].y) == [r.uniformity for r in sweeps["contrastive"]]
    assert list(fig.data[1].y) == [r.tolerance for r in sweeps["contrastive"]]
    assert list(fig.data[0].x) == list(TAUS)
    assert [shape.y0 for shape in fig.layout.shapes] == pytest.approx(
        [uniformity(x), tolerance(x, labels)]
    )
    table = analytic.toy_table(sweeps)
    assert table.count("<tr>") == 1 + len(TAUS)
    assert f"<td>{sweeps['hard'][2].tolerance:.3f}</td>" in table
    assert [t.name for t in fig.data if t.showlegend] == [
        f"{LABELS['contrastive']} loss",
        f"{LABELS['hard']} loss",
    ]
    assert f"<th>tolerance, {LABELS['hard']} loss</th>" in table
    assert (
        f"{LABELS['contrastive']} loss"
        in analytic.toy_sphere_figure(sweeps["contrastive"]).layout.title.text
    )


def test_html_table_escapes_and_formats():
    table = html_table(["a<b", "x"], [["<i>", 0.12345], [1, 2.0]], fmt=".2f")
    assert "<th>a&lt;b</th>" in table and "<td>&lt;i&gt;</td>" in table
    assert "<td>0.12</td>" in table and "<td>2.00</td>" in table and "<td>1</td>" in table
    table = html_table(
        Html('<tr><th colspan="3">h</th></tr>'), [[Html("<b>1</b>"), 2, 3], ["wide"]], style="x: y"
    )
    assert table.startswith(
        '<table class="table" style="x: y"><thead><tr><th colspan="3">h</th></tr></thead>'
    )
    assert "<td><b>1</b></td>" in table and '<tr><td colspan="3">wide</td></tr>' in table


def test_similarity_grid_rejects_too_few_points():
    with pytest.raises(ValueError, match="n must be >= 2"):
        examples.similarity_grid(1)
    with pytest.raises(ValueError, match="b and m must be >= 1"):
        examples.random_similarities(0, 4)


def test_random_similarities_are_seeded_and_in_range():
    s_pos, s_neg = examples.random_similarities(3, 5, seed=1)
    assert s_pos.shape == (3,) and s_neg.shape == (3, 5) and s_neg.dtype == torch.float64
    assert s_neg.abs().max() <= 1 and torch.equal(
        s_neg, examples.random_similarities(3, 5, seed=1)[1]
    )
    assert not torch.equal(s_neg, examples.random_similarities(3, 5, seed=2)[1])


def toy_results(uniformities, tolerances):
    labels = torch.arange(2).repeat_interleave(3)
    z = torch.nn.functional.normalize(torch.randn(6, 3), dim=1)
    return [
        ToyResult("contrastive", tau, z, labels, u, t, 0.0)
        for tau, u, t in zip(TAUS, uniformities, tolerances)
    ]


def test_toy_numbers_are_the_ends_of_the_grid_and_the_peak():
    results = toy_results(
        (1.25, 2.5, 2.0), (0.3, 0.5, 0.9)
    )  # the most uniform in the middle of the grid
    assert analytic.toy_numbers(results) == {
        "tau_first": 0.05,
        "uniformity_first": 1.25,
        "tolerance_first": 0.3,
        "tau_last": 1.0,
        "uniformity_last": 2.0,
        "tolerance_last": 0.9,
        "tau_peak": 0.2,
    }
    with pytest.raises(ValueError, match="results must hold"):
        analytic.toy_numbers([])


def test_the_dilemma_chapter_prints_the_toy_numbers():
    """The chapter's sentence, pasted with toy_numbers, says what the sentence built in code used to."""
    results = toy_results((1.25, 2.5, 2.0), (0.3, 0.5, 0.9))
    text = render_glue(glued_markdown("dilemma.ipynb", "tau_peak"), analytic.toy_numbers(results))
    assert text.replace("$\\tau$", "τ") == (
        "With the ordinary loss (Eq. 1), from τ = 0.05 to τ = 1 the uniformity goes from 1.250 to 2.000 and the "
        "tolerance from 0.300 to 0.900; the most uniform embedding of the grid is the one at τ = 0.2."
    )


def test_toy_metrics_legend_sits_below_the_axis_titles():
    fig = analytic.toy_metrics_figure({"contrastive": fake_results("contrastive", TAUS)})
    assert (
        fig.layout.legend.yanchor == "top"
        and fig.layout.legend.y <= -0.3
        and fig.layout.margin.b >= 120
    )


def test_one_class_palette_cycles():
    assert class_colour(0) != class_colour(1) and class_colour(10) == class_colour(0)


def test_penalty_explorer_redraws_fig3_at_the_slider_value(monkeypatch):
    from contrastive.edition import widgets

    shown = []
    monkeypatch.setattr(widgets, "show", shown.append)
    explorer = widgets.penalty_explorer(tau=0.1, n=11)
    slider = explorer.children[0]
    slider.value = 0.5
    assert len(shown) == 2
    expected = relative_penalty(examples.similarity_grid(11), slider.value)[0].tolist()
    assert list(shown[-1].data[0].y) == pytest.approx(expected)


def test_show_source_displays_the_packages_own_code(monkeypatch):
    from contrastive import losses, memory
    from contrastive.edition.figures import show_source

    shown = []
    monkeypatch.setattr("contrastive.edition.figures.display", shown.append)
    show_source(losses.contrastive_loss)
    show_source(memory.MemoryBank.update)
    first, second = (m.data for m in shown)
    assert first.startswith("```python\ndef contrastive_loss(") and first.endswith("```")
    assert "F.cross_entropy(" in first  # the log-sum-exp form, shown as it is in the package
    assert "\ndef update(self" in second and not second.startswith(
        "```python\n "
    )  # a method, dedented

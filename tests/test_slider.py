"""The shared tau slider: one trace group per tau, a step per tau that shows exactly its group."""

import plotly.graph_objects as go
import pytest

from contrastive.edition.figures import show, tau_slider


def frames():
    return [
        (t, [go.Scatter(x=[0, 1], y=[t, 2 * t]), go.Scatter(x=[0], y=[t])]) for t in (0.1, 0.5, 1.0)
    ]


def test_steps_show_one_group():
    fig = tau_slider(frames(), active=1, title="t")
    assert len(fig.data) == 6
    assert [tr.visible for tr in fig.data] == [False, False, True, True, False, False]
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["0.1", "0.5", "1"]
    assert steps[2].args[0]["visible"] == [False, False, False, False, True, True]
    assert fig.layout.sliders[0].active == 1 and fig.layout.title.text == "t"


def test_one_group_has_no_slider_and_names_its_tau():
    fig = tau_slider(frames()[:1], title="t")
    assert not fig.layout.sliders and [tr.visible for tr in fig.data] == [True, True]
    assert [a.text for a in fig.layout.annotations] == ["τ = 0.1"] and fig.layout.title.text == "t"
    panels = tau_slider(
        frames()[:1], annotations=[{"text": "panel 1"}, {"text": "panel 2"}]
    )  # subplot titles kept
    assert [a.text for a in panels.layout.annotations] == ["panel 1", "panel 2", "τ = 0.1"]


def test_bad_frames():
    with pytest.raises(ValueError, match="at least one"):
        tau_slider([])
    with pytest.raises(ValueError, match="same number of traces"):
        tau_slider([(0.1, [go.Scatter()]), (0.2, [])])
    with pytest.raises(ValueError, match="active"):
        tau_slider(frames(), active=3)


def test_show_in_book_build_emits_div_without_plotlyjs(monkeypatch):
    shown = []
    monkeypatch.setenv("CONTRASTIVE_BOOK_BUILD", "1")
    monkeypatch.setattr("contrastive.edition.figures.display", shown.append)
    show(go.Figure(go.Scatter(x=[1], y=[2])))
    html = shown[0].data
    assert "plotly-graph-div" in html and "Plotly.newPlot" in html
    assert len(html) < 100_000 and "cdn" not in html.lower()

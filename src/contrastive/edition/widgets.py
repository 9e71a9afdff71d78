"""Live ipywidgets versions of the analytic figures, for Jupyter (the static book uses plotly sliders).

Chapter cells that call these carry the tag ``skip-execution``: they need a running kernel.
"""

from __future__ import annotations

import ipywidgets as widgets

from contrastive.edition.figures import show
from contrastive.edition.figures.analytic import penalty_snapshot


def penalty_explorer(tau: float = 0.1, n: int = 201) -> widgets.VBox:
    """Fig. 3 (Eq. 5's relative penalty over ``n`` negatives in [-1, 1]) with a continuous log-τ slider."""
    slider = widgets.FloatLogSlider(
        value=tau, base=10, min=-2, max=1, step=0.01, description="τ", continuous_update=False
    )
    out = widgets.Output()

    def draw(_: object = None) -> None:
        with out:
            out.clear_output(wait=True)
            show(penalty_snapshot(slider.value, n))

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])

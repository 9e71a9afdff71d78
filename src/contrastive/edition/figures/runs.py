"""A run's curves and diagnostics, from run records: the training dynamics of each temperature, whether each run had
levelled off or collapsed by its end, the short trials that diagnose the hard loss's collapse (Eq. 9), one record's
curves and summary (the run notebook), and how long runs and sweeps took. The ``*_numbers`` functions return the
numbers a chapter's sentences glue in."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ... import paper, pilot, results
from ...losses import LABELS, USES_TAU
from ...protocols import (
    PROTOCOLS,
    TITLES,
    compared_fields,
    config_label,
    configurations,
    counts,
    describe,
    deviations,
    differences,
    steps_per_epoch,
)
from ...results import Record
from ..table import Runs, RunTable
from . import class_colour, html_table
from .records import (
    COLOURS,
    CURVE_PANELS,
    METRIC_FORMATS,
    METRIC_LABELS,
    TAU_LOSSES,
    HtmlTable,
    NotYetRun,
    _finish,
    _slider,
    collapsed,
    formatted,
    loss_at_collapse,
    protocol_text,
    run_text,
)

ESCAPED = 1.0
"""The test-set uniformity at or above which a run has left the collapse (the chapter says why). Fixed before any
trial of ``data/trials/hard-collapse`` but ``lr0.03`` and ``fp32`` ran."""
EARLY_ROOT = results.TRIALS_ROOT / "paper-early"
"""The diagnostic runs of the paper protocol's first epochs (its README says how they were made): ``early`` of
:func:`leaving_the_collapse` and :func:`early_numbers`."""
RULE_2 = pilot.FIRST.rules
"""The yardstick of "levelled off": the pilots' rule 2, written before the first pilot ran."""


# --- training dynamics ----------------------------------------------------------------------


def _curve_grid() -> dict[str, Any]:
    """The layout of the 2 × 2 panels of ``CURVE_PANELS`` against the epoch."""
    layout = make_subplots(
        rows=2, cols=2, subplot_titles=[METRIC_LABELS[c] for c in CURVE_PANELS]
    ).layout.to_plotly_json()
    layout.pop("template", None)
    for i in range(1, len(CURVE_PANELS) + 1):
        layout[f"xaxis{'' if i == 1 else i}"]["title"] = {"text": "epoch"}
    return layout


def _curve_traces(record: dict[str, Any], colour: str, name: str) -> list[go.Scatter]:
    """One line per panel of ``CURVE_PANELS`` that the record's curves hold, one legend entry ``name``."""
    curves = record.curves
    return [
        go.Scatter(
            x=curves["epoch"],
            y=curves[c],
            mode="lines+markers",
            name=name,
            showlegend=i == 0,
            legendgroup=name,
            line={"color": colour},
            xaxis=f"x{'' if i == 0 else i + 1}",
            yaxis=f"y{'' if i == 0 else i + 1}",
            hovertemplate=f"epoch %{{x}}<br>{METRIC_LABELS[c]} %{{y:.4g}}<extra></extra>",
        )
        for i, c in enumerate(CURVE_PANELS)
        if c in curves
    ]


def dynamics(runs: Runs, loss: str = "contrastive") -> go.Figure | NotYetRun:
    """Training dynamics of one tau-loss, the panels of ``CURVE_PANELS`` per evaluated epoch, a tau slider."""
    if not USES_TAU[loss]:
        raise ValueError(
            f"loss must be one of {TAU_LOSSES} (a loss with a temperature), got {loss!r}"
        )
    drawn = [(t, r) for t, r in runs.by_tau(loss) if all(c in r.curves for c in CURVE_PANELS)]
    frames = [(t, _curve_traces(r, COLOURS[loss], f"τ={t:g} ({run_text([r])})")) for t, r in drawn]
    return _slider(
        "Training dynamics", runs.dataset, loss, runs.protocol, frames, height=680, **_curve_grid()
    )


def _authors_steps() -> list[int]:
    """The SGD step of each logged epoch of the authors' hard run (``paper.AUTHORS_HARD_LOG``)."""
    log = paper.AUTHORS_HARD_LOG
    return [e * log["steps_per_epoch"] for e in log["epoch"]]


def _authors_exit() -> tuple[int, int]:
    """The SGD steps between which the authors' logged hard run left its collapse: its epochs 10 and 30."""
    steps = _authors_steps()
    return steps[0], steps[2]


def _steps(record: Record) -> int:
    """The SGD steps an epoch of ``record``'s run."""
    c = record.config
    return steps_per_epoch(record.provenance["train_images"], c["batch_size"], c["negatives"])


def _hard_runs(
    runs: Runs, taus: Sequence[float] = paper.TABLE1_TAUS
) -> list[tuple[float, Record | None]]:
    """``(tau, record)`` of the hard loss at each τ of ``taus`` among ``runs``, where it counts at
    their protocol (else None)."""
    return [(tau, runs.get("hard", tau)) for tau in taus]


def _early_hard(early: Sequence[Record], dataset: str) -> list[Record]:
    """The valid hard runs among ``early`` (diagnostics over a protocol's first epochs) on ``dataset``, by τ."""
    return sorted(
        (r for r in early if r.dataset == dataset and r.loss == "hard" and not r.invalid),
        key=lambda r: r.tau,
    )


def _add_uniformity(fig: go.Figure, record: Record, colour: int, dash: str, name: str) -> None:
    """``record``'s test-set uniformity against SGD steps, in the left panel of :func:`leaving_the_collapse`."""
    steps = [e * _steps(record) for e in record.curves["epoch"]]
    fig.add_scatter(
        x=steps,
        y=record.curves["uniformity_test"],
        mode="lines+markers",
        showlegend=False,
        line={"dash": dash, "color": class_colour(colour)},
        name=name,
        row=1,
        col=1,
        hovertemplate=f"{name}<br>step %{{x:,}}<br>uniformity %{{y:.3f}}<extra></extra>",
    )


def _legend_key(fig: go.Figure, name: str, line: dict[str, str]) -> None:
    """A legend entry alone (no data): the figures whose curves cross τ and scale say once which
    colour is which τ and which dash is which scale, instead of one entry per curve."""
    fig.add_scatter(
        x=[None], y=[None], mode="lines", line=line, name=name, row=1, col=1, hoverinfo="skip"
    )


def leaving_the_collapse(
    by_protocol: Sequence[Runs], early: Sequence[Record] = (), dataset: str = "cifar10"
) -> go.Figure:
    """The hard loss (Eq. 9) against SGD steps: left, our runs' test-set uniformity at Table 1's τ at each
    protocol of ``by_protocol`` (the runs of ``dataset`` at each; a line style each) and the hard runs among ``early`` (dash-dot: off-protocol diagnostics over a
    protocol's first epochs); right, the authors' logged mean s_ii (``paper.AUTHORS_HARD_LOG``). The stretch where
    the authors' run left its collapse is shaded in both."""
    log = paper.AUTHORS_HARD_LOG
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=(
            f"ours: hard loss, {dataset},<br>uniformity −L_unif (test set)",
            f"the authors' log: hard loss τ={log['tau']:g},<br>{log['dataset']}, mean s_ii",
        ),
    )
    missing, taus, scales = [], {}, {}
    for runs, dash in zip(by_protocol, ("dot", "solid", "dash")):
        protocol = runs.protocol
        for i, (tau, r) in enumerate(_hard_runs(runs)):
            if r is None:
                missing.append(f"{config_label('hard', tau)} ({protocol})")
            else:
                _add_uniformity(fig, r, i, dash, f"τ={tau:g}, {TITLES[protocol]}")
                taus[tau], scales[TITLES[protocol]] = i, dash
    for r in _early_hard(early, dataset):
        colour = (
            paper.TABLE1_TAUS.index(r.tau) if r.tau in paper.TABLE1_TAUS else len(paper.TABLE1_TAUS)
        )
        scale = f"{TITLES[r.protocol]}, first epochs"
        _add_uniformity(fig, r, colour, "dashdot", f"τ={r.tau:g}, {scale} ({r.config['epochs']})")
        taus[r.tau], scales[scale] = colour, "dashdot"
    for tau, colour in sorted(taus.items()):  # τ by colour, scale by dash: one entry each
        _legend_key(fig, f"τ={tau:g}", {"color": class_colour(colour)})
    for scale, dash in scales.items():
        _legend_key(fig, scale, {"color": "#444444", "dash": dash})
    fig.add_scatter(
        x=_authors_steps(),
        y=log["mean_s_ii"],
        customdata=list(zip(log["epoch"], log["p_positive"])),
        mode="lines+markers",
        marker={"symbol": "x", "size": 9, "color": COLOURS["paper"]},
        line={"dash": "dot", "color": COLOURS["paper"]},
        name=f"the authors' run (paper's scale, {log['steps_per_epoch']} steps an epoch)",
        row=1,
        col=2,
        hovertemplate="epoch %{customdata[0]} (step %{x:,})<br>mean s_ii %{y:.3f}<br>P(positive) %{customdata[1]:.1e}<extra></extra>",
    )
    for col in (1, 2):
        fig.add_vrect(
            *_authors_exit(), fillcolor=COLOURS["paper"], opacity=0.12, line_width=0, row=1, col=col
        )
        fig.update_xaxes(
            type="log", range=[1.4, 5], title_text="SGD steps (log)", row=1, col=col
        )  # 25 to 100,000 steps
    fig.update_yaxes(title_text="uniformity (0: collapsed)", row=1, col=1)
    fig.update_yaxes(title_text="mean s_ii (1: collapsed)", row=1, col=2)
    return _finish(
        fig,
        "Leaving the collapse: the hard loss against SGD steps, ours and the authors'",
        missing,
        height=560,
        panel_lines=2,
    )


def steps_numbers(protocols: Sequence[str] = tuple(PROTOCOLS)) -> dict[str, int]:
    """The SGD steps of a run at each of ``protocols`` (by name, "-" as "_"), and the steps of the authors' logged
    run where it was still near its collapse (``exit_from``) and where it had left it (``exit_by``)."""
    steps = {
        name.replace("-", "_"): v.epochs
        * steps_per_epoch(v.subset or paper.TRAIN_IMAGES, v.batch_size, v.negatives)
        for name, v in ((name, PROTOCOLS[name]) for name in protocols)
    }
    return {**steps, **dict(zip(("exit_from", "exit_by"), _authors_exit()))}


def _exit_step(record: Record) -> int | None:
    """The SGD step of a hard run's first curve point from which on its test uniformity stays at or above
    :data:`ESCAPED` (it left the collapse and did not fall back), or None where it ended below it."""
    u = record.curves["uniformity_test"]
    if u[-1] < ESCAPED:
        return None
    first = max((i for i, v in enumerate(u) if v < ESCAPED), default=-1) + 1
    return record.curves["epoch"][first] * _steps(record)


def exit_numbers(runs: Runs, taus: Sequence[float] = paper.GRIDS["hard"]) -> dict[str, Any]:
    """For the chapters' sentences on the hard runs of ``protocol`` at ``taus`` (the sweep's grid): how many are
    recorded, how many ended with a test uniformity of at least :data:`ESCAPED` (``left``), and for each of those
    :func:`_exit_step`."""
    done = [(tau, _exit_step(r)) for tau, r in _hard_runs(runs, taus) if r is not None]
    steps = (
        ", ".join(f"τ = {tau:g} from step {step:,}" for tau, step in done if step is not None)
        or "none"
    )
    return {
        "runs": len(done),
        "left": sum(step is not None for _, step in done),
        "bar": ESCAPED,
        "steps": steps,
    }


def early_numbers(early: Sequence[Record], dataset: str = "cifar10") -> dict[str, Any]:
    """For the chapter's sentence on the hard runs among ``early``: how many, their epochs and τ, each one's lowest
    test uniformity with its SGD step (``lowest``) and its :func:`_exit_step` (``left``)."""
    hard = _early_hard(early, dataset)

    def lowest(r: Record) -> str:
        u = r.curves["uniformity_test"]
        i = min(range(len(u)), key=u.__getitem__)
        return f"{u[i]:.2f} at step {r.curves['epoch'][i] * _steps(r):,} (τ = {r.tau:g})"

    left = [
        f"τ = {r.tau:g} from step {step:,}"
        if (step := _exit_step(r)) is not None
        else f"τ = {r.tau:g} not by its end"
        for r in hard
    ]
    return {
        "runs": len(hard),
        "epochs": max((r.config["epochs"] for r in hard), default=0),
        "taus": " and ".join(f"{r.tau:g}" for r in hard) or "none",
        "lowest": "; ".join(map(lowest, hard)) or "none",
        "left": "; ".join(left) or "none",
    }


# --- levelled off, collapsed ----------------------------------------------------------------


def _with_flatness(runs: Runs) -> list[tuple[Record, dict[str, float]]]:
    """The valid runs among ``runs`` in Table 1's order, each with how far its curves of rule 2
    moved over the last stretch of training (``contrastive.pilot.flatness``)."""
    valid = [r for r in runs.records if not r.invalid]
    order = {loss: i for i, loss in enumerate(LABELS)}
    valid.sort(
        key=lambda r: (
            order[r.config["loss"]],
            r.config["tau"] if USES_TAU[r.config["loss"]] else 0,
        )
    )
    return [
        (
            r,
            {
                n: pilot.flatness(r.curves, n, RULE_2["last_fraction"])
                for n in RULE_2["flat_curves"]
            },
        )
        for r in valid
    ]


def levelled_numbers(runs: Runs) -> dict[str, int]:
    """How many runs of ``protocol`` there are, how many levelled off by rule 2 and how many ended collapsed; the
    epoch where rule 2's last stretch opens and the protocol's first learning-rate milestone."""
    flat, values = _with_flatness(runs), PROTOCOLS[runs.protocol]
    return {
        "runs": len(flat),
        "levelled": sum(pilot.levelled(r.curves, RULE_2) for r, _ in flat),
        "collapsed": sum(collapsed(r) for r, _ in flat),
        "window": round((1 - RULE_2["last_fraction"]) * values.epochs),
        "milestone": values.milestones[0],
    }


def after_the_drop(runs: Runs, loss: str = "contrastive") -> dict[str, Any]:
    """A reading made after the runs, not a rule: rule 2's window opens on the first learning-rate
    drop, so a curve still settling from it counts as moving. For each run of ``loss`` that rule 2
    does not level off, how far each of its curves moved over the second half of that window
    (``from`` the epoch it opens to the end), as a fraction of the curve's range over the run, as
    rule 2 measures it; ``limit`` is rule 2's bound."""
    half = RULE_2["last_fraction"] / 2
    moving = [
        (r, {n: pilot.flatness(r.curves, n, half) for n in RULE_2["flat_curves"]})
        for r, _ in _with_flatness(runs)
        if r.config["loss"] == loss and not pilot.levelled(r.curves, RULE_2)
    ]
    start = {r.curves["epoch"][pilot.last_stretch(r.curves["epoch"], half)] for r, _ in moving}
    named = [
        (config_label(r.config["loss"], r.config["tau"]), r.seed, moved) for r, moved in moving
    ]
    return {
        "runs": named,
        "from": min(start, default=None),
        "to": PROTOCOLS[runs.protocol].epochs,
        "limit": RULE_2["max_flatness"],
    }


def levelled_off(runs: Runs) -> HtmlTable | NotYetRun:
    """Whether each run of ``protocol`` had levelled off by its end (:data:`RULE_2`): per configuration, the test-set
    kNN top-1 and uniformity where rule 2's last stretch opens and at the end, how far each moved in between as a
    fraction of its range over the run, and the last epoch's training loss beside its value at a collapse."""
    flat, last, limit = (
        _with_flatness(runs),
        RULE_2["last_fraction"],
        RULE_2["max_flatness"],
    )
    what = f"How far each run had levelled off, {runs.dataset}, {describe(runs.protocol)}"
    if not flat:
        return NotYetRun(what, tuple(config_label(loss, t) for loss, t in paper.COLUMNS))
    rows = []
    for r, moved in flat:
        curves, start = r.curves, pilot.last_stretch(r.curves["epoch"], last)
        rows.append(
            [
                config_label(r.config["loss"], r.config["tau"]),
                *(f"{curves[n][start]:.3g} → {curves[n][-1]:.3g}" for n in moved),
                *(f"{v:.3f}" for v in moved.values()),
                "yes" if pilot.levelled(curves, RULE_2) else "no",
                f"{curves['loss'][-1]:.4f} / {loss_at_collapse(r):.4f}",
            ]
        )
    short = {"uniformity_test": "uniformity", "knn_top1": "kNN"}
    columns = (
        "run",
        *(
            f"{METRIC_LABELS[n]}, at {1 - last:.0%} of training → end"
            for n in RULE_2["flat_curves"]
        ),
        *(f"moved: {short[n]}" for n in RULE_2["flat_curves"]),
        f"levelled off (≤ {limit:.0%})",
        "last epoch's loss / its value at a collapse",
    )
    return HtmlTable(f"<p><strong>{html.escape(what)}</strong></p>" + html_table(columns, rows))


# --- the collapse trials --------------------------------------------------------------------


def _collapse_runs(
    trials: Sequence[Record], runs: Runs
) -> tuple[int, list[str], list[tuple[str, str | None, dict[str, Any]]]]:
    """The trials' last epoch, the deviations from the runs' protocol that every trial shares (their shortening), and
    ``(name, what else differs or None for a protocol run, record)`` per run: first the protocol's runs of the
    trials' losses and temperatures and of the ordinary loss at those temperatures, then each trial."""
    trials = sorted(
        (r for r in trials if r.config["dataset"] == runs.dataset and not r.invalid),
        key=lambda r: r.path,
    )
    changes = [[str(d) for d in deviations(r.config, runs.protocol)] for r in trials]
    shared = [d for d in changes[0] if all(d in c for c in changes)] if changes else []
    wanted = dict.fromkeys(
        [(r.config["loss"], r.config["tau"]) for r in trials]
        + [("contrastive", r.config["tau"]) for r in trials]
    )
    found = [
        (f"{config_label(loss, tau)}, {runs.protocol} protocol", None, r)
        for loss, tau in wanted
        if (r := runs.get(loss, tau))
    ]
    found += [
        (
            f"{config_label(r.config['loss'], r.config['tau'])}, trial {Path(r.path).parents[2].name}",
            ", ".join(d for d in c if d not in shared) or "nothing else",
            r,
        )
        for r, c in zip(trials, changes)
    ]
    return max((r.config["epochs"] for r in trials), default=0), shared, found


def trial_numbers(trials: Sequence[Record], runs: Runs) -> dict[str, Any]:
    """The collapse trials in numbers: how many, their length in epochs, the changes they share, how many escaped
    the collapse (test uniformity at least :data:`ESCAPED` at their last epoch) and which."""
    horizon, shared, found = _collapse_runs(trials, runs)
    escaped = [
        name
        for name, changed, r in found
        if changed is not None and _uniformity_at(r, horizon) >= ESCAPED
    ]
    return {
        "trials": sum(changed is not None for _, changed, _ in found),
        "epochs": horizon,
        "shared": ", ".join(shared),
        "escaped": len(escaped),
        "escaped_names": "; ".join(escaped) or "none",
        "escaped_at": ESCAPED,
    }


def _uniformity_at(record: Record, horizon: int) -> float:
    """The test-set uniformity of ``record`` at its last curve point up to epoch ``horizon``."""
    curves = record.curves
    return curves["uniformity_test"][max(i for i, e in enumerate(curves["epoch"]) if e <= horizon)]


def collapse_trials(trials: Sequence[Record], runs: Runs) -> HtmlTable | NotYetRun:
    """The diagnostics of the hard loss's collapse: short runs of ``protocol`` with one setting changed each, beside
    the protocol's own runs over the same first epochs. Per run: what else differs (:func:`_collapse_runs`), whether
    its steps ran in bfloat16, the test uniformity at each curve point up to the trials' last epoch, the training loss
    there beside its value at a collapse and whether the run had escaped the collapse by then."""
    what = f"Why the hard loss collapses: off-protocol trials, {runs.dataset}, {describe(runs.protocol)}"
    horizon, _, found = _collapse_runs(trials, runs)
    if not horizon:
        return NotYetRun(
            what,
            ("any trial",),
            str(results.TRIALS_ROOT.relative_to(results.DEFAULT_ROOT.parents[1]) / "hard-collapse"),
        )
    rows = []
    for name, changed, r in found:
        curves = r.curves
        points = [i for i, e in enumerate(curves["epoch"]) if e <= horizon]
        last = points[-1]
        rows.append(
            [
                name,
                "nothing: its first epochs" if changed is None else changed,
                precision(r),
                ", ".join(
                    f"{curves['epoch'][i]}: {curves['uniformity_test'][i]:.3f}" for i in points
                ),
                f"{curves['loss'][last]:.4f} / {loss_at_collapse(r):.4f} (epoch {curves['epoch'][last]})",
                "yes" if _uniformity_at(r, horizon) >= ESCAPED else "no",
            ]
        )
    columns = (
        "run",
        "what else differs from the protocol",
        "steps in",
        "uniformity −L_unif, test set (epoch: value)",
        "training loss / its value at a collapse",
        f"escaped (≥ {ESCAPED:g})",
    )
    return HtmlTable(f"<p><strong>{html.escape(what)}</strong></p>" + html_table(columns, rows))


# --- one run, and how long runs take --------------------------------------------------------


def precision(record: Record | dict[str, Any]) -> str:
    """The number format of a run's training steps (``bf16`` of its provenance, or of a benchmark): "bfloat16"
    (autocast) or "float32". Evaluation is float32 in both; a bfloat16 run rounds differently from a float32 one."""
    prov = record.provenance if isinstance(record, Record) else record
    return "bfloat16" if prov.get("bf16") else "float32"


def run_curves(record: dict[str, Any]) -> go.Figure:
    """The per-epoch curves of one record (the run notebook's last figure)."""
    c = record.config
    label = config_label(c["loss"], c.get("tau"))
    fig = go.Figure(
        data=_curve_traces(record, COLOURS.get(c["loss"], COLOURS["paper"]), label),
        layout=_curve_grid(),
    )
    return fig.update_layout(title=f"{c['dataset']}, {label}, {run_text([record])}", height=620)


def run_summary(record: dict[str, Any]) -> HtmlTable:
    """The final numbers and provenance of one record, beside the paper's where Table 1 has them."""
    c, res, prov = record.config, record.results, record.provenance
    rows: list[list[object]] = []
    for key, value in res.items():
        theirs = (
            paper.table1(c["dataset"], key, c["loss"], c.get("tau"))
            if c["dataset"] in paper.DATASETS and key in paper.METRICS
            else None
        )
        rows.append(
            [
                METRIC_LABELS.get(key, key),
                format(value, METRIC_FORMATS.get(key, ".4g")),
                formatted(theirs, "g", ""),
            ]
        )
    data = prov.get("data", {})
    facts = {
        "protocol": protocol_text(record),
        "epochs": c["epochs"],
        "concurrent runs on the device": prov.get("concurrent_runs"),
        "device": prov.get("device"),
        "training steps in": precision(record),
        "data": data.get("source"),
        "data note": data.get("note"),
        "seconds per epoch": prov.get("seconds_per_epoch"),
        "wall seconds (total)": prov.get("wall_seconds", {}).get("total"),
        "commit": prov.get("commit"),
        "record": str(record.path),
    }
    rows += [
        [k, str(v)] for k, v in facts.items() if v not in (None, "")
    ]  # the value spans both columns
    return HtmlTable(html_table(("", "ours", "paper"), rows))


def run_times(records: Sequence[Record], benchmarks: Sequence[Record]) -> HtmlTable | NotYetRun:
    """How long training takes: each epoch-time benchmark (our engine vs a conventional pipeline),
    then the runs, one row per protocol, epochs and machine (named once), with how many runs, their
    seconds per epoch and minutes a run (fewest to most) and the days they finished; the machine
    with the number format of its steps (:func:`precision`; on a GPU, whether it compiled)."""
    if not benchmarks and not records:
        return NotYetRun(
            "Time per epoch and per run", ("an epoch-time benchmark", "any training run")
        )
    rows = [
        [
            f"benchmark, {b.get('protocol', 'paper')} protocol, batch {b['batch_size']}",
            f"{b['device']}, {precision(b)}",
            f"{b['engine_s_per_epoch']:.2f}",
            f"{b['baseline_s_per_epoch']:.2f} (conventional; ×{b['speedup']:.1f})",
            str(b.get("measured", ""))[:10],
        ]
        for b in benchmarks
    ]
    groups: dict[tuple[str, ...], list[Record]] = {}
    for r in records:
        c, prov = r.config, r.provenance
        shared = prov.get("concurrent_runs", 1)
        eager = str(c.get("device")).startswith("cuda") and not prov.get("compiled")
        what = (
            f"{r.protocol} protocol: {c['dataset']}, {c['epochs']} epochs"
            + (f" ({shared} runs sharing the device)" if shared > 1 else "")
            + (", eager steps" if eager else "")
        )
        groups.setdefault((what, f"{prov.get('device')}, {precision(r)}"), []).append(r)

    def span(values: list[Any], spec: str) -> str:
        low, high = format(min(values), spec), format(max(values), spec)
        return low if low == high else f"{low}–{high}"

    for (what, device), group in groups.items():
        first = group[0].config
        one = config_label(first["loss"], first.get("tau"))
        names = one if len(group) == 1 else f"{len(group)} runs"
        prov = [r.provenance for r in group]
        per_epoch = [p["seconds_per_epoch"] for p in prov if p.get("seconds_per_epoch")]
        minutes = [t / 60 for p in prov if (t := p.get("wall_seconds", {}).get("total"))]
        days = [str(p["finished"])[:10] for p in prov if p.get("finished")]
        rows.append(
            [
                f"{what}, {names}",
                device,
                span(per_epoch, ".2f") if per_epoch else "",
                f"{span(minutes, '.1f')} min a run" if minutes else "",
                span(days, "") if days else "",
            ]
        )
    return HtmlTable(html_table(("what", "machine, steps in", "s / epoch", "other", "when"), rows))


def sweep_numbers(table: RunTable, protocol: str) -> dict[str, Any]:
    """The measured time of the sweep at ``protocol``: how many of its planned configurations (one seed) have a
    record, how many runs are recorded (every seed), their wall hours added up (the runs ran one after another), the
    fastest and slowest run in minutes (None where no run is recorded), the devices they ran on and how many ran
    their steps in each number format (:func:`precision`)."""
    done = [
        r
        for r in table.made_at(protocol)
        if counts(r, protocol) and "total" in r.provenance.get("wall_seconds", {})
    ]
    minutes = sorted(r.provenance["wall_seconds"]["total"] / 60 for r in done)
    return {
        "title": describe(protocol),
        "configurations": len({(r.dataset, r.loss, r.tau) for r in done}),
        "planned": len(configurations(paper.TABLE1_LOSSES)),
        "runs": len(done),
        "hours": sum(minutes) / 60,
        "fastest": minutes[0] if minutes else None,
        "slowest": minutes[-1] if minutes else None,
        "devices": ", ".join(sorted({str(r.provenance.get("device")) for r in done})),
        "precisions": ", ".join(
            f"{p} in {_runs(sum(precision(r) == p for r in done))}"
            for p in sorted({precision(r) for r in done})
        ),
    }


def _runs(n: int) -> str:
    """``1 run``, ``3 runs``."""
    return f"{n} run{'' if n == 1 else 's'}"


def _same_run(a: Record, b: Record) -> bool:
    """Whether two records are one run made twice: the same name (loss, τ, seed) and data set, every setting a protocol
    fixes (:func:`contrastive.protocols.differences`), the same data file (sha256) and precision of the training step."""

    def identity(r: Record) -> tuple:
        return r.name, r.dataset, r.provenance.get("data", {}).get("sha256"), precision(r)

    return identity(a) == identity(b) and not differences(
        a.config, b.config, compared_fields(a.loss), reference="again"
    )


def _largest_difference(a: Record, b: Record) -> float:
    """The largest relative difference between two records over every final number and curve point they share."""
    pairs = [(a.results[k], b.results[k]) for k in a.results.keys() & b.results.keys()]
    pairs += [p for k in a.curves.keys() & b.curves.keys() for p in zip(a.curves[k], b.curves[k])]
    return max((abs(x - y) / max(abs(x), abs(y)) for x, y in pairs if x != y), default=0.0)


def repeat_numbers(first: Sequence[Record], again: Sequence[Record]) -> dict[str, Any]:
    """Runs made twice: the records of ``first`` (e.g. a pilot's) that a record of ``again`` repeats
    (:func:`_same_run`). For the chapter's sentence: how many, which, the largest relative difference within a
    pair over every final number and curve point, how many pairs stored byte-identical arrays, the commits and
    devices of each side, and the precision of their steps."""
    matches = (
        (a, next((b for b in again if not b.invalid and _same_run(a, b)), None))
        for a in first
        if not a.invalid
    )
    pairs = [(a, b) for a, b in matches if b is not None]

    def listed(
        side: int, key: str, width: int | None = None
    ) -> str:  # a provenance entry of one side of the pairs
        return ", ".join(sorted({str(pair[side].provenance.get(key))[:width] for pair in pairs}))

    return {
        "pairs": len(pairs),
        "names": ", ".join(config_label(a.loss, a.tau) for a, _ in pairs),
        "largest": max((_largest_difference(a, b) for a, b in pairs), default=0.0),
        "same_arrays": sum(a.arrays_sha256 == b.arrays_sha256 for a, b in pairs),
        "commits": listed(0, "commit", 7),
        "commits_again": listed(1, "commit", 7),
        "devices": listed(0, "device"),
        "devices_again": listed(1, "device"),
        "precision": ", ".join(sorted({precision(a) for a, _ in pairs})),
    }

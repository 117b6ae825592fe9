"""Figures and the comparison table of the Audit page, drawn from a checked audit (``ExplorerService.audit``).

Each function takes the audit's numbers and returns a Dash component or a plotly
figure; nothing here reads a file or runs a model. The counterfactual check's figures
(does the model use the evidence, and what it relies on in one image) read the audit's
``counterfactual`` entry, which holds ``reliance.json``'s rows where the audit wrote it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from hartrace.explorer.app.components.widgets import empty_figure

PALETTE = ("#2563eb", "#f59e0b", "#16a34a", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#78716c")
GOOD, BAD, MUTED = "#16a34a", "#dc2626", "#6b7280"
BASELINE_COLOUR = "#9ca3af"
TOLERANT_BASELINE_COLOUR = "#d1d5db"
RELIANCE_COLOUR = "#111827"  # what the model measurably relies on: the truth the methods' bars are read against
EVIDENCE_COLOURS = ("#0f766e", "#5eead4")  # removing the evidence: prediction changes, probability drop
RELIANCE_COLUMN = "ranks parts as the model relies on them"
#: Why an image has no Spearman (as :func:`hartrace.metrics.reliance.rank_agreement` returns NaN).
NOTHING_TO_RANK = "no Spearman: fewer than three parts, or the reliance or the map is the same on every part"
_MARGIN = {"l": 50, "r": 20, "t": 60, "b": 40}
#: The comparison table's columns; the tolerant pointing game's names the audit's tolerance.
COLUMNS = (
    "method",
    "pointing game, strict",
    "pointing game within {tolerance}",
    "energy inside",
    "deletion AUC ↓",
    "insertion AUC ↑",
    "average drop ↓",
    "average increase ↑",
    RELIANCE_COLUMN,
    "sanity check",
    "seconds / image",
)


def colours(methods: list[str]) -> dict[str, str]:
    """One colour per method, the same in every figure of the page."""
    return {method: PALETTE[i % len(PALETTE)] for i, method in enumerate(methods)}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _plain(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.3g} s" if seconds >= 1 else f"{1000 * seconds:.3g} ms"


def _beside(value: str, baseline: str, label: str) -> list[Any]:
    """A score with its baseline under it, smaller."""
    return [html.B(value), html.Br(), html.Span(f"{label} {baseline}", className="muted")]


def sanity_cell(sanity: Mapping[str, Any]) -> html.Td:
    """The verdict of the randomisation test, green when the maps depend on the weights, red when they do not."""
    final, passed = sanity.get("final_spearman"), sanity.get("passed")
    rho = "" if final is None else f" · ρ {final:.2f}"
    if passed is None:
        return html.Td(f"not run{rho}", className="audit-sanity-unknown", style={"color": MUTED})
    word, colour = ("passed", GOOD) if passed else ("failed", BAD)
    return html.Td(
        [html.B(word), html.Span(rho)],
        className=f"audit-sanity-{word}",
        style={"color": colour},
        title=f"final Spearman {_plain(final, 3)} vs threshold {sanity.get('threshold', 0.3)}",
    )


def reliance_cell(m: Mapping[str, Any], audit: Mapping[str, Any]) -> html.Td:
    """The method's mean rank agreement with the measured reliance beside a random map's; "—" where the
    counterfactual check did not run (its reason on hover)."""
    if m.get("reliance_spearman") is None:
        return html.Td("—", title=f"not measured: {not_run(audit) or 'no image had parts to rank'}")
    images = m.get("reliance_images")
    return html.Td(
        _beside(_plain(m["reliance_spearman"], 2), _plain(m.get("reliance_spearman_random"), 2), "random map"),
        title="Spearman between the map's mass on each part and the probability drop when the part is removed"
        + ("" if images is None else f", mean over {images:g} images"),
    )


def _within(audit: Mapping[str, Any]) -> str:
    """``"15 px"``: the tolerant pointing game's margin, or ``"the tolerance"`` where the audit did not save it."""
    return "the tolerance" if audit.get("tolerance") is None else f"{audit['tolerance']} px"


def comparison_table(audit: Mapping[str, Any]) -> html.Table:
    """One row per method (labelled with its layers where it has its own): each score beside its random baseline,
    the pointing game strict and tolerant, the sanity verdict coloured, the time per image."""
    rows = []
    for method, m in audit["methods"].items():
        failed = m["sanity"].get("passed") is False
        rows.append(
            html.Tr(
                [
                    html.Td(html.B(method), style={"whiteSpace": "nowrap"}),  # a label with layers stays one line
                    html.Td(
                        _beside(_percent(m["pointing_strict"]), _percent(m["pointing_strict_random"]), "random map")
                    ),
                    html.Td(
                        _beside(_percent(m["pointing_tolerant"]), _percent(m["pointing_tolerant_random"]), "random map")
                    ),
                    html.Td(_beside(_percent(m["energy_inside"]), _percent(m["energy_random_baseline"]), "random map")),
                    html.Td(_beside(_plain(m["deletion_auc"]), _plain(m["deletion_auc_random"]), "random order")),
                    html.Td(_beside(_plain(m["insertion_auc"]), _plain(m["insertion_auc_random"]), "random order")),
                    html.Td(_percent(m["average_drop"])),
                    html.Td(_percent(m["average_increase"])),
                    reliance_cell(m, audit),
                    sanity_cell(m["sanity"]),
                    html.Td(_duration(m["seconds_per_image"])),
                ],
                id=f"audit-row-{method}",
                className="audit-row-failed" if failed else "audit-row",
            )
        )
    head = html.Thead(html.Tr([html.Th(c.format(tolerance=_within(audit))) for c in COLUMNS]))
    return html.Table([head, html.Tbody(rows)], className="data-table audit-table")


def problems(audit: Mapping[str, Any]) -> list[str]:
    """Each failed check in words: the problems the audit lists, or (where it lists none) each failed sanity check."""
    found = []
    for method, m in audit["methods"].items():
        if m.get("problems") is not None:
            found += m["problems"]
            continue
        sanity = m["sanity"]
        if sanity.get("passed") is False:
            final = _plain(sanity.get("final_spearman"), 2)
            found.append(
                f"{method}: maps barely change when the weights are randomised "
                f"(Spearman {final} after randomising every "
                f"layer, threshold {sanity.get('threshold', 0.3):g}): they do not show what this "
                "model learnt"
            )
    return found


def has_curves(audit: Mapping[str, Any]) -> bool:
    """Whether the audit holds the mean deletion and insertion curves of every method."""
    return all(m.get("curves") for m in audit["methods"].values())


def curves_figure(audit: Mapping[str, Any], height: int = 400) -> go.Figure:
    """Mean deletion and insertion curves, one line per method, beside the random-order curve (dashed)."""
    palette = colours(list(audit["methods"]))
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=("deletion (lower is better)", "insertion (higher is better)"),
    )
    for column, kind in enumerate(("deletion", "insertion"), start=1):
        random_order = None
        for method, m in audit["methods"].items():
            curves = m["curves"]
            x = curves.get("x") or list(np.linspace(0, 1, len(curves[kind])))
            hover = f"{method} (AUC {_plain(m[f'{kind}_auc'])})<br>%{{x:.0%}} of pixels: p = %{{y:.3f}}<extra></extra>"
            random_order = random_order or (x, curves.get(f"{kind}_random"), m[f"{kind}_auc_random"])
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=curves[kind],
                    mode="lines",
                    name=method,
                    legendgroup=method,
                    showlegend=column == 1,
                    line={"color": palette[method], "width": 2.5},
                    hovertemplate=hover,
                ),
                row=1,
                col=column,
            )
        if random_order and random_order[1]:
            x, y, auc = random_order
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    name="random order",
                    legendgroup="random",
                    showlegend=column == 1,
                    line={"color": "#111827", "dash": "dash", "width": 1.5},
                    hovertemplate=f"random order (AUC {_plain(auc)})<br>"
                    "%{x:.0%} of pixels: p = %{y:.3f}<extra></extra>",
                ),
                row=1,
                col=column,
            )
    fig.update_xaxes(title="share of pixels", tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title="probability of the predicted class", rangemode="tozero", col=1)
    fig.update_yaxes(rangemode="tozero", col=2)
    fig.update_annotations(font_size=13)
    fig.update_layout(
        height=height, margin={**_MARGIN, "t": 40}, legend={"orientation": "h", "y": -0.2}, hovermode="closest"
    )
    return fig


def cascade_figure(audit: Mapping[str, Any], height: int = 380) -> go.Figure:
    """Spearman of each method's maps with its original maps as the layers are randomised, top layer first."""
    methods = audit["methods"]
    palette = colours(list(methods))
    steps = max((m["sanity"]["cascade"] for m in methods.values()), key=len)
    if not steps:
        return empty_figure("this audit has no randomisation cascade", height)
    order = [step["randomised"] for step in steps]
    fig = go.Figure()
    threshold = 0.3
    for method, m in methods.items():
        sanity = m["sanity"]
        cascade = sanity["cascade"]
        if not cascade:
            continue
        threshold = sanity.get("threshold", threshold)
        verdict = {True: "passes", False: "fails"}.get(sanity.get("passed"), "not judged")
        std = [s["spearman_std"] or 0.0 for s in cascade]
        fig.add_trace(
            go.Scatter(
                x=[s["randomised"] for s in cascade],
                y=[s["spearman_mean"] for s in cascade],
                mode="lines+markers",
                name=f"{method} ({verdict})",
                line={"color": palette[method], "width": 2.5},
                error_y={"type": "data", "array": std, "visible": True, "thickness": 1, "width": 3},
                hovertemplate=f"{method}<br>randomised up to %{{x}}<br>Spearman %{{y:.3f}}<extra></extra>",
            )
        )
    fig.add_hline(
        y=threshold,
        line_dash="dash",
        line_color=BAD,
        annotation_text=f"threshold {threshold:g}: below it, the maps depend on the weights",
        annotation_position="top right",
        annotation_font={"size": 11, "color": BAD},
    )
    lows = [
        s["spearman_mean"] for m in methods.values() for s in m["sanity"]["cascade"] if s["spearman_mean"] is not None
    ]
    fig.update_xaxes(title="randomised, cumulatively from the output down", categoryorder="array", categoryarray=order)
    fig.update_yaxes(title="Spearman with the original maps", range=[min(-0.1, min(lows, default=0) - 0.1), 1.08])
    fig.update_layout(
        height=height, margin={**_MARGIN, "t": 20}, legend={"orientation": "h", "y": -0.3}, hovermode="closest"
    )
    return fig


def per_class_methods(audit: Mapping[str, Any]) -> list[str]:
    """The methods whose per-class localisation the audit holds."""
    return [method for method, m in audit["methods"].items() if any(_localised(r) for r in m["per_class"].values())]


def _localised(row: Mapping[str, Any]) -> bool:
    return row.get("pointing_strict") is not None or row.get("pointing_tolerant") is not None


def per_class_figure(audit: Mapping[str, Any], method: str | None, height: int = 340) -> go.Figure:
    """Pointing game per class for one method, strict and within the tolerance, each beside the random-map baseline
    of each class (or the overall one)."""
    m = audit["methods"].get(method) if method else None
    if m is None:
        return empty_figure("pick a method", height)
    rows = {name: r for name, r in m["per_class"].items() if _localised(r)}
    if not rows:
        return empty_figure(f"{method}: no per-class localisation (no class had evidence)", height)
    names = list(rows)
    colour = colours(list(audit["methods"]))[method]
    counts = [r["with_evidence"] if r.get("with_evidence") is not None else r.get("images") for r in rows.values()]
    fig = go.Figure()
    within = f"within {_within(audit)}"
    for kind, label, pattern, baseline_colour in (
        ("strict", "strict", "", BASELINE_COLOUR),
        ("tolerant", within, "/", TOLERANT_BASELINE_COLOUR),
    ):
        hits = [r.get(f"pointing_{kind}") for r in rows.values()]
        fig.add_trace(
            go.Bar(
                x=names,
                y=hits,
                name=f"{method}, {label}",
                marker={"color": colour, "pattern": {"shape": pattern}},
                customdata=[("?" if c is None else f"{c:g}") for c in counts],
                text=["" if v is None else f"{v:.0%}" for v in hits],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"%{{x}}: %{{y:.1%}} {label} of %{{customdata}} images with evidence"
                f"<extra>{method}</extra>",
            )
        )
        baselines = [r.get(f"pointing_{kind}_random") for r in rows.values()]
        if any(b is not None for b in baselines):
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=baselines,
                    name=f"random map, {label}",
                    marker_color=baseline_colour,
                    hovertemplate=f"%{{x}}: random map %{{y:.1%}} {label}<extra></extra>",
                )
            )
        elif m.get(f"pointing_{kind}_random") is not None:
            fig.add_hline(
                y=m[f"pointing_{kind}_random"],
                line_dash="dash" if kind == "strict" else "dot",
                line_color=BASELINE_COLOUR,
                annotation_text=f"random map, {label} (all classes)",
                annotation_position="top left" if kind == "strict" else "top right",
            )
    fig.update_yaxes(title="pointing game", tickformat=".0%", range=[0, 1.05])
    fig.update_layout(
        title=f"{method}: does the map's peak fall on the evidence?",
        barmode="group",
        height=height,
        margin=_MARGIN,
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
    return fig


def summary_line(audit: Mapping[str, Any]) -> str:
    """How the audit was made, in one line (the parts the audit saved)."""
    parts = [f"{audit['split'] or '?'} split"]
    if audit.get("images") is not None:
        evidence = "" if audit.get("with_evidence") is None else f" ({audit['with_evidence']:g} with evidence)"
        parts.append(f"{audit['images']} images{evidence}")
    if audit.get("layer"):
        parts.append(f"maps at {audit['layer']}")
    if audit.get("tolerance") is not None:
        parts.append(f"pointing game strict and within {audit['tolerance']} px")
    if audit.get("steps") is not None:
        parts.append(f"curves in {audit['steps']:g} steps")
    if audit.get("cascade_images") is not None:
        parts.append(f"sanity check on {audit['cascade_images']:g} images")
    if audit.get("seconds") is not None:
        parts.append(f"audited in {audit['seconds']:.0f} s")
    return " · ".join(parts)


# -- the counterfactual check: what the model relies on -----------------------------------------


def counterfactual(audit: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The audit's counterfactual check where it ran, else None."""
    checked = audit.get("counterfactual")
    return checked if checked and checked.get("ran") else None


def not_run(audit: Mapping[str, Any]) -> str | None:
    """Why the counterfactual check did not run, in words; None where it did."""
    checked = audit.get("counterfactual")
    if checked is None:
        return "this audit did not save a counterfactual check (run `hartrace audit` again)"
    return None if checked.get("ran") else f"the counterfactual check did not run: {checked.get('why')}"


def evidence_figure(audit: Mapping[str, Any], height: int = 320) -> go.Figure:
    """Per true class (and over all images), how often redrawing an image without all its evidence changes the
    prediction, beside the mean drop of the predicted class's probability."""
    checked = counterfactual(audit)
    if checked is None:
        return empty_figure(not_run(audit) or "", height)
    rows = {"all images": checked["evidence"]["overall"], **checked["evidence"]["per_class"]}
    if not checked["evidence"]["overall"].get("with_evidence"):
        return empty_figure("no audited image has evidence to remove", height)
    names = list(rows)
    counts = [_count(r.get("with_evidence"), "image") for r in rows.values()]
    fig = go.Figure()
    for (key, label, digits), colour in zip(
        (("changes_prediction", "prediction changes", ".0%"), ("probability_drop", "mean probability drop", ".2f")),
        EVIDENCE_COLOURS,
        strict=True,
    ):
        values = [r.get(key) for r in rows.values()]
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                name=label,
                marker_color=colour,
                customdata=counts,
                text=["" if v is None else format(v, digits) for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"%{{x}}: {label} %{{text}} over %{{customdata}} with evidence<extra></extra>",
            )
        )
    drops = [r.get("probability_drop") for r in rows.values() if r.get("probability_drop") is not None]
    ticks = [f"{n}<br>{_count(r.get('with_evidence'), 'image')}" for n, r in rows.items()]
    fig.update_xaxes(ticktext=ticks, tickvals=names)
    fig.update_yaxes(title="share of images · probability drop", range=[min(0.0, min(drops, default=0) - 0.05), 1.12])
    fig.update_layout(
        barmode="group",
        height=height,
        margin={**_MARGIN, "t": 50},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig


def _count(value: float | None, noun: str) -> str:
    """``"1 image"``, ``"4 images"``, ``"? images"``."""
    if value is None:
        return f"? {noun}s"
    return f"{value:g} {noun}" if value == 1 else f"{value:g} {noun}s"


def reliance_class_figure(audit: Mapping[str, Any], height: int = 340) -> go.Figure | None:
    """Per true class (and over all images), each method's mean rank agreement with the measured reliance, beside
    a random map's (grey), over the class's images with parts to rank; None where no method was scored."""
    methods = {label: m for label, m in audit["methods"].items() if m.get("reliance_spearman") is not None}
    if not methods:
        return None
    classes = list(dict.fromkeys(name for m in methods.values() for name in m["per_class"]))
    names = ["all images", *classes]

    def scores(m: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return [m if name == "all images" else m["per_class"].get(name, {}) for name in names]

    palette = colours(list(audit["methods"]))
    fig = go.Figure()
    for label, m in methods.items():
        rows = scores(m)
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r.get("reliance_spearman") for r in rows],
                name=label,
                marker_color=palette[label],
                customdata=[_count(r.get("reliance_images"), "image") for r in rows],
                hovertemplate=f"%{{x}}: Spearman %{{y:.2f}} over %{{customdata}}<extra>{label}</extra>",
            )
        )
    random = scores(next(iter(methods.values())))  # the same random map's mass on the same images, for every method
    fig.add_trace(
        go.Bar(
            x=names,
            y=[r.get("reliance_spearman_random") for r in random],
            name="random map",
            marker_color=BASELINE_COLOUR,
            hovertemplate="%{x}: random map %{y:.2f}<extra></extra>",
        )
    )
    counts = [_count(r.get("reliance_images"), "image") for r in random]
    fig.update_xaxes(tickvals=names, ticktext=[f"{n}<br>{c}" for n, c in zip(names, counts, strict=True)])
    fig.update_yaxes(title="Spearman with the reliance", range=[-1.05, 1.05], zeroline=True, zerolinecolor=MUTED)
    fig.update_layout(
        title="does each method rank an image's parts as the model relies on them?",
        barmode="group",
        height=height,
        margin=_MARGIN,
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
    return fig


def reliance_options(audit: Mapping[str, Any]) -> tuple[list[dict[str, str]], str | None]:
    """The dropdown of the audited images that show parts (``file · predicted class``, valued by path), and the
    image shown first: the first image of the audit's strip, else the first listed."""
    checked = counterfactual(audit)
    images = (checked or {}).get("images") or []
    options = [
        {"label": f"{PurePosixPath(row['path']).name} · {row['predicted']}", "value": row["path"]}
        for row in images
        if row["parts"]
    ]
    strip = [images[i]["path"] for i in (checked or {}).get("strip", []) if 0 <= i < len(images)]
    listed = {option["value"] for option in options}
    first = next((path for path in strip if path in listed), options[0]["value"] if options else None)
    return options, first


def reliance_row(audit: Mapping[str, Any], path: str | None) -> Mapping[str, Any] | None:
    """The row of ``reliance.json`` of the image at ``path``, or None."""
    images = (counterfactual(audit) or {}).get("images") or []
    return next((row for row in images if row["path"] == path), None)


def reliance(row: Mapping[str, Any]) -> list[float | None]:
    """The image's measured reliance on each part: the predicted class's probability drop when it is removed."""
    p = row["probability"]
    return [None if p is None or after is None else p - after for after in row["probability_after"]]


def reliance_figure(audit: Mapping[str, Any], row: Mapping[str, Any] | None) -> go.Figure:
    """One image's parts, the one the model relies on most at the top: the measured reliance (the probability drop
    when the part is removed, black) beside each method's share of its map on the part; a part whose removal
    changes the prediction says so."""
    if row is None:
        return empty_figure("pick an image")
    parts = row["parts"]
    if not parts:
        return empty_figure("this image shows no parts to remove")
    drops = reliance(row)
    ranked = [-math.inf if drop is None else drop for drop in drops]
    order = sorted(range(len(parts)), key=lambda k: -ranked[k])
    names = [parts[k] for k in order]
    after = [row["probability_after"][k] for k in order]
    changes = [row["prediction_changes"][k] for k in order]
    fig = go.Figure(
        go.Bar(
            y=names,
            x=[drops[k] for k in order],
            orientation="h",
            name="reliance: probability drop when removed",
            marker_color=RELIANCE_COLOUR,
            customdata=[
                [_plain(a, 2), " · the prediction changes" if changed else ""]
                for a, changed in zip(after, changes, strict=True)
            ],
            hovertemplate=f"%{{y}} removed: {row['predicted']} {_plain(row['probability'], 2)} → %{{customdata[0]}}"
            "%{customdata[1]}<extra></extra>",
        )
    )
    palette = colours(list(audit["methods"]))
    for label, m in row["methods"].items():
        fig.add_trace(
            go.Bar(
                y=names,
                x=[m["mass"][k] for k in order],
                orientation="h",
                name=f"{label}: share of its map (ρ {_plain(m['spearman'], 2)})",
                marker_color=palette.get(label, MUTED),
                hovertemplate=f"%{{y}}: %{{x:.1%}} of {label}'s map<extra></extra>",
            )
        )
    ticks = [
        f"<b>{name}</b><br><span style='color:{BAD}'>prediction changes</span>" if changed else f"<b>{name}</b>"
        for name, changed in zip(names, changes, strict=True)
    ]
    fig.update_yaxes(autorange="reversed", tickvals=names, ticktext=ticks)
    fig.update_xaxes(title="probability drop (black) · share of the map's mass (colours)", zeroline=True)
    bars = 1 + len(row["methods"])
    fig.update_layout(
        barmode="group",
        bargap=0.25,
        height=130 + len(parts) * (10 * bars + 14),
        margin={"l": 130, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
    )
    return fig


def reliance_summary(row: Mapping[str, Any] | None) -> list[Any]:
    """What the image's counterfactuals say in words: the prediction, each method's rank agreement beside a random
    map's, and what removing all the evidence does."""
    if row is None:
        return []
    lines: list[Any] = [
        html.Div([html.B(row["predicted"]), f" predicted, probability {_plain(row['probability'], 2)}"]),
        html.Div("Spearman with the reliance:", className="muted"),
        html.Ul(
            [html.Li([html.B(label), f" {_plain(m['spearman'], 2)}"]) for label, m in row["methods"].items()]
            + [html.Li(f"random map {_plain(row['random_spearman'], 2)}", className="muted")],
            className="audit-reliance-scores",
        ),
    ]
    changed = [p for p, c in zip(row["parts"], row["prediction_changes"], strict=True) if c]
    lines.append(
        html.Div(
            f"removing {', '.join(changed)} changes the prediction"
            if changed
            else "no single part's removal changes the prediction"
        )
    )
    if row.get("evidence_changes_prediction") is not None:
        verdict = "changes the prediction" if row["evidence_changes_prediction"] else "keeps the prediction"
        lines.append(
            html.Div(f"all the evidence removed: {verdict} (drop {_plain(row['evidence_probability_drop'], 2)})")
        )
    if row["methods"] and all(m["spearman"] is None for m in row["methods"].values()):
        lines.append(html.Div(NOTHING_TO_RANK, className="muted"))
    return lines

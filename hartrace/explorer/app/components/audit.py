"""Figures and the comparison table of the Audit page, drawn from a checked audit (``ExplorerService.audit``).

Each function takes the audit's numbers and returns a Dash component or a plotly
figure; nothing here reads a file or runs a model.
"""

from __future__ import annotations

from collections.abc import Mapping
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

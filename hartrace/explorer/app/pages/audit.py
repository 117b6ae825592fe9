"""Audit: how well a run's explanations hold up, from the numbers `hartrace audit` saved in the run folder.

The method comparison (localisation: the pointing game strict and within the audit's
tolerance, each beside a random map, and the energy inside; deletion and insertion, the
sanity check, the time each method takes), the curves and the randomisation cascade drawn from the
audit's numbers, the worst-explained images and the localisation per class. The page
computes nothing: with no audit, it says how to make one.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components import audit as figures
from hartrace.explorer.app.components.widgets import GRAPH_CONFIG, card, empty_figure, graph, notice
from hartrace.explorer.app.wiring import Callbacks

PATH = "/audit"
NAME = "Audit"
ORDER = 5.5  # after Evaluation: both judge the run as a whole

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Audit"),
            html.P(
                [
                    "Do the explanations point at the evidence, do they pick the pixels the model needs, and do they "
                    "depend on what the model learnt? What ",
                    html.Code("hartrace audit"),
                    " found for this run.",
                ],
                className="muted",
            ),
            html.Div(
                html.Div(
                    [
                        html.Label("audit", htmlFor=ids.AUDIT_SPLIT),
                        dcc.Dropdown(id=ids.AUDIT_SPLIT, clearable=False, placeholder="no audit"),
                    ],
                    className="field",
                ),
                className="filters",
            ),
            html.Div(id=ids.AUDIT_NOTICE),
            html.Div(
                [
                    card(
                        "Methods compared",
                        html.P(id=ids.AUDIT_SUMMARY, className="muted"),
                        html.Div(id=ids.AUDIT_TABLE),
                    ),
                    html.Div(
                        [
                            card(
                                "Deletion and insertion",
                                html.P(
                                    "The predicted class's probability as the pixels the map ranks highest are "
                                    "removed first (deletion), or restored first into a blurred image (insertion), "
                                    "beside the same in a random order.",
                                    className="muted",
                                ),
                                html.Div(id=ids.AUDIT_CURVES),
                                className="grow",
                            ),
                            card(
                                "Sanity check: cascading randomisation",
                                html.P(
                                    "How alike each method's maps stay as the model's layers are randomised, from "
                                    "the output down; maps that stay alike do not depend on what the model learnt.",
                                    className="muted",
                                ),
                                graph(ids.AUDIT_CASCADE),
                                className="grow",
                            ),
                        ],
                        className="row",
                    ),
                    card(
                        "Localisation per class",
                        html.P(
                            "How often the method's maps peak on each class's evidence: strict (on it) and within "
                            "the audit's tolerance (hatched), each beside a random map's chance (grey).",
                            className="muted",
                        ),
                        html.Div(
                            html.Div(
                                [
                                    html.Label("method", htmlFor=ids.AUDIT_METHOD),
                                    dcc.Dropdown(id=ids.AUDIT_METHOD, clearable=False),
                                ],
                                className="field",
                            ),
                            className="filters",
                        ),
                        graph(ids.AUDIT_PER_CLASS),
                    ),
                    card("Worst-explained images", html.Div(id=ids.AUDIT_WORST)),
                ],
                id=ids.AUDIT_BODY,
                hidden=True,
            ),
        ]
    )


@callback(
    Output(ids.AUDIT_SPLIT, "options"),
    Output(ids.AUDIT_SPLIT, "value"),
    Input(ids.RUN_STORE, "data"),
    State(ids.AUDIT_SPLIT, "value"),
)
def audit_splits(run: str | None, current: str | None, *, service: ExplorerAPI):
    """The run's audits, one per split; the one shown stays when the new run has it too, else ``val`` or the first."""
    if not run:
        return [], None
    try:
        splits = service.audit_splits(run)
    except HartraceError:
        return [], None
    options = [{"label": f"{split} split", "value": split} for split in splits]
    return options, current if current in splits else (splits[0] if splits else None)


def _audit(service: ExplorerAPI, run: str | None, split: str | None) -> dict[str, Any]:
    if not run:
        raise HartraceError("no run selected")
    return service.audit(run, split)


@callback(
    Output(ids.AUDIT_NOTICE, "children"),
    Output(ids.AUDIT_BODY, "hidden"),
    Output(ids.AUDIT_SUMMARY, "children"),
    Output(ids.AUDIT_TABLE, "children"),
    Output(ids.AUDIT_METHOD, "options"),
    Output(ids.AUDIT_METHOD, "value"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.AUDIT_SPLIT, "value"),
    State(ids.AUDIT_METHOD, "value"),
)
def show_audit(run: str | None, split: str | None, method: str | None, *, service: ExplorerAPI):
    """The comparison table, with a warning for each check a method fails; or why there is none."""
    nothing = True, "", [], [], None
    if not run:
        return notice("No run selected.", "info"), *nothing
    audited = True
    try:
        audited = bool(service.audit_splits(run))
        audit = service.audit(run, split)
    except HartraceError as exc:  # a run never audited is no error: the message says how to audit it
        return notice(str(exc), "error" if audited else "info"), *nothing
    warnings = [notice(text, "warning") for text in figures.problems(audit)]
    methods = figures.per_class_methods(audit)
    picked = method if method in methods else (methods[0] if methods else None)
    return warnings, False, figures.summary_line(audit), figures.comparison_table(audit), methods, picked


@callback(
    Output(ids.AUDIT_CURVES, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.AUDIT_SPLIT, "value"),
)
def show_curves(run: str | None, split: str | None, *, service: ExplorerAPI):
    """The mean deletion and insertion curves: drawn from the audit's points, else the picture the audit saved."""
    try:
        audit = _audit(service, run, split)
        if figures.has_curves(audit):
            return dcc.Graph(figure=figures.curves_figure(audit), config=GRAPH_CONFIG, className="audit-curves-graph")
        picture = service.audit_picture(run, split, "curves")
    except HartraceError as exc:
        return html.P(str(exc), className="muted")
    if picture is None:
        return html.P("This audit has no deletion and insertion curves.", className="muted")
    return html.Img(
        src=picture, alt="deletion and insertion curves", className="audit-picture", style={"maxWidth": "100%"}
    )


@callback(
    Output(ids.AUDIT_CASCADE, "figure"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.AUDIT_SPLIT, "value"),
)
def show_cascade(run: str | None, split: str | None, *, service: ExplorerAPI):
    """Spearman per randomised layer, one line per method, with the threshold a method must fall below."""
    try:
        return figures.cascade_figure(_audit(service, run, split))
    except HartraceError as exc:
        return empty_figure(str(exc))


@callback(
    Output(ids.AUDIT_WORST, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.AUDIT_SPLIT, "value"),
)
def show_worst(run: str | None, split: str | None, *, service: ExplorerAPI):
    """The gallery of the images each method explained worst, as the audit drew it."""
    try:
        picture = service.audit_picture(run, split, "worst") if run else None
    except HartraceError as exc:
        return html.P(str(exc), className="muted")
    if picture is None:
        return html.P("This audit has no gallery of worst-explained images.", className="muted")
    return [
        html.P(
            "Each method's worst-explained images, as the audit drew them (its title says how they were picked).",
            className="muted",
        ),
        html.Img(src=picture, alt="worst-explained images", className="audit-picture", style={"maxWidth": "100%"}),
    ]


@callback(
    Output(ids.AUDIT_PER_CLASS, "figure"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.AUDIT_SPLIT, "value"),
    Input(ids.AUDIT_METHOD, "value"),
)
def show_per_class(run: str | None, split: str | None, method: str | None, *, service: ExplorerAPI):
    """Pointing game per class of the picked method, strict and tolerant, each beside its random-map baseline."""
    if not method:
        return empty_figure("no per-class localisation in this audit")
    try:
        return figures.per_class_figure(_audit(service, run, split), method)
    except HartraceError as exc:
        return empty_figure(str(exc))

"""Audit: how well a run's explanations hold up, from the numbers `hartrace audit` saved in the run folder.

The method comparison (localisation: the pointing game strict and within the audit's
tolerance, each beside a random map, and the energy inside; deletion and insertion; how
well each method ranks an image's parts by the model's measured reliance on them; the
sanity check, the time each method takes), the curves and the randomisation cascade drawn from the
audit's numbers, the worst-explained images and the localisation per class. On a synthetic
set the audit also redrew every image without each of its parts: the page shows whether the
model uses the evidence, per class, and one image's parts at a time, the reliance on each
beside each method's mass on it. The page computes nothing: with no audit, it says how to make one.
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
PICTURE_SIZE = 256  # the per-image view's picture at most this side (the page shows it 224 px wide)

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
                        html.Div(id=ids.AUDIT_RELIANCE_CLASSES),
                    ),
                    card(
                        "Does the model use the evidence?",
                        html.Div(id=ids.AUDIT_EVIDENCE),
                    ),
                    card(
                        "What the model relies on, part by part",
                        html.P(
                            "The audit redrew each image without each of its parts. Black: how much the predicted "
                            "class's probability drops when the part is removed, the model's measured reliance on "
                            "it; colours: each method's share of its map on the part. A faithful map ranks the parts "
                            "as the black bars do (its Spearman is the agreement).",
                            className="muted",
                        ),
                        html.Div(
                            html.Div(
                                [
                                    html.Label("image", htmlFor=ids.AUDIT_RELIANCE_IMAGE),
                                    dcc.Dropdown(id=ids.AUDIT_RELIANCE_IMAGE, clearable=False),
                                ],
                                className="field wide",
                            ),
                            className="filters",
                        ),
                        html.Div(
                            [
                                html.Div(
                                    [
                                        html.Div(id=ids.AUDIT_RELIANCE_PICTURE),
                                        html.Div(id=ids.AUDIT_RELIANCE_SUMMARY, className="audit-reliance-summary"),
                                    ],
                                    className="audit-reliance-side",
                                ),
                                html.Div(graph(ids.AUDIT_RELIANCE_CHART), className="grow"),
                            ],
                            className="row",
                        ),
                        html.Div(id=ids.AUDIT_STRIP),
                        id=ids.AUDIT_RELIANCE,
                        hidden=True,
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


@callback(
    Output(ids.AUDIT_EVIDENCE, "children"),
    Output(ids.AUDIT_RELIANCE_CLASSES, "children"),
    Output(ids.AUDIT_RELIANCE, "hidden"),
    Output(ids.AUDIT_RELIANCE_IMAGE, "options"),
    Output(ids.AUDIT_RELIANCE_IMAGE, "value"),
    Output(ids.AUDIT_STRIP, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.AUDIT_SPLIT, "value"),
    State(ids.AUDIT_RELIANCE_IMAGE, "value"),
)
def show_counterfactual(run: str | None, split: str | None, image: str | None, *, service: ExplorerAPI):
    """Does the model use the evidence (per class), each method's reliance agreement per class, the images whose
    parts can be shown (the one shown stays while the audit has it) and the audit's strip; or, where the
    counterfactual check did not run, one line saying why."""
    try:
        audit = _audit(service, run, split)
    except HartraceError as exc:
        return html.P(str(exc), className="muted"), [], True, [], None, []
    why = figures.not_run(audit)
    if why is not None:
        return html.P(why[0].upper() + why[1:] + ".", className="muted audit-not-run"), [], True, [], None, []
    evidence = [
        html.P(
            "Each image redrawn without all of its evidence: how often the prediction changes, and the mean drop "
            "of the predicted class's probability, over all images and per true class.",
            className="muted",
        ),
        dcc.Graph(figure=figures.evidence_figure(audit), config=GRAPH_CONFIG, className="audit-evidence-graph"),
    ]
    per_class_figure = figures.reliance_class_figure(audit)
    per_class = (
        []
        if per_class_figure is None
        else [
            html.P(
                "Below, per class: the Spearman between each method's mass on an image's parts and the drop of the "
                "predicted class's probability when each is removed, averaged over the class's images with three "
                "parts or more, beside a random map's (grey).",
                className="muted audit-reliance-note",
            ),
            dcc.Graph(figure=per_class_figure, config=GRAPH_CONFIG, className="audit-reliance-classes-graph"),
        ]
    )
    options, first = figures.reliance_options(audit)
    listed = {option["value"] for option in options}
    picked = image if image in listed else first
    checked = figures.counterfactual(audit) or {}
    if not options:  # the per-image view has nothing to show: said once, under the evidence
        problem = checked.get("images_problem") or "no audited image shows parts to remove"
        evidence.append(html.P(f"No part-by-part view: {problem}.", className="muted audit-not-run"))
        return evidence, per_class, True, [], None, []
    return evidence, per_class, False, options, picked, _strip(service, run, split)


def _strip(service: ExplorerAPI, run: str | None, split: str | None) -> list[Any]:
    """``counterfactuals.png`` as the audit drew it, with how to read it; nothing where it was not drawn."""
    try:
        picture = service.audit_picture(run, split, "counterfactuals") if run else None
    except HartraceError as exc:
        return [html.P(str(exc), className="muted")]
    if picture is None:
        return []
    return [
        html.H4("As the audit drew it", className="audit-subtitle"),
        html.P(
            "A few images with the first method's map, then each part removed: the predicted class's probability "
            "after (red where it falls by more than 0.1) and the map's share on the part.",
            className="muted",
        ),
        html.Div(  # at its own size, scrolled sideways: shrunk to the card, its captions would be too small to read
            html.Img(src=picture, alt="each part removed", className="audit-picture audit-strip-picture"),
            className="audit-strip-box",
        ),
    ]


@callback(
    Output(ids.AUDIT_RELIANCE_PICTURE, "children"),
    Output(ids.AUDIT_RELIANCE_SUMMARY, "children"),
    Output(ids.AUDIT_RELIANCE_CHART, "figure"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.AUDIT_SPLIT, "value"),
    Input(ids.AUDIT_RELIANCE_IMAGE, "value"),
)
def show_reliance(run: str | None, split: str | None, image: str | None, *, service: ExplorerAPI):
    """The picked image (from the run's dataset, as the gallery shows it), its prediction and each method's
    Spearman in words, and its parts' reliance beside each method's mass."""
    if not run or not image:
        return [], [], empty_figure("pick an image")
    try:
        audit = _audit(service, run, split)
    except HartraceError as exc:
        return [], [], empty_figure(str(exc))
    row = figures.reliance_row(audit, image)
    if row is None:
        return [], [], empty_figure(f"{image} is not in this audit's reliance.json")
    try:
        picture: Any = html.Img(
            src=service.thumbnail(run, image, size=PICTURE_SIZE), alt=image, className="audit-reliance-img"
        )
    except HartraceError as exc:  # e.g. the dataset moved since the audit: the numbers are still shown
        picture = html.P(str(exc), className="muted")
    return (
        [picture, html.Div(image, className="caption")],
        figures.reliance_summary(row),
        figures.reliance_figure(audit, row),
    )

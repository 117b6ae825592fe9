"""Prediction: the selected image, its true label, and its class probabilities; clicking a class explains it."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.classes import class_list, picked_class
from hartrace.explorer.app.components.widgets import (
    card,
    empty_figure,
    graph,
    image_label,
    missing_selection,
)
from hartrace.explorer.app.wiring import Callbacks

PATH = "/prediction"
NAME = "Prediction"
ORDER = 2
TOP_K = (3, 5, 10, 0)  # 0: every class
PAGE = "prediction"

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    choices = dcc.RadioItems(
        id=ids.PREDICTION_TOPK,
        options=[{"label": f" top {k}" if k else " all", "value": k} for k in TOP_K],
        value=0,
        inline=True,
        className="radio",
    )
    return html.Div(
        [
            html.H2("Prediction"),
            html.Div(
                [
                    card("Image", graph(ids.PREDICTION_IMAGE), className="side"),
                    card(
                        "Class probabilities",
                        choices,
                        html.Div(id=ids.PREDICTION_CLASSES, className="class-box"),
                        html.P(id=ids.PREDICTION_NOTE, className="muted"),
                        className="grow",
                    ),
                ],
                className="row",
            ),
        ]
    )


@callback(
    Output(ids.PREDICTION_IMAGE, "figure"),
    Output(ids.PREDICTION_CLASSES, "children"),
    Output(ids.PREDICTION_NOTE, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    Input(ids.PREDICTION_TOPK, "value"),
)
def show_prediction(
    run: str | None, image_id: str | None, target: str | None, top_k: int | None, *, service: ExplorerAPI
):
    from hartrace.render import image_plotly

    why = missing_selection(run, image_id)
    if why:
        return empty_figure(why), html.P(why, className="muted"), ""
    try:
        classes = service.classes(run)
        probabilities = service.probabilities(run, image_id)
        truth = service.true_class(run, image_id)
        picture = image_plotly(service.image(run, image_id), title=image_label(image_id), height=320)
    except HartraceError as exc:
        return empty_figure(str(exc)), html.P(str(exc), className="notice-inline"), ""
    rows = class_list(PAGE, probabilities, classes, explained=target, true_class=truth, limit=top_k or None)
    best = max(range(len(classes)), key=probabilities.__getitem__)
    verdict = "" if truth is None else (" (right)" if truth == classes[best] else " (wrong)")
    note = [
        html.B("true: "),
        truth or "no label (an upload)",
        " · ",
        html.B("predicted: "),
        f"{classes[best]} ({100 * probabilities[best]:.1f}%){verdict} · ",
        html.B("explaining: "),
        f"{target if target in classes else classes[best]} (highlighted)",
    ]
    return picture, rows, note


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.class_pick(PAGE, ALL), "n_clicks"),
    State(ids.class_pick(PAGE, ALL), "id"),
    prevent_initial_call=True,
)
def pick_target(clicks: list[int | None], row_ids: list[dict[str, str]], *, triggered_id: Any = None):
    """A clicked class becomes the explanation target."""
    picked = picked_class(clicks, row_ids, triggered_id)
    return no_update if picked is None else picked

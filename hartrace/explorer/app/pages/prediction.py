"""Prediction: the selected image and its top-k class probabilities; clicking a bar picks the class to explain."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import target_from_click
from hartrace.explorer.app.components.figures import prediction_bars
from hartrace.explorer.app.components.widgets import (
    card,
    empty_figure,
    graph,
    image_figure,
    image_label,
    missing_selection,
)
from hartrace.explorer.app.wiring import Callbacks

PATH = "/prediction"
NAME = "Prediction"
ORDER = 2
TOP_K = (3, 5, 10, 15)

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    choices = dcc.RadioItems(
        id=ids.PREDICTION_TOPK,
        options=[{"label": f" top {k}", "value": k} for k in TOP_K],
        value=5,
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
                        dcc.Loading(graph(ids.PREDICTION_BARS), type="dot"),
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
    Output(ids.PREDICTION_BARS, "figure"),
    Output(ids.PREDICTION_NOTE, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    Input(ids.PREDICTION_TOPK, "value"),
)
def show_prediction(
    run: str | None, image_id: str | None, target: str | None, top_k: int | None, *, service: ExplorerAPI
):
    why = missing_selection(run, image_id)
    if why:
        return empty_figure(why), empty_figure(why), ""
    try:
        classes = service.classes(run)
        probabilities = service.probabilities(run, image_id)
        picture = image_figure(service.image(run, image_id), image_label(image_id), height=320)
    except HartraceError as exc:
        return empty_figure(str(exc)), empty_figure(str(exc)), ""
    bars = prediction_bars(probabilities, classes, top_k or 5, target)
    best = max(range(len(classes)), key=probabilities.__getitem__)
    note = (
        f"predicted {classes[best]} ({100 * probabilities[best]:.1f}%); explaining {target or classes[best]} (amber)."
    )
    return picture, bars, note


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.PREDICTION_BARS, "clickData"),
    prevent_initial_call=True,
)
def pick_target(click: dict[str, Any] | None):
    """A clicked bar makes its class the explanation target."""
    target = target_from_click(click)
    return no_update if target is None else target

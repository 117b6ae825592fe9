"""Explain: the CAM overlay beside the original, with method, layer and opacity pickers.

The overlay sits in a ``dcc.Loading``: a slow method (occlusion, integrated gradients...)
shows a spinner while the rest of the page stays usable (the server is threaded).
"""

from __future__ import annotations

import time
from typing import Any

from dash import Input, Output, State, dcc, html, no_update

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

PATH = "/explain"
NAME = "Explain"
ORDER = 3
DEFAULT_METHOD = "gradcam"
DEFAULT_ALPHA = 0.5

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    controls = html.Div(
        [
            html.Div([html.Label("method"), dcc.Dropdown(id=ids.EXPLAIN_METHOD, clearable=False)], className="field"),
            html.Div([html.Label("layer"), dcc.Dropdown(id=ids.EXPLAIN_LAYER, clearable=False)], className="field"),
            html.Div(
                [
                    html.Label("overlay opacity"),
                    dcc.Slider(
                        id=ids.EXPLAIN_ALPHA,
                        min=0,
                        max=1,
                        step=0.05,
                        value=DEFAULT_ALPHA,
                        marks={0: "0", 0.5: "0.5", 1: "1"},
                        updatemode="mouseup",
                    ),
                ],
                className="field slider",
            ),
            html.Button("explain the prediction", id=ids.EXPLAIN_RESET, n_clicks=0, className="button"),
        ],
        className="filters",
    )
    return html.Div(
        [
            html.H2("Explain"),
            card(None, controls),
            html.Div(
                [
                    card("Original", graph(ids.EXPLAIN_ORIGINAL, zoom=True), className="grow"),
                    card(
                        "Explanation",
                        dcc.Loading(graph(ids.EXPLAIN_OVERLAY, zoom=True), id=ids.EXPLAIN_LOADING, type="circle"),
                        html.P(id=ids.EXPLAIN_CAPTION, className="caption"),
                        className="grow",
                    ),
                    card("Prediction", dcc.Loading(graph(ids.EXPLAIN_BARS), type="dot"), className="side"),
                ],
                className="row",
            ),
        ]
    )


def method_options(methods: dict[str, list[str]]) -> list[dict[str, str]]:
    fast = [{"label": name, "value": name} for name in methods.get("fast", [])]
    slow = [{"label": f"{name} (slow)", "value": name} for name in methods.get("slow", [])]
    return fast + slow


@callback(
    Output(ids.EXPLAIN_METHOD, "options"),
    Output(ids.EXPLAIN_METHOD, "value"),
    Output(ids.EXPLAIN_LAYER, "options"),
    Output(ids.EXPLAIN_LAYER, "value"),
    Input(ids.RUN_STORE, "data"),
    State(ids.METHOD_STORE, "data"),
    State(ids.LAYER_STORE, "data"),
)
def explain_controls(run: str | None, method: str | None, layer: str | None, *, service: ExplorerAPI):
    """Methods and this run's CAM layers, keeping the session's choices where they still apply."""
    methods = method_options(service.methods())
    names = [m["value"] for m in methods]
    method = method if method in names else (DEFAULT_METHOD if DEFAULT_METHOD in names else (names or [None])[0])
    try:
        layers = service.cam_layers(run) if run else []
    except HartraceError:
        layers = []
    layer_options = [{"label": f"{name} (default)" if i == 0 else name, "value": name} for i, name in enumerate(layers)]
    layer = layer if layer in layers else (layers[0] if layers else None)
    return methods, method, layer_options, layer


@callback(
    Output(ids.METHOD_STORE, "data"),
    Output(ids.LAYER_STORE, "data"),
    Input(ids.EXPLAIN_METHOD, "value"),
    Input(ids.EXPLAIN_LAYER, "value"),
    prevent_initial_call=True,
)
def remember_explain(method: str | None, layer: str | None):
    return method, layer


@callback(
    Output(ids.EXPLAIN_ORIGINAL, "figure"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
)
def show_original(run: str | None, image_id: str | None, *, service: ExplorerAPI):
    why = missing_selection(run, image_id)
    if why:
        return empty_figure(why)
    try:
        return image_figure(service.image(run, image_id), image_label(image_id))
    except HartraceError as exc:
        return empty_figure(str(exc))


@callback(
    Output(ids.EXPLAIN_OVERLAY, "figure"),
    Output(ids.EXPLAIN_CAPTION, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    Input(ids.EXPLAIN_METHOD, "value"),
    Input(ids.EXPLAIN_LAYER, "value"),
    Input(ids.EXPLAIN_ALPHA, "value"),
)
def show_explanation(
    run: str | None,
    image_id: str | None,
    target: str | None,
    method: str | None,
    layer: str | None,
    alpha: float | None,
    *,
    service: ExplorerAPI,
):
    """The map for (method, layer, target) blended over the image the model saw."""
    from hartrace.render import cam_overlay_plotly

    why = missing_selection(run, image_id)
    if why:
        return empty_figure(why), ""
    method = method or DEFAULT_METHOD
    start = time.perf_counter()
    try:
        cam = service.cam(run, image_id, method=method, layer=layer, target=target or None)
        picture = service.image(run, image_id)
        classes = service.classes(run)
        probabilities = service.probabilities(run, image_id)
    except HartraceError as exc:
        return empty_figure(str(exc)), ""
    explained = target if target in classes else classes[max(range(len(classes)), key=probabilities.__getitem__)]
    fig = cam_overlay_plotly(picture, cam, alpha=DEFAULT_ALPHA if alpha is None else float(alpha))
    fig.update_layout(title=f"{method} · {layer or 'default layer'} · {explained}", height=380)
    seconds = time.perf_counter() - start
    caption = (
        f"Where the network looks for '{explained}' "
        f"(p = {100 * probabilities[classes.index(explained)]:.1f}%{'' if target else ', its prediction'}), "
        f"by {method} at {layer or 'the default layer'}; {seconds:.2f} s."
    )
    return fig, caption


@callback(
    Output(ids.EXPLAIN_BARS, "figure"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
)
def show_explain_bars(run: str | None, image_id: str | None, target: str | None, *, service: ExplorerAPI):
    why = missing_selection(run, image_id)
    if why:
        return empty_figure(why)
    try:
        fig = prediction_bars(service.probabilities(run, image_id), service.classes(run), 5, target)
    except HartraceError as exc:
        return empty_figure(str(exc))
    fig.update_layout(title="click a class to explain it", height=300)
    return fig


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.EXPLAIN_BARS, "clickData"),
    prevent_initial_call=True,
)
def pick_explain_target(click: dict[str, Any] | None):
    target = target_from_click(click)
    return no_update if target is None else target


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.EXPLAIN_RESET, "n_clicks"),
    prevent_initial_call=True,
)
def reset_target(clicks: int | None):
    """Back to explaining whatever the network predicts."""
    return None if clicks else no_update

"""Explain: the map over the image for the chosen method, layer and class, and every class one click away.

Fast methods answer from the image's cached pass. A slow method (occlusion, Integrated
Gradients, Score-CAM...) runs in the service's background pool: the page shows its
progress and a Cancel button, polls until the map is made, then draws it; meanwhile every
other view keeps answering, in this session and in others.
"""

from __future__ import annotations

import time
from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.classes import class_list, picked_class
from hartrace.explorer.app.components.progress import RUNNING, job_progress
from hartrace.explorer.app.components.widgets import card, empty_figure, graph, image_label, missing_selection
from hartrace.explorer.app.wiring import Callbacks

PATH = "/explain"
NAME = "Explain"
ORDER = 3
DEFAULT_METHOD = "gradcam"
DEFAULT_ALPHA = 0.5

POLL_MS = 400
PAGE = "explain"

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    controls = html.Div(
        [
            html.Div([html.Label("method"), dcc.Dropdown(id=ids.EXPLAIN_METHOD, clearable=False)], className="field"),
            html.Div(
                [html.Label("layer"), dcc.Dropdown(id=ids.EXPLAIN_LAYER, clearable=False, optionHeight=30)],
                className="field field-wide",
            ),
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
    progress = html.Div(
        [
            html.Span(id=ids.EXPLAIN_PROGRESS, className="job-text"),
            html.Button("cancel", id=ids.EXPLAIN_CANCEL, n_clicks=0, className="button button-small"),
        ],
        id=ids.EXPLAIN_JOB_BOX,
        className="job",
    )
    return html.Div(
        [
            html.H2("Explain"),
            dcc.Store(id=ids.EXPLAIN_JOB, storage_type="memory"),
            dcc.Store(id=ids.EXPLAIN_READY, storage_type="memory", data=0),
            dcc.Interval(id=ids.EXPLAIN_POLL, interval=POLL_MS, disabled=True),
            card(None, controls),
            html.Div(
                [
                    card("Original", graph(ids.EXPLAIN_ORIGINAL, zoom=True), className="grow"),
                    card(
                        "Explanation",
                        dcc.Loading(graph(ids.EXPLAIN_OVERLAY, zoom=True), id=ids.EXPLAIN_LOADING, type="circle"),
                        progress,
                        html.P(id=ids.EXPLAIN_CAPTION, className="caption"),
                        className="grow",
                    ),
                    card(
                        "Classes · click one to explain it",
                        html.Div(id=ids.EXPLAIN_CLASSES, className="class-box"),
                        className="side",
                    ),
                ],
                className="row",
            ),
        ]
    )


def method_options(methods: dict[str, list[str]]) -> list[dict[str, str]]:
    fast = [{"label": name, "value": name} for name in methods.get("fast", [])]
    slow = [{"label": f"{name} (slow)", "value": name} for name in methods.get("slow", [])]
    return fast + slow


def layer_options(layers: list[str], quick: int = 2) -> list[dict[str, str]]:
    """Every spatial layer; the first ``quick`` come with each image's pass, the others take one more pass."""
    return [
        {"label": f"{name} (default)" if i == 0 else (name if i < quick else f"{name} · one more pass"), "value": name}
        for i, name in enumerate(layers)
    ]


EVERY_METHOD_PICKER = {**ids.EXPLAIN_METHOD, "index": ALL}
EVERY_LAYER_PICKER = {**ids.EXPLAIN_LAYER, "index": ALL}


@callback(
    Output(EVERY_METHOD_PICKER, "options"),
    Output(EVERY_METHOD_PICKER, "value"),
    Output(EVERY_LAYER_PICKER, "options"),
    Output(EVERY_LAYER_PICKER, "value"),
    Output(EVERY_LAYER_PICKER, "disabled"),
    Output(ids.METHOD_STORE, "data"),
    Output(ids.LAYER_STORE, "data"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.METHOD_STORE, "data"),
    Input(ids.LAYER_STORE, "data"),
    Input(EVERY_METHOD_PICKER, "value"),
    Input(EVERY_LAYER_PICKER, "value"),
)
def explain_controls(
    run: str | None,
    stored_method: str | None,
    stored_layer: str | None,
    picked_methods: list[str | None],
    picked_layers: list[str | None],
    *,
    service: ExplorerAPI,
    triggered_id: Any = None,
):
    """The pickers and the session's choice kept in step both ways: a pick is remembered, and a remembered
    choice (this session's, or one a shared URL brought) is shown, wherever it still applies. Off Explain there
    are no pickers (empty lists) and the choice is only checked."""
    on_page = len(picked_methods or [])
    methods = service.methods()
    options = method_options(methods)
    names = [m["value"] for m in options]
    try:
        layers = service.cam_layers(run) if run and (on_page or stored_layer) else []
    except HartraceError:
        layers = []
    trigger = (triggered_id or {}).get("type") if isinstance(triggered_id, dict) else None
    if trigger and not any([*(picked_methods or []), *(picked_layers or [])]):
        trigger = None  # a picker appearing (empty) is not a pick: it must not override a URL's choice
    method = (picked_methods or [None])[0] if trigger == ids.EXPLAIN_METHOD["type"] else stored_method
    layer = (picked_layers or [None])[0] if trigger == ids.EXPLAIN_LAYER["type"] else stored_layer
    method = method if method in names else (DEFAULT_METHOD if DEFAULT_METHOD in names else (names or [None])[0])
    layer = layer if layer in layers else (layers[0] if layers else None)
    layerless = method in methods.get("layerless", [])
    return (
        [options] * on_page,
        [method] * on_page,
        [layer_options(layers)] * on_page,
        [layer] * on_page,
        [layerless] * on_page,
        # an unset choice stays unset (the default applies): a URL being opened may be about to set it
        method if trigger == ids.EXPLAIN_METHOD["type"] or stored_method not in (None, method) else no_update,
        layer if trigger == ids.EXPLAIN_LAYER["type"] or stored_layer not in (None, layer) else no_update,
    )


@callback(
    Output(ids.EXPLAIN_ORIGINAL, "figure"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
)
def show_original(run: str | None, image_id: str | None, *, service: ExplorerAPI):
    from hartrace.render import image_plotly

    why = missing_selection(run, image_id)
    if why:
        return empty_figure(why)
    try:
        picture = service.image(run, image_id)
        truth = service.true_class(run, image_id)
    except HartraceError as exc:
        return empty_figure(str(exc))
    title = f"{image_label(image_id)} · true: {truth}" if truth else f"{image_label(image_id)} · no label"
    return image_plotly(picture, title=title)


@callback(
    Output(ids.EXPLAIN_OVERLAY, "figure"),
    Output(ids.EXPLAIN_CAPTION, "children"),
    Output(ids.EXPLAIN_JOB, "data"),
    Output(ids.EXPLAIN_POLL, "disabled"),
    Output(ids.EXPLAIN_PROGRESS, "children"),
    Output(ids.EXPLAIN_JOB_BOX, "hidden"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    Input(ids.METHOD_STORE, "data"),
    Input(ids.LAYER_STORE, "data"),
    Input(ids.EXPLAIN_ALPHA, "value"),
    Input(ids.EXPLAIN_READY, "data"),
    State(ids.SESSION_ID, "data"),
)
def show_explanation(
    run: str | None,
    image_id: str | None,
    target: str | None,
    method: str | None,
    layer: str | None,
    alpha: float | None,
    ready: int | None,
    session: str | None,
    *,
    service: ExplorerAPI,
):
    """The map for (method, layer, target) blended over the image the model saw; a slow map not made yet is
    started in the background, and this answers at once with its progress instead."""
    from hartrace.render import cam_overlay_plotly

    no_job = (None, True, "", True)
    why = missing_selection(run, image_id)
    if why:
        return empty_figure(why), "", *no_job
    method = method or DEFAULT_METHOD
    start = time.perf_counter()
    try:
        classes = service.classes(run)
        explained = target or None  # a class the run does not have is the service's error to word
        layer = layer or service.cam_layers(run)[0]  # unset: the run's default, named in the caption
        job = service.cam_job(run, image_id, method=method, layer=layer, target=explained, owner=session or "")
        if job is not None:
            waiting = empty_figure(f"{method} runs in the background: see its progress below")
            return waiting, "", job["key"], False, job_progress(job), False
        cam = service.cam(run, image_id, method=method, layer=layer, target=explained)
        picture = service.image(run, image_id)
        probabilities = service.probabilities(run, image_id)
        layerless = method in service.methods().get("layerless", [])
    except HartraceError as exc:
        return empty_figure(str(exc)), "", *no_job
    shown = explained or classes[max(range(len(classes)), key=probabilities.__getitem__)]
    where = "over the input pixels (the layer does not apply)" if layerless else f"at {layer}"
    title = f"{method} · {'input pixels' if layerless else layer} · {shown}"
    fig = cam_overlay_plotly(picture, cam, alpha=DEFAULT_ALPHA if alpha is None else float(alpha), title=title)
    seconds = time.perf_counter() - start
    caption = (
        f"Where the network looks for '{shown}' "
        f"(p = {100 * probabilities[classes.index(shown)]:.1f}%{'' if explained else ', its prediction'}), "
        f"by {method} {where}; {seconds:.2f} s."
    )
    return fig, caption, *no_job


@callback(
    Output(ids.EXPLAIN_PROGRESS, "children", allow_duplicate=True),
    Output(ids.EXPLAIN_POLL, "disabled", allow_duplicate=True),
    Output(ids.EXPLAIN_READY, "data"),
    Input(ids.EXPLAIN_POLL, "n_intervals"),
    State(ids.EXPLAIN_JOB, "data"),
    State(ids.EXPLAIN_READY, "data"),
    prevent_initial_call=True,
)
def poll_job(_: int | None, key: str | None, ready: int | None, *, service: ExplorerAPI):
    """How the slow map is doing; once made, the overlay is asked for again (and now comes from the cache)."""
    row = service.job(key) if key else None
    if row is None:
        return "", True, no_update
    if row["state"] == "done":
        return "", True, (ready or 0) + 1
    return job_progress(row), row["state"] not in RUNNING, no_update


@callback(
    Output(ids.EXPLAIN_PROGRESS, "children", allow_duplicate=True),
    Output(ids.EXPLAIN_POLL, "disabled", allow_duplicate=True),
    Input(ids.EXPLAIN_CANCEL, "n_clicks"),
    State(ids.EXPLAIN_JOB, "data"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def cancel_job(clicks: int | None, key: str | None, session: str | None, *, service: ExplorerAPI):
    """This session stops waiting; the work itself stops once no session waits for it."""
    if not clicks or not key:
        return no_update, no_update
    service.cancel_job(key, session or "")
    return "cancelled: pick the method again to restart it", True


@callback(
    Output(ids.EXPLAIN_CLASSES, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
)
def show_classes(run: str | None, image_id: str | None, target: str | None, *, service: ExplorerAPI):
    why = missing_selection(run, image_id)
    if why:
        return html.P(why, className="muted")
    try:
        classes = service.classes(run)
        probabilities = service.probabilities(run, image_id)
        truth = service.true_class(run, image_id)
    except HartraceError as exc:
        return html.P(str(exc), className="notice-inline")
    return class_list(PAGE, probabilities, classes, explained=target, true_class=truth)


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.class_pick(PAGE, ALL), "n_clicks"),
    State(ids.class_pick(PAGE, ALL), "id"),
    prevent_initial_call=True,
)
def pick_explain_target(clicks: list[int | None], row_ids: list[dict[str, str]], *, triggered_id: Any = None):
    picked = picked_class(clicks, row_ids, triggered_id)
    return no_update if picked is None else picked


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.EXPLAIN_RESET, "n_clicks"),
    prevent_initial_call=True,
)
def reset_target(clicks: int | None):
    """Back to explaining whatever the network predicts."""
    return None if clicks else no_update

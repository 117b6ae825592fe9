"""Callbacks of the frame: which run, which navigation link is active, what is selected, and the view in the URL.

The URL carries the view: the page is its path, and run, image, class, method and layer
are its ``#fragment`` (written in the browser by ``assets/url-state.js`` whenever they
change, read here when a URL is opened or the browser goes back), so a view can be
reloaded, bookmarked and shared.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from dash import ALL, Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.progress import RUNNING, job_progress
from hartrace.explorer.app.components.widgets import image_label, run_label
from hartrace.explorer.app.pages.video import PATH as VIDEO_PATH
from hartrace.explorer.app.pages.video import page_for
from hartrace.explorer.app.wiring import Callbacks

callback = Callbacks()


@callback(Output(ids.SESSION_ID, "data"), Input(ids.SESSION_ID, "data"))
def name_session(current: str | None) -> str:
    """A random id for this tab, made once: the owner of its background jobs (never shown, never shared)."""
    return current or uuid.uuid4().hex


def view_from_fragment(fragment: str | None) -> dict[str, str]:
    """The view a URL's ``#run=..&image=..&class=..&method=..&layer=..`` names (unknown keys are ignored);
    a ``?query`` is read the same way."""
    fields = parse_qs((fragment or "").lstrip("#?"), keep_blank_values=False)
    return {key: values[0] for key, values in fields.items() if key in VIEW_KEYS and values}


VIEW_KEYS = ("run", "image", "class", "method", "layer")

callback.clientside(
    "hartrace",
    "shareState",
    Output(ids.URL_SHARED, "data"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    Input(ids.METHOD_STORE, "data"),
    Input(ids.LAYER_STORE, "data"),
    Input(ids.URL, "pathname"),
)


@callback(
    Output(ids.IMAGE_STORE, "data", allow_duplicate=True),
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Output(ids.METHOD_STORE, "data", allow_duplicate=True),
    Output(ids.LAYER_STORE, "data", allow_duplicate=True),
    Input(ids.URL, "hash"),
    prevent_initial_call="initial_duplicate",
)
def restore_view(fragment: str | None):
    """A URL that names a view (opened, reloaded, or gone back to) sets it; a plain URL changes nothing.
    A named image without a class explains the prediction; method and layer stay as they were unless named."""
    view = view_from_fragment(fragment)
    if "image" not in view:
        return no_update, no_update, no_update, no_update
    return view["image"], view.get("class"), view.get("method", no_update), view.get("layer", no_update)


@callback(
    Output(ids.EVALUATION_JOB, "data"),
    Output(ids.EVALUATION_POLL, "disabled"),
    Output(ids.EVALUATION_BOX, "hidden"),
    Output(ids.EVALUATION_TEXT, "children"),
    Output(ids.EVALUATED, "data"),
    Input(ids.RUN_STORE, "data"),
    State(ids.SESSION_ID, "data"),
)
def start_evaluation(run: str | None, session: str | None, *, service: ExplorerAPI):
    """A run never evaluated is evaluated in the background (the pages that need it wait, the others go on);
    an evaluated run is ready at once."""
    if not run:
        return None, True, True, "", None
    try:
        row = service.evaluation_job(run, session or "")
    except HartraceError as exc:
        return None, True, False, str(exc), None
    if row is None:
        return None, True, True, "", run
    return row["key"], False, False, job_progress(row), None


@callback(
    Output(ids.EVALUATION_TEXT, "children", allow_duplicate=True),
    Output(ids.EVALUATION_POLL, "disabled", allow_duplicate=True),
    Output(ids.EVALUATION_BOX, "hidden", allow_duplicate=True),
    Output(ids.EVALUATED, "data", allow_duplicate=True),
    Input(ids.EVALUATION_POLL, "n_intervals"),
    State(ids.EVALUATION_JOB, "data"),
    State(ids.RUN_STORE, "data"),
    prevent_initial_call=True,
)
def poll_evaluation(_: int | None, key: str | None, run: str | None, *, service: ExplorerAPI):
    row = service.job(key) if key else None
    if row is None or row["state"] == "done":
        return "", True, True, run
    if row["state"] in RUNNING:
        return job_progress(row), False, False, no_update
    return f"{row['message']}: pick the run again to restart it", True, False, no_update


@callback(
    Output(ids.EVALUATION_TEXT, "children", allow_duplicate=True),
    Output(ids.EVALUATION_POLL, "disabled", allow_duplicate=True),
    Input(ids.EVALUATION_CANCEL, "n_clicks"),
    State(ids.EVALUATION_JOB, "data"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def cancel_evaluation(clicks: int | None, key: str | None, session: str | None, *, service: ExplorerAPI):
    if not clicks or not key:
        return no_update, no_update
    service.cancel_job(key, session or "")
    return "evaluation cancelled: pick the run again to restart it", True


@callback(
    Output(ids.RUN_DROPDOWN, "options"),
    Output(ids.RUN_DROPDOWN, "value"),
    Output(ids.RUN_STORE, "data"),
    Input(ids.RUN_DROPDOWN, "value"),
    State(ids.RUN_STORE, "data"),
    State(ids.URL, "hash"),
    State(ids.URL, "search"),
)
def choose_run(
    picked: str | None,
    stored: str | None,
    fragment: str | None,
    query: str | None = None,
    *,
    service: ExplorerAPI,
    triggered_id: Any = None,
):
    """The runs to offer and the session's run: the one just picked, else the one an opened URL names (in its
    #fragment, else its ?query, as a link to the Atlas page does), else the one kept, else the latest."""
    runs = service.list_runs()
    names = [row["name"] for row in runs]
    options = [{"label": run_label(row), "value": row["name"]} for row in runs]
    shared = view_from_fragment(fragment).get("run") or view_from_fragment(query).get("run")
    run: str | None
    if triggered_id == ids.RUN_DROPDOWN and picked in names:
        run = picked
    elif triggered_id is None and shared in names:
        run = shared
    elif stored in names:
        run = stored
    else:
        run = service.default_run()
    return options, run, run


@callback(
    Output(ids.nav_link(ALL), "className"),
    Input(ids.URL, "pathname"),
    State(ids.nav_link(ALL), "id"),
)
def highlight_nav(pathname: str | None, link_ids: list[dict[str, str]]) -> list[str]:
    path = (pathname or "/").rstrip("/") or "/"
    return ["nav-link active" if link["index"] == path else "nav-link" for link in link_ids]


@callback(
    Output(ids.SELECTION, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
)
def describe_selection(run: str | None, image_id: str | None, target: str | None, *, service: ExplorerAPI):
    """The bar under the navigation: the selected image (small), and the class being explained."""
    if not run:
        return html.Span("No run: train one with `hartrace train`, then reload.", className="muted")
    if not image_id:
        return [
            html.Span("No image selected. ", className="muted"),
            dcc.Link("Pick one on the Images page", href="/images"),
            html.Span(" (or drop your own there).", className="muted"),
        ]
    try:
        thumb = html.Img(src=service.thumbnail(run, image_id, size=64), className="selection-thumb", alt=image_id)
    except HartraceError as exc:
        return html.Span(f"{image_label(image_id)}: {exc}", className="notice-inline")
    explaining = target or "the predicted class"
    if page_for(image_id) == VIDEO_PATH:
        kind, links = "video ", [dcc.Link("Video", href=VIDEO_PATH, className="selection-link")]
    else:
        kind, links = (
            "image ",
            [
                dcc.Link("Prediction", href="/prediction", className="selection-link"),
                dcc.Link("Explain", href="/explain", className="selection-link"),
                dcc.Link("Inside", href="/inside", className="selection-link"),
            ],
        )
    return [
        thumb,
        html.Span([html.B(kind), image_label(image_id)], className="selection-item"),
        html.Span([html.B("explaining "), explaining], className="selection-item"),
        *links,
    ]

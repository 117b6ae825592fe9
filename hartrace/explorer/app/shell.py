"""Callbacks of the frame: which run, which navigation link is active, what is selected."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, dcc, html

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.widgets import image_label, run_label
from hartrace.explorer.app.pages.video import PATH as VIDEO_PATH
from hartrace.explorer.app.pages.video import page_for
from hartrace.explorer.app.wiring import Callbacks

callback = Callbacks()


@callback(
    Output(ids.RUN_DROPDOWN, "options"),
    Output(ids.RUN_DROPDOWN, "value"),
    Output(ids.RUN_STORE, "data"),
    Input(ids.RUN_DROPDOWN, "value"),
    State(ids.RUN_STORE, "data"),
)
def choose_run(picked: str | None, stored: str | None, *, service: ExplorerAPI, triggered_id: Any = None):
    """The runs to offer and the session's run: the one just picked, else the one kept, else the latest."""
    runs = service.list_runs()
    names = [row["name"] for row in runs]
    options = [{"label": run_label(row), "value": row["name"]} for row in runs]
    run: str | None
    if triggered_id == ids.RUN_DROPDOWN and picked in names:
        run = picked
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

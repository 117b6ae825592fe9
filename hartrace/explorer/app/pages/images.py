"""Images: the run's validation images, filtered and paginated, and uploads by drag and drop."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import clicked_tile
from hartrace.explorer.app.components.widgets import card, notice, thumbnail
from hartrace.explorer.app.pages.video import page_for
from hartrace.explorer.app.wiring import Callbacks
from hartrace.explorer.uploads import size_text

PATH = "/images"
NAME = "Images"
ORDER = 1
PER_PAGE = 12
MISCLASSIFIED_FIRST = "misclassified-first"
DEFAULT_STATE = {"label": None, "predicted": None, "misclassified_first": False, "page": 0}

WAITING = "Waiting for the run's evaluation (its progress is at the top of the page), or for a run."

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    filters = html.Div(
        [
            html.Div(
                [html.Label("true class"), dcc.Dropdown(id=ids.IMAGES_LABEL, placeholder="any")], className="field"
            ),
            html.Div(
                [html.Label("predicted class"), dcc.Dropdown(id=ids.IMAGES_PREDICTED, placeholder="any")],
                className="field",
            ),
            dcc.Checklist(
                id=ids.IMAGES_MISCLASSIFIED,
                options=[{"label": " misclassified first", "value": MISCLASSIFIED_FIRST}],
                value=[],
                className="field checkbox",
            ),
        ],
        className="filters",
    )
    pager = html.Div(
        [
            html.Button("← previous", id=ids.IMAGES_PREV, n_clicks=0, className="button"),
            html.Span(id=ids.IMAGES_PAGER, className="pager-text"),
            html.Button("next →", id=ids.IMAGES_NEXT, n_clicks=0, className="button"),
        ],
        className="pager",
    )
    upload = dcc.Upload(
        id=ids.UPLOAD,
        children=html.Div(
            ["Drop an image here or ", html.A("choose a file"), html.Div(id=ids.UPLOAD_LIMIT, className="muted")]
        ),
        className="upload",
        className_active="upload upload-active",
        multiple=False,
    )
    return html.Div(
        [
            html.H2("Images"),
            dcc.Store(id=ids.IMAGES_SHOWN, storage_type="memory"),
            html.Div(
                [
                    card(
                        "Validation images",
                        filters,
                        notice(None, "error", id=ids.IMAGES_ERROR),
                        pager,
                        dcc.Loading(html.Div(id=ids.IMAGES_GRID, className="thumb-grid"), type="dot"),
                        className="grow",
                    ),
                    card("Your own image", upload, notice(None, "error", id=ids.UPLOAD_ERROR), className="side"),
                ],
                className="row",
            ),
        ]
    )


def images_state(state: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULT_STATE, **(state or {})}


@callback(
    Output(ids.IMAGES_LABEL, "options"),
    Output(ids.IMAGES_LABEL, "value"),
    Output(ids.IMAGES_PREDICTED, "options"),
    Output(ids.IMAGES_PREDICTED, "value"),
    Output(ids.IMAGES_MISCLASSIFIED, "value"),
    Input(ids.RUN_STORE, "data"),
    State(ids.IMAGES_STATE, "data"),
)
def image_filters(run: str | None, state: dict[str, Any] | None, *, service: ExplorerAPI):
    """The filter pickers for this run's classes, showing the session's current filters."""
    state = images_state(state)
    try:
        classes = service.classes(run) if run else []
    except HartraceError:
        classes = []
    label = state["label"] if state["label"] in classes else None
    predicted = state["predicted"] if state["predicted"] in classes else None
    first = [MISCLASSIFIED_FIRST] if state["misclassified_first"] else []
    return classes, label, classes, predicted, first


@callback(
    Output(ids.IMAGES_STATE, "data"),
    Input(ids.IMAGES_LABEL, "value"),
    Input(ids.IMAGES_PREDICTED, "value"),
    Input(ids.IMAGES_MISCLASSIFIED, "value"),
    Input(ids.IMAGES_PREV, "n_clicks"),
    Input(ids.IMAGES_NEXT, "n_clicks"),
    State(ids.IMAGES_STATE, "data"),
    State(ids.IMAGES_SHOWN, "data"),
)
def update_images_state(
    label: str | None,
    predicted: str | None,
    first: list[str] | None,
    _prev: int | None,
    _next: int | None,
    state: dict[str, Any] | None,
    shown: int | None = None,
    *,
    triggered_id: Any = None,
):
    """Filters and page: a changed filter goes back to the first page; previous/next turn the page shown."""
    old = images_state(state)
    new = {**old, "label": label, "predicted": predicted, "misclassified_first": MISCLASSIFIED_FIRST in (first or [])}
    current = old["page"] if shown is None else shown
    if triggered_id == ids.IMAGES_PREV:
        new["page"] = max(0, current - 1)
    elif triggered_id == ids.IMAGES_NEXT:
        new["page"] = current + 1
    elif any(new[key] != old[key] for key in ("label", "predicted", "misclassified_first")):
        new["page"] = 0
    return no_update if new == old and state is not None else new


@callback(
    Output(ids.IMAGES_GRID, "children"),
    Output(ids.IMAGES_PAGER, "children"),
    Output(ids.IMAGES_PREV, "disabled"),
    Output(ids.IMAGES_NEXT, "disabled"),
    Output(ids.IMAGES_ERROR, "children"),
    Output(ids.IMAGES_ERROR, "hidden"),
    Output(ids.IMAGES_SHOWN, "data"),
    Input(ids.EVALUATED, "data"),
    Input(ids.IMAGES_STATE, "data"),
)
def show_images(run: str | None, state: dict[str, Any] | None, *, service: ExplorerAPI):
    """One page of thumbnails, each a button that selects its image (``run``: the run whose evaluation is ready;
    None while it runs, or when no run is chosen)."""
    if not run:
        return [], "", True, True, WAITING, False, None
    state = images_state(state)
    try:
        result = service.images(
            run,
            label=state["label"],
            predicted=state["predicted"],
            misclassified_first=state["misclassified_first"],
            page=state["page"],
            per_page=PER_PAGE,
        )
        tiles = [
            thumbnail(
                ids.thumb(row["id"]),
                service.thumbnail(run, row["id"]),
                row["name"],
                f"{row['true']} → {row['predicted']} ({100 * row['probability']:.0f}%)",
                row["correct"],
            )
            for row in result["rows"]
        ]
    except HartraceError as exc:
        return [], "", True, True, str(exc), False, None
    if not tiles:
        tiles = [html.P("No image matches these filters.", className="muted")]
    page, pages = result["page"], result["pages"]
    text = f"page {page + 1} of {pages} · {result['total']} images"
    return tiles, text, page <= 0, page >= pages - 1, "", True, page


@callback(
    Output(ids.IMAGE_STORE, "data", allow_duplicate=True),
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Output(ids.URL, "pathname", allow_duplicate=True),
    Input(ids.thumb(ALL), "n_clicks"),
    State(ids.thumb(ALL), "id"),
    prevent_initial_call=True,
)
def select_thumbnail(clicks: list[int | None], component_ids: list[dict[str, str]], *, triggered_id: Any = None):
    """Clicking a thumbnail selects its image, explains its prediction, and opens Explain (Video for a video)."""
    image_id = clicked_tile(clicks, component_ids, triggered_id)
    if image_id is None:
        return no_update, no_update, no_update
    return image_id, None, page_for(image_id)


@callback(Output(ids.UPLOAD_LIMIT, "children"), Output(ids.UPLOAD, "max_size"), Input(ids.UPLOAD, "id"))
def upload_limit(_: str, *, service: ExplorerAPI) -> tuple[str, int]:
    """The drop zone states its limit up front, and never reads a larger file (assets/upload-limit.js says why)."""
    return f"PNG, JPEG or WebP, up to {size_text(service.max_upload_bytes)}", service.max_upload_bytes


@callback(
    Output(ids.UPLOAD_ERROR, "children"),
    Output(ids.UPLOAD_ERROR, "hidden"),
    Output(ids.IMAGE_STORE, "data", allow_duplicate=True),
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Output(ids.URL, "pathname", allow_duplicate=True),
    Input(ids.UPLOAD, "contents"),
    State(ids.UPLOAD, "filename"),
    State(ids.RUN_STORE, "data"),
    prevent_initial_call=True,
)
def upload_image(contents: str | None, filename: str | None, run: str | None, *, service: ExplorerAPI):
    """A dropped file: checked by the service; a good one is selected and explained, a bad one says why."""
    if not contents:
        return no_update, no_update, no_update, no_update, no_update
    if not run:
        return "Pick a run before uploading an image.", False, no_update, no_update, no_update
    try:
        image_id = service.upload(run, contents, filename or "upload")
    except HartraceError as exc:
        return str(exc), False, no_update, no_update, no_update
    return "", True, image_id, None, "/explain"

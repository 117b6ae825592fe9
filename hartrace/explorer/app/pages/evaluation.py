"""Evaluation: the normalised confusion matrix; a clicked cell lists its images, a clicked image opens Explain."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import cell_from_click, clicked_tile
from hartrace.explorer.app.components.widgets import card, empty_figure, graph, thumbnail
from hartrace.explorer.app.pages.video import page_for
from hartrace.explorer.app.wiring import Callbacks

PATH = "/evaluation"
NAME = "Evaluation"
ORDER = 5
MAX_GALLERY = 60
PICK_A_CELL = "Click a cell of the matrix to see its images."

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Evaluation"),
            html.Div(
                [
                    card(
                        "Confusion matrix (each row sums to 1)",
                        dcc.Loading(graph(ids.EVAL_MATRIX), type="circle"),
                        className="matrix-card",
                    ),
                    card(
                        None,
                        html.H3(PICK_A_CELL, id=ids.EVAL_CELL, className="card-title"),
                        html.Div(id=ids.EVAL_GALLERY, className="thumb-grid"),
                        className="grow",
                    ),
                ],
                className="row",
            ),
        ]
    )


@callback(
    Output(ids.EVAL_MATRIX, "figure"),
    Output(ids.EVAL_MATRIX, "clickData"),
    Input(ids.RUN_STORE, "data"),
)
def show_confusion(run: str | None, *, service: ExplorerAPI):
    """The run's validation confusion matrix (x predicted, y true); a new run clears the picked cell."""
    from hartrace.render import confusion_matrix_plotly

    if not run:
        return empty_figure("no run selected"), None
    try:
        confusion = service.confusion(run)
    except HartraceError as exc:
        return empty_figure(str(exc)), None
    fig = confusion_matrix_plotly(confusion["matrix"], confusion["classes"])
    fig.update_layout(title="click a cell: which images, and why")
    return fig, None


@callback(
    Output(ids.EVAL_CELL, "children"),
    Output(ids.EVAL_GALLERY, "children"),
    Input(ids.EVAL_MATRIX, "clickData"),
    State(ids.RUN_STORE, "data"),
)
def show_cell(click: dict[str, Any] | None, run: str | None, *, service: ExplorerAPI):
    """The images of one (true, predicted) cell as clickable thumbnails."""
    cell = cell_from_click(click)
    if cell is None or not run:
        return PICK_A_CELL, []
    true_class, predicted = cell
    try:
        rows = service.cell_images(run, true_class, predicted)
        tiles = [
            thumbnail(
                ids.gallery_thumb(row["id"]),
                service.thumbnail(run, row["id"]),
                row["name"],
                f"p({row['predicted']}) = {100 * row['probability']:.0f}%",
                row["correct"],
            )
            for row in rows[:MAX_GALLERY]
        ]
    except HartraceError as exc:
        return str(exc), []
    verdict = "correct" if true_class == predicted else "confused"
    title = f"true {true_class} → predicted {predicted} ({verdict}): {len(rows)} image{'s' if len(rows) != 1 else ''}"
    if len(rows) > MAX_GALLERY:
        title += f", the first {MAX_GALLERY} shown"
    if not tiles:
        tiles = [html.P("No validation image falls in this cell.", className="muted")]
    return title, tiles


@callback(
    Output(ids.IMAGE_STORE, "data", allow_duplicate=True),
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Output(ids.URL, "pathname", allow_duplicate=True),
    Input(ids.gallery_thumb(ALL), "n_clicks"),
    State(ids.gallery_thumb(ALL), "id"),
    prevent_initial_call=True,
)
def open_from_gallery(clicks: list[int | None], component_ids: list[dict[str, str]], *, triggered_id: Any = None):
    """A clicked gallery image is selected and explained (a video on the Video page)."""
    image_id = clicked_tile(clicks, component_ids, triggered_id)
    if image_id is None:
        return no_update, no_update, no_update
    return image_id, None, page_for(image_id)

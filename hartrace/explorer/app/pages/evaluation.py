"""Evaluation: the confusion matrix and per-class report; a clicked cell or class lists its images, a clicked image
opens Explain."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import cell_from_click, clicked_tile
from hartrace.explorer.app.components.widgets import card, empty_figure, graph, notice, percent, thumbnail
from hartrace.explorer.app.pages.video import page_for
from hartrace.explorer.app.wiring import Callbacks
from hartrace.explorer.rows import ClassMetrics, Confusion, ItemRow

PATH = "/evaluation"
NAME = "Evaluation"
ORDER = 5
MAX_GALLERY = 60
PICK_A_CELL = "Click a cell of the matrix, or a class in the table, to see its images."
METRIC_COLUMNS = ("class", "precision", "recall", "F1", "support")

WAITING = "waiting for the run's evaluation (its progress is at the top of the page), or for a run"

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Evaluation"),
            html.Div(
                [
                    card(
                        "Confusion matrix (counts; colour: the share of the true class)",
                        dcc.Loading(graph(ids.EVAL_MATRIX), type="circle"),
                        className="matrix-card",
                    ),
                    card("Per class", html.Div(id=ids.EVAL_METRICS), className="grow"),
                ],
                className="row",
            ),
            card(
                None,
                html.H3(PICK_A_CELL, id=ids.EVAL_CELL, className="card-title"),
                html.Div(id=ids.EVAL_GALLERY, className="thumb-grid"),
            ),
        ]
    )


def metrics_table(confusion: Confusion) -> html.Div:
    """scikit-learn's classification report as rows; each class row is a button that shows that class's images."""

    def cells(row: ClassMetrics) -> list[html.Span]:
        numbers = (f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
        return [
            html.Span(row["name"], className="metrics-name"),
            *(html.Span(n, className="metrics-number") for n in numbers),
        ]

    head = html.Div([html.Span(column) for column in METRIC_COLUMNS], className="metrics-row metrics-head")
    classes = [
        html.Button(
            cells(row),
            id=ids.eval_class_row(row["name"]),
            n_clicks=0,
            className="metrics-row metrics-class",
            title=f"show the {row['name']} images, misclassified first",
        )
        for row in confusion["per_class"]
    ]
    averages = [
        html.Div(cells(row), className="metrics-row metrics-average")
        for row in (confusion["macro_avg"], confusion["weighted_avg"])
    ]
    return html.Div([head, *classes, *averages], className="metrics-table")


def gallery_tiles(service: ExplorerAPI, run: str, rows: list[ItemRow]) -> list[html.Button]:
    """The first ``MAX_GALLERY`` rows as clickable thumbnails, each saying what the run predicted."""
    return [
        thumbnail(
            ids.gallery_thumb(row["id"]),
            service.thumbnail(run, row["id"]),
            row["name"],
            f"p({row['predicted']}) = {100 * row['probability']:.0f}%",
            row["correct"],
        )
        for row in rows[:MAX_GALLERY]
    ]


def counted(count: int) -> str:
    return f"{count} image{'s' if count != 1 else ''}"


@callback(
    Output(ids.EVAL_MATRIX, "figure"),
    Output(ids.EVAL_MATRIX, "clickData"),
    Input(ids.EVALUATED, "data"),
)
def show_confusion(run: str | None, *, service: ExplorerAPI):
    """The run's validation confusion matrix (x predicted, y true); a new run clears the picked cell."""
    from hartrace.render import confusion_matrix_plotly

    if not run:
        return empty_figure(WAITING), None
    try:
        confusion = service.confusion(run)
    except HartraceError as exc:
        return empty_figure(str(exc)), None
    fig = confusion_matrix_plotly(confusion["matrix"], confusion["classes"], confusion["counts"])
    fig.update_layout(title="click a cell: which images, and why")
    return fig, None


@callback(
    Output(ids.EVAL_METRICS, "children"),
    Input(ids.EVALUATED, "data"),
)
def show_metrics(run: str | None, *, service: ExplorerAPI):
    """The run's accuracy and per-class precision, recall, F1 and support, as scikit-learn reports them."""
    if not run:
        return notice(WAITING)
    try:
        confusion = service.confusion(run)
    except HartraceError as exc:
        return notice(str(exc), "error")
    total = confusion["macro_avg"]["support"]
    summary = f"accuracy {percent(confusion['accuracy'])} on {counted(total)}; click a class to see its images."
    return [html.P(summary, className="muted"), metrics_table(confusion)]


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
        tiles = gallery_tiles(service, run, rows)
    except HartraceError as exc:
        return str(exc), []
    verdict = "correct" if true_class == predicted else "confused"
    title = f"true {true_class} → predicted {predicted} ({verdict}): {counted(len(rows))}"
    if len(rows) > MAX_GALLERY:
        title += f", the first {MAX_GALLERY} shown"
    if not tiles:
        return title, [html.P("No validation image falls in this cell.", className="muted")]
    return title, tiles


@callback(
    Output(ids.EVAL_CELL, "children", allow_duplicate=True),
    Output(ids.EVAL_GALLERY, "children", allow_duplicate=True),
    Input(ids.eval_class_row(ALL), "n_clicks"),
    State(ids.eval_class_row(ALL), "id"),
    State(ids.RUN_STORE, "data"),
    prevent_initial_call=True,
)
def show_class(
    clicks: list[int | None],
    component_ids: list[dict[str, str]],
    run: str | None,
    *,
    service: ExplorerAPI,
    triggered_id: Any = None,
):
    """The images whose true class is the clicked row's, misclassified first (rows that just appeared do nothing)."""
    name = clicked_tile(clicks, component_ids, triggered_id)
    if name is None or not run:
        return no_update, no_update
    try:
        page = service.images(run, label=name, misclassified_first=True, per_page=MAX_GALLERY)
        confusion = service.confusion(run)
        tiles = gallery_tiles(service, run, page["rows"])
    except HartraceError as exc:
        return str(exc), []
    classes = confusion["classes"]
    right = confusion["counts"][classes.index(name)][classes.index(name)] if name in classes else 0
    title = f"true {name}: {counted(page['total'])}, {page['total'] - right} misclassified (shown first)"
    if page["total"] > MAX_GALLERY:
        title += f", the first {MAX_GALLERY} shown"
    if not tiles:
        return title, [html.P(f"No validation image is of class {name}.", className="muted")]
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

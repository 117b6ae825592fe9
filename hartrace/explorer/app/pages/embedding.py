"""Embedding: how the network organises the whole evaluated split, one point per item in two dimensions.

The points are the run's penultimate features (the input of its final classifier)
projected by UMAP or t-SNE. They are computed once per checkpoint by a background job
that this page starts (the session owns it), follows with a timer while it runs, and
may cancel; later visits draw the saved result at once. Hovering a point shows its
image; clicking it opens that image on Explain (a video on Video).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update
from plotly.colors import qualitative

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.widgets import card, empty_figure, graph, notice
from hartrace.explorer.app.pages.video import page_for
from hartrace.explorer.app.wiring import Callbacks
from hartrace.explorer.rows import Embedding, EmbeddingPoint, JobRow

PATH = "/embedding"
NAME = "Embedding"
ORDER = 5.2  # after Evaluation: both look at the run as a whole
POLL_MS = 500
TRUE, PREDICTED = "true", "predicted"
PALETTE = qualitative.Plotly + qualitative.Dark24  # one colour per class up to 34, then they repeat
METHOD_NAMES = {"umap": "UMAP", "t-sne": "t-SNE"}
STOPPED = "Stopped. Press “compute” to start again."
WAITING = "the points appear here once the embedding is computed"

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    controls = html.Div(
        [
            html.Div(
                [
                    html.Label("colour by"),
                    dcc.RadioItems(
                        id=ids.EMBEDDING_COLOUR,
                        options=[
                            {"label": " true class", "value": TRUE},
                            {"label": " predicted class", "value": PREDICTED},
                        ],
                        value=TRUE,
                        inline=True,
                        className="radio",
                    ),
                ],
                className="field",
            ),
            html.Button("cancel", id=ids.EMBEDDING_CANCEL, n_clicks=0, className="button", hidden=True),
            html.Button("compute", id=ids.EMBEDDING_START, n_clicks=0, className="button", hidden=True),
        ],
        className="filters",
    )
    return html.Div(
        [
            html.H2("Embedding"),
            dcc.Store(id=ids.EMBEDDING_JOB, storage_type="memory"),
            dcc.Store(id=ids.EMBEDDING_READY, storage_type="memory"),
            dcc.Interval(id=ids.EMBEDDING_POLL, interval=POLL_MS, disabled=True),
            card(None, controls, notice(None, id=ids.EMBEDDING_PROGRESS)),
            card(
                None,
                graph(ids.EMBEDDING_PLOT, zoom=True, clear_on_unhover=True, className="embedding-plot"),
                dcc.Tooltip(id=ids.EMBEDDING_TOOLTIP, direction="right"),
                html.P(id=ids.EMBEDDING_NOTE, className="caption"),
            ),
        ]
    )


def job_view(row: JobRow | None, run: str) -> tuple[str | None, bool, str, str, bool, bool]:
    """What the page shows of a job (None: this tab stopped following it):
    (the run ready to draw, poll disabled, message, its kind, cancel hidden, compute hidden)."""
    if row is None or row["state"] == "cancelled":
        return None, True, STOPPED, "info", True, False
    if row["state"] == "done":
        return run, True, "", "info", True, True
    if row["state"] == "failed":
        return None, True, row["message"], "error", True, False
    return None, False, row["message"], "info", False, True  # queued or running: follow it


@callback(
    Output(ids.EMBEDDING_JOB, "data"),
    Output(ids.EMBEDDING_READY, "data"),
    Output(ids.EMBEDDING_POLL, "disabled"),
    Output(ids.EMBEDDING_PROGRESS, "children"),
    Output(ids.EMBEDDING_PROGRESS, "className"),
    Output(ids.EMBEDDING_PROGRESS, "hidden"),
    Output(ids.EMBEDDING_CANCEL, "hidden"),
    Output(ids.EMBEDDING_START, "hidden"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.SESSION_ID, "data"),
    Input(ids.EMBEDDING_START, "n_clicks"),
    Input(ids.EMBEDDING_POLL, "n_intervals"),
    Input(ids.EMBEDDING_CANCEL, "n_clicks"),
    State(ids.EMBEDDING_JOB, "data"),
    State(ids.EMBEDDING_READY, "data"),
)
def follow_job(
    run: str | None,
    session: str | None,
    _start: int | None,
    _tick: int | None,
    _cancel: int | None,
    key: str | None,
    ready: str | None,
    *,
    service: ExplorerAPI,
    triggered_id: Any = None,
) -> tuple[Any, ...]:
    """Start (or join) the run's job when the page opens, follow it on each tick, cancel it on request."""
    if not run:
        return None, None, True, "no run selected", "notice notice-info", False, True, True
    if not session:  # the tab's id is made by the shell's first callback: the job waits for its owner
        return (no_update,) * 8
    try:
        if triggered_id == ids.EMBEDDING_CANCEL and key:
            service.cancel_job(key, session)
            row = None  # this tab stops following, whether or not another tab still wants the result
        elif triggered_id == ids.EMBEDDING_POLL and key:
            row = service.job(key) or service.start_embedding(run, session)  # a forgotten job: ask again
        else:
            row = service.start_embedding(run, session)
    except HartraceError as exc:
        return None, None, True, str(exc), "notice notice-error", False, True, True
    shown, disabled, message, kind, cancel_hidden, start_hidden = job_view(row, run)
    return (
        row["key"] if row else key,
        no_update if shown == ready else shown,  # every tick would otherwise redraw the plot
        disabled,
        message,
        f"notice notice-{kind}",
        not message,
        cancel_hidden,
        start_hidden,
    )


@callback(
    Output(ids.EMBEDDING_PLOT, "figure"),
    Output(ids.EMBEDDING_NOTE, "children"),
    Input(ids.EMBEDDING_READY, "data"),
    Input(ids.EMBEDDING_COLOUR, "value"),
)
def show_embedding(ready: str | None, colour_by: str | None, *, service: ExplorerAPI) -> tuple[go.Figure, str]:
    """The computed embedding, one trace per class (a legend entry each); misclassified items are crosses."""
    if not ready:
        return empty_figure(WAITING), ""
    try:
        embedding = service.embedding(ready)
        classes = service.classes(ready)
    except HartraceError as exc:
        return empty_figure(str(exc)), ""
    return embedding_figure(embedding, classes, colour_by or TRUE), describe(embedding)


def embedding_figure(embedding: Embedding, classes: list[str], colour_by: str) -> go.Figure:
    """One trace per class, coloured in the run's class order, so a class keeps its colour when the toggle flips."""
    fig = go.Figure()
    points = embedding["points"]
    named = [*classes, *sorted({class_of(p, colour_by) for p in points} - set(classes))]  # unlisted classes last
    for i, name in enumerate(named):
        # correct ones first: the legend shows a trace's first symbol, and the crosses are drawn on top
        members = sorted(
            (p for p in points if class_of(p, colour_by) == name), key=lambda p: p["true"] != p["predicted"]
        )
        if not members:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p["x"] for p in members],
                y=[p["y"] for p in members],
                mode="markers",
                name=name,
                customdata=[[p["id"], p["true"], p["predicted"]] for p in members],
                marker={
                    "color": PALETTE[i % len(PALETTE)],
                    "size": 9,
                    "symbol": ["circle" if p["true"] == p["predicted"] else "x" for p in members],
                    "line": {"width": 0.5, "color": "white"},
                },
                hoverinfo="none",  # the tooltip shows the image instead
                hovertemplate=None,
            )
        )
    fig.update_xaxes(showticklabels=False, zeroline=False, title=None)
    fig.update_yaxes(showticklabels=False, zeroline=False, title=None, scaleanchor="x", scaleratio=1)
    fig.update_layout(
        height=620,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title=f"coloured by {colour_by} class · hover a point to see it, click it to explain it",
        legend={"title": {"text": f"{colour_by} class"}, "itemsizing": "constant"},
        plot_bgcolor="#f8fafc",
        hovermode="closest",
    )
    return fig


def class_of(point: EmbeddingPoint, colour_by: str) -> str:
    return point["predicted"] if colour_by == PREDICTED else point["true"]


def describe(embedding: Embedding) -> str:
    count = len(embedding["points"])
    wrong = sum(p["true"] != p["predicted"] for p in embedding["points"])
    method = METHOD_NAMES.get(embedding["method"], embedding["method"])
    return (
        f"{count} evaluated item{'s' if count != 1 else ''} ({wrong} misclassified, drawn as ×): the input of "
        f"{embedding['layer']} (the final classifier) projected to 2-D by {method}. Near points look alike to the "
        "network; the axes themselves mean nothing."
    )


def hovered(data: dict[str, Any] | None) -> tuple[list[str], dict[str, Any]] | None:
    """(id, true, predicted) and the bounding box of the point under the pointer, or None."""
    points = (data or {}).get("points") or []
    if not points or not isinstance(points[0].get("customdata"), list):
        return None
    return [str(value) for value in points[0]["customdata"]], points[0].get("bbox") or {}


@callback(
    Output(ids.EMBEDDING_TOOLTIP, "show"),
    Output(ids.EMBEDDING_TOOLTIP, "bbox"),
    Output(ids.EMBEDDING_TOOLTIP, "children"),
    Input(ids.EMBEDDING_PLOT, "hoverData"),
    State(ids.EMBEDDING_READY, "data"),
)
def show_hovered(hover: dict[str, Any] | None, run: str | None, *, service: ExplorerAPI) -> tuple[Any, Any, Any]:
    """The hovered item's thumbnail, name and classes beside the point."""
    found = hovered(hover)
    if found is None or not run:
        return False, no_update, no_update
    (image_id, true, predicted), bbox = found
    try:
        source = service.thumbnail(run, image_id)
    except HartraceError as exc:
        return True, bbox, html.Div(str(exc), className="embedding-tip")
    verdict = "" if true == predicted else " ✗"
    return (
        True,
        bbox,
        html.Div(
            [
                html.Img(src=source, alt=image_id),
                html.Div(PurePosixPath(image_id).name, className="thumb-caption"),
                html.Div(f"true {true}", className="thumb-detail"),
                html.Div(f"predicted {predicted}{verdict}", className="thumb-detail"),
            ],
            className="embedding-tip",
        ),
    )


@callback(
    Output(ids.IMAGE_STORE, "data", allow_duplicate=True),
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Output(ids.URL, "pathname", allow_duplicate=True),
    Input(ids.EMBEDDING_PLOT, "clickData"),
    prevent_initial_call=True,
)
def open_clicked(click: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """A clicked point's item is selected and explained (a video on the Video page)."""
    found = hovered(click)
    if found is None:
        return no_update, no_update, no_update
    image_id = found[0][0]
    return image_id, None, page_for(image_id)

"""Small layout factories shared by the pages: cards, notices, tables, thumbnails, placeholder figures."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from html import escape as html_escape
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from hartrace.explorer.rows import RunRow

GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}  # drag to zoom, double-click to reset
ZOOM_CONFIG = {"displaylogo": False, "displayModeBar": "hover", "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def card(title: str | None, *children: Any, className: str = "", **kwargs: Any) -> html.Div:
    heading = [html.H3(title, className="card-title")] if title else []
    return html.Div([*heading, *children], className=f"card {className}".strip(), **kwargs)


def notice(message: str | None, kind: str = "info", **kwargs: Any) -> html.Div:
    """A coloured message box; ``kind`` is info, warning or error. Hidden when ``message`` is empty."""
    return html.Div(message or "", className=f"notice notice-{kind}", hidden=not message, **kwargs)


def graph(component_id: Any, figure: go.Figure | None = None, *, zoom: bool = False, **kwargs: Any) -> dcc.Graph:
    """A plotly graph; ``zoom`` adds the mode bar (zoom, pan, save as PNG) shown on hover."""
    return dcc.Graph(
        id=component_id, figure=figure or empty_figure(), config=ZOOM_CONFIG if zoom else GRAPH_CONFIG, **kwargs
    )


def empty_figure(message: str = "", height: int = 260) -> go.Figure:
    """A blank figure that says why it is blank, wrapped to the width of the narrowest card (an annotation
    is one line that plotly clips, and an error naming a path is long)."""
    shown = "<br>".join(textwrap.wrap(html_escape(message, quote=False), 44, break_long_words=True))
    fig = go.Figure()
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
        annotations=[
            {
                "text": shown,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": "#6b7280"},
            }
        ]
        if message
        else [],
    )
    return fig


def image_figure(image: Any, title: str = "", height: int = 380) -> go.Figure:
    """An RGB array as a zoomable plotly image, no ticks."""
    fig = go.Figure(go.Image(z=image, name="image", hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title or None, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    return fig


def key_value_table(values: Mapping[str, Any], className: str = "kv-table") -> html.Table:
    rows = [html.Tr([html.Th(str(key)), html.Td(_format(value))]) for key, value in values.items()]
    return html.Table(html.Tbody(rows), className=className)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], className: str = "data-table") -> html.Table:
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(_format(v)) for v in row]) for row in rows])
    return html.Table([head, body], className=className)


def metric(label: str, value: Any) -> html.Div:
    return html.Div(
        [html.Div(_format(value), className="metric-value"), html.Div(label, className="metric-label")],
        className="metric",
    )


def thumbnail(component_id: Any, src: str, caption: str, detail: str = "", correct: bool | None = None) -> html.Button:
    """A clickable image tile; its ``n_clicks`` drives the selection."""
    state = "" if correct is None else (" thumb-correct" if correct else " thumb-wrong")
    return html.Button(
        [
            html.Img(src=src, alt=caption),
            html.Div(caption, className="thumb-caption"),
            html.Div(detail, className="thumb-detail"),
        ],
        id=component_id,
        n_clicks=0,
        className=f"thumb{state}",
        title=caption,
    )


def _format(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_format(v)}" for k, v in value.items())
    return str(value)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def image_label(image_id: str | None) -> str:
    if not image_id:
        return ""
    if image_id.startswith("upload:"):
        return f"uploaded image {image_id.split(':', 1)[1][:8]}"
    return image_id


def missing_selection(run: str | None, image_id: str | None) -> str | None:
    """Why an image view cannot be drawn yet, or None when it can."""
    if not run:
        return "no run selected"
    if not image_id:
        return "no image selected: pick one on the Images page"
    return None


def run_label(row: RunRow) -> str:
    """A run as the run pickers list it: name, backbone where the name does not say it, epochs, best accuracy."""
    best = row.get("best_val_accuracy")
    accuracy = "" if best is None else f" · best val {100 * best:.1f}%"
    backbone = row.get("backbone") or "?"
    named = "" if row["name"].startswith(backbone) else f" · {backbone}"  # default run names start with it
    return f"{row['name']}{named} · {row.get('epochs', 0)} epochs{accuracy}"

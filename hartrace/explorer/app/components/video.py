"""Figures of the Video page: a frame beside its overlay, and the temporal-importance curve with a movable marker.

The frame figure carries its two pictures as small PNG data URIs (a few kB) rather
than pixel arrays, so a slider move sends little; the curve's marker is its own trace,
so a slider move can move it with a :class:`dash.Patch` instead of a new figure.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from dash import Patch
from plotly.subplots import make_subplots

from hartrace.explorer.app.components.figures import TARGET_COLOUR
from hartrace.render.interactive import cam_colour_bar

CURVE_COLOUR = "#dc2626"
MARKER_TRACE = 1  # the curve's trace 0 is the importance, trace 1 the current frame


def png_uri(picture: np.ndarray) -> str:
    """A uint8 RGB picture as a ``data:image/png`` URI."""
    from PIL import Image

    from hartrace.render.report import data_uri

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG")
    return data_uri(buffer.getvalue())


def frame_figure(frame: np.ndarray, overlay: np.ndarray, title: str, height: int = 360) -> go.Figure:
    """The plain frame (left) and the same frame with the map blended in (right), zoomable together."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("frame", "where the map looks"), horizontal_spacing=0.03)
    for column, (name, picture) in enumerate((("frame", frame), ("overlay", overlay)), start=1):
        fig.add_trace(go.Image(source=png_uri(picture), name=name, hoverinfo="skip"), row=1, col=column)
    fig.add_trace(cam_colour_bar(xaxis="x2", yaxis="y2"))  # what the overlay's colours mean
    fig.update_xaxes(visible=False, matches="x")
    fig.update_yaxes(visible=False, matches="y")
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def importance_figure(
    importance: Sequence[float] | np.ndarray,
    current: int,
    frame_numbers: Sequence[int],
    explained: str,
    height: int = 260,
) -> go.Figure:
    """Each clip frame's share of the map (click a point to show that frame); the shown frame is marked."""
    values = np.asarray(importance, dtype=float)
    steps = list(range(len(values)))  # a list: customdata sent as a numpy (typed) array is missing from click events
    fig = go.Figure(
        go.Scatter(
            x=steps,
            y=values,
            mode="lines+markers",
            name="importance",
            customdata=steps,
            line={"color": CURVE_COLOUR},
            fill="tozeroy",
            fillcolor="rgba(220, 38, 38, 0.12)",
            marker={"size": 9},
            text=[str(n) for n in frame_numbers],
            hovertemplate="video frame %{text}<br>%{y:.1%} of the map<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[current],
            y=[values[current]],
            mode="markers",
            name="shown frame",
            hoverinfo="skip",
            marker={"size": 16, "color": TARGET_COLOUR, "line": {"width": 2, "color": "#111827"}},
        )
    )
    fig.add_hline(
        y=1 / len(values),
        line_dash="dash",
        line_color="#9ca3af",
        annotation_text="uniform",
        annotation_position="top left",
    )
    fig.update_xaxes(
        title="video frame (the frames the model sees)",
        tickmode="array",
        tickvals=steps,
        ticktext=[str(n) for n in frame_numbers],
        range=[-0.5, len(values) - 0.5],
    )
    fig.update_yaxes(title="share of the map", tickformat=".0%", rangemode="tozero")
    fig.update_layout(
        title=f"which frames the map of {explained} says matter · click a point to show that frame",
        height=height,
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        hovermode="closest",
    )
    return fig


def move_marker(importance: Sequence[float] | np.ndarray, current: int) -> Any:
    """A patch that moves the curve's marker to ``current`` and leaves the rest of the figure alone."""
    patch = Patch()
    patch["data"][MARKER_TRACE]["x"] = [current]
    patch["data"][MARKER_TRACE]["y"] = [float(importance[current])]
    return patch

"""Figures the pages share, built from the service's answers with ``hartrace.render`` (no model here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from hartrace.explorer.app.components.widgets import empty_figure

TARGET_COLOUR = "#f59e0b"
BAR_COLOUR = "#2563eb"


def prediction_bars(
    probabilities: Sequence[float], classes: Sequence[str], top_k: int, target: str | None
) -> go.Figure:
    """Top-k probability bars; the class being explained is drawn in amber (the prediction, when no target)."""
    from hartrace.render import probability_bars_plotly

    fig = probability_bars_plotly(np.asarray(probabilities, dtype=float), list(classes), top_k=top_k)
    bar = fig.data[0]
    explained = target if target in classes else classes[int(np.argmax(probabilities))]
    bar.marker.color = [TARGET_COLOUR if name == explained else BAR_COLOUR for name in bar.customdata]
    bar.cliponaxis = False  # the percentage beside a long bar may reach past the axis
    fig.update_layout(
        title=f"top {len(bar.customdata)} of {len(classes)} classes · click a bar to explain it",
        margin={"l": 10, "r": 40, "t": 50, "b": 10},
    )
    return fig


def channel_figure(maps: Any, channel: int, layer: str) -> go.Figure:
    """One channel of an activation, enlarged."""
    values = np.asarray(maps, dtype=float)
    if values.ndim != 2:
        return empty_figure("this layer has no spatial maps")
    fig = go.Figure(
        go.Heatmap(
            z=values,
            colorscale="Viridis",
            name=f"ch {channel}",
            hovertemplate="x %{x}, y %{y}<br>%{z:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(
        title=f"{layer} · channel {channel} ({values.shape[0]}×{values.shape[1]})",
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def channel_histogram(maps: Any, channel: int, bins: int = 40) -> go.Figure:
    """The distribution of one channel's values, with its mean and share of zeros."""
    values = np.asarray(maps, dtype=float).reshape(-1)
    counts, edges = np.histogram(values, bins=bins)
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            name=f"ch {channel}",
            hovertemplate="%{x:.3g}: %{y}<extra></extra>",
        )
    )
    zeros = float(np.mean(values == 0)) if values.size else 0.0
    fig.update_layout(
        title=f"channel {channel}: mean {values.mean():.3g}, std {values.std():.3g}, zeros {zeros:.0%}",
        bargap=0,
        height=260,
        margin={"l": 40, "r": 10, "t": 50, "b": 30},
    )
    return fig

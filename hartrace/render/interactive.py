"""Plotly versions of the pictures for the Dash explorer: every clickable point says what it stands for.

Heatmaps carry their channel index in ``customdata`` and the trace ``name``, bars carry
their class name, so a click callback never has to reverse-engineer positions.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hartrace.base.errors import UsageError
from hartrace.render.activations import channel_maps, to_numpy, top_channels
from hartrace.render.kernels import (
    choose_kernels,
    input_slices,
    kernel_tiles,
    resolve_mode,
    symmetric_limit,
    weight_matrix,
)
from hartrace.render.overlay import as_rgb_uint8, cam_overlay

_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def _grid(count: int, max_columns: int = 8) -> tuple[int, int]:
    columns = min(count, max_columns, max(1, math.ceil(math.sqrt(count))))
    return math.ceil(count / columns), columns


def _image_axes(fig: go.Figure) -> None:
    """Hide ticks, put row 0 at the top and keep pixels square, like an image."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", constrain="domain")
    fig.for_each_yaxis(lambda axis: axis.update(scaleanchor=axis.anchor))


def activation_grid_plotly(
    activation: Any, top_n: int = 16, time_index: int | None = None, labels: Sequence[str] | None = None
) -> go.Figure:
    """The ``top_n`` loudest channels of one item as heatmaps; each trace's name and customdata is its channel.

    A vector (a linear layer's output) is drawn as bars, named by ``labels`` where the features have names
    (a classifier's outputs are its classes), else ``f <index>``.
    """
    values = to_numpy(activation)
    if values.ndim == 1:
        picked = top_channels(values, top_n)
        if labels is not None and len(labels) != values.shape[0]:
            raise UsageError(f"{len(labels)} labels for {values.shape[0]} features")
        names = [labels[i] for i in picked] if labels is not None else [f"f {i}" for i in picked]
        fig = go.Figure(
            go.Bar(
                x=names,
                y=values[picked],
                customdata=picked,
                name="features",
                hovertemplate="%{x} (feature %{customdata})<br>%{y:.4g}<extra></extra>",
            )
        )
        fig.update_layout(title=f"top {len(picked)} of {values.shape[0]} features", margin=_MARGIN)
        return fig
    maps = channel_maps(values, time_index)
    picked = top_channels(maps, top_n)
    rows, columns = _grid(len(picked))
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[f"ch {c}" for c in picked],
        horizontal_spacing=0.02,
        vertical_spacing=0.06,
    )
    for i, channel in enumerate(picked):
        data = maps[channel]
        fig.add_trace(
            go.Heatmap(
                z=data,
                name=f"ch {channel}",
                customdata=np.full(data.shape, channel),
                colorscale="Viridis",
                showscale=False,
                hovertemplate="ch %{customdata}<br>x %{x}, y %{y}<br>%{z:.4g}<extra></extra>",
            ),
            row=i // columns + 1,
            col=i % columns + 1,
        )
    _image_axes(fig)
    fig.update_layout(
        title=f"top {len(picked)} of {maps.shape[0]} channels", height=max(300, 150 * rows + 60), margin=_MARGIN
    )
    return fig


def probability_bars_plotly(probabilities: Any, classes: Sequence[str], top_k: int | None = None) -> go.Figure:
    """Horizontal probability bars, highest on top; each bar's ``y`` and ``customdata`` is its class name."""
    values = to_numpy(probabilities).reshape(-1)
    order = np.argsort(-values, kind="stable")[: top_k or len(classes)]
    names = [classes[i] for i in order]
    fig = go.Figure(
        go.Bar(
            x=values[order],
            y=names,
            orientation="h",
            customdata=names,
            name="probability",
            text=[f"{p:.1%}" for p in values[order]],
            textposition="outside",
            hovertemplate="%{customdata}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, 1.15], title="probability")
    fig.update_layout(title="class probabilities", height=max(250, 28 * len(order) + 100), margin=_MARGIN)
    return fig


def png_data_uri(image: Any) -> str:
    """An RGB (or grey) uint8 picture as a PNG data URI: what a browser draws fastest, and a small answer
    (a ``go.Image`` of ``z`` values sends every pixel as JSON numbers)."""
    rgb = as_rgb_uint8(image)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise UsageError("could not encode the picture as PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode()


def cam_colorscale(steps: int = 11) -> list[list[Any]]:
    """The overlay's colour map (OpenCV's JET, as :func:`cam_overlay` paints) as a plotly colour scale."""
    levels = np.linspace(0, 255, steps).round().astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(levels[:, None], cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)[:, 0]
    return [[float(v) / 255, f"rgb({r},{g},{b})"] for v, (r, g, b) in zip(levels, colours, strict=True)]


_CAM_COLOURS = cam_colorscale()


def cam_colour_bar(**where: Any) -> dict[str, Any]:
    """The overlays' colour bar, as a trace to add to any figure with an overlay (``where``: its axes, e.g.
    ``xaxis="x2"``): an invisible one-cell heatmap carries it, since a ``go.Image`` has none."""
    return {
        "type": "heatmap",
        "z": [[0.0, 1.0]],
        "x": [0, 0],
        "y": [0, 0],
        "zmin": 0,
        "zmax": 1,
        "colorscale": _CAM_COLOURS,
        "opacity": 0,
        "hoverinfo": "skip",
        "name": "scale",
        "showscale": True,
        "colorbar": {
            "title": {"text": "importance", "side": "right"},
            "tickvals": [0, 0.5, 1],
            "ticktext": ["low", "", "high"],
            "thickness": 12,
            "len": 0.9,
        },
        **where,
    }


def image_plotly(image: Any, *, title: str = "", height: int = 380) -> go.Figure:
    """An RGB picture as a zoomable plotly image sent as one PNG, no ticks."""
    return _image_figure(as_rgb_uint8(image), "image", title, height)


def _image_figure(
    rgb: np.ndarray, name: str, title: str, height: int, extra: Sequence[dict[str, Any]] = ()
) -> go.Figure:
    """Built from plain dicts, unvalidated: plotly's validation of these few known keys costs more than the PNG
    (12 ms of a 13 ms figure), and an image view is drawn on every click."""
    rows, columns = rgb.shape[:2]
    layout = {
        "xaxis": {"visible": False, "range": [-0.5, columns - 0.5], "constrain": "domain"},
        "yaxis": {"visible": False, "range": [rows - 0.5, -0.5], "scaleanchor": "x", "constrain": "domain"},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
    }
    if title:
        layout["title"] = {"text": title}
    trace = {"type": "image", "source": png_data_uri(rgb), "name": name, "hoverinfo": "skip"}
    return go.Figure(data=[trace, *extra], layout=layout, _validate=False)


def cam_overlay_plotly(
    image: Any, cam: Any, alpha: float = 0.5, *, title: str = "", height: int = 380, scale: bool = True
) -> go.Figure:
    """The image with its cam blended in (the colours of :func:`cam_overlay`) as a zoomable image, with a colour
    scale saying what the colours mean (0: not used for the class, 1: where the map is highest)."""
    blended = cam_overlay(image, cam, alpha=alpha)
    colour_bar = cam_colour_bar()
    return _image_figure(blended, "overlay", title, height, [colour_bar] if scale else [])


def _stats_label(name: str, stats: Any) -> str:
    return (
        f"{name} (mean {stats.mean:.3g}, std {stats.std:.3g}, "
        f"zeros {stats.zero_fraction:.0%}, dead {stats.dead_fraction:.0%})"
    ).lstrip()


def histogram_plotly(stats: Any | Mapping[str, Any]) -> go.Figure:
    """Activation histograms, one subplot per layer, titled with the health numbers."""
    panels = dict(stats) if isinstance(stats, Mapping) else {"": stats}
    if not panels:
        raise UsageError("no layer statistics to plot")
    rows = len(panels)
    spacing = min(0.25, 50 / (220 * rows)) if rows > 1 else 0.0  # about 50 px for each subplot title
    fig = make_subplots(
        rows=rows, cols=1, subplot_titles=[_stats_label(n, s) for n, s in panels.items()], vertical_spacing=spacing
    )
    for row, (name, layer_stats) in enumerate(panels.items(), start=1):
        edges = np.asarray(layer_stats.edges, dtype=float)
        fig.add_trace(
            go.Bar(
                x=(edges[:-1] + edges[1:]) / 2,
                y=layer_stats.counts,
                width=np.diff(edges),
                name=name or "activations",
                hovertemplate="%{x:.3g}: %{y}<extra></extra>",
            ),
            row=row,
            col=1,
        )
    fig.update_layout(showlegend=False, bargap=0, height=max(260, 220 * rows), margin=_MARGIN)
    return fig


def kernel_grid_plotly(weight: Any, max_kernels: int = 32) -> go.Figure:
    """A conv layer's kernels as :func:`~hartrace.render.kernels.kernel_grid_figure` draws them: RGB tiles for a
    first layer (trace names ``k <index>``), a 1x1 convolution's weight matrix (one heatmap, channel indices on
    its axes), or a deep layer's strongest outputs with their strongest input slices (``out <o> · in <i>``)."""
    mode = resolve_mode(weight)
    if mode == "matrix":
        choice = choose_kernels(weight, mode)
        matrix = weight_matrix(weight, choice)
        limit = symmetric_limit([matrix])
        fig = go.Figure(
            go.Heatmap(
                z=matrix,
                x=[f"in {i}" for i in choice.inputs[0]],
                y=[f"out {o}" for o in choice.outputs],
                name="weights",
                colorscale="RdBu_r",
                zmin=-limit,
                zmax=limit,
                hovertemplate="%{y}, %{x}<br>%{z:.3g}<extra></extra>",
            )
        )
        fig.update_yaxes(autorange="reversed")
        out_channels, in_channels = choice.shape[:2]
        fig.update_layout(
            title=f"1x1 convolution: weights of {len(choice.outputs)} of {out_channels} outputs x "
            f"{len(choice.inputs[0])} of {in_channels} inputs (the strongest)",
            height=max(300, 9 * len(choice.outputs) + 120),
            margin=_MARGIN,
        )
        return fig
    if mode == "per_input":
        side = 6
        choice = choose_kernels(weight, mode, max_outputs=side, max_inputs=side)
        cells = input_slices(weight, choice)
        limit = symmetric_limit([tile for row in cells for tile in row])
        titles = [f"out {o} · in {i}" for o, inputs in zip(choice.outputs, choice.inputs, strict=True) for i in inputs]
        columns = max(len(row) for row in cells)
        fig = make_subplots(
            rows=len(cells), cols=columns, subplot_titles=titles, horizontal_spacing=0.015, vertical_spacing=0.05
        )
        for r, (row, output, inputs) in enumerate(zip(cells, choice.outputs, choice.inputs, strict=True)):
            for c, (tile, channel) in enumerate(zip(row, inputs, strict=True)):
                fig.add_trace(
                    go.Heatmap(
                        z=tile,
                        name=f"out {output} · in {channel}",
                        colorscale="RdBu_r",
                        zmin=-limit,
                        zmax=limit,
                        showscale=r == 0 and c == 0,
                        hovertemplate=f"out {output} · in {channel}<br>%{{z:.3g}}<extra></extra>",
                    ),
                    row=r + 1,
                    col=c + 1,
                )
        _image_axes(fig)
        fig.update_annotations(font_size=9)
        fig.update_layout(
            title=f"the {len(cells)} strongest outputs, each with its {columns} strongest input slices",
            height=max(300, 110 * len(cells) + 60),
            margin=_MARGIN,
        )
        return fig
    tiles, mode = kernel_tiles(weight, mode, max_kernels)
    rows, columns = _grid(len(tiles))
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[f"k {i}" for i in range(len(tiles))],
        horizontal_spacing=0.015,
        vertical_spacing=0.05,
    )
    limit = symmetric_limit(tiles)
    for i, tile in enumerate(tiles):
        if mode == "rgb":
            trace = go.Image(z=np.rint(tile * 255).astype(np.uint8), name=f"k {i}")
        else:
            trace = go.Heatmap(
                z=tile,
                name=f"k {i}",
                customdata=np.full(tile.shape, i),
                colorscale="RdBu_r",
                zmin=-limit,
                zmax=limit,
                showscale=i == 0,
                hovertemplate="k %{customdata}<br>%{z:.3g}<extra></extra>",
            )
        fig.add_trace(trace, row=i // columns + 1, col=i % columns + 1)
    _image_axes(fig)
    how = "RGB" if mode == "rgb" else "mean over inputs"
    fig.update_layout(title=f"{len(tiles)} kernels ({how})", height=max(300, 110 * rows + 60), margin=_MARGIN)
    return fig


def confusion_matrix_plotly(matrix: Any, classes: Sequence[str], counts: Any | None = None) -> go.Figure:
    """A confusion heatmap (x = predicted, y = true) whose cells say both class names when hovered or clicked.

    ``matrix`` holds each true class's fractions (the colour); with ``counts`` a cell shows its count and the
    hover adds the fraction, so a class with few items does not look as sure as one with many.
    """
    values = to_numpy(matrix)
    shown = len(classes) <= 20
    cells: dict[str, Any] = {"texttemplate": "%{z:.2f}" if shown else None}
    hover = "%{z:.3g}"
    if counts is not None:
        cells = {
            "text": to_numpy(counts).astype(int),
            "texttemplate": "%{text}" if shown else None,
            "zmin": 0,
            "zmax": 1,
            "colorbar": {"title": {"text": "share of<br>true class"}, "tickformat": ".0%"},
        }
        hover = "%{text} (%{z:.1%} of true %{y})"
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(classes),
            y=list(classes),
            colorscale="Blues",
            name="confusion",
            hovertemplate=f"true %{{y}}<br>predicted %{{x}}<br>{hover}<extra></extra>",
            **cells,
        )
    )
    fig.update_xaxes(title="predicted", tickangle=-45)
    fig.update_yaxes(title="true", autorange="reversed")
    side = max(400, 28 * len(classes) + 200)
    fig.update_layout(title="confusion matrix", width=side + 80, height=side, margin={**_MARGIN, "l": 80, "b": 80})
    return fig


def training_curves_plotly(rows: Sequence[Mapping[str, float]]) -> go.Figure:
    """Loss and accuracy (%) per epoch, train against validation, in two subplots; the best epoch marked."""
    epochs = [int(r["epoch"]) for r in rows]
    fig = make_subplots(rows=1, cols=2, subplot_titles=["loss", "accuracy (%)"])
    for split, dash in (("train", "solid"), ("val", "dash")):
        colour = "#1f77b4" if split == "train" else "#ff7f0e"
        line = {"dash": dash, "color": colour}
        losses = [r[f"{split}_loss"] for r in rows]
        accuracies = [100 * r[f"{split}_accuracy"] for r in rows]
        fig.add_trace(
            go.Scatter(x=epochs, y=losses, name=f"{split} loss", mode="lines+markers", line=line), row=1, col=1
        )
        fig.add_trace(
            go.Scatter(x=epochs, y=accuracies, name=f"{split} accuracy", mode="lines+markers", line=line), row=1, col=2
        )
    if rows:
        best = min(rows, key=lambda r: r["val_loss"])
        fig.add_vline(x=int(best["epoch"]), line_dash="dot", line_color="grey", row="all", col="all")
    fig.update_xaxes(title="epoch", dtick=1 if len(epochs) <= 20 else None)
    fig.update_yaxes(range=[0, 100], row=1, col=2)
    fig.update_layout(height=380, margin=_MARGIN)
    return fig

"""The layer-flow figure: input, chosen layers and prediction left to right, the picture that explains a net.

It says what it leaves out: a dashed arrow, labelled with the count, where layers run between two shown
ones, and a divider where the trunk ends and the head begins. :func:`capture_strip_figure` draws the same
columns without an input: a notebook's view of a capture.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.lines import Line2D
from matplotlib.patches import ConnectionPatch

from hartrace.attribution.temporal import evenly_spaced
from hartrace.base.errors import UsageError
from hartrace.render.activations import channel_maps, to_numpy, top_channels
from hartrace.render.charts import verdict
from hartrace.render.kernels import diverging_cmap, kernel_mosaic
from hartrace.render.overlay import as_rgb_uint8
from hartrace.render.views import sequence_colour_scale

CELL = 1.35  # inches per activation map
GAP = 0.6  # inches between columns, room for the arrows
INPUT_WIDTH = 1.5  # in cells
BARS_WIDTH = 2.2  # in cells
TOP_K = 5
FEATURES_SHOWN = 8  # bars for a pooled (vector) layer
SEQUENCE_FEATURES_SHOWN = 32  # rows of a sequence (time x feature) layer's heatmap


def layer_caption(name: str, kind: str, shape: Sequence[int]) -> str:
    """``"layer1.0.conv1\\nConv2d 64×56×56"``: the name, the module type and the per-item output shape."""
    detail = f"{kind} {'×'.join(str(int(s)) for s in shape[1:])}"
    return f"{name}\n{detail}" if len(detail) <= 20 else f"{name}\n{detail.replace(' ', chr(10), 1)}"


def _caption_size(text: str) -> float:
    longest = max(len(line) for line in text.splitlines())
    return 8.0 if longest <= 18 else 7.0 if longest <= 22 else 6.0


def _maps_column(fig: Figure, cells: list[Any], activation: np.ndarray, caption: str, count: int) -> list[Any]:
    """The loudest ``count`` maps stacked vertically, on one scale per layer so brightness compares."""
    maps = channel_maps(activation)
    picked = top_channels(maps, count)
    low, high = float(maps[picked].min()), float(maps[picked].max())
    axes = []
    for row, cell in enumerate(cells):
        ax = fig.add_subplot(cell)
        ax.set_xticks([])
        ax.set_yticks([])
        if row < len(picked):
            channel = picked[row]
            ax.imshow(maps[channel], cmap="viridis", vmin=low, vmax=high, interpolation="nearest", aspect="auto")
            ax.text(
                0.03,
                0.96,
                f"ch {channel}",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=6.5,
                color="white",
                bbox={"facecolor": "black", "alpha": 0.55, "pad": 1.2, "edgecolor": "none"},
            )
        else:
            ax.axis("off")
        axes.append(ax)
    axes[0].set_title(caption, fontsize=_caption_size(caption))
    return axes


def _vector_column(fig: Figure, cell: Any, values: np.ndarray, caption: str) -> Any:
    """A pooled layer (``[F]`` or 1×1 maps): its strongest features as horizontal bars."""
    picked = top_channels(values, FEATURES_SHOWN)
    ax = fig.add_subplot(cell)
    colours = ["tab:blue" if values[i] >= 0 else "tab:red" for i in picked]
    ax.barh(range(len(picked)), values[picked], height=0.45, color=colours)
    low, high = min(0.0, float(values[picked].min())), max(0.0, float(values[picked].max()))
    span = (high - low) or 1.0
    for row, feature in enumerate(picked):  # labels above the bars, clear of the arrows
        ax.text(
            low + 0.01 * span, row - 0.28, f"f {feature}: {values[feature]:.3g}", fontsize=6.5, va="bottom", ha="left"
        )
    ax.set_ylim(len(picked) - 0.5, -0.9)
    ax.set_xlim(low, high + 0.02 * span)
    ax.set_yticks([])
    if low < 0:
        ax.axvline(0, color="black", lw=0.5)
    ax.tick_params(axis="x", labelsize=6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(caption, fontsize=_caption_size(caption))
    return ax


def _sequence_column(fig: Figure, cell: Any, values: np.ndarray, caption: str) -> Any:
    """A ``[T, F]`` layer (an LSTM's states): its loudest features (rows) over time (columns) as one heatmap."""
    picked = top_channels(values.T, SEQUENCE_FEATURES_SHOWN)
    shown = values[:, picked].T
    ax = fig.add_subplot(cell)
    ax.imshow(shown, aspect="auto", interpolation="nearest", **sequence_colour_scale(shown))
    ax.set_yticks([])
    ax.set_xlabel(f"t (0..{values.shape[0] - 1}), top {len(picked)} features", fontsize=6)
    ax.tick_params(axis="x", labelsize=6)
    ax.set_title(caption, fontsize=_caption_size(caption))
    return ax


def _kernel_cell(fig: Figure, cell: Any, kernel: Any) -> Any:
    ax = fig.add_subplot(cell)
    ax.patch.set_visible(False)  # never hide the tick labels of the column above
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if kernel is None:
        ax.text(0.5, 0.5, "(no kernel)", ha="center", va="center", fontsize=6.5, color="grey", transform=ax.transAxes)
        return ax
    mosaic, choice, limit = kernel_mosaic(kernel, "auto", max_kernels=16)
    if choice.mode == "rgb":
        ax.imshow(mosaic, interpolation="nearest")
    else:
        ax.imshow(mosaic, cmap=diverging_cmap(), vmin=-limit, vmax=limit, interpolation="nearest")
    out_channels, in_channels = int(kernel.shape[0]), int(kernel.shape[1])
    shape = "×".join(str(int(s)) for s in kernel.shape[2:])
    if choice.mode == "matrix":
        label = (
            f"weights {len(choice.outputs)}×{len(choice.inputs[0])} of {out_channels}×{in_channels}\n(1×1: out × in)"
        )
    elif choice.mode == "per_input":
        label = f"{len(choice.outputs)} strongest out ×\ntheir {len(choice.inputs[0])} strongest in, {shape}"
    else:
        how = "RGB" if choice.mode == "rgb" else "mean over in"
        label = f"{len(choice.outputs)}/{out_channels} kernels {shape}\n({how})"
    ax.set_xlabel(label, fontsize=6)
    return ax


def _prediction_column(ax: Any, probabilities: np.ndarray, names: Sequence[str], true_label: str | None = None) -> None:
    """Top-5 classes as bars, each name written above its bar so long names never collide; the true class (when
    known) in green, added below with its rank when it is not among them, and named in the title."""
    ranking = [int(k) for k in np.argsort(-probabilities, kind="stable")]
    order = ranking[:TOP_K]
    truth = names.index(true_label) if true_label in names else None
    if truth is not None and truth not in order:
        order.append(truth)
    ax.barh(
        range(len(order)),
        probabilities[order],
        height=0.45,
        color=["tab:green" if k == truth else "tab:blue" for k in order],
    )
    for row, k in enumerate(order):
        rank = f"  (rank {ranking.index(k) + 1})" if row >= TOP_K else ""
        colour = "tab:green" if k == truth else "black"
        ax.text(0.0, row - 0.3, f"{names[k]}{rank}", fontsize=8, va="bottom", ha="left", color=colour)
        ax.text(probabilities[k] + 0.02, row, f"{probabilities[k]:.1%}", fontsize=7.5, va="center")
    ax.set_ylim(len(order) - 0.5, -0.9)
    ax.set_xlim(0, 1.25)
    ax.set_yticks([])
    ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"], fontsize=7)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    title = f"top-{min(TOP_K, len(ranking))} prediction"
    if truth is not None:
        title += f"\n{verdict(true_label, names[ranking[0]], float(probabilities[ranking[0]]))}"
    ax.set_title(title, fontsize=8)


def _layer_column(fig: Figure, grid: GridSpec, column: int, rows: int, capture: Any, name: str, index: int) -> None:
    """Layer ``name``'s output of batch item ``index`` in rows ``0..rows-1`` of ``column``, drawn as what it is:
    its ``rows`` loudest maps (3-D layers averaged over time), a sequence heatmap, or a vector's strongest bars."""
    layer, view = capture.layers[name], capture.view(name, index)
    activation = to_numpy(view.values)
    caption = layer_caption(name, layer.kind, layer.shape)
    if view.kind == "sequence":
        _sequence_column(fig, grid[:rows, column], activation, caption)
    elif activation.ndim == 1 or int(np.prod(activation.shape[1:])) == 1:
        _vector_column(fig, grid[:rows, column], activation.reshape(activation.shape[0]), caption)
    else:
        if activation.ndim == 4:
            caption += " (t mean)"
        _maps_column(fig, [grid[r, column] for r in range(rows)], activation, caption, rows)


def layer_flow_figure(
    image: Any,
    capture: Any,
    layers: Sequence[str],
    *,
    classes: Sequence[str] | None = None,
    channels_per_layer: int = 4,
    index: int = 0,
    title: str = "",
    skipped: Sequence[int] | None = None,
    head: Collection[str] = (),
    true_label: str | None = None,
) -> Figure:
    """Input → each chosen layer (in the order given) → top-5 probabilities, joined by arrows.

    Each layer column shows its ``channels_per_layer`` most energetic maps of batch item
    ``index`` (one colour scale per layer; 3-D layers averaged over time), its strongest
    features as bars (a vector) or over time as a heatmap (a sequence), a thumbnail of
    its kernels when it has some, and a caption with name, type and output shape.

    ``skipped[i]`` is how many layers run between ``layers[i]`` and ``layers[i + 1]``: the arrow
    between them is dashed and says so. ``head`` holds the module paths of the model's head: a
    divider labelled "trunk | head" stands before the first shown layer inside it (before the
    prediction when none is). ``true_label``, when the image's class is known, is named above the
    bars and its bar is green.
    """
    if isinstance(layers, str):
        layers = [layers]
    unknown = [name for name in layers if name not in capture.layers]
    if unknown:
        raise UsageError(
            f"layer(s) {', '.join(map(repr, unknown))} not in the capture; it holds {', '.join(capture.layers)}"
        )
    if channels_per_layer < 1:
        raise UsageError("channels_per_layer must be at least 1")
    skipped = list(skipped) if skipped is not None else [0] * max(0, len(layers) - 1)
    if len(skipped) != max(0, len(layers) - 1):
        raise UsageError(f"{len(skipped)} skipped counts for {len(layers)} layers: give one per pair of neighbours")
    head_column = _first_head_column(layers, head) if head else None
    rows, columns = channels_per_layer, len(layers) + 2
    ratios = [INPUT_WIDTH] + [1.0] * len(layers) + [BARS_WIDTH]
    axes_width = CELL * sum(ratios)
    gaps = GAP * (columns - 1)
    margin_left, margin_right = 0.15, 0.25
    caption_lines = max(
        [2] + [layer_caption(n, capture.layers[n].kind, capture.layers[n].shape).count("\n") + 1 for n in layers]
    )
    top_inches = 0.2 + 0.15 * caption_lines + (0.4 if title else 0.0) + (0.25 if head_column is not None else 0.0)
    bottom_inches = 0.4
    height_ratios = [1.0] * rows + [0.9]
    hgap = 0.1
    fig_width = axes_width + gaps + margin_left + margin_right
    axes_height = CELL * sum(height_ratios)
    fig_height = axes_height + hgap * rows + top_inches + bottom_inches
    fig = Figure(figsize=(fig_width, fig_height))
    grid = GridSpec(
        rows + 1,
        columns,
        figure=fig,
        width_ratios=ratios,
        height_ratios=height_ratios,
        left=margin_left / fig_width,
        right=1 - margin_right / fig_width,
        bottom=bottom_inches / fig_height,
        top=1 - top_inches / fig_height,
        wspace=GAP / (axes_width / columns),
        hspace=hgap / (axes_height / (rows + 1)),
    )

    rgb = as_rgb_uint8(image)
    input_ax = fig.add_subplot(grid[:rows, 0])
    input_ax.imshow(rgb)
    input_ax.set_xticks([])
    input_ax.set_yticks([])
    input_ax.set_title(f"input\n{rgb.shape[0]}×{rgb.shape[1]}", fontsize=8)

    for column, name in enumerate(layers, start=1):
        _layer_column(fig, grid, column, rows, capture, name, index)
        _kernel_cell(fig, grid[rows, column], capture.layers[name].kernel)

    probabilities = to_numpy(capture.probabilities[index])
    names = list(classes or capture.classes or [str(i) for i in range(probabilities.shape[0])])
    bars_ax = fig.add_subplot(grid[:rows, -1])
    _prediction_column(bars_ax, probabilities, names, true_label)

    # Arrows in figure coordinates from each column's right edge to the next one's left edge.
    top_box, bottom_box = grid[0, 0].get_position(fig), grid[rows - 1, 0].get_position(fig)
    y = (top_box.y1 + bottom_box.y0) / 2
    pad = 0.08 / fig_width
    for column in range(columns - 1):
        start = grid[0, column].get_position(fig).x1 + pad
        end = grid[0, column + 1].get_position(fig).x0 - pad
        if column + 1 == columns - 1:
            end -= 0.05 / fig_width
        left_out = skipped[column - 1] if 1 <= column <= len(skipped) else 0
        arrow = ConnectionPatch(
            (start, y),
            (end, y),
            coordsA="figure fraction",
            coordsB="figure fraction",
            arrowstyle="-|>",
            mutation_scale=16,
            lw=1.8,
            color="dimgrey",
            linestyle=(0, (2.5, 1.5)) if left_out else "-",
        )
        fig.add_artist(arrow)
        if left_out:
            fig.text(
                (start + end) / 2,
                y + 0.12 / fig_height,
                f"⋯ {left_out} ⋯\nlayer{'s' if left_out > 1 else ''}\nskipped",
                ha="center",
                va="bottom",
                fontsize=6.5,
                color="black",
                linespacing=1.1,
                zorder=3,  # over the trunk | head divider when both fall in one gap
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
            )
    if head_column is not None:
        x = (grid[0, head_column - 1].get_position(fig).x1 + grid[0, head_column].get_position(fig).x0) / 2
        low = grid[rows, 0].get_position(fig).y0
        high = 1 - (top_inches - 0.28) / fig_height
        fig.add_artist(
            Line2D([x, x], [low, high], transform=fig.transFigure, color="tab:purple", lw=1.2, ls=(0, (4, 2)))
        )
        fig.text(x, high + 0.03 / fig_height, "trunk | head", ha="center", va="bottom", fontsize=8, color="tab:purple")
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.12 / fig_height, va="top")
    return fig


def _first_head_column(layers: Sequence[str], head: Collection[str]) -> int:
    """The figure column the head starts at: that of the first shown layer inside ``head`` (columns count the
    input as 0), or the prediction's when no shown layer is."""
    for i, name in enumerate(layers):
        if any(name == path or name.startswith(f"{path}.") for path in head):
            return i + 1
    return len(layers) + 1


def capture_strip_figure(
    capture: Any,
    *,
    index: int = 0,
    max_layers: int = 6,
    channels_per_layer: int = 2,
    classes: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """A capture at a glance, without its input: up to ``max_layers`` of its layers (evenly chosen, the first and
    the last always among them) left to right, each as :func:`layer_flow_figure` draws it, then the top-5 bars.

    It is the picture a notebook shows for a capture, so it stays small: the title should say what it left out.
    """
    if channels_per_layer < 1 or max_layers < 1:
        raise UsageError("max_layers and channels_per_layer must be at least 1")
    names = list(capture.layers)
    shown = [names[i] for i in evenly_spaced(len(names), max_layers)] if names else []
    rows, columns = channels_per_layer, len(shown) + 1
    ratios = [1.0] * len(shown) + [BARS_WIDTH]
    gap = 0.3
    caption_lines = max(
        [2] + [layer_caption(n, capture.layers[n].kind, capture.layers[n].shape).count("\n") + 1 for n in shown]
    )
    top_inches, bottom_inches = 0.25 + 0.15 * caption_lines + (0.35 if title else 0.0), 0.3
    axes_width, axes_height = CELL * sum(ratios), CELL * rows
    fig_width = axes_width + gap * (columns - 1) + 0.3
    fig_height = axes_height + 0.08 * rows + top_inches + bottom_inches
    fig = Figure(figsize=(fig_width, fig_height))
    grid = GridSpec(
        rows,
        columns,
        figure=fig,
        width_ratios=ratios,
        left=0.1 / fig_width,
        right=1 - 0.2 / fig_width,
        bottom=bottom_inches / fig_height,
        top=1 - top_inches / fig_height,
        wspace=gap / (axes_width / columns),
        hspace=0.08 / (axes_height / rows),
    )
    for column, name in enumerate(shown):
        _layer_column(fig, grid, column, rows, capture, name, index)
    probabilities = to_numpy(capture.probabilities[index])
    labels = list(classes or capture.classes or [str(i) for i in range(probabilities.shape[0])])
    _prediction_column(fig.add_subplot(grid[:, -1]), probabilities, labels)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.1 / fig_height, va="top")
    return fig

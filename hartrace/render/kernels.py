"""Convolution kernels (2-D and 3-D) as pictures: what each filter looks for, drawn as what it is.

A first layer's kernels are colour patterns (RGB). A 1x1 convolution mixes channels and has no
spatial pattern, so it is a weight matrix (output x input channels). A deep k x k kernel has
hundreds of input slices; their mean cancels out to almost nothing, so the strongest output
channels are shown with their strongest input slices instead. :func:`choose_kernels` says
which weights a picture draws and how much of the layer they are (the numbers a report writes
beside it); every drawing here, and the explorer's, follows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from hartrace.base.errors import UsageError
from hartrace.render.activations import to_numpy

#: Kernels are enlarged (nearest neighbour) to at least this many pixels a side so 3x3 ones stay visible.
MIN_TILE_PIXELS = 24
#: Diverging colour map, symmetric around zero, for signed kernel weights.
DIVERGING = "RdBu_r"
MODES = ("auto", "rgb", "matrix", "per_input", "mean")
#: The grey between the time slices of a 3-D kernel (NaN gaps in signed maps show the same grey), so a
#: kernel's slices read as one block and the white between kernels stays the only separator.
GAP_GREY = 200 / 255
#: Rows and columns of a 1x1 convolution's weight matrix: the whole matrix up to this, else the strongest.
MATRIX_CHANNELS = 64
#: RGB and mean pictures: one tile for each of the first this many kernels.
TILES = 64
#: A deep kernel picture: this many strongest output channels, each with this many strongest input slices.
PER_INPUT_OUTPUTS = 8
PER_INPUT_INPUTS = 8


def _weight_5d(weight: Any) -> np.ndarray:
    """Conv weights as ``[out, in, kt, kh, kw]`` (2-D kernels get ``kt = 1``)."""
    values = to_numpy(weight)
    if values.ndim == 4:
        values = values[:, :, None]
    if values.ndim != 5:
        raise UsageError(
            f"expected a conv weight [out, in, kh, kw] or [out, in, kt, kh, kw], got shape {tuple(values.shape)}"
        )
    return values


def resolve_mode(weight: Any, mode: str = "auto") -> str:
    """``auto``: RGB for a first layer (3 input channels), the weight matrix for a 1x1 convolution, each kernel
    itself where it has one input channel (depthwise), and the strongest input slices for any other."""
    if mode not in MODES:
        raise UsageError(f"unknown kernel mode {mode!r}; choose one of {', '.join(MODES)}")
    in_channels = int(weight.shape[1])
    if mode == "auto":
        if in_channels == 3:
            return "rgb"
        if int(np.prod(weight.shape[2:])) == 1:
            return "matrix"
        return "mean" if in_channels == 1 else "per_input"
    if mode == "rgb" and in_channels != 3:
        raise UsageError(f"mode 'rgb' needs 3 input channels, this weight has {in_channels}")
    return mode


@dataclass(frozen=True)
class KernelChoice:
    """Which weights of a conv layer a picture draws, and how much of the layer they hold.

    ``outputs`` are the output channels drawn, in drawing order; ``inputs`` holds, per drawn output, the input
    channels drawn for it (a matrix's columns are the same for every row; RGB and mean tiles draw every input).
    ``share`` is the fraction of the layer's squared weight the drawn weights hold, ``output_shares`` that of
    each drawn output's own: a picture of 8 of 2,048 inputs says how little of the kernel it is.
    """

    mode: str
    shape: tuple[int, ...]
    outputs: tuple[int, ...]
    inputs: tuple[tuple[int, ...], ...]
    share: float
    output_shares: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        """The numbers written beside the picture (``captures.json``)."""
        data: dict[str, Any] = {"mode": self.mode, "shape": list(self.shape), "outputs": list(self.outputs)}
        if self.mode == "matrix":
            data["inputs"] = list(self.inputs[0])
        elif self.mode == "per_input":
            data["inputs"] = {str(o): list(i) for o, i in zip(self.outputs, self.inputs, strict=True)}
            data["output_shares"] = {str(o): round(s, 6) for o, s in zip(self.outputs, self.output_shares, strict=True)}
        data["share_of_weight"] = round(self.share, 6)
        return data


def _strongest(norms: np.ndarray, count: int) -> list[int]:
    """Indices of the ``count`` largest ``norms``, largest first (ties: lower index first)."""
    return [int(i) for i in np.argsort(-norms, kind="stable")[:count]]


def choose_kernels(
    weight: Any, mode: str = "auto", *, max_outputs: int | None = None, max_inputs: int | None = None
) -> KernelChoice:
    """What a picture of ``weight`` draws in ``mode`` (see :func:`resolve_mode`).

    ``rgb`` and ``mean``: the first ``max_outputs`` kernels (:data:`TILES`). ``matrix``: up to ``max_outputs`` x
    ``max_inputs`` (64 x 64) channels in index order, the strongest by L2 norm where there are more.
    ``per_input``: the ``max_outputs`` strongest outputs (8), each with its ``max_inputs`` strongest input
    slices (8), strongest first.
    """
    values = _weight_5d(weight)
    mode = resolve_mode(values, mode)
    if mode == "matrix" and int(np.prod(values.shape[2:])) != 1:
        raise UsageError(f"mode 'matrix' is for 1x1 convolutions; these kernels are {_kind(values)}")
    shape = tuple(int(s) for s in to_numpy(weight).shape)
    out_channels, in_channels = values.shape[:2]
    energy = values.astype(np.float64) ** 2
    per_pair = energy.reshape(out_channels, in_channels, -1).sum(axis=2)  # [out, in] squared norms
    total = float(per_pair.sum()) or 1.0
    row_totals = per_pair.sum(axis=1)
    if mode == "matrix":
        rows = min(out_channels, max_outputs or MATRIX_CHANNELS)
        columns = min(in_channels, max_inputs or MATRIX_CHANNELS)
        outputs = sorted(_strongest(row_totals, rows))
        inputs = sorted(_strongest(per_pair.sum(axis=0), columns))
        drawn = per_pair[np.ix_(outputs, inputs)]
        shares = drawn.sum(axis=1) / np.maximum(row_totals[outputs], 1e-300)
        return KernelChoice(
            mode, shape, tuple(outputs), (tuple(inputs),) * len(outputs), float(drawn.sum()) / total, tuple(shares)
        )
    if mode == "per_input":
        outputs = _strongest(row_totals, min(out_channels, max_outputs or PER_INPUT_OUTPUTS))
        picked = [_strongest(per_pair[o], min(in_channels, max_inputs or PER_INPUT_INPUTS)) for o in outputs]
        drawn = [float(per_pair[o, i].sum()) for o, i in zip(outputs, picked, strict=True)]
        shares = tuple(d / max(float(row_totals[o]), 1e-300) for d, o in zip(drawn, outputs, strict=True))
        return KernelChoice(mode, shape, tuple(outputs), tuple(map(tuple, picked)), sum(drawn) / total, shares)
    outputs = list(range(min(out_channels, max_outputs or TILES)))
    every = tuple(range(in_channels))
    shares = tuple(1.0 for _ in outputs)
    drawn_share = float(row_totals[outputs].sum()) / total
    return KernelChoice(mode, shape, tuple(outputs), (every,) * len(outputs), drawn_share, shares)


def _upsample(image: np.ndarray) -> np.ndarray:
    factor = max(1, math.ceil(MIN_TILE_PIXELS / max(image.shape[0], image.shape[1])))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _side_by_side(slices: list[np.ndarray], fill: float) -> np.ndarray:
    """Time slices of one kernel left to right with a thin gap (NaN or grey) between them."""
    if len(slices) == 1:
        return slices[0]
    gap_width = max(1, slices[0].shape[1] // 6)
    gap = np.full((slices[0].shape[0], gap_width, *slices[0].shape[2:]), fill)
    parts: list[np.ndarray] = []
    for i, part in enumerate(slices):
        parts.extend([gap, part] if i else [part])
    return np.concatenate(parts, axis=1)


def _signed_tile(kernel: np.ndarray) -> np.ndarray:
    """One ``[kt, kh, kw]`` slice set as an enlarged signed picture, time slices side by side."""
    return _side_by_side([_upsample(kernel[t]) for t in range(kernel.shape[0])], np.nan)


def kernel_tiles(weight: Any, mode: str = "auto", max_kernels: int = TILES) -> tuple[list[np.ndarray], str]:
    """One enlarged image per output kernel and the mode used (``rgb`` or ``mean``: one tile per kernel).

    ``rgb`` tiles are ``[h, w, 3]`` in [0, 1], normalised per kernel (their colours are
    what the filter prefers); ``mean`` tiles are signed ``[h, w]`` maps (NaN in time gaps).
    """
    values = _weight_5d(weight)
    mode = resolve_mode(values, mode)
    if mode in ("per_input", "matrix"):
        raise UsageError(f"{mode} kernels are a picture of their own, not one tile per kernel")
    tiles = []
    for kernel in values[:max_kernels]:
        if mode == "rgb":
            low, high = kernel.min(), kernel.max()
            kernel = (kernel - low) / (high - low) if high > low else np.full_like(kernel, 0.5)
            slices = [_upsample(np.transpose(kernel[:, t], (1, 2, 0))) for t in range(kernel.shape[1])]
            tiles.append(_side_by_side(slices, GAP_GREY))
        else:
            tiles.append(_signed_tile(kernel.mean(axis=0)))
    return tiles, mode


def weight_matrix(weight: Any, choice: KernelChoice) -> np.ndarray:
    """A 1x1 convolution's drawn weights, ``[outputs, inputs]`` as ``choice`` picked them."""
    values = _weight_5d(weight)
    return values.reshape(*values.shape[:2])[np.ix_(list(choice.outputs), list(choice.inputs[0]))]


def input_slices(weight: Any, choice: KernelChoice) -> list[list[np.ndarray]]:
    """A deep kernel's drawn slices: per drawn output, one enlarged signed tile per drawn input channel."""
    values = _weight_5d(weight)
    return [
        [_signed_tile(values[o, i]) for i in inputs] for o, inputs in zip(choice.outputs, choice.inputs, strict=True)
    ]


def symmetric_limit(arrays: list[np.ndarray]) -> float:
    """The largest absolute finite value: one colour scale centred on zero for every array."""
    finite = [np.nanmax(np.abs(a)) for a in arrays if np.isfinite(a).any()]
    return float(max(finite)) if finite and max(finite) > 0 else 1.0


def _gap(side: int) -> int:
    return max(1, side // 8)


def _pack(tiles: list[list[np.ndarray]], fill: float, row_gap: int | None = None) -> np.ndarray:
    """Rows of equal tiles into one picture with thin gaps (``fill``) between them (``row_gap`` between rows)."""
    height, width = tiles[0][0].shape[:2]
    columns = max(len(row) for row in tiles)
    gap = _gap(height)
    down = gap if row_gap is None else row_gap
    canvas = np.full(
        (len(tiles) * height + (len(tiles) - 1) * down, columns * width + (columns - 1) * gap, *tiles[0][0].shape[2:]),
        fill,
    )
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            canvas[
                r * (height + down) : r * (height + down) + height, c * (width + gap) : c * (width + gap) + width
            ] = tile
    return canvas


def kernel_mosaic(weight: Any, mode: str = "auto", max_kernels: int = 16) -> tuple[np.ndarray, KernelChoice, float]:
    """A thumbnail of a layer's kernels drawn as :func:`kernel_grid_figure` draws them: (image, choice, symmetric
    limit of a signed image). ``max_kernels`` tiles of RGB or mean kernels; a square of the matrix; or the
    strongest outputs (rows) by their strongest input slices (columns), about ``max_kernels`` in all."""
    values = _weight_5d(weight)
    mode = resolve_mode(values, mode)
    if mode == "matrix":
        side = max(1, int(math.isqrt(max_kernels * 64)))  # 32 x 32 for 16
        choice = choose_kernels(weight, mode, max_outputs=side, max_inputs=side)
        matrix = weight_matrix(weight, choice)
        return matrix, choice, symmetric_limit([matrix])
    if mode == "per_input":
        side = max(1, int(math.isqrt(max_kernels)))
        choice = choose_kernels(weight, mode, max_outputs=side, max_inputs=side)
        rows = input_slices(weight, choice)
        return _pack(rows, np.nan), choice, symmetric_limit([t for row in rows for t in row])
    choice = choose_kernels(weight, mode, max_outputs=max_kernels)
    tiles, mode = kernel_tiles(values, mode, max_kernels)
    columns = max(1, math.ceil(math.sqrt(len(tiles) * tiles[0].shape[0] / tiles[0].shape[1])))
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    return _pack(rows, 1.0 if mode == "rgb" else np.nan), choice, symmetric_limit(tiles)


def diverging_cmap() -> Any:
    """:data:`DIVERGING` with gaps (NaN) in grey: a gap must not read as a zero weight (white)."""
    return matplotlib.colormaps[DIVERGING].with_extremes(bad=(GAP_GREY,) * 3)


def _kind(values: np.ndarray) -> str:
    kt, kh, kw = values.shape[2:]
    return f"{kt}x{kh}x{kw}" if kt > 1 else f"{kh}x{kw}"


def _channel_ticks(ax: Any, axis: str, channels: tuple[int, ...]) -> None:
    """Every channel index on ``axis`` when they fit, else every n-th, in a size that stays legible."""
    step = max(1, math.ceil(len(channels) / 64))
    positions = list(range(0, len(channels), step))
    labels = [str(channels[p]) for p in positions]
    size = 7.0 if len(positions) <= 24 else 6.5 if len(positions) <= 48 else 6.0
    if axis == "x":
        ax.set_xticks(positions, labels, fontsize=size, rotation=90)
    else:
        ax.set_yticks(positions, labels, fontsize=size)


def _matrix_figure(values: np.ndarray, choice: KernelChoice, title: str) -> Figure:
    """A 1x1 convolution as its weight matrix: rows output channels, columns input channels, zero in white."""
    matrix = weight_matrix(values, choice)
    rows, columns = matrix.shape
    cell = 0.17 if max(rows, columns) > 16 else 0.3
    fig = Figure(figsize=(max(3.5, cell * columns + 2.0), max(2.8, cell * rows + 1.6)))
    ax = fig.subplots()
    limit = symmetric_limit([matrix])
    image = ax.imshow(matrix, cmap=diverging_cmap(), vmin=-limit, vmax=limit, interpolation="nearest", aspect="equal")
    _channel_ticks(ax, "x", choice.inputs[0])
    _channel_ticks(ax, "y", choice.outputs)
    out_channels, in_channels = values.shape[:2]
    ax.set_xlabel(
        f"input channel ({columns} of {in_channels}"
        + (", the strongest by weight norm)" if columns < in_channels else ")"),
        fontsize=8,
    )
    ax.set_ylabel(
        f"output channel ({rows} of {out_channels}" + (", the strongest)" if rows < out_channels else ")"), fontsize=8
    )
    fig.colorbar(image, ax=ax, fraction=0.035, pad=0.02, label="weight")
    shown = "" if choice.share >= 0.9995 else f"; {choice.share:.0%} of the layer's squared weight shown"
    heading = f"1x1 convolution {out_channels}x{in_channels}: weight matrix{shown}"
    fig.suptitle(f"{title}\n{heading}" if title else heading, fontsize=9)
    fig.tight_layout()
    return fig


def _per_input_figure(values: np.ndarray, choice: KernelChoice, title: str) -> Figure:
    """Rows: the strongest output channels; columns: each one's strongest input slices, labelled, on one scale.

    The slices are packed into one image on one axes (grey gaps between them): a grid of 64 axes
    took most of ``visualize``'s time to draw, for the same picture.
    """
    cells = input_slices(values, choice)
    rows, columns = len(cells), max(len(row) for row in cells)
    limit = symmetric_limit([cell for row in cells for cell in row])
    height, width = cells[0][0].shape[:2]
    gap, row_gap = _gap(width), max(2, height * 3 // 8)  # room above each row for its slices' labels
    fig = Figure(figsize=(1.0 * width / height * columns + 2.4, 1.05 * rows + 1.0))
    ax = fig.add_axes((0.14, 0.3 / fig.get_figheight(), 0.72, 1 - 1.05 / fig.get_figheight()))
    packed = np.pad(_pack(cells, np.nan, row_gap), ((row_gap, 0), (0, 0)), constant_values=np.nan)
    image = ax.imshow(packed, cmap=diverging_cmap(), vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks(
        [row_gap + r * (height + row_gap) + (height - 1) / 2 for r in range(rows)],
        [f"out {output}\n{share:.1%}" for output, share in zip(choice.outputs, choice.output_shares, strict=True)],
        fontsize=7,
    )
    ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for r, inputs in enumerate(choice.inputs):
        for c, channel in enumerate(inputs):
            x, y = c * (width + gap) + (width - 1) / 2, row_gap + r * (height + row_gap) - 1
            ax.text(x, y, f"in {channel}", fontsize=6.5, ha="center", va="bottom")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="weight")
    out_channels, in_channels = values.shape[:2]
    time_note = f", {values.shape[2]} time slices left to right" if values.shape[2] > 1 else ""
    heading = (
        f"{_kind(values)} kernels: the {rows} strongest of {out_channels} outputs, each with its {columns} strongest "
        f"of {in_channels} input slices{time_note}"
    )
    fig.suptitle(f"{title}\n{heading}" if title else heading, fontsize=9)
    fig.text(
        0.02,
        0.012,
        f"% beside each output: the share of its squared weight that the {columns} slices shown hold "
        f"({choice.share:.2%} of the whole layer's)",
        fontsize=7,
        color="dimgrey",
    )
    return fig


def _tile_figure(values: np.ndarray, mode: str, max_kernels: int, title: str) -> Figure:
    """One tile per output kernel, labelled with its index: RGB, or the mean over input channels."""
    kt = values.shape[2]
    tiles, mode = kernel_tiles(values, mode, max_kernels)
    aspect = tiles[0].shape[1] / tiles[0].shape[0]
    columns = max(1, min(len(tiles), math.ceil(math.sqrt(len(tiles) / aspect))))
    rows = math.ceil(len(tiles) / columns)
    tile = 0.9 if len(tiles) > 16 else 1.3
    colourbar = mode == "mean"
    fig = Figure(figsize=(tile * aspect * columns + (1.0 if colourbar else 0.3), (tile + 0.25) * rows + 0.8))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    limit = symmetric_limit(tiles)
    image = None
    for index, (ax, tile_image) in enumerate(zip(axes.flat, tiles, strict=False)):
        if mode == "rgb":
            image = ax.imshow(tile_image, interpolation="nearest")
        else:
            image = ax.imshow(tile_image, cmap=diverging_cmap(), vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"k {index}", fontsize=6.5, pad=2)
    shown = f"{len(tiles)} of {values.shape[0]}" if len(tiles) < values.shape[0] else f"{len(tiles)}"
    how = "RGB, normalised per kernel" if mode == "rgb" else f"mean over {values.shape[1]} input channels"
    time_note = f", {kt} time slices left to right" if kt > 1 else ""
    heading = f"{shown} kernels {_kind(values)} ({how}{time_note})"
    fig.suptitle(f"{title}\n{heading}" if title else heading, fontsize=9)
    top = 1 - 0.7 / fig.get_figheight()
    fig.subplots_adjust(left=0.02, right=0.86 if colourbar else 0.98, bottom=0.02, top=top, wspace=0.1, hspace=0.35)
    if colourbar and image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.04, pad=0.02, label="mean weight")
    return fig


def kernel_grid_figure(weight: Any, *, mode: str = "auto", max_kernels: int = TILES, title: str = "") -> Figure:
    """A conv layer's kernels drawn as what they are (``mode``, see :func:`resolve_mode`).

    ``rgb`` (a first layer): each kernel as the colour pattern it responds to, ``max_kernels`` of them.
    ``matrix`` (1x1): the weight matrix, output x input channels, on a scale centred at zero, channel
    indices on the axes. ``per_input`` (deeper k x k): the strongest output channels, each with its
    strongest input slices, labelled. ``mean``: each kernel's mean over input channels. 3-D kernels show
    their time slices side by side. ``title`` goes above the line that says what is drawn.
    """
    values = _weight_5d(weight)
    mode = resolve_mode(values, mode)
    if mode == "matrix":
        return _matrix_figure(values, choose_kernels(weight, mode), title)
    if mode == "per_input":
        return _per_input_figure(values, choose_kernels(weight, mode), title)
    return _tile_figure(values, mode, max_kernels, title)

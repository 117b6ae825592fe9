"""Convolution kernels (2-D and 3-D) as image grids: what each filter looks for."""

from __future__ import annotations

import math
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
MODES = ("auto", "rgb", "mean", "per_input")
#: The grey between the time slices of a 3-D kernel (NaN gaps in signed maps show the same grey), so a
#: kernel's slices read as one block and the white between kernels stays the only separator.
GAP_GREY = 200 / 255


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
    """``auto`` means RGB for a first layer (3 input channels), the mean over inputs for deeper ones."""
    if mode not in MODES:
        raise UsageError(f"unknown kernel mode {mode!r}; choose one of {', '.join(MODES)}")
    in_channels = int(weight.shape[1])
    if mode == "auto":
        return "rgb" if in_channels == 3 else "mean"
    if mode == "rgb" and in_channels != 3:
        raise UsageError(f"mode 'rgb' needs 3 input channels, this weight has {in_channels}")
    return mode


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


def kernel_tiles(weight: Any, mode: str = "auto", max_kernels: int = 64) -> tuple[list[np.ndarray], str]:
    """One enlarged image per output kernel and the mode used.

    ``rgb`` tiles are ``[h, w, 3]`` in [0, 1], normalised per kernel (their colours are
    what the filter prefers); ``mean`` tiles are signed ``[h, w]`` maps (NaN in time gaps).
    """
    values = _weight_5d(weight)
    mode = resolve_mode(values, mode)
    if mode == "per_input":
        raise UsageError("per_input kernels are a grid of their own, not one tile per kernel")
    tiles = []
    for kernel in values[:max_kernels]:
        if mode == "rgb":
            low, high = kernel.min(), kernel.max()
            kernel = (kernel - low) / (high - low) if high > low else np.full_like(kernel, 0.5)
            slices = [_upsample(np.transpose(kernel[:, t], (1, 2, 0))) for t in range(kernel.shape[1])]
            tiles.append(_side_by_side(slices, GAP_GREY))
        else:
            mean = kernel.mean(axis=0)
            tiles.append(_side_by_side([_upsample(mean[t]) for t in range(mean.shape[0])], np.nan))
    return tiles, mode


def _symmetric_limit(arrays: list[np.ndarray]) -> float:
    finite = [np.nanmax(np.abs(a)) for a in arrays if np.isfinite(a).any()]
    return float(max(finite)) if finite and max(finite) > 0 else 1.0


def kernel_mosaic(
    weight: Any, mode: str = "auto", max_kernels: int = 16, columns: int | None = None
) -> tuple[np.ndarray, str, float]:
    """Several kernels packed into one image (for thumbnails): (image, mode, symmetric limit of the mean mode)."""
    tiles, mode = kernel_tiles(weight, mode, max_kernels)
    columns = columns or max(1, math.ceil(math.sqrt(len(tiles) * tiles[0].shape[0] / tiles[0].shape[1])))
    rows = math.ceil(len(tiles) / columns)
    height, width = tiles[0].shape[:2]
    gap = max(1, height // 8)
    fill = 1.0 if mode == "rgb" else np.nan
    canvas = np.full(
        (rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap, *tiles[0].shape[2:]), fill
    )
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        canvas[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = tile
    return canvas, mode, _symmetric_limit(tiles)


def _diverging_cmap() -> Any:
    return matplotlib.colormaps[DIVERGING].with_extremes(
        bad=(GAP_GREY,) * 3
    )  # gaps must not read as zero weights (white)


def _per_input_figure(values: np.ndarray, title: str, rows: int = 6, columns: int = 8) -> Figure:
    """Rows: the first output kernels; columns: their first input channels, on one signed scale."""
    rows, columns = min(rows, values.shape[0]), min(columns, values.shape[1])
    cells = [
        [_side_by_side([_upsample(values[o, i, t]) for t in range(values.shape[2])], np.nan) for i in range(columns)]
        for o in range(rows)
    ]
    limit = _symmetric_limit([cell for row in cells for cell in row])
    aspect = cells[0][0].shape[1] / cells[0][0].shape[0]
    fig = Figure(figsize=(1.1 * aspect * columns + 1.4, 1.1 * rows + 0.8))
    axes = fig.subplots(rows, columns, squeeze=False)
    image = None
    for o in range(rows):
        for i in range(columns):
            ax = axes[o, i]
            image = ax.imshow(cells[o][i], cmap=_diverging_cmap(), vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if o == 0:
                ax.set_title(f"in {i}", fontsize=7)
            if i == 0:
                ax.set_ylabel(f"out {o}", fontsize=7)
    fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label="weight")
    fig.suptitle(title or f"kernels per input channel ({values.shape[0]}x{values.shape[1]} in all)", fontsize=10)
    return fig


def kernel_grid_figure(weight: Any, *, mode: str = "auto", max_kernels: int = 64, title: str = "") -> Figure:
    """A grid of conv kernels, one tile per output channel, labelled with its index.

    ``rgb`` (auto for first layers) shows each kernel as the colour pattern it responds to;
    ``mean`` (auto for deeper layers) the mean over input channels on a signed scale
    centred at zero; ``per_input`` the first kernels split by input channel. 3-D kernels
    show their time slices side by side.
    """
    values = _weight_5d(weight)
    mode = resolve_mode(values, mode)
    kt = values.shape[2]
    kind = f"{kt}x{values.shape[3]}x{values.shape[4]}" if kt > 1 else f"{values.shape[3]}x{values.shape[4]}"
    if mode == "per_input":
        return _per_input_figure(values, title)
    tiles, mode = kernel_tiles(values, mode, max_kernels)
    aspect = tiles[0].shape[1] / tiles[0].shape[0]
    columns = max(1, min(len(tiles), math.ceil(math.sqrt(len(tiles) / aspect))))
    rows = math.ceil(len(tiles) / columns)
    tile = 0.9 if len(tiles) > 16 else 1.3
    colourbar = mode == "mean"
    fig = Figure(figsize=(tile * aspect * columns + (1.0 if colourbar else 0.3), (tile + 0.25) * rows + 0.7))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    limit = _symmetric_limit(tiles)
    image = None
    for index, (ax, tile_image) in enumerate(zip(axes.flat, tiles, strict=False)):
        if mode == "rgb":
            image = ax.imshow(tile_image, interpolation="nearest")
        else:
            image = ax.imshow(tile_image, cmap=_diverging_cmap(), vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"k {index}", fontsize=6.5, pad=2)
    shown = f"{len(tiles)} of {values.shape[0]}" if len(tiles) < values.shape[0] else f"{len(tiles)}"
    how = "RGB, normalised per kernel" if mode == "rgb" else f"mean over {values.shape[1]} input channels"
    time_note = f", {kt} time slices left to right" if kt > 1 else ""
    fig.suptitle(title or f"{shown} kernels {kind} ({how}{time_note})", fontsize=9)
    top = 1 - 0.6 / fig.get_figheight()
    fig.subplots_adjust(left=0.02, right=0.86 if colourbar else 0.98, bottom=0.02, top=top, wspace=0.1, hspace=0.35)
    if colourbar and image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.04, pad=0.02, label="mean weight")
    return fig

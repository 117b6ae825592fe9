"""Heatmaps (CAMs, saliency) blended over the image they explain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hartrace.base.errors import UsageError
from hartrace.render.activations import to_numpy


def as_rgb_uint8(image: Any) -> np.ndarray:
    """An image as ``[H, W, 3]`` uint8 RGB.

    Accepts uint8 or float ``[H, W, 3]`` / ``[3, H, W]`` (a model input tensor too): floats
    in [0, 1] are scaled by 255, other float ranges (normalised inputs) are stretched to fit.
    """
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.transpose(array, (1, 2, 0))
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise UsageError(f"expected an image [H, W, 3] or [3, H, W], got shape {tuple(array.shape)}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype == np.uint8:
        return array
    array = array.astype(np.float64)
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return np.clip(np.rint(array * 255), 0, 255).astype(np.uint8)


def cam_overlay(image: Any, cam: Any, *, alpha: float = 0.5, colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """``(1 - alpha) * image + alpha * colour(cam)`` as uint8 RGB, the cam resized (bilinear) to the image.

    ``cam`` is expected in [0, 1] (values outside are clipped, NaN counts as 0), so the
    colours mean the same thing in every overlay. ``alpha=0`` gives the image back.
    """
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"alpha must be within [0, 1], got {alpha}")
    rgb = as_rgb_uint8(image)
    heat_values = np.nan_to_num(to_numpy(cam).squeeze(), nan=0.0).astype(np.float32)
    if heat_values.ndim != 2:
        raise UsageError(f"expected a 2-D cam [h, w], got shape {tuple(heat_values.shape)}")
    height, width = rgb.shape[:2]
    if heat_values.shape != (height, width):
        heat_values = cv2.resize(heat_values, (width, height), interpolation=cv2.INTER_LINEAR)
    heat_bytes = np.rint(np.clip(heat_values, 0.0, 1.0) * 255).astype(np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(heat_bytes, colormap), cv2.COLOR_BGR2RGB)
    if alpha == 0:
        return rgb.copy()
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * heat.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def cam_figure(
    image: Any, cams: Any, *, titles: Sequence[str] | None = None, alpha: float = 0.5, suptitle: str = ""
) -> Figure:
    """The original image beside one overlay per cam (several methods, or several classes), one colour key."""
    cam_list = list(cams) if isinstance(cams, (list, tuple)) else [cams]
    if not cam_list:
        raise UsageError("no cams to overlay")
    titles = (
        list(titles)
        if titles is not None
        else [f"overlay {i + 1}" if len(cam_list) > 1 else "overlay" for i in range(len(cam_list))]
    )
    if len(titles) != len(cam_list):
        raise UsageError(f"{len(titles)} titles for {len(cam_list)} cams")
    rgb = as_rgb_uint8(image)
    panels = 1 + len(cam_list)
    tile = 3.0 if panels <= 4 else 2.4
    aspect = rgb.shape[1] / rgb.shape[0]
    # Size the figure so the panels fill their cells: no band of empty space above or below them.
    left, right, wspace, key = 0.01, 0.9, 0.04, 0.04
    width = tile * aspect * (panels + wspace * (panels - 1)) / ((right - left) * (1 - key))
    top_inches, bottom_inches = (0.75 if suptitle else 0.4), 0.1
    fig = Figure(figsize=(width, tile + top_inches + bottom_inches))
    axes = fig.subplots(1, panels, squeeze=False)
    axes = axes[0]
    axes[0].imshow(rgb)
    axes[0].set_title("input", fontsize=9)
    for ax, cam, name in zip(axes[1:], cam_list, titles, strict=True):
        ax.imshow(cam_overlay(rgb, cam, alpha=alpha))
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.axis("off")
    height = fig.get_figheight()
    fig.subplots_adjust(
        left=left, right=right, bottom=bottom_inches / height, top=1 - top_inches / height, wspace=wspace
    )
    colour_key = fig.colorbar(
        ScalarMappable(norm=Normalize(0, 1), cmap="jet"), ax=list(axes), fraction=0.025, pad=0.015
    )
    colour_key.set_label("relevance", fontsize=8)
    colour_key.ax.tick_params(labelsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10, y=1 - 0.12 / height, va="top")
    return fig


def _fit(line: str, chars: int) -> str:
    return line if len(line) <= chars else line[: max(1, chars - 1)] + "…"


def overlay_grid_figure(
    images: Sequence[Any],
    cams: Sequence[Sequence[Any]],
    titles: Sequence[Sequence[str]],
    *,
    side: int = 144,
    alpha: float = 0.5,
    dpi: int = 100,
) -> Figure:
    """Each image in a row, beside its overlays (one per cam), drawn as ONE mosaic of tiles about ``side`` pixels long.

    A notebook's view of a batch of maps: one picture rather than a grid of axes, so it draws in a fraction of the
    time and a tile is as many pixels in the PNG (saved at ``dpi``) as in the mosaic. ``titles[row]`` captions the
    row's tiles (the image's first; a line too long for its tile is cut); one colour key for all.
    """
    if not images or len(cams) != len(images) or len(titles) != len(images):
        raise UsageError(f"{len(images)} images, {len(cams)} rows of cams and {len(titles)} rows of titles")
    rgbs = [as_rgb_uint8(image) for image in images]
    longest = max(rgbs[0].shape[:2])
    shrink = min(1.0, side / longest)
    width, height = max(1, round(rgbs[0].shape[1] * shrink)), max(1, round(rgbs[0].shape[0] * shrink))
    factor = max(1, side // longest)  # a small input is enlarged by whole pixels: seen as the model saw it
    tiles = []
    for rgb, row in zip(rgbs, cams, strict=True):
        small = (
            rgb if rgb.shape[:2] == (height, width) else cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        )
        panels = [small, *(cam_overlay(small, cam, alpha=alpha) for cam in row)]
        tiles.append([np.repeat(np.repeat(panel, factor, axis=0), factor, axis=1) for panel in panels])
    width, height = width * factor, height * factor
    columns = max(len(row) for row in tiles)
    gap, band = 6, 26  # pixels between tiles, and above each row for two lines of caption
    canvas = np.full((len(tiles) * (band + height), columns * width + (columns - 1) * gap, 3), 255, dtype=np.uint8)
    key_inches = 0.6
    fig = Figure(figsize=(canvas.shape[1] / dpi + key_inches, canvas.shape[0] / dpi), dpi=dpi)
    share = canvas.shape[1] / dpi / fig.get_figwidth()
    ax = fig.add_axes((0.0, 0.0, share, 1.0))
    chars = max(6, int(width / 5.2))  # 7-point text at 100 dpi: about 5 pixels a character
    for r, row in enumerate(tiles):
        top = r * (band + height) + band
        for c, tile in enumerate(row):
            left = c * (width + gap)
            canvas[top : top + height, left : left + width] = tile
            caption = titles[r][c] if c < len(titles[r]) else ""
            text = "\n".join(_fit(line, chars) for line in caption.splitlines())
            ax.text(left + width / 2, top - 2, text, ha="center", va="bottom", fontsize=7, linespacing=1.05)
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    if columns > 1:
        colour_key = fig.colorbar(
            ScalarMappable(norm=Normalize(0, 1), cmap="jet"),
            cax=fig.add_axes((share + 0.1 / fig.get_figwidth(), 0.1, 0.12 / fig.get_figwidth(), 0.8)),
        )
        colour_key.ax.tick_params(labelsize=6)
        colour_key.set_label("relevance", fontsize=7)
    return fig

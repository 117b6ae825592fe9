"""Clips and their explanations as pictures and animations: overlays per frame, frame strips, GIF and MP4.

Pure functions from arrays to figures and files; they never run a model. Frames are
uint8 ``[T, H, W, 3]`` RGB and video maps ``[T, H, W]`` in [0, 1], normalised per video,
so a frame's brightness in the overlays says how much it mattered.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image, ImageSequence

from hartrace.attribution.temporal import evenly_spaced, temporal_importance
from hartrace.base.errors import UsageError
from hartrace.base.io import atomic_path
from hartrace.render.activations import to_numpy, top_channels
from hartrace.render.overlay import as_rgb_uint8, cam_overlay


def as_frames(frames: Any) -> np.ndarray:
    """A clip as uint8 ``[T, H, W, 3]`` RGB.

    Accepts ``[T, H, W, 3]`` (or ``[T, H, W]`` grey) and a model input ``[3, T, H, W]``;
    floats are scaled as :func:`~hartrace.render.overlay.as_rgb_uint8` does, over the whole
    clip at once so frames keep their relative brightness.
    """
    array = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    if array.ndim == 4 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.transpose(array, (1, 2, 3, 0))
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3) or array.shape[0] == 0:
        raise UsageError(f"expected frames [T, H, W, 3] or [3, T, H, W], got shape {tuple(array.shape)}")
    count, height, width = array.shape[:3]
    return as_rgb_uint8(array.reshape(count * height, width, array.shape[-1])).reshape(count, height, width, 3)


def _as_video_map(cams: Any, frames: int) -> np.ndarray:
    """``[T, H, W]`` from a video map (a leading batch or class axis of size 1 is dropped)."""
    values = to_numpy(cams)
    while values.ndim > 3 and values.shape[0] == 1:
        values = values[0]
    if frames == 1 and values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or values.shape[0] != frames:
        raise UsageError(f"expected a video map [T={frames}, H, W], got shape {tuple(to_numpy(cams).shape)}")
    return values


def overlay_frames(frames: Any, cams: Any, alpha: float = 0.5) -> np.ndarray:
    """Each frame with its slice of the map blended over it (jet, as :func:`cam_overlay`): uint8 ``[T, H, W, 3]``."""
    clip = as_frames(frames)
    maps = _as_video_map(cams, len(clip))
    return np.stack([cam_overlay(frame, cam, alpha=alpha) for frame, cam in zip(clip, maps, strict=True)])


def _importance_axes(ax: Axes, importance: np.ndarray, marked: Sequence[int], fps: float | None) -> None:
    """The share of the map per frame as a curve, the uniform share dashed, ``marked`` frames as dots."""
    times = np.arange(len(importance)) / fps if fps else np.arange(len(importance))
    ax.fill_between(times, importance, color="tab:red", alpha=0.15, lw=0)
    ax.plot(times, importance, color="tab:red", lw=1.5, marker="." if len(importance) <= 64 else None)
    ax.axhline(1.0 / len(importance), color="grey", lw=0.8, ls="--", label="uniform")
    if len(marked):
        ax.plot(times[list(marked)], importance[list(marked)], "o", color="black", ms=5, label="shown frames", zorder=3)
    peak = int(np.argmax(importance))
    late = peak > len(importance) / 2  # label on the inner side so it stays inside the axes
    ax.annotate(
        f"peak t={peak}",
        (times[peak], importance[peak]),
        xytext=(-5 if late else 5, 3),
        textcoords="offset points",
        ha="right" if late else "left",
        fontsize=7,
    )
    ax.set_xlim(times[0] - 0.5 / (fps or 1), times[-1] + 0.5 / (fps or 1))
    ax.set_ylim(0, max(float(importance.max()) * 1.25, 1.5 / len(importance)))
    ax.set_xlabel("time (s)" if fps else "frame", fontsize=8)
    ax.set_ylabel("share of map", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", frameon=False, ncol=2)


def _as_importance(importance: Any) -> np.ndarray:
    values = to_numpy(importance).squeeze()
    values = values[None] if values.ndim == 0 else values
    if values.ndim != 1 or not len(values):
        raise UsageError(f"expected a temporal importance [T], got shape {tuple(to_numpy(importance).shape)}")
    return values


def frame_strip_figure(
    frames: Any,
    cams: Any = None,
    *,
    max_frames: int = 8,
    importance: Any = None,
    title: str = "",
    labels: Sequence[str] | None = None,
    alpha: float = 0.5,
) -> Figure:
    """Evenly chosen frames (captioned ``t=index``), their overlays below, then the temporal-importance curve.

    ``importance`` defaults to :func:`~hartrace.attribution.temporal.temporal_importance` of
    ``cams``; without either, only the frames are drawn. ``labels`` (one per frame of the
    clip, e.g. a time stamp or a per-frame prediction) are added to the captions.
    """
    clip = as_frames(frames)
    count = len(clip)
    maps = _as_video_map(cams, count) if cams is not None else None
    if importance is not None:
        shares = _as_importance(importance)
        if len(shares) != count:
            raise UsageError(f"{len(shares)} importance values for {count} frames")
    else:
        shares = temporal_importance(maps) if maps is not None else None
    if labels is not None and len(labels) != count:
        raise UsageError(f"{len(labels)} labels for {count} frames")
    shown = evenly_spaced(count, max_frames)
    aspect = clip.shape[2] / clip.shape[1]
    tile = 1.7
    rows = 1 + (maps is not None)
    heights = [tile] * rows + ([1.6] if shares is not None else [])
    fig = Figure(
        figsize=(max(4.5, tile * aspect * len(shown) + 0.9), sum(heights) + 0.45 * rows + (0.45 if title else 0.1))
    )
    grid = fig.add_gridspec(len(heights), len(shown), height_ratios=heights, hspace=0.2, wspace=0.04)
    overlays = []
    for column, t in enumerate(shown):
        ax = fig.add_subplot(grid[0, column])
        ax.imshow(clip[t])
        ax.set_title(f"t={t}" + (f"\n{labels[t]}" if labels is not None else ""), fontsize=8)
        ax.axis("off")
        if maps is not None:
            below = fig.add_subplot(grid[1, column])
            below.imshow(cam_overlay(clip[t], maps[t], alpha=alpha))
            below.axis("off")
            overlays.append(below)
            if column == 0:
                below.text(
                    -0.06, 0.5, "map", transform=below.transAxes, rotation=90, ha="right", va="center", fontsize=8
                )
    if shares is not None:
        _importance_axes(fig.add_subplot(grid[-1, :]), shares, shown, None)
    if title:
        fig.suptitle(title, fontsize=10)
    top = 1 - (0.55 if title else 0.35) / fig.get_figheight()
    fig.subplots_adjust(
        left=0.04, right=0.93, bottom=0.5 / fig.get_figheight() if shares is not None else 0.02, top=top
    )
    if overlays:  # one colour key for the whole row: the maps share one scale, normalised per video
        box = overlays[-1].get_position()
        key = fig.colorbar(
            ScalarMappable(norm=Normalize(0, 1), cmap="jet"), cax=fig.add_axes((0.945, box.y0, 0.012, box.height))
        )
        key.ax.tick_params(labelsize=6)
    return fig


def temporal_importance_figure(importance: Any, *, fps: float | None = None, title: str = "") -> Figure:
    """Each frame's share of the map over time (seconds when ``fps`` is given), the uniform share dashed."""
    shares = _as_importance(importance)
    fig = Figure(figsize=(max(4.0, min(10.0, 0.25 * len(shares) + 2.5)), 2.6))
    ax = fig.subplots()
    _importance_axes(ax, shares, [], fps)
    ax.set_title(title or "temporal importance", fontsize=10)
    fig.tight_layout()
    return fig


def activation_time_grid_figure(activation: Any, *, top_n: int = 8, title: str = "") -> Figure:
    """One item's video activation ``[C, t, h, w]``: the loudest channels as rows, time slices as columns.

    Each row shares one colour scale across time (its own colour key at the right), so a
    channel that fires at one moment shows as one bright tile in a dark row.
    """
    values = to_numpy(activation)
    if values.ndim != 4:
        raise UsageError(f"expected one item's video activation [C, t, h, w], got shape {tuple(values.shape)}")
    channels = top_channels(values, top_n)
    if not channels:
        raise UsageError("no channels to show")
    slices = values.shape[1]
    tile = 1.0 if slices > 8 else 1.3
    aspect = values.shape[3] / values.shape[2]
    fig = Figure(figsize=(tile * aspect * slices + 1.6, (tile + 0.12) * len(channels) + 0.8))
    axes = fig.subplots(len(channels), slices, squeeze=False)
    fig.subplots_adjust(
        left=0.6 / fig.get_figwidth(),
        right=1 - 0.9 / fig.get_figwidth(),
        bottom=0.02,
        top=1 - 0.6 / fig.get_figheight(),
        wspace=0.05,
        hspace=0.1,
    )
    for row, channel in zip(axes, channels, strict=True):
        low, high = float(values[channel].min()), float(values[channel].max())
        image = None
        for ax, frame in zip(row, values[channel], strict=True):
            image = ax.imshow(frame, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"ch {channel}", fontsize=8)
        box = row[-1].get_position()
        key = fig.colorbar(
            image, cax=fig.add_axes((box.x1 + 0.15 / fig.get_figwidth(), box.y0, 0.1 / fig.get_figwidth(), box.height))
        )
        key.ax.tick_params(labelsize=6)
    for t, ax in enumerate(axes[0]):
        ax.set_title(f"t {t}", fontsize=8)
    shown = f"top {len(channels)} of {values.shape[0]} channels x {slices} time slices (colour scale per row)"
    fig.suptitle(f"{title}: {shown}" if title else shown, fontsize=10)
    return fig


def _check_fps(fps: float) -> None:
    if not fps or fps <= 0:
        raise UsageError(f"fps must be positive, got {fps}")


def write_gif(frames: Any, path: str | os.PathLike[str], fps: float) -> Path:
    """An animated GIF that loops forever, written atomically.

    GIF stores at most 256 colours per frame and durations in 10 ms steps; identical
    consecutive frames are stored once with their durations added (playback is the same).
    """
    _check_fps(fps)
    images = [Image.fromarray(frame) for frame in as_frames(frames)]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return Path(path)


def read_gif(path: str | os.PathLike[str]) -> np.ndarray:
    """Every frame of a GIF (composited, as a viewer shows it) as uint8 ``[T, H, W, 3]`` RGB."""
    try:
        with Image.open(path) as image:
            return np.stack([np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)])
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read GIF {path}: {error}") from error


def write_mp4(frames: Any, path: str | os.PathLike[str], fps: float) -> Path:
    """An MP4 (MPEG-4 part 2, "mp4v") through OpenCV, written atomically.

    OpenCV picks the container from the file's extension, so the temporary file beside
    the target keeps the target's extension (``.mp4`` if it has none). The codec is lossy
    and needs even sizes: an odd height or width gets one more row or column (a copy of
    the last) rather than losing one.
    """
    _check_fps(fps)
    clip = as_frames(frames)
    clip = np.pad(clip, ((0, 0), (0, clip.shape[1] % 2), (0, clip.shape[2] % 2), (0, 0)), mode="edge")
    with atomic_path(path, suffix=Path(path).suffix or ".mp4") as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (clip.shape[2], clip.shape[1]))
        if not writer.isOpened():
            raise UsageError(f"OpenCV cannot write an MP4 to {path}")
        try:
            for frame in clip:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return Path(path)

"""Activation maps and activation histograms of captured layers as matplotlib figures."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hartrace.base.errors import UsageError

#: A count range wider than this (max / smallest non-zero) switches histograms to a log y axis.
LOG_RATIO = 1000.0


def to_numpy(array: Any) -> np.ndarray:
    """A float numpy copy of a torch tensor or array-like (renderers must not touch autograd or devices)."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().float().numpy()
    return np.asarray(array, dtype=np.float64)


def channel_maps(activation: Any, time_index: int | None = None) -> np.ndarray:
    """One item's activation as ``[C, H, W]`` maps (``[C, T, H, W]`` at ``time_index``, else its time mean)."""
    values = to_numpy(activation)
    if values.ndim == 4:
        values = values[:, time_index] if time_index is not None else values.mean(axis=1)
    if values.ndim != 3:
        raise UsageError(f"expected one item's activation [C, H, W] or [C, T, H, W], got shape {tuple(values.shape)}")
    return values


def top_channels(activation: Any, n: int) -> list[int]:
    """Channel (or feature) indices ranked by energy, the mean of squares: the loudest channels first.

    Energy rather than mean so strongly negative channels (before a ReLU) still count.
    """
    values = to_numpy(activation)
    if values.ndim == 0:
        raise UsageError("an activation needs at least one dimension")
    energy = np.square(values.reshape(values.shape[0], -1)).mean(axis=1)
    order = np.argsort(-energy, kind="stable")
    return [int(i) for i in order[: max(0, n)]]


def _feature_bars(values: np.ndarray, top_n: int, channels: Sequence[int] | None, title: str) -> Figure:
    """A pooled ``[F]`` vector: bars of the top features, labelled with their indices."""
    picked = list(channels) if channels is not None else top_channels(values, top_n)
    fig = Figure(figsize=(max(4.0, 0.32 * len(picked) + 1.5), 3.0))
    ax = fig.subplots()
    colours = ["tab:blue" if values[i] >= 0 else "tab:red" for i in picked]
    ax.bar(range(len(picked)), values[picked], color=colours)
    ax.set_xticks(range(len(picked)), [f"f {i}" for i in picked], rotation=60, ha="right", fontsize=7)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("activation")
    shown = (
        f"top {len(picked)} of {values.shape[0]} features"
        if channels is None
        else f"{len(picked)} of {values.shape[0]} features"
    )
    ax.set_title(f"{title}: {shown}" if title else shown, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def activation_grid_figure(
    activation: Any,
    *,
    top_n: int = 16,
    shared_scale: bool = False,
    channels: Sequence[int] | None = None,
    title: str = "",
    time_index: int | None = None,
) -> Figure:
    """The strongest channels of ONE item as small heatmaps, each titled with its channel index.

    ``shared_scale`` puts every map on one colour scale (with one colourbar) so maps can
    be compared by brightness; otherwise each map is stretched to show its own pattern.
    A pooled ``[F]`` activation becomes a bar plot of its top features.
    """
    values = to_numpy(activation)
    if values.ndim == 1:
        return _feature_bars(values, top_n, channels, title)
    maps = channel_maps(values, time_index)
    picked = list(channels) if channels is not None else top_channels(maps, top_n)
    if not picked:
        raise UsageError("no channels to show")
    columns = min(len(picked), max(1, math.ceil(math.sqrt(len(picked)))))
    rows = math.ceil(len(picked) / columns)
    tile = 1.6 if len(picked) > 4 else 2.2
    width = tile * columns + (0.9 if shared_scale else 0.2)
    fig = Figure(figsize=(width, (tile + 0.3) * rows + 0.5))
    axes = fig.subplots(rows, columns, squeeze=False)
    shown = maps[picked]
    low, high = float(shown.min()), float(shown.max())
    image = None
    for ax in axes.flat:
        ax.axis("off")
    for ax, channel in zip(axes.flat, picked, strict=False):
        data = maps[channel]
        scale = {"vmin": low, "vmax": high} if shared_scale else {}
        image = ax.imshow(data, cmap="viridis", interpolation="nearest", **scale)
        ax.set_title(f"ch {channel}", fontsize=8)
    if shared_scale and image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.04, pad=0.02)
    suffix = f" (t={time_index})" if time_index is not None else (" (mean over time)" if values.ndim == 4 else "")
    shown = (
        f"top {len(picked)} of {maps.shape[0]} channels"
        if channels is None
        else f"{len(picked)} of {maps.shape[0]} channels"
    )
    heading = (f"{title}: {shown}" if title else shown) + suffix
    fig.suptitle(heading, fontsize=10)
    if not shared_scale:
        fig.tight_layout()
    else:
        fig.subplots_adjust(
            left=0.02, right=0.86, top=1 - 0.55 / fig.get_figheight(), bottom=0.02, wspace=0.08, hspace=0.25
        )
    return fig


def _stats_text(stats: Any) -> str:
    """The numbers that tell a healthy layer from a vanishing, exploding or dead one."""
    lines = [
        f"mean {stats.mean:.3g} (dashed)   std {stats.std:.3g}",
        f"min {stats.min:.3g}   max {stats.max:.3g}",
        f"zeros {stats.zero_fraction:.1%}   dead ch {stats.dead_fraction:.1%}",
    ]
    warnings = []
    if stats.dead_fraction >= 0.5:
        warnings.append("many dead channels")
    if stats.std < 1e-3:
        warnings.append("vanishing (tiny std)")
    if stats.max - stats.min <= 1e-6:
        warnings.append(f"constant ({stats.min:.3g})")
    if max(abs(stats.min), abs(stats.max)) > 1e3:
        warnings.append("exploding (huge values)")
    if warnings:
        lines.append("! " + ", ".join(warnings))
    return "\n".join(lines)


def _histogram_panel(ax: Axes, stats: Any, name: str, log: bool | None) -> None:
    counts = np.asarray(stats.counts, dtype=float)
    edges = np.asarray(stats.edges, dtype=float)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="tab:blue", edgecolor="none")
    if stats.max - stats.min <= 1e-6:
        # Every value is the same: the bins are too thin to see, so draw the one spike and widen the view.
        ax.vlines(stats.min, 0, counts.sum(), color="tab:blue", lw=6)
        ax.set_xlim(stats.min - 1, stats.min + 1)
    positive = counts[counts > 0]
    if log is None:
        log = positive.size > 0 and positive.max() / positive.min() > LOG_RATIO
    peak = max(float(counts.max()), 1.0)
    if log:
        ax.set_yscale("log")
        bottom = max(0.5, float(positive.min()) / 2) if positive.size else 0.5
        ax.set_ylim(bottom, bottom * (peak / bottom) ** 1.35)  # headroom for the numbers above the bars
    else:
        ax.set_ylim(0, peak * 1.55)
    ax.axvline(stats.mean, color="tab:orange", lw=1, ls="--", label="mean")
    text = _stats_text(stats)
    alarming = "!" in text
    ax.text(
        0.98,
        0.97,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=6.5,
        family="monospace",
        multialignment="left",
        bbox={
            "facecolor": "mistyrose" if alarming else "white",
            "alpha": 0.9,
            "edgecolor": "red" if alarming else "lightgrey",
        },
    )
    ax.set_title(name, fontsize=9, color="darkred" if alarming else "black")
    ax.set_xlabel("activation value", fontsize=8)
    ax.set_ylabel("count (log)" if log else "count", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def histogram_figure(stats: Any | Mapping[str, Any], *, title: str = "", log: bool | None = None) -> Figure:
    """Activation histograms (one ``LayerStats`` or a name -> stats dict, one panel each) with health numbers.

    The y axis turns logarithmic when counts span more than three orders of magnitude
    (a ReLU's spike at zero would flatten everything else); ``log`` forces it either way.
    """
    panels = dict(stats) if isinstance(stats, Mapping) else {"": stats}
    if not panels:
        raise UsageError("no layer statistics to plot")
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(4.2 * columns, 3.0 * rows + (0.4 if title else 0)))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (name, layer_stats) in zip(axes.flat, panels.items(), strict=False):
        _histogram_panel(ax, layer_stats, name, log)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig

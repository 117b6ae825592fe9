"""Any layer's output as a picture of what it is: channel maps, maps over time, a time x feature heatmap, or bars.

Pure functions from arrays to matplotlib figures. The caller says which kind of output it
has (see :mod:`hartrace.probe.views`): ``maps`` ``[C, H, W]``, ``volume`` ``[C, T, H, W]``,
``sequence`` ``[T, F]`` or ``vector`` ``[F]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hartrace.base.errors import UsageError
from hartrace.render.activations import activation_grid_figure, to_numpy, top_channels

#: At most this many features in a sequence heatmap (the loudest, by energy over time).
MAX_SEQUENCE_FEATURES = 128


def sequence_colour_scale(values: np.ndarray) -> dict[str, Any]:
    """``imshow`` colour arguments: diverging and centred on zero where values change sign, else viridis."""
    low, high = float(values.min()), float(values.max())
    if low < 0 < high:
        limit = max(-low, high)
        return {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
    return {"cmap": "viridis", "vmin": low, "vmax": high}


def sequence_heatmap_figure(
    values: Any, *, max_features: int = MAX_SEQUENCE_FEATURES, title: str = "", axis: str = "frame"
) -> Figure:
    """A ``[T, F]`` output (an LSTM's states, per-frame pooled features) as a features x time heatmap.

    Features are ordered loudest first (energy over time), so what the layer carries
    shows at the top; a diverging colour scale centred on zero where values change sign.
    """
    data = to_numpy(values)
    if data.ndim != 2:
        raise UsageError(f"expected a sequence [T, F], got shape {tuple(data.shape)}")
    steps, features = data.shape
    picked = top_channels(data.T, max_features)
    shown = data[:, picked].T  # [features, T]
    scale = sequence_colour_scale(shown)
    fig = Figure(figsize=(min(12.0, 2.2 + 0.35 * steps), min(8.0, 1.6 + 0.03 * len(picked))))
    ax = fig.add_subplot()
    image = ax.imshow(shown, aspect="auto", interpolation="nearest", **scale)
    ax.set_xlabel(axis)
    ax.set_xticks(range(steps) if steps <= 24 else np.linspace(0, steps - 1, 12).round().astype(int))
    ticks = np.linspace(0, len(picked) - 1, min(len(picked), 8)).round().astype(int)
    ax.set_yticks(ticks, [f"f {picked[i]}" for i in ticks], fontsize=7)
    ax.set_ylabel("features (loudest first)")
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    heading = f"{len(picked)} of {features} features x {steps} {axis}s"
    ax.set_title(f"{title}: {heading}" if title else heading, fontsize=10)
    fig.tight_layout()
    return fig


def layer_view_figure(kind: str, values: Any, *, top_n: int = 16, title: str = "", axis: str = "frame") -> Figure:
    """One item's output of one layer, drawn as what it is (``kind``: maps, volume, sequence or vector)."""
    if kind in ("maps", "vector"):
        return activation_grid_figure(values, top_n=top_n, title=title)
    if kind == "volume":
        from hartrace.render.video import activation_time_grid_figure

        return activation_time_grid_figure(values, top_n=min(top_n, 8), title=f"{title} over time" if title else "")
    if kind == "sequence":
        return sequence_heatmap_figure(values, title=title, axis=axis)
    raise UsageError(f"unknown kind of layer output {kind!r}: expected maps, volume, sequence or vector")

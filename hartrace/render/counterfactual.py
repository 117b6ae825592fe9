"""Counterfactual strips: an image with a method's map, then the same scene without each part, with the
predicted class's probability after each removal, so a reader sees what the model relies on beside what
the map claims."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from hartrace.render.overlay import cam_overlay


@dataclass(frozen=True)
class StripRow:
    """One image of the strip: the original, its map and everything removed from it."""

    title: str  # e.g. "Image_12.jpg: calling"
    probability: float  # the predicted class's probability on the original
    original: np.ndarray  # uint8 [H, W, 3]
    cam: np.ndarray  # [H, W] in [0, 1]
    map_label: str  # e.g. "gradcam, rho 0.71"
    removals: Sequence[tuple[str, np.ndarray, float, float | None]]  # (part, image, probability after, map's mass)


def counterfactual_strip_figure(rows: Sequence[StripRow], probability_of: str = "predicted class") -> Figure:
    """A row per image: the map over the original, then each removal titled with the probability after it
    (red where it falls by more than 0.1) and the share of the map's mass that sat on the removed part."""
    columns = 1 + max((len(row.removals) for row in rows), default=0)
    fig = Figure(figsize=(1.9 * columns, 2.4 * max(len(rows), 1) + 0.4))
    axes = np.asarray(fig.subplots(max(len(rows), 1), columns, squeeze=False))
    for ax in axes.flat:
        ax.axis("off")
    for r, row in enumerate(rows):
        axes[r, 0].imshow(cam_overlay(row.original, row.cam))
        axes[r, 0].set_title(f"{row.title} {row.probability:.2f}\n{row.map_label}", fontsize=6.5)
        for c, (name, image, after, mass) in enumerate(row.removals, start=1):
            axes[r, c].imshow(image)
            fell = row.probability - after > 0.1
            on_part = "" if mass is None else f" · map {mass:.0%}"
            axes[r, c].set_title(
                f"without {name}\np {after:.2f}{on_part}", fontsize=6.5, color="#c0392b" if fell else "black"
            )
    fig.suptitle(
        f"{probability_of} probability after each removal (red: it falls by more than 0.1); "
        "map: the share of the map's mass on the part",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


__all__ = ["StripRow", "counterfactual_strip_figure"]

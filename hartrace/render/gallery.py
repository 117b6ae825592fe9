"""A captioned grid of images: misclassified examples, dataset samples, worst explanations."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure


def nothing_to_show_figure() -> Figure:
    """A small figure that says there is nothing to show: an empty gallery or sheet is still a picture."""
    fig = Figure(figsize=(4, 1.2))
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, "nothing to show", ha="center", va="center")
    return fig


def image_gallery_figure(
    images: Sequence[np.ndarray], captions: Sequence[str], columns: int = 6, title: str = "", tile: float = 2.0
) -> Figure:
    """Images (``[H, W, 3]`` uint8 or floats in [0, 1]) in a grid, each with a caption under it."""
    if not images:
        return nothing_to_show_figure()
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    fig = Figure(figsize=(tile * columns, (tile + 0.45) * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        ax.imshow(image)
        ax.set_title(caption, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

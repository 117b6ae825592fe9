"""The atlas's contact sheet: one row per unit, its top images cropped to where it fired."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from hartrace.render.gallery import nothing_to_show_figure

#: Side of one tile of the contact sheet, in pixels of the strip (before the figure's dpi).
TILE = 64
_GAP = 2


def tile_strip(tiles: Sequence[np.ndarray], tile: int = TILE, slots: int | None = None) -> np.ndarray:
    """RGB tiles (any size, uint8 ``[H, W, 3]``) resized to ``tile`` px squares side by side on white,
    ``slots`` places wide (default: as many as tiles), uint8 ``[tile, width, 3]``."""
    slots = max(len(tiles), slots or 0, 1)
    strip = np.full((tile, slots * (tile + _GAP) - _GAP, 3), 255, dtype=np.uint8)
    for i, picture in enumerate(tiles):
        resized = Image.fromarray(np.asarray(picture, dtype=np.uint8)).convert("RGB").resize((tile, tile))
        strip[:, i * (tile + _GAP) : i * (tile + _GAP) + tile] = np.asarray(resized)
    return strip


def contact_sheet_figure(
    rows: Sequence[tuple[str, Sequence[np.ndarray]]], title: str = "", tile: int = TILE, dpi: int = 120
) -> Figure:
    """Rows of ``(caption, tiles)``: the caption left of its strip of tiles (e.g. a unit and its top images).

    The strips are one picture in one axes, shown pixel for pixel when saved at ``dpi`` (the default of
    :func:`hartrace.base.io.save_figure`), so a sheet of hundreds of tiles draws in a fraction of a second."""
    if not rows:
        return nothing_to_show_figure()
    slots = max(len(tiles) for _, tiles in rows)
    sheet = np.full((len(rows) * (tile + _GAP) - _GAP, slots * (tile + _GAP) - _GAP, 3), 255, dtype=np.uint8)
    for i, (_, tiles) in enumerate(rows):
        sheet[i * (tile + _GAP) : i * (tile + _GAP) + tile] = tile_strip(tiles, tile, slots)
    # one figure pixel per sheet pixel at the dpi the PNG is saved with: nothing is resampled
    margin, head = 130, (40 if title else 4)
    fig = Figure(figsize=((margin + sheet.shape[1] + 4) / dpi, (sheet.shape[0] + head + 4) / dpi), dpi=dpi)
    width, height = fig.get_size_inches() * dpi
    ax = fig.add_axes((margin / width, 4 / height, sheet.shape[1] / width, sheet.shape[0] / height))
    ax.imshow(sheet, interpolation="nearest")
    ax.axis("off")
    for i, (caption, _) in enumerate(rows):
        ax.text(-tile * 0.1, i * (tile + _GAP) + tile / 2, caption, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 4 / height, va="top")
    return fig

"""Results as small HTML cards for Jupyter: what a result's ``_repr_html_`` shows.

A card is a title, a few lines, tables side by side and pictures drawn by the renderers,
embedded as PNG at a low resolution (at most :data:`MAX_WIDTH` pixels wide), so a notebook
with many results stays light and a card draws in well under a second. Big batches are
cut down to their first items, and the card says so. Like every renderer, this module
reads results through their attributes and never runs a model.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from hartrace.render.activations import to_numpy
from hartrace.render.charts import training_curves_figure
from hartrace.render.flow import capture_strip_figure
from hartrace.render.overlay import overlay_grid_figure
from hartrace.render.report import _table, data_uri, figure_png_bytes
from hartrace.render.video import frame_strip_figure

if TYPE_CHECKING:
    from hartrace.attribution.explanation import Explanation
    from hartrace.probe.capture import Capture

#: Widest picture in a card, in pixels: a notebook's output column.
MAX_WIDTH = 960
#: Resolution pictures are drawn at, unless that would make them wider than MAX_WIDTH.
DPI = 72
#: The overlays' resolution: one mosaic pixel is one PNG pixel.
OVERLAYS_DPI = 100
#: Images of a batch drawn with their overlays; clips (one strip per clip and target); map columns per image;
#: items listed in an explanation's table.
ITEMS_SHOWN, CLIPS_SHOWN, TARGETS_SHOWN, ITEM_ROWS = 4, 2, 4, 16
#: Layers drawn in a capture's strip, rows of its layer table, and classes in its top list.
LAYERS_SHOWN, LAYER_ROWS, TOP_K = 6, 24, 5
#: A training card's table: these columns of the last EPOCH_ROWS epochs.
EPOCH_COLUMNS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_f1", "lr", "seconds")
EPOCH_ROWS = 20

Table = tuple[str, Sequence[str], Sequence[Sequence[Any]]]


def figure_png(fig: Figure, max_width: int = MAX_WIDTH, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, about ``max_width`` pixels wide at most: drawn at a lower resolution rather than
    resized, so text stays crisp and a big figure draws as fast as a small one."""
    return figure_png_bytes(fig, dpi=max(1, min(dpi, int(max_width / fig.get_figwidth()))))


def html_card(
    title: str,
    *,
    lines: Sequence[str] = (),
    tables: Sequence[Table] = (),
    pictures: Sequence[tuple[str, bytes]] = (),
) -> str:
    """One result as a block of HTML: the title, lines of text, tables side by side, then each picture (PNG bytes,
    see :func:`figure_png`) with its caption as a tooltip.

    Every piece of text is escaped; pictures are data URIs, so the notebook needs no file beside it.
    """
    parts = ['<div class="hartrace-result">', f"<p><strong>{html.escape(title)}</strong></p>"]
    if lines:
        parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
    if tables:
        parts.append('<div style="display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start">')
        parts.extend(_table(*table) for table in tables)
        parts.append("</div>")
    for caption, png in pictures:
        alt = html.escape(caption)
        parts.append(f'<div><img src="{data_uri(png)}" alt="{alt}" title="{alt}"></div>')
    parts.append("</div>")
    return "\n".join(parts)


def _shape(shape: Sequence[int]) -> str:
    return "×".join(str(int(side)) for side in shape)


def _class_names(classes: Sequence[str] | None, count: int) -> list[str]:
    return list(classes) if classes else [str(i) for i in range(count)]


def _cut(shown: int, total: int, what: str, how: str = "drawn") -> list[str]:
    """The line a card adds when it leaves some out: "the first 4 of 16 images are drawn"."""
    return [f"the first {shown} of {total} {what} are {how}"] if shown < total else []


def capture_html(capture: Capture, index: int = 0) -> str:
    """A capture: the top classes of item ``index``, each layer's shape and statistics, and its maps in a strip."""
    probabilities = capture.probabilities
    batch, count = int(probabilities.shape[0]), int(probabilities.shape[1])
    names = _class_names(capture.classes, count)
    top = [[rank, names[i], f"{p:.1%}"] for rank, (i, p) in enumerate(capture.top_k(TOP_K, index), start=1)]
    layers = list(capture.layers.values())
    rows: list[list[Any]] = []
    for layer in layers[:LAYER_ROWS]:
        stats = layer.stats
        rows.append(
            [
                layer.name,
                layer.kind,
                _shape(layer.shape),
                stats.mean,
                stats.std,
                stats.min,
                stats.max,
                f"{stats.zero_fraction:.0%}",
                f"{stats.dead_fraction:.0%}",
                "yes" if layer.gradient is not None else "",
            ]
        )
    header = ["layer", "type", "output", "mean", "std", "min", "max", "zeros", "dead ch.", "gradient"]
    tables: list[Table] = [(f"top {len(top)} classes, item {index} of {batch}", ["#", "class", "p"], top)]
    if layers:
        tables.append((f"{len(layers)} layers, whole batch", header, rows))
    shown = min(len(layers), LAYERS_SHOWN)
    heading = f"item {index} of {batch}" + (
        f"; {shown} of {len(layers)} layers, evenly chosen" if shown < len(layers) else ""
    )
    figure = capture_strip_figure(capture, index=index, max_layers=LAYERS_SHOWN, title=heading)
    return html_card(
        f"Capture of an input {_shape(capture.input_shape)}",
        lines=_cut(min(len(layers), LAYER_ROWS), len(layers), "layers", "listed"),
        tables=tables,
        pictures=[("the strongest maps of each layer, and the prediction", figure_png(figure))],
    )


def _named(names: Sequence[str], probabilities: np.ndarray, k: int, joint: str = " ") -> str:
    return f"{names[k]}{joint}({probabilities[k]:.1%})"


def explanation_html(explanation: Explanation) -> str:
    """An explanation: per item the prediction and the targets explained, then the overlays (frames, for clips)."""
    maps = explanation.maps
    batch, targets = int(maps.shape[0]), int(maps.shape[1])
    video = maps.dim() == 5
    probabilities = to_numpy(explanation.probabilities)
    names = _class_names(explanation.capture.classes, probabilities.shape[1])
    chosen = explanation.targets.reshape(batch, -1).tolist()
    rows = [
        [b, _named(names, probabilities[b], int(probabilities[b].argmax())), ", ".join(names[k] for k in chosen[b])]
        for b in range(min(batch, ITEM_ROWS))
    ]
    inputs = explanation.inputs
    pictures: list[tuple[str, bytes]] = []
    if video:
        pairs = [(b, k) for b in range(batch) for k in range(targets)][:CLIPS_SHOWN]
        for b, k in pairs:
            frames = to_numpy(inputs[b]) if inputs is not None else np.full((*maps.shape[2:], 3), 0.5)
            title = f"clip {b}: map for {_named(names, probabilities[b], chosen[b][k])}"
            pictures.append((title, figure_png(frame_strip_figure(frames, maps[b, k], title=title))))
        cut = _cut(len(pairs), batch * targets, "clip maps")
    else:
        items, columns = range(min(batch, ITEMS_SHOWN)), range(min(targets, TARGETS_SHOWN))
        blank = np.full((*maps.shape[2:], 3), 128, dtype=np.uint8)  # no input kept: the maps over grey
        figure = overlay_grid_figure(
            [inputs[b] if inputs is not None else blank for b in items],
            [[maps[b, k] for k in columns] for b in items],
            [
                [
                    f"item {b}, predicted:\n{rows[b][1]}",
                    *(_named(names, probabilities[b], chosen[b][k], "\n") for k in columns),
                ]
                for b in items
            ],
            dpi=OVERLAYS_DPI,
        )
        pictures.append(("each image and its maps, one per target", figure_png(figure, MAX_WIDTH, OVERLAYS_DPI)))
        cut = _cut(len(items), batch, "images") + _cut(len(columns), targets, "targets")
    cut += _cut(len(rows), batch, "items", "listed")
    if inputs is None:
        cut.append("the explanation holds no inputs: the maps are drawn over grey")
    where = f"at {', '.join(explanation.layers)}" if explanation.layers else "on the input"
    return html_card(
        f"Explanation: {explanation.method} {where}, maps {_shape(maps.shape)}",
        lines=cut,
        tables=[("prediction and targets explained", ["item", "predicted", "explained"], rows)],
        pictures=pictures,
    )


def training_html(history: Sequence[Mapping[str, float]], best_epoch: int, title: str) -> str:
    """A training run: one row per epoch (the last :data:`EPOCH_ROWS`), the best marked, and the curves."""
    keys = [k for k in EPOCH_COLUMNS if history and k in history[0]]
    rows = [
        [int(row["epoch"]), *(row[k] for k in keys), "best" if int(row["epoch"]) == best_epoch else ""]
        for row in history[-EPOCH_ROWS:]
    ]
    tables: list[Table] = [(f"{len(history)} epochs, best: {best_epoch}", ["epoch", *keys, ""], rows)]
    pictures = [("training curves", figure_png(training_curves_figure(history)))] if history else []
    lines = [f"the last {len(rows)} of {len(history)} epochs are listed"] if len(rows) < len(history) else []
    return html_card(title, lines=lines, tables=tables, pictures=pictures)

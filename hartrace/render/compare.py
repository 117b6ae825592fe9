"""The pictures of a model comparison: an annotated accuracy grid, and every model's validation curves on one figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator


def pivot_heatmap_figure(
    values: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    value_label: str = "accuracy (%)",
) -> Figure:
    """A rows x columns grid of percentages, each cell written in, on a fixed 0-100 scale so that two grids
    compare by eye; a missing cell (NaN: not trained, or not in the grid) is grey and marked "–"."""
    values = np.asarray(values, dtype=float)
    fig = Figure(figsize=(2.2 + 1.25 * len(columns), 1.3 + 0.55 * len(rows)))
    ax = fig.subplots()
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#e6e6e6")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            value = values[i, j]
            if np.isnan(value):
                ax.text(j, i, "–", ha="center", va="center", fontsize=10, color="dimgrey")
            else:
                colour = "white" if value > 60 else "black"
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=10, color=colour)
    ax.set_xticks(range(len(columns)), columns, fontsize=9)
    ax.set_yticks(range(len(rows)), rows, fontsize=9)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=value_label)
    fig.tight_layout()
    return fig


def overlaid_curves_figure(histories: Mapping[str, Sequence[Mapping[str, float]]], title: str = "") -> Figure:
    """Validation loss and accuracy by epoch, one line per run (the legend names it), so that runs trained alike
    can be told apart at a glance; a star marks each run's lowest validation loss, the epoch its best.pt holds."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    colours = matplotlib.colormaps["tab10" if len(histories) <= 10 else "tab20"]
    for k, (name, rows) in enumerate(histories.items()):
        if not rows:
            continue
        colour = colours(k % colours.N)
        epochs = [int(r["epoch"]) for r in rows]
        loss_ax.plot(epochs, [r["val_loss"] for r in rows], "-o", ms=3, color=colour, label=name)
        acc_ax.plot(epochs, [100 * r["val_accuracy"] for r in rows], "-o", ms=3, color=colour)
        best = min(rows, key=lambda r: r["val_loss"])
        loss_ax.plot(best["epoch"], best["val_loss"], "*", ms=11, color=colour, mec="black", mew=0.5)
        acc_ax.plot(best["epoch"], 100 * best["val_accuracy"], "*", ms=11, color=colour, mec="black", mew=0.5)
    # log scale: one cell's first epoch (a loss of 15 from scratch) would otherwise flatten every later epoch
    loss_ax.set(xlabel="epoch", ylabel="validation loss (log scale)", title="validation loss", yscale="log")
    loss_ax.yaxis.set_minor_locator(LogLocator(subs=(2, 3, 5)))
    loss_ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))  # 2, 3, 5, 10 rather than 2 x 10^0
    loss_ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy", ylim=(-2, 102))
    last_epoch = max((int(r["epoch"]) for rows in histories.values() for r in rows), default=1)
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.set_xlim(0.5, last_epoch + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if histories:
        fig.legend(loc="outside right center", fontsize=8, title="★ lowest val loss (best.pt)", title_fontsize=8)
    if title:
        fig.suptitle(title)
    return fig

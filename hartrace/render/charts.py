"""Training curves, confusion matrices and probability bars as matplotlib figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def training_curves_figure(rows: Sequence[Mapping[str, float]], title: str = "") -> Figure:
    """Loss and accuracy per epoch, train against validation; the best epoch (lowest val loss) is marked."""
    epochs = [int(r["epoch"]) for r in rows]
    fig = Figure(figsize=(10, 3.8))
    loss_ax, acc_ax = fig.subplots(1, 2)
    for split, style in (("train", "-o"), ("val", "-s")):
        loss_ax.plot(epochs, [r[f"{split}_loss"] for r in rows], style, ms=3, label=split)
        acc_ax.plot(epochs, [100 * r[f"{split}_accuracy"] for r in rows], style, ms=3, label=split)
    if rows:
        best = min(rows, key=lambda r: r["val_loss"])
        for ax in (loss_ax, acc_ax):
            ax.axvline(best["epoch"], color="grey", ls=":", lw=1, label=f"best (epoch {int(best['epoch'])})")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix_figure(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> Figure:
    """A row-normalised confusion matrix: row = true class, each cell the fraction predicted as the column."""
    matrix = np.asarray(matrix, dtype=float)
    n = len(classes)
    side = max(4.0, 0.45 * n + 2)
    fig = Figure(figsize=(side + 1, side))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix (row-normalised)")
    if n <= 40:
        for i in range(n):
            for j in range(n):
                if matrix[i, j] >= 0.005:
                    colour = "white" if matrix[i, j] > 0.5 else "black"
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def probability_bars_figure(
    probabilities: Sequence[float],
    classes: Sequence[str],
    top_k: int | None = None,
    true_label: str | None = None,
    title: str = "",
) -> Figure:
    """Horizontal bars of class probabilities, highest first; the true class (if known) in green."""
    probabilities = np.asarray(probabilities, dtype=float)
    order = np.argsort(-probabilities)[: top_k or len(classes)]
    names = [classes[i] for i in order]
    colours = ["tab:green" if name == true_label else "tab:blue" for name in names]
    fig = Figure(figsize=(6, 0.35 * len(order) + 1.2))
    ax = fig.subplots()
    bars = ax.barh(range(len(order)), probabilities[order], color=colours)
    ax.bar_label(bars, labels=[f"{p:.1%}" for p in probabilities[order]], fontsize=8, padding=2)
    ax.set_yticks(range(len(order)), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("probability")
    ax.set_title(title or "class probabilities")
    fig.tight_layout()
    return fig

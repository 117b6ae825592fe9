"""Training curves, confusion matrices and probability bars as matplotlib figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from hartrace.base.errors import UsageError


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


#: The probability chart shows every class up to this many, else the top this many (and says so).
ALL_CLASSES_UP_TO = 20


def verdict(true_label: str | None, predicted: str, probability: float) -> str:
    """``"true: X · predicted: Y (p)"``, the line every picture of a dataset image carries; without a known true
    class only the prediction (an image from elsewhere says nothing of its class)."""
    guess = f"predicted: {predicted} ({probability:.1%})"
    return f"true: {true_label} · {guess}" if true_label is not None else guess


def shown_classes(count: int, top_k: int | None = None) -> int:
    """How many bars a probability chart of ``count`` classes draws: ``top_k``, else every class up to
    :data:`ALL_CLASSES_UP_TO` (the top 20 of 40 for Stanford 40, of 101 for UCF101)."""
    return min(count, top_k or ALL_CLASSES_UP_TO)


def probability_bars_figure(
    probabilities: Sequence[float] | np.ndarray,
    classes: Sequence[str],
    top_k: int | None = None,
    true_label: str | None = None,
    title: str = "",
) -> Figure:
    """Horizontal bars of class probabilities, highest first, under a title that says how many of how many
    classes they are ("all 15 classes", "top 20 of 40 classes": :func:`shown_classes`).

    The true class (if known) is green, named in the title with the prediction, and added below the top
    bars with its rank when it is not among them.
    """
    values = np.asarray(probabilities, dtype=float)
    if len(values) != len(classes):
        raise UsageError(f"{len(values)} probabilities for {len(classes)} classes")
    ranking = [int(k) for k in np.argsort(-values, kind="stable")]
    count = shown_classes(len(classes), top_k)
    order = ranking[:count]
    truth = list(classes).index(true_label) if true_label is not None and true_label in classes else None
    extra = truth is not None and truth not in order
    if truth is not None and extra:
        order.append(truth)
    names = [classes[i] + (f"  (rank {ranking.index(i) + 1})" if row >= count else "") for row, i in enumerate(order)]
    colours = ["tab:green" if i == truth else "tab:blue" for i in order]
    fig = Figure(figsize=(6, 0.35 * len(order) + 1.5))
    ax = fig.subplots()
    bars = ax.barh(range(len(order)), values[order], color=colours)
    ax.bar_label(bars, labels=[f"{p:.1%}" for p in values[order]], fontsize=8, padding=2)
    ax.set_yticks(range(len(order)), names, fontsize=9)
    if truth is not None:
        ax.get_yticklabels()[order.index(truth)].set_color("tab:green")
    if extra:
        ax.axhline(count - 0.5, color="grey", lw=0.8, ls=":")
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("probability")
    shown = f"all {len(classes)} classes" if count == len(classes) else f"top {count} of {len(classes)} classes"
    if extra:
        shown += ", and the true class"
    heading = f"{title or 'class probabilities'}: {shown}"
    if truth is not None:
        heading += f"\n{verdict(true_label, classes[ranking[0]], float(values[ranking[0]]))}"
    ax.set_title(heading, fontsize=10)
    fig.tight_layout()
    return fig

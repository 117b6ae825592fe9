"""A concept test's result as bar charts: per layer, the concept's scores beside random folders posing as it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: (statistic, concept key, random key, y label, chance level): one panel each.
PANELS = (
    ("magnitude", "concept_magnitudes", "random_magnitudes", "magnitude (mean derivative along the CAV)", 0.0),
    ("sign_count", "concept_scores", "random_scores", "TCAV score (share of class images)", 0.5),
)


def tcav_figure(
    layers: Sequence[Mapping[str, Any]], *, title: str = "", alpha: float = 0.05, statistic: str = "magnitude"
) -> Figure:
    """Two panels, magnitude and TCAV score: grouped bars per layer, the concept's mean and that of the random
    folders posing as it over the runs, one standard deviation as error bars, each run as a dot, and that
    statistic's (corrected) p-value above; a significant layer's p-value is bold and starred. ``layers`` are
    rows of :meth:`~hartrace.attribution.concepts.LayerTest.summary` merged with the test's fields (``tests``
    per statistic); ``statistic`` is the one the verdict reads, marked in its panel's title."""
    names = [str(row["layer"]) for row in layers]
    fig = Figure(figsize=(2 * max(4.0, 1.7 * len(names) + 1.6), 4.3))
    for ax, (name, concept_key, random_key, label, chance) in zip(fig.subplots(1, 2), PANELS, strict=True):
        _panel(ax, layers, name, (concept_key, random_key), chance)
        ax.set_ylabel(label, fontsize=9)
        ax.set_title(f"{name} (the verdict's)" if name == statistic else name, fontsize=9)
    suffix = f"* significant at {alpha:g}"
    fig.suptitle(f"{title}\n{suffix}" if title else suffix, fontsize=9)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _panel(ax: Axes, layers: Sequence[Mapping[str, Any]], statistic: str, keys: tuple[str, str], chance: float) -> None:
    x = np.arange(len(layers))
    width = 0.36
    tops = [chance]
    for offset, key, label, colour in (
        (-width / 2, keys[0], "concept", "#1f77b4"),
        (width / 2, keys[1], "random, posing as the concept", "#b0b0b0"),
    ):
        values = [np.asarray(row[key], dtype=float) for row in layers]
        means = [v.mean() if v.size else np.nan for v in values]
        spreads = [v.std(ddof=1) if v.size > 1 else 0.0 for v in values]
        ax.bar(x + offset, means, width, yerr=spreads, capsize=4, color=colour, label=label, edgecolor="black", lw=0.5)
        for i, v in enumerate(values):
            jitter = np.linspace(-width / 4, width / 4, v.size) if v.size > 1 else np.zeros(v.size)
            ax.plot(x[i] + offset + jitter, v, "o", ms=2.5, color="black", alpha=0.6)
            tops.extend([*v.tolist(), means[i] + spreads[i]])
    low, high = (0.0, 1.0) if chance == 0.5 else (min(0.0, *tops), max(tops))
    span = (high - low) or 1.0
    for i, row in enumerate(layers):
        test = row["tests"][statistic]
        text = f"p={test['p']:.2g}" + (
            f"\n(corr. {test['p_corrected']:.2g})" if test["p_corrected"] != test["p"] else ""
        )
        text += " *" if test["significant"] else ""
        ax.text(
            x[i],
            high + 0.08 * span,
            text,
            ha="center",
            va="bottom",
            fontsize=8,
            weight="bold" if test["significant"] else None,
        )
    ax.axhline(chance, color="grey", ls=":", lw=1)
    ax.set_xticks(x, [str(row["layer"]) for row in layers])
    ax.set_ylim(low - 0.05 * span * (chance != 0.5), high + 0.32 * span)

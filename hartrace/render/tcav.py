"""A concept test's result as a bar chart: per layer, the concept's TCAV score beside random folders posing as it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def tcav_figure(layers: Sequence[Mapping[str, Any]], *, title: str = "", alpha: float = 0.05) -> Figure:
    """Grouped bars per layer: mean score of the concept and of the random folders posing as it over the runs,
    one standard deviation as error bars, each run as a dot, and the (corrected) p-value above; a significant
    layer's p-value is bold and starred. ``layers`` are rows with ``layer``, ``concept_scores``,
    ``random_scores``, ``p``, ``p_corrected`` and ``significant``."""
    names = [str(row["layer"]) for row in layers]
    x = np.arange(len(names))
    width = 0.36
    fig = Figure(figsize=(max(4.5, 1.9 * len(names) + 2.0), 4.0))
    ax = fig.subplots()
    for offset, key, label, colour in (
        (-width / 2, "concept_scores", "concept", "#1f77b4"),
        (width / 2, "random_scores", "random, posing as the concept", "#b0b0b0"),
    ):
        scores = [np.asarray(row[key], dtype=float) for row in layers]
        means = [s.mean() if s.size else np.nan for s in scores]
        spreads = [s.std(ddof=1) if s.size > 1 else 0.0 for s in scores]
        ax.bar(x + offset, means, width, yerr=spreads, capsize=4, color=colour, label=label, edgecolor="black", lw=0.5)
        for i, s in enumerate(scores):
            jitter = np.linspace(-width / 4, width / 4, s.size) if s.size > 1 else np.zeros(s.size)
            ax.plot(x[i] + offset + jitter, s, "o", ms=2.5, color="black", alpha=0.6)
    for i, row in enumerate(layers):
        corrected = row.get("p_corrected", row["p"])
        text = f"p={row['p']:.2g}" + (f"\n(corr. {corrected:.2g})" if corrected != row["p"] else "")
        text += " *" if row["significant"] else ""
        ax.text(x[i], 1.12, text, ha="center", va="bottom", fontsize=8, weight="bold" if row["significant"] else None)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.32)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("TCAV score (share of class images)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    ax.set_title(f"{title}\n* significant at {alpha:g}" if title else f"* significant at {alpha:g}", fontsize=9)
    fig.tight_layout()
    return fig

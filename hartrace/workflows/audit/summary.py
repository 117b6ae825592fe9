"""The audit's numbers: per-image scores reduced to each method's overall and per-class summary, and the per-image rows.

Localisation is averaged only over images with evidence; faithfulness over all of them.
The pointing game is reported twice, strict (0 px) and tolerant (within the audit's
tolerance), each beside its random-map baseline. Counts (images, with evidence, hits)
are kept beside the means so per-class rows add up to the overall ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hartrace.metrics.faithfulness import curve_auc
from hartrace.workflows.audit.methods import AuditMethod
from hartrace.workflows.audit.types import MethodScores, SplitScores

#: The class column of images without a label (a test split without its answer key).
UNLABELLED = "unlabelled"


def round_or_none(value: Any, digits: int = 6) -> float | None:
    """A float rounded for JSON and CSV; None for None and NaN."""
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, digits)


def _cell(value: float) -> float | str:
    """A CSV cell: the rounded value, or empty for NaN (nothing to rank)."""
    rounded = round_or_none(value)
    return "" if rounded is None else rounded


def _mean(values: np.ndarray) -> float | None:
    return round_or_none(np.mean(values)) if len(values) else None


def scores_of(s: MethodScores, base: SplitScores, rows: np.ndarray) -> dict[str, Any]:
    """One method's numbers over the images ``rows`` (a bool selection); localisation only where there is evidence."""
    scored = rows & base.evidence
    return {
        "images": int(rows.sum()),
        "with_evidence": int(scored.sum()),
        "hits_strict": int(s.strict_hits[scored].sum()),
        "pointing_strict": _mean(s.strict_hits[scored].astype(float)),
        "pointing_strict_random": _mean(base.strict_baseline[scored]),
        "hits_tolerant": int(s.tolerant_hits[scored].sum()),
        "pointing_tolerant": _mean(s.tolerant_hits[scored].astype(float)),
        "pointing_tolerant_random": _mean(base.tolerant_baseline[scored]),
        "energy_inside": _mean(s.energy[scored]),
        "energy_random_baseline": _mean(base.energy_baseline[scored]),
        "deletion_auc": _mean(curve_auc(s.deletion[rows])),
        "deletion_auc_random": _mean(curve_auc(base.deletion_random[rows])),
        "insertion_auc": _mean(curve_auc(s.insertion[rows])),
        "insertion_auc_random": _mean(curve_auc(base.insertion_random[rows])),
        "average_drop": _mean(s.drop[rows]),
        "average_increase": _mean(s.increase[rows]),
        **_agreement(s, base, rows),
    }


def _agreement(s: MethodScores, base: SplitScores, rows: np.ndarray) -> dict[str, Any]:
    """The mean rank agreement with the measured reliance over the images ``rows`` that have parts to rank, beside
    a random map's on the same images (None without counterfactuals)."""
    if s.reliance is None or base.reliance_random is None:
        return {"reliance_spearman": None, "reliance_spearman_random": None, "reliance_images": 0}
    ranked = rows & ~np.isnan(s.reliance) & ~np.isnan(base.reliance_random)
    return {
        "reliance_spearman": _mean(s.reliance[ranked]),
        "reliance_spearman_random": _mean(base.reliance_random[ranked]),
        "reliance_images": int(ranked.sum()),
    }


def summarise(
    base: SplitScores,
    scored: dict[str, MethodScores],
    classes: Sequence[str],
    steps: int,
    paths: Sequence[str],
    methods: dict[str, AuditMethod],
    tolerance: int,
) -> dict[str, Any]:
    """``{"methods": {label: {...}}}``: every method's name and layers, overall and per-class scores, curves, sanity,
    time and worst images.

    ``paths``: the audited images, as the dataset index shows them (for the worst-explained list); ``methods``:
    what each label of ``scored`` is; ``tolerance``: the tolerant pointing game's, for the problems' words.
    """
    from hartrace.workflows.audit.report import method_problems

    everything = np.ones(len(base.labels), dtype=bool)
    names = np.array([classes[y] if y >= 0 else UNLABELLED for y in base.labels])
    in_order = sorted(set(names), key=_class_order(classes))
    entries: dict[str, Any] = {}
    for label, s in scored.items():
        entry = {"method": methods[label].name, "layers": list(methods[label].layers)}
        entry.update(scores_of(s, base, everything))
        entry["sanity"] = {k: v for k, v in s.sanity.items() if k != "seconds"}
        timing = {**s.timing, "sanity": s.sanity.get("seconds", 0.0)}
        # every check of this method per image; the shared random-order curves are reported once, apart
        entry["seconds_per_image"] = round_or_none(sum(timing.values()) / len(base.labels))
        entry["map_seconds_per_image"] = round_or_none(s.timing["maps"] / len(base.labels))
        entry["timing_seconds"] = {k: round(v, 3) for k, v in timing.items()}
        entry["curves"] = {
            "x": [round(x, 6) for x in np.linspace(0, 1, steps + 1)],
            "deletion": [round_or_none(v) for v in s.deletion.mean(0)],
            "insertion": [round_or_none(v) for v in s.insertion.mean(0)],
            "deletion_random": [round_or_none(v) for v in base.deletion_random.mean(0)],
            "insertion_random": [round_or_none(v) for v in base.insertion_random.mean(0)],
        }
        entry["per_class"] = {str(name): scores_of(s, base, names == name) for name in in_order}
        entry["problems"] = method_problems(label, entry, tolerance)
        entry["worst"] = [
            {"path": paths[t.index], "true": t.true, "predicted": t.predicted, "reason": t.reason} for t in s.worst
        ]
        entries[label] = entry
    return {"methods": entries}


def _class_order(classes: Sequence[str]) -> Callable[[str], int]:
    order = {c: i for i, c in enumerate(classes)}
    return lambda name: order.get(name, len(order))


def per_image_rows(
    paths: Sequence[str], base: SplitScores, scored: dict[str, MethodScores], classes: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per image and method: every score, so any number in ``audit.json`` can be recomputed from the CSV."""
    rows = []
    random_deletion, random_insertion = curve_auc(base.deletion_random), curve_auc(base.insertion_random)
    for method, s in scored.items():
        deletion, insertion = curve_auc(s.deletion), curve_auc(s.insertion)
        for i, path in enumerate(paths):
            evidence = bool(base.evidence[i])
            rows.append(
                {
                    "path": path,
                    "method": method,
                    "true": classes[base.labels[i]] if base.labels[i] >= 0 else UNLABELLED,
                    "predicted": classes[base.predicted[i]],
                    "probability": round_or_none(base.probability[i]),
                    "pointing_hit_strict": bool(s.strict_hits[i]) if evidence else "",
                    "pointing_strict_random": round_or_none(base.strict_baseline[i]) if evidence else "",
                    "pointing_hit_tolerant": bool(s.tolerant_hits[i]) if evidence else "",
                    "pointing_tolerant_random": round_or_none(base.tolerant_baseline[i]) if evidence else "",
                    "energy_inside": round_or_none(s.energy[i]) if evidence else "",
                    "energy_random_baseline": round_or_none(base.energy_baseline[i]) if evidence else "",
                    "deletion_auc": round_or_none(deletion[i]),
                    "deletion_auc_random": round_or_none(random_deletion[i]),
                    "insertion_auc": round_or_none(insertion[i]),
                    "insertion_auc_random": round_or_none(random_insertion[i]),
                    "drop": round_or_none(s.drop[i]),
                    "increase": int(s.increase[i]),
                    "reliance_spearman": "" if s.reliance is None else _cell(s.reliance[i]),
                    "reliance_spearman_random": "" if base.reliance_random is None else _cell(base.reliance_random[i]),
                }
            )
    return rows

"""An evaluation's confusion matrix and per-class precision, recall and F1, by scikit-learn from its predictions.

Computed from the predictions the Evaluation page lists rather than read from ``eval.json``,
so the table's numbers, the matrix's counts and the images a click shows can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from hartrace.base.errors import UsageError
from hartrace.explorer.rows import ClassMetrics, Confusion, ItemRow


def confusion_report(rows: Sequence[ItemRow], classes: Sequence[str]) -> Confusion:
    """Counts, row fractions and the per-class report of ``rows`` over ``classes`` (items without a true class
    are left out, as ``hartrace evaluate`` leaves them out of its scores)."""
    labelled = [row for row in rows if row["true"]]
    if not labelled:
        raise UsageError("the evaluation has no labelled items to score")
    truth = [row["true"] for row in labelled]
    predicted = [row["predicted"] for row in labelled]
    labels = list(classes)
    counts = confusion_matrix(truth, predicted, labels=labels)
    fractions = np.nan_to_num(confusion_matrix(truth, predicted, labels=labels, normalize="true"))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)

    def average(name: str, kind: str) -> ClassMetrics:
        p, r, f, _ = precision_recall_fscore_support(truth, predicted, labels=labels, average=kind, zero_division=0)
        return {"name": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": len(labelled)}

    return {
        "classes": labels,
        "matrix": fractions.tolist(),
        "counts": counts.tolist(),
        "per_class": [
            {"name": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
            for name, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True)
        ],
        "macro_avg": average("macro avg", "macro"),
        "weighted_avg": average("weighted avg", "weighted"),
        "accuracy": float(accuracy_score(truth, predicted)),
    }

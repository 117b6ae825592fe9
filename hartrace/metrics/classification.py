"""Classification metrics, computed by scikit-learn so they match what everyone else reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)


def epoch_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Accuracy and weighted precision/recall/F1: the per-epoch numbers the seed project logged."""
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="weighted", zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def top_k_accuracy(y_true: Sequence[int], probabilities: np.ndarray, k: int) -> float:
    """Top-k accuracy over all classes (k is capped at the number of classes)."""
    n_classes = probabilities.shape[1]
    if k >= n_classes:
        return 1.0
    return float(top_k_accuracy_score(y_true, probabilities, k=k, labels=np.arange(n_classes)))


def evaluation_report(
    y_true: Sequence[int], probabilities: np.ndarray, classes: Sequence[str], k: int = 5
) -> dict[str, Any]:
    """Everything ``hartrace evaluate`` reports: accuracy, top-k, per-class report, normalised confusion matrix."""
    y_pred = probabilities.argmax(axis=1)
    labels = np.arange(len(classes))
    report = classification_report(
        y_true, y_pred, labels=labels, target_names=list(classes), output_dict=True, zero_division=0
    )
    return {
        "images": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        f"top{k}_accuracy": top_k_accuracy(y_true, probabilities, k),
        **{f"weighted_{m}": v for m, v in epoch_metrics(y_true, y_pred).items() if m != "accuracy"},
        "per_class": {name: report[name] for name in classes},
        "macro_avg": report["macro avg"],
        "weighted_avg": report["weighted avg"],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "confusion_matrix_normalised": np.nan_to_num(
            confusion_matrix(y_true, y_pred, labels=labels, normalize="true")
        ).tolist(),
    }

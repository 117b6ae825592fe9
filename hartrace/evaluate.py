"""``hartrace evaluate``: score a run on its saved held-out split, with pictures and per-image CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hartrace.data import DatasetIndex, load_rgb
from hartrace.data.samples import Sample
from hartrace.errors import UsageError
from hartrace.inference import predict_probabilities
from hartrace.io import save_figure, write_csv, write_json
from hartrace.loading import open_dataset, open_model
from hartrace.metrics import evaluation_report
from hartrace.render import confusion_matrix_figure, image_gallery_figure
from hartrace.runs import EVAL_DIR

GALLERY_SIZE = 24


@dataclass
class EvalResult:
    out_dir: Path
    report: dict[str, Any]


def write_predictions_csv(path: Path, index: DatasetIndex, samples: list[Sample], probabilities: np.ndarray) -> Path:
    classes = index.classes
    rows = (
        [
            index.relative(s.path),
            classes[s.label] if s.label is not None else "",
            classes[int(p.argmax())],
            *(f"{x:.6f}" for x in p),
        ]
        for s, p in zip(samples, probabilities, strict=True)
    )
    return write_csv(path, ["path", "true", "predicted", *(f"p_{c}" for c in classes)], rows)


def misclassified_gallery(
    samples: list[Sample], probabilities: np.ndarray, classes: list[str], path: Path, limit: int = GALLERY_SIZE
) -> Path:
    """The most confidently wrong images first: the ones worth looking at."""
    predicted = probabilities.argmax(1)
    wrong = [i for i, s in enumerate(samples) if s.label is not None and predicted[i] != s.label]
    wrong.sort(key=lambda i: -probabilities[i, predicted[i]])
    images, captions = [], []
    for i in wrong[:limit]:
        image = load_rgb(samples[i].path)
        image.thumbnail((256, 256))
        images.append(np.asarray(image))
        captions.append(f"{samples[i].path.name}\ntrue {classes[samples[i].label]}\npred {classes[predicted[i]]} {probabilities[i, predicted[i]]:.0%}")
    title = f"misclassified: {len(wrong)} of {len(samples)} (most confident first)"
    return save_figure(image_gallery_figure(images, captions, title=title), path)


def evaluate(
    run: str | Path | None = None,
    *,
    checkpoint: str | Path | None = None,
    data: str | Path | None = None,
    split: str = "val",
    runs_dir: str | Path = "checkpoints",
    out: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> EvalResult:
    """Score a run (its best checkpoint on its saved split) or any checkpoint on ``data``.

    Writes ``eval.json``, ``predictions.csv``, ``per_class.csv``, ``confusion_matrix.{png,csv}``
    and ``misclassified.png`` to ``out`` (default ``<run>/eval/<split>/``).
    """
    opened = open_model(run, checkpoint, runs_dir)
    model, meta, checkpoint = opened.model, opened.meta, opened.checkpoint
    out_dir = Path(out) if out else checkpoint.parent / EVAL_DIR / split
    index = open_dataset(opened, data)
    if split not in index.splits:
        raise UsageError(f"{index.root} has no {split!r} split (it has: {', '.join(index.splits)})")
    samples = [s for s in index.splits[split] if s.label is not None]
    if not samples:
        raise UsageError(f"the {split!r} split of {index.root} has no labelled images: use `hartrace predict` for it")
    probabilities = predict_probabilities(model, samples, meta, batch_size=batch_size, progress=progress, desc=f"evaluating {split}")
    y_true = np.array([s.label for s in samples])
    report = evaluation_report(y_true, probabilities, index.classes)
    report.update({"checkpoint": str(checkpoint), "split": split, "dataset": str(index.root), "skipped": len(index.skipped)})

    classes = index.classes
    write_predictions_csv(out_dir / "predictions.csv", index, samples, probabilities)
    write_csv(
        out_dir / "per_class.csv",
        ["class", "precision", "recall", "f1", "support"],
        (
            [name, *(round(r[k], 6) for k in ("precision", "recall", "f1-score")), int(r["support"])]
            for name, r in [*report["per_class"].items(), ("macro avg", report["macro_avg"]), ("weighted avg", report["weighted_avg"])]
        ),
    )
    matrix = np.array(report["confusion_matrix_normalised"])
    write_csv(out_dir / "confusion_matrix.csv", ["true \\ predicted", *classes], ([c, *np.round(row, 6)] for c, row in zip(classes, matrix, strict=True)))
    save_figure(
        confusion_matrix_figure(matrix, classes, f"{split}: accuracy {report['accuracy']:.1%} (row-normalised)"),
        out_dir / "confusion_matrix.png",
    )
    misclassified_gallery(samples, probabilities, classes, out_dir / "misclassified.png")
    write_json(out_dir / "eval.json", report)
    return EvalResult(out_dir, report)


def format_report(report: dict[str, Any]) -> str:
    """The per-class table and headline numbers, as ``hartrace evaluate`` prints them."""
    width = max(len(c) for c in [*report["per_class"], "weighted avg"])
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    rows = [*report["per_class"].items(), ("macro avg", report["macro_avg"]), ("weighted avg", report["weighted_avg"])]
    for name, r in rows:
        lines.append(f"{name:<{width}}  {r['precision']:>9.3f}  {r['recall']:>6.3f}  {r['f1-score']:>5.3f}  {int(r['support']):>7}")
    top = next(k for k in report if k.startswith("top") and k.endswith("_accuracy"))
    lines.append("")
    lines.append(f"accuracy {report['accuracy']:.4f}   {top.replace('_', ' ')} {report[top]:.4f}   images {report['images']}")
    return "\n".join(lines)

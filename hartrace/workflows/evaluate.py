"""``hartrace evaluate``: score a run on its saved held-out split, with pictures and per-image CSV."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hartrace.base.io import require_writable_folder, save_figure, write_csv, write_json
from hartrace.base.progress import Progress
from hartrace.data import DatasetIndex, load_rgb
from hartrace.data.samples import Sample
from hartrace.metrics.classification import evaluation_report
from hartrace.render import confusion_matrix_figure, image_gallery_figure
from hartrace.render.notebook import figure_png, html_card
from hartrace.runs.discovery import EVAL_DIR
from hartrace.runs.inference import model_outputs
from hartrace.runs.loading import Opened, open_dataset, open_model
from hartrace.zeroshot.objectives import run_objective

GALLERY_SIZE = 24
#: Classes listed in a notebook's view of an evaluation.
CLASS_ROWS = 30


@dataclass
class EvalResult:
    out_dir: Path
    report: dict[str, Any]

    def __repr__(self) -> str:
        r = self.report
        return f"EvalResult({str(self.out_dir)!r}: {r['split']} accuracy {r['accuracy']:.4f} on {r['images']} items)"

    def _repr_html_(self) -> str:
        """In a notebook: the headline numbers, the per-class table (first 30 classes) and the confusion matrix."""
        r = self.report
        top = next(k for k in r if k.startswith("top") and k.endswith("_accuracy"))
        classes = list(r["per_class"])
        rows = [
            [c, *(r["per_class"][c][k] for k in ("precision", "recall", "f1-score")), int(r["per_class"][c]["support"])]
            for c in classes[:CLASS_ROWS]
        ]
        matrix = confusion_matrix_figure(np.array(r["confusion_matrix_normalised"]), classes)
        return html_card(
            f"Evaluation on the {r['split']} split: {r['images']} items; the files are in {self.out_dir}",
            lines=[f"the first {CLASS_ROWS} of {len(classes)} classes are listed"] if len(classes) > CLASS_ROWS else [],
            tables=[
                (
                    "overall",
                    ["accuracy", top.replace("_", " "), "macro F1"],
                    [[r["accuracy"], r[top], r["macro_avg"]["f1-score"]]],
                ),
                ("per class", ["class", "precision", "recall", "F1", "support"], rows),
            ],
            pictures=[("confusion matrix", figure_png(matrix))],
        )


@dataclass
class Scored:
    """What a model made of some samples: a score per class (probabilities or similarities) and the true labels."""

    split: str
    samples: list[Sample]
    scores: np.ndarray  # [N, len(classes)]
    labels: np.ndarray  # [N], positions in classes
    classes: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def write_predictions_csv(
    path: Path, index: DatasetIndex, samples: list[Sample], scores: np.ndarray, classes: list[str], labels: np.ndarray
) -> Path:
    """One row per sample: path, true and predicted class, and its score for each of ``classes``."""
    rows = (
        [index.relative(s.path), classes[y] if y >= 0 else "", classes[int(p.argmax())], *(f"{x:.6f}" for x in p)]
        for s, y, p in zip(samples, labels, scores, strict=True)
    )
    return write_csv(path, ["path", "true", "predicted", *(f"p_{c}" for c in classes)], rows)


def preview_picture(path: Path, side: int = 256) -> np.ndarray:
    """A thumbnail of an image, or of a video's middle frame: uint8 ``[H, W, 3]``."""
    from hartrace.data.video import is_video_file, probe_video, read_video

    if is_video_file(path):
        picture = Image.fromarray(read_video(path, [probe_video(path).frames // 2])[0])
    else:
        picture = load_rgb(path)
    picture.thumbnail((side, side))
    return np.asarray(picture)


def misclassified_gallery(
    samples: list[Sample],
    scores: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    path: Path,
    limit: int = GALLERY_SIZE,
) -> Path:
    """The most confidently wrong images (or videos' middle frames) first: the ones worth looking at."""
    predicted = scores.argmax(1)
    wrong = [i for i in range(len(samples)) if labels[i] >= 0 and predicted[i] != labels[i]]
    wrong.sort(key=lambda i: -scores[i, predicted[i]])
    images, captions = [], []
    for i in wrong[:limit]:
        images.append(preview_picture(samples[i].path))
        captions.append(
            f"{samples[i].path.name}\ntrue {classes[labels[i]]}\n"
            f"pred {classes[predicted[i]]} {scores[i, predicted[i]]:.0%}"
        )
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
    progress: Progress = True,
    workers: int | None = None,
) -> EvalResult:
    """Score a run (its best checkpoint on its saved split) or any checkpoint on ``data``.

    With a run, ``data`` is where the run's dataset is now (moved): its saved split is still the one scored.

    ``workers``: processes decoding the inputs (default: up to 4; 0 decodes in this thread, as a long-running
    server must: torch's worker processes report a failure by raising in the main thread, whatever it is doing).

    Writes ``eval.json``, ``predictions.csv``, ``per_class.csv``, ``confusion_matrix.{png,csv}``
    and ``misclassified.png`` to ``out`` (default ``<run>/eval/<split>/``).
    """
    opened = open_model(run, checkpoint, runs_dir)
    require_writable_folder(Path(out) if out else opened.checkpoint.parent / EVAL_DIR)  # before any scoring
    index = open_dataset(opened, data)
    scored = score_run(opened, index, split, batch_size=batch_size, progress=progress, workers=workers)
    out_dir = Path(out) if out else opened.checkpoint.parent / EVAL_DIR / scored.split
    samples, scores, labels, classes = scored.samples, scored.scores, scored.labels, scored.classes
    report = evaluation_report(labels, scores, classes)
    report.update(
        {
            "checkpoint": str(opened.checkpoint),
            "split": scored.split,
            "dataset": str(index.root),
            "skipped": len(index.skipped),
        }
    )
    report.update(scored.extra)

    write_predictions_csv(out_dir / "predictions.csv", index, samples, scores, classes, labels)
    write_csv(
        out_dir / "per_class.csv",
        ["class", "precision", "recall", "f1", "support"],
        (
            [name, *(round(r[k], 6) for k in ("precision", "recall", "f1-score")), int(r["support"])]
            for name, r in [
                *report["per_class"].items(),
                ("macro avg", report["macro_avg"]),
                ("weighted avg", report["weighted_avg"]),
            ]
        ),
    )
    matrix = np.array(report["confusion_matrix_normalised"])
    write_csv(
        out_dir / "confusion_matrix.csv",
        ["true \\ predicted", *classes],
        ([c, *np.round(row, 6)] for c, row in zip(classes, matrix, strict=True)),
    )
    save_figure(
        confusion_matrix_figure(matrix, classes, f"{scored.split}: accuracy {report['accuracy']:.1%} (row-normalised)"),
        out_dir / "confusion_matrix.png",
    )
    misclassified_gallery(samples, scores, labels, classes, out_dir / "misclassified.png")
    write_json(out_dir / "eval.json", report)
    return EvalResult(out_dir, report)


def score_run(
    opened: Opened,
    index: DatasetIndex,
    split: str = "val",
    *,
    batch_size: int = 64,
    progress: Progress = True,
    workers: int | None = None,
) -> Scored:
    """What the run's objective scores: the labelled samples of ``split`` against every class (probabilities), or
    for a zero-shot run every video of its unseen classes against those classes (cosine to their names)."""
    objective = run_objective(opened.spec.zero_shot)
    chosen = objective.evaluation(index, split)
    outputs = model_outputs(
        opened.model,
        chosen.samples,
        opened.spec,
        softmax=objective.softmax,
        batch_size=batch_size,
        progress=progress,
        workers=workers,
        desc=chosen.desc,
    )
    scores = objective.class_scores(outputs, chosen.classes)
    classes = [index.classes[i] for i in chosen.classes]
    return Scored(chosen.split, chosen.samples, scores, chosen.labels, classes, chosen.report)


def format_report(report: dict[str, Any]) -> str:
    """The per-class table and headline numbers, as ``hartrace evaluate`` prints them."""
    width = max(len(c) for c in [*report["per_class"], "weighted avg"])
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    rows = [*report["per_class"].items(), ("macro avg", report["macro_avg"]), ("weighted avg", report["weighted_avg"])]
    for name, r in rows:
        lines.append(
            f"{name:<{width}}  {r['precision']:>9.3f}  {r['recall']:>6.3f}  "
            f"{r['f1-score']:>5.3f}  {int(r['support']):>7}"
        )
    top = next(k for k in report if k.startswith("top") and k.endswith("_accuracy"))
    lines.append("")
    lines.append(
        f"accuracy {report['accuracy']:.4f}   {top.replace('_', ' ')} {report[top]:.4f}   images {report['images']}"
    )
    return "\n".join(lines)

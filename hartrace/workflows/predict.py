"""``hartrace predict``: top-k classes for images, videos, folders of either, or a Kaggle test set."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder, save_figure, write_csv
from hartrace.data.layouts import files_in, read_csv, resolve_name
from hartrace.data.samples import Sample, SkippedFile
from hartrace.render import probability_bars_figure
from hartrace.runs.inference import model_outputs
from hartrace.runs.loading import Opened, open_model
from hartrace.runs.tasks import IMAGE, Task, task_of
from hartrace.zeroshot.objectives import run_objective


@dataclass
class Prediction:
    path: Path
    top: list[tuple[str, float]]
    probabilities: np.ndarray


@dataclass
class PredictResult:
    predictions: list[Prediction]
    csv_path: Path
    bars_path: Path | None = None
    skipped: list[SkippedFile] = field(default_factory=list)


def collect_inputs(inputs: list[str | Path], task: Task = IMAGE) -> list[Path]:
    """Files from files, folders (searched recursively for the task's inputs: images, or videos) and Kaggle folders."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_file():
            paths.append(item)
        elif (
            item.is_dir() and (item / "Testing_set.csv").is_file() and not task.is_video
        ):  # a Kaggle test set is images
            rows = read_csv(item / "Testing_set.csv", ("filename",))
            paths.extend(resolve_name(item / "test", row["filename"]) for _, row in rows)
        elif item.is_dir():
            found = files_in(item, task.is_member)
            if not found:
                raise UsageError(f"no {task.nouns} in folder {item}")
            paths.extend(found)
        else:
            raise UsageError(f"input not found: {item}")
    return paths


def class_scores(opened: Opened, samples: list[Sample], *, batch_size: int, progress: bool) -> np.ndarray:
    """``[N, classes]`` as the run's objective reads its outputs: softmax probabilities, or for a zero-shot model
    the cosine similarity to every class name."""
    objective = run_objective(opened.spec.zero_shot)
    outputs = model_outputs(
        opened.model, samples, opened.spec, softmax=objective.softmax, batch_size=batch_size, progress=progress
    )
    return objective.class_scores(outputs)


def predict(
    inputs: list[str | Path],
    *,
    checkpoint: str | Path | None = None,
    runs_dir: str | Path = "checkpoints",
    top_k: int = 5,
    out: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> PredictResult:
    """Predict ``inputs`` with ``checkpoint`` (default: the latest run's best); write a CSV (and bars for one image)."""
    if top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {top_k}")
    missing = next((item for item in map(Path, inputs) if not item.exists()), None)
    if missing is not None:  # before the model loads: a typo should cost nothing
        raise UsageError(f"input not found: {missing}")
    opened = open_model(None, checkpoint, runs_dir)
    checkpoint, classes, task = opened.checkpoint, opened.classes, task_of(opened.spec.input)
    out_dir = require_writable_folder(Path(out) if out else Path(checkpoint).parent / "predictions", "--out")
    paths = collect_inputs(inputs, task)
    listed = [("input", Sample(p, None)) for p in paths]
    skipped = task.scan(listed)
    bad = {s.path for s in skipped}
    samples = [Sample(p, None) for p in paths if p not in bad]
    if not samples:
        unreadable = f" ({len(skipped)} unreadable)" if skipped else ""
        raise UsageError(
            f"no {task.nouns} to predict in {', '.join(map(str, inputs))}{unreadable}: "
            f"give files or folders of {task.nouns}"
        )
    probabilities = class_scores(opened, samples, batch_size=batch_size, progress=progress)
    k = min(top_k, len(classes))
    predictions = []
    for sample, probs in zip(samples, probabilities, strict=True):
        order = np.argsort(-probs)[:k]
        predictions.append(Prediction(sample.path, [(classes[i], float(probs[i])) for i in order], probs))
    csv_path = write_csv(
        out_dir / "predictions.csv",
        ["path", "predicted", "probability", *(f"p_{c}" for c in classes)],
        ([str(p.path), p.top[0][0], f"{p.top[0][1]:.6f}", *(f"{x:.6f}" for x in p.probabilities)] for p in predictions),
    )
    bars_path = None
    if len(predictions) == 1:
        only = predictions[0]
        bars_path = save_figure(
            probability_bars_figure(only.probabilities, classes, top_k=k, title=only.path.name),
            out_dir / f"{only.path.stem}_probabilities.png",
        )
    return PredictResult(predictions, csv_path, bars_path, skipped)


def format_predictions(result: PredictResult, limit: int = 50) -> str:
    """A table: one row per image, its top-k classes with probabilities."""
    lines = []
    width = max([len(p.path.name) for p in result.predictions[:limit]] + [5])
    for p in result.predictions[:limit]:
        ranked = "  ".join(f"{name} {prob:.1%}" for name, prob in p.top)
        lines.append(f"{p.path.name:<{width}}  {ranked}")
    if len(result.predictions) > limit:
        lines.append(f"... {len(result.predictions) - limit} more in {result.csv_path}")
    for s in result.skipped:
        lines.append(f"skipped {s.path} ({s.reason})")
    return "\n".join(lines)

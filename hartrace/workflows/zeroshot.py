"""The zero-shot protocol end to end: K runs, one each, mean ± std over them.

``hartrace train --zero-shot --zs-splits K`` lands here. Within one dataset, each run
(``<run>/split<k>/``) trains on a random seen/unseen class split and is scored on every video
of its unseen classes. Across datasets (``--zs-test-data B``), each run trains with its own
seed (``seed + k - 1``) on the dataset's classes minus those whose names are too close to one
of B's, and is scored on every video of every class of B (``split<k>/eval/cross-dataset/``).
The folder above gets ``zeroshot.json``, ``zeroshot.csv`` and ``zeroshot.md``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hartrace.base.errors import UsageError
from hartrace.base.io import save_figure, write_csv, write_json, write_text
from hartrace.base.progress import Progress
from hartrace.data import load_dataset
from hartrace.render import confusion_matrix_figure
from hartrace.runs.discovery import EVAL_DIR, new_run_dir
from hartrace.workflows.train.config import configured_dataset
from hartrace.zeroshot.cross import CrossTest
from hartrace.zeroshot.objectives import CROSS_DATASET
from hartrace.zeroshot.protocol import cosine_scores, format_mean_std, summarise_splits
from hartrace.zeroshot.training import ZeroShotSetup, prepare_zero_shot

SUMMARY_JSON, SUMMARY_CSV, SUMMARY_MD = "zeroshot.json", "zeroshot.csv", "zeroshot.md"
_METRICS = ["top1", "top5", "chance_top1", "chance_top5", "seen_val_accuracy"]


@dataclass
class ZeroShotResult:
    run_dir: Path
    summary: dict[str, Any]


def train_zero_shot(config: Any, *, progress: bool = True, log: Callable[[str], None] = print) -> ZeroShotResult:
    """Train and score ``config.zs_splits`` zero-shot runs; returns where they are and the mean ± std."""
    from hartrace.workflows.evaluate import evaluate
    from hartrace.workflows.train.trainer import resolved, train

    config = resolved(config.validate())
    if config.zs_test_data:
        return _train_cross_dataset(config, progress, log)
    base = Path(config.out) if config.out else new_run_dir(config.runs_dir, f"{config.backbone}-zeroshot")
    rows = []
    for k in range(config.zs_splits):
        log(f"zero-shot split {k + 1}/{config.zs_splits}")
        run = train(
            dataclasses.replace(config, zs_split=k, out=str(base / f"split{k + 1}")), progress=progress, log=log
        )
        report = evaluate(run.run_dir, progress=progress).report
        unseen = report["zero_shot"]["unseen"]
        rows.append(
            {
                "top1": report["accuracy"],
                "top5": report["top5_accuracy"],
                "chance_top1": 1 / len(unseen),
                "chance_top5": min(5, len(unseen)) / len(unseen),
                "seen_val_accuracy": run.best.get("val_accuracy", float("nan")),
                "videos": report["images"],
                "unseen": " ".join(unseen),
            }
        )
        log(
            f"split {k + 1}: unseen top-1 {report['accuracy']:.1%} (chance {1 / len(unseen):.1%}), "
            f"top-5 {report['top5_accuracy']:.1%}"
        )
    summary = summarise_splits(rows, metrics=_METRICS)
    summary.update(
        {
            "backbone": config.backbone,
            "embeddings": config.embeddings,
            "unseen_fraction": config.unseen_fraction,
            "data": config.data,
        }
    )
    _write_summary(base, summary)
    return ZeroShotResult(base, summary)


# --- across datasets ----------------------------------------------------------------------------


def _train_cross_dataset(config: Any, progress: bool, log: Callable[[str], None]) -> ZeroShotResult:
    """One run per seed on the training set's kept classes, each scored on every class of the test set."""
    from hartrace.workflows.train.trainer import train

    test_data = os.path.abspath(os.path.expanduser(config.zs_test_data))  # runs resume from any folder
    config = dataclasses.replace(config.check_paths(), zs_test_data=test_data)
    trained_on, test = _cross_plan(config)
    log(
        f"cross-dataset zero-shot: training on {len(trained_on)} classes of {config.data}, testing on the "
        f"{len(test.classes)} classes of {test.data}; removed as too close (cosine >= {test.threshold}) to a test "
        f"class: {', '.join(f'{c.name} (~{c.closest} {c.similarity:.2f})' for c in test.removed) or 'none'}"
    )
    base = Path(config.out) if config.out else new_run_dir(config.runs_dir, f"{config.backbone}-zeroshot-cross")
    rows, recalls = [], []
    n = len(test.classes)
    for k in range(config.zs_splits):
        seed = config.seed + k
        log(f"cross-dataset zero-shot run {k + 1}/{config.zs_splits} (seed {seed})")
        run = train(
            dataclasses.replace(config, seed=seed, zs_split=k, out=str(base / f"split{k + 1}")),
            progress=progress,
            log=log,
        )
        report = score_cross_dataset(run.run_dir, progress=progress, workers=config.workers)
        rows.append(
            {
                "seed": seed,
                "top1": report["accuracy"],
                "top5": report["top5_accuracy"],
                "chance_top1": 1 / n,
                "chance_top5": min(5, n) / n,
                "seen_val_accuracy": run.best.get("val_accuracy", float("nan")),
                "videos": report["images"],
            }
        )
        recalls.append([report["per_class"][name]["recall"] for name in test.classes])
        log(
            f"seed {seed}: top-1 on the test classes {report['accuracy']:.1%} (chance {1 / n:.1%}), "
            f"top-5 {report['top5_accuracy']:.1%} (chance {min(5, n) / n:.1%})"
        )
    summary = summarise_splits(rows, metrics=_METRICS)
    summary.update(
        {
            "protocol": "cross-dataset",
            "backbone": config.backbone,
            "embeddings": config.embeddings,
            "data": os.path.abspath(config.data),
            "trained_on": trained_on,
            **test.describe(),
            "test_top1_by_class": dict(zip(test.classes, np.mean(recalls, axis=0).tolist(), strict=True)),
        }
    )
    _write_cross_summary(base, summary)
    return ZeroShotResult(base, summary)


def _cross_plan(config: Any) -> tuple[list[str], CrossTest]:
    """The classes a cross-dataset run trains on and what it is tested on, worked out before any folder is made,
    so a bad test set, embeddings file or threshold is refused without leaving anything behind."""
    index = configured_dataset(config, check_images=False, progress=False)
    setup = prepare_zero_shot(config, index)
    assert setup.test is not None
    return [index.classes[i] for i in setup.seen], setup.test


def score_cross_dataset(
    run: str | Path, *, progress: Progress = True, workers: int | None = None, batch_size: int = 64
) -> dict[str, Any]:
    """Score a cross-dataset zero-shot run on every labelled video of its test set, against all its test classes.

    Each video is named by the test class whose name embedding is nearest (cosine) to the network's output.
    Writes ``eval.json``, ``predictions.csv`` and ``confusion_matrix.png`` to ``<run>/eval/cross-dataset/``
    and returns the report (``hartrace evaluate``'s fields, plus ``zero_shot``: the classes and the overlap filter).
    """
    from hartrace.metrics.classification import evaluation_report
    from hartrace.runs.inference import model_outputs
    from hartrace.runs.loading import open_model
    from hartrace.workflows.evaluate import write_predictions_csv

    opened = open_model(run)
    setup: ZeroShotSetup | None = opened.spec.zero_shot
    if setup is None or setup.test is None:
        raise UsageError(f"{opened.checkpoint} is not a cross-dataset zero-shot run (`train --zs-test-data`)")
    test = setup.test
    index = load_dataset(test.data, format=test.format, classes=list(test.classes), progress=False)
    samples = [s for split in index.splits.values() for s in split if s.label is not None]
    if not samples:
        raise UsageError(f"{test.data} has no labelled videos to score")
    outputs = model_outputs(
        opened.model,
        samples,
        opened.spec,
        softmax=False,
        batch_size=batch_size,
        workers=workers,
        progress=progress,
        desc="scoring the test classes",
    )
    scores = np.asarray(cosine_scores(outputs, test.embeddings), dtype=np.float32)
    labels = np.array([s.label for s in samples])
    classes = list(test.classes)
    report = evaluation_report(labels, scores, classes)
    report.update(
        {
            "checkpoint": str(opened.checkpoint),
            "split": CROSS_DATASET,
            "dataset": str(index.root),
            "skipped": len(index.skipped),
            "zero_shot": {
                "split": setup.split + 1,
                "of": setup.splits,
                "embeddings": setup.source,
                "seen": [opened.classes[i] for i in setup.seen],
                **test.describe(),
                "chance_top1": 1.0 / len(classes),
            },
        }
    )
    out_dir = opened.checkpoint.parent / EVAL_DIR / CROSS_DATASET
    write_predictions_csv(out_dir / "predictions.csv", index, samples, scores, classes, labels)
    matrix = np.array(report["confusion_matrix_normalised"])
    title = f"{Path(test.data).name}, zero-shot: accuracy {report['accuracy']:.1%} (row-normalised)"
    save_figure(confusion_matrix_figure(matrix, classes, title), out_dir / "confusion_matrix.png")
    write_json(out_dir / "eval.json", report)
    return report


# --- reports ------------------------------------------------------------------------------------


def _write_summary(base: Path, summary: dict[str, Any]) -> None:
    columns = ["split", "top1", "top5", "chance_top1", "chance_top5", "seen_val_accuracy", "videos", "unseen"]
    write_json(base / SUMMARY_JSON, summary)
    write_csv(base / SUMMARY_CSV, columns, ([row[c] for c in columns] for row in summary["per_split"]))
    mean, std = summary["mean"], summary["std"]
    lines = [
        f"# Zero-shot: {summary['backbone']} on {summary['data']} ({summary['splits']} splits, "
        f"{summary['unseen_fraction']:.0%} of the classes unseen, {summary['embeddings']} embeddings)",
        "",
        "| | top-1 | top-5 |",
        "| --- | --- | --- |",
        f"| unseen classes (mean ± std) | {format_mean_std(mean['top1'], std['top1'])} "
        f"| {format_mean_std(mean['top5'], std['top5'])} |",
        f"| chance | {mean['chance_top1']:.1%} | {mean['chance_top5']:.1%} |",
        "",
        f"Seen-class validation accuracy: {format_mean_std(mean['seen_val_accuracy'], std['seen_val_accuracy'])}.",
    ]
    write_text(base / SUMMARY_MD, "\n".join(lines) + "\n")


def _write_cross_summary(base: Path, summary: dict[str, Any]) -> None:
    columns = ["split", "seed", "top1", "top5", "chance_top1", "chance_top5", "seen_val_accuracy", "videos"]
    write_json(base / SUMMARY_JSON, summary)
    write_csv(base / SUMMARY_CSV, columns, ([row[c] for c in columns] for row in summary["per_split"]))
    mean, std = summary["mean"], summary["std"]
    n_train, n_test = len(summary["trained_on"]), len(summary["test_classes"])
    n_all = n_train + len(summary["removed"])
    seeds = ", ".join(str(row["seed"]) for row in summary["per_split"])
    lines = [
        f"# Cross-dataset zero-shot: {summary['backbone']} trained on {summary['data']}, tested on "
        f"{summary['test_data']}",
        "",
        f"{summary['splits']} runs (seeds {seeds}), {summary['embeddings']} class-name embeddings. Trained on "
        f"{n_train} of the {n_all} training classes; tested on all {n_test} classes of the test set "
        f"({summary['per_split'][0]['videos']} videos, none trained on).",
        "",
        "| | top-1 | top-5 |",
        "| --- | --- | --- |",
        f"| test classes (mean ± std over {summary['splits']} seeds) | {format_mean_std(mean['top1'], std['top1'])} % "
        f"| {format_mean_std(mean['top5'], std['top5'])} % |",
        f"| chance (1/{n_test}, {min(5, n_test)}/{n_test}) | {mean['chance_top1']:.1%} | {mean['chance_top5']:.1%} |",
        "",
        "Validation accuracy on the training classes (named among them): "
        f"{format_mean_std(mean['seen_val_accuracy'], std['seen_val_accuracy'])} %.",
        "",
        f"## Training classes removed (name cosine similarity >= {summary['overlap_threshold']} to a test class)",
        "",
    ]
    if summary["removed"]:
        lines += ["| removed class | closest test class | similarity |", "| --- | --- | --- |"]
        lines += [f"| {c['class']} | {c['closest']} | {c['similarity']:.3f} |" for c in summary["removed"]]
    else:
        lines.append("None.")
    lines += [
        "",
        f"## Classes trained on ({n_train})",
        "",
        ", ".join(summary["trained_on"]),
        "",
        "## Test classes: the closest class trained on, and top-1 (mean over seeds)",
        "",
        "| test class | closest class trained on | similarity | top-1 |",
        "| --- | --- | --- | --- |",
    ]
    by_class = summary["test_top1_by_class"]
    lines += [
        f"| {c['class']} | {c['closest']} | {c['similarity']:.3f} | {by_class[c['class']]:.1%} |"
        for c in summary["closest_trained"]
    ]
    write_text(base / SUMMARY_MD, "\n".join(lines) + "\n")


def format_summary(summary: dict[str, Any]) -> str:
    """The one-line result ``hartrace train --zero-shot`` prints."""
    mean, std = summary["mean"], summary["std"]
    if summary.get("protocol") == "cross-dataset":
        return (
            f"cross-dataset zero-shot over {summary['splits']} seed(s): top-1 on the {len(summary['test_classes'])} "
            f"test classes {format_mean_std(mean['top1'], std['top1'])} % (chance {mean['chance_top1']:.1%}), top-5 "
            f"{format_mean_std(mean['top5'], std['top5'])} % (chance {mean['chance_top5']:.1%}); "
            f"{len(summary['removed'])} training class(es) removed as too close to a test class"
        )
    return (
        f"zero-shot over {summary['splits']} split(s): unseen top-1 {format_mean_std(mean['top1'], std['top1'])} % "
        f"(chance {mean['chance_top1']:.1%}), top-5 {format_mean_std(mean['top5'], std['top5'])} % "
        f"(chance {mean['chance_top5']:.1%})"
    )

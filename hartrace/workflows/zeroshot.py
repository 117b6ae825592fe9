"""The zero-shot protocol end to end: K seen/unseen class splits, one run each, mean ± std over them.

``hartrace train --zero-shot --zs-splits K`` lands here. Each split trains its own run
(``<run>/split<k>/``) on the seen classes and is scored on every video of its unseen
classes; the folder above gets ``zeroshot.json``, ``zeroshot.csv`` and ``zeroshot.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hartrace.base.io import write_csv, write_json, write_text
from hartrace.runs.discovery import new_run_dir
from hartrace.zeroshot.protocol import format_mean_std, summarise_splits

SUMMARY_JSON, SUMMARY_CSV, SUMMARY_MD = "zeroshot.json", "zeroshot.csv", "zeroshot.md"


@dataclass
class ZeroShotResult:
    run_dir: Path
    summary: dict[str, Any]


def train_zero_shot(config: Any, *, progress: bool = True, log: Callable[[str], None] = print) -> ZeroShotResult:
    """Train and score ``config.zs_splits`` zero-shot runs; returns where they are and the mean ± std."""
    from hartrace.workflows.evaluate import evaluate
    from hartrace.workflows.train.trainer import resolved, train

    config = resolved(config.validate())
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
    summary = summarise_splits(rows, metrics=["top1", "top5", "chance_top1", "chance_top5", "seen_val_accuracy"])
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


def format_summary(summary: dict[str, Any]) -> str:
    """The one-line result ``hartrace train --zero-shot`` prints."""
    mean, std = summary["mean"], summary["std"]
    return (
        f"zero-shot over {summary['splits']} split(s): unseen top-1 {format_mean_std(mean['top1'], std['top1'])} % "
        f"(chance {mean['chance_top1']:.1%}), top-5 {format_mean_std(mean['top5'], std['top5'])} % "
        f"(chance {mean['chance_top5']:.1%})"
    )

"""``hartrace compare``: train and evaluate a grid of backbones x input sizes x freeze policies.

The result is the table HAR papers and notebooks report (model, pixels, accuracy),
plus F1 and throughput, as markdown and CSV. Every cell is a normal run folder, so
any of them can be evaluated, explained or resumed on its own.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder, write_csv, write_json, write_text
from hartrace.models import model_info
from hartrace.workflows.evaluate import evaluate
from hartrace.workflows.train.config import TrainConfig
from hartrace.workflows.train.trainer import train

COLUMNS = ("model", "pixels", "freeze", "accuracy", "top5", "f1", "images_per_second", "epochs", "seconds", "run")


@dataclass
class CompareResult:
    out_dir: Path
    rows: list[dict[str, Any]]


def compare(
    base: TrainConfig,
    backbones: Sequence[str],
    sizes: Sequence[int | None],
    freezes: Sequence[str | None],
    *,
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> CompareResult:
    """Train every combination (same data, split and seed), evaluate each on the validation split.

    A size of None is ``base.image_size`` (``--image-size``), else the model's own.
    """
    if base.zero_shot:
        raise UsageError(
            "compare scores classifiers on one validation split; a zero-shot model is judged over several class "
            "splits: run `hartrace train --zero-shot --zs-splits K` per backbone and compare their zeroshot.md"
        )
    base.check_paths()
    for name in backbones:
        model_info(name)  # validate every name before hours of training
    out_dir = Path(out) if out else Path(base.runs_dir) / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    require_writable_folder(out_dir, "--out" if out else "--runs-dir")
    grid = list(itertools.product(backbones, sizes, freezes))
    rows: list[dict[str, Any]] = []
    for i, (backbone, size, freeze) in enumerate(grid, start=1):
        size = size or base.image_size
        pixels = size or model_info(backbone).input_size
        freeze_label = freeze or model_info(backbone).default_freeze
        name = f"{backbone}-{pixels}px-freeze_{freeze_label}"
        log(f"[{i}/{len(grid)}] {name}")
        config = dataclasses.replace(base, backbone=backbone, image_size=size, freeze=freeze, out=str(out_dir / name))
        result = train(config, progress=progress, log=log)
        report = evaluate(result.run_dir, progress=progress).report
        rows.append(
            {
                "model": backbone,
                "pixels": pixels,
                "freeze": freeze_label,
                "accuracy": round(100 * report["accuracy"], 1),
                "top5": round(100 * report["top5_accuracy"], 1),
                "f1": round(report["weighted_f1"], 3),
                "images_per_second": round(
                    sum(r["images_per_second"] for r in result.history) / len(result.history), 1
                ),
                "epochs": len(result.history),
                "seconds": round(result.seconds, 1),
                "run": name,
            }
        )
        _write_tables(out_dir, rows)
    return CompareResult(out_dir, rows)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    header = "| model | pixels | freeze | accuracy (%) | top-5 (%) | F1 | images/s | epochs | seconds |"
    lines = [header, "|" + " --- |" * 9]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['pixels']} | {r['freeze']} | {r['accuracy']} | {r['top5']} | {r['f1']} | "
            f"{r['images_per_second']} | {r['epochs']} | {r['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def _write_tables(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    write_text(out_dir / "results.md", markdown_table(rows))
    write_csv(out_dir / "results.csv", COLUMNS, ([r[c] for c in COLUMNS] for r in rows))
    write_json(out_dir / "results.json", rows)

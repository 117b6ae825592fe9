"""``hartrace compare``: train and evaluate a grid of backbones x input sizes x freeze policies.

The result is the table HAR papers and notebooks report: accuracy by backbone x resolution, on the test split
where the dataset has a labelled one, beside a long table (one row per cell, with top-5, F1 and throughput) and
every cell's validation curves on one figure. Every cell is a normal run folder, so any of them can be
evaluated or explained on its own; a cell keeps only ``best.pt`` unless ``keep_last`` (``--keep-last``), as
``last.pt`` holds the optimizer state too (gigabytes for a VGG) and is needed only to resume.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder, save_figure, write_csv, write_json, write_text
from hartrace.models import model_info, parse_dropout
from hartrace.render import overlaid_curves_figure, pivot_heatmap_figure
from hartrace.runs.discovery import LAST, folder_part
from hartrace.workflows.evaluate import evaluate
from hartrace.workflows.train.config import TrainConfig, configured_dataset
from hartrace.workflows.train.trainer import train

SPLITS = ("val", "test")
SPLIT_NAMES = {"val": "validation", "test": "test"}
COLUMNS = (
    "model",
    "pixels",
    "freeze",
    "split",
    "accuracy",
    "top5",
    "f1",
    "images_per_second",
    "epochs",
    "seconds",
    "run",
)
CURVE_COLUMNS = ("run", "model", "pixels", "freeze", "epoch", "val_loss", "val_accuracy")
MISSING = "–"


@dataclass(frozen=True)
class Cell:
    """One run of the grid: what the trainer is given (``size``, ``freeze``) and what they come to."""

    backbone: str
    size: int | None  # None: the model's own input size
    freeze: str | None  # None: the model's own freeze policy
    pixels: int
    freeze_label: str

    @property
    def name(self) -> str:
        return f"{folder_part(self.backbone)}-{self.pixels}px-freeze_{self.freeze_label}"


@dataclass
class Pivot:
    """Accuracy (%) by backbone (rows) and input size x freeze policy (columns); None: no result for that cell."""

    split: str
    models: list[str]
    columns: list[tuple[int, str]]  # (pixels, freeze label)
    values: list[list[float | None]]
    freeze: str | None  # the one freeze policy of every column, else None (then each column names its own)

    @property
    def column_labels(self) -> list[str]:
        return [f"{px} px" if self.freeze else f"{px} px · {freeze}" for px, freeze in self.columns]

    @property
    def title(self) -> str:
        title = f"accuracy (%) on the {SPLIT_NAMES[self.split]} split"
        return title + (f", freeze {self.freeze}" if self.freeze else "")

    @property
    def filled(self) -> int:
        return sum(value is not None for row in self.values for value in row)


@dataclass
class CompareResult:
    out_dir: Path
    split: str
    rows: list[dict[str, Any]]
    pivot: Pivot


def compare(
    base: TrainConfig,
    backbones: Sequence[str],
    sizes: Sequence[int | None],
    freezes: Sequence[str | None],
    *,
    split: str | None = None,
    keep_last: bool = False,
    out: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> CompareResult:
    """Train every combination (same data, split and seed) and score each cell's ``best.pt`` on ``split``.

    ``split`` None: the test split where the dataset has labelled test images, else the validation split.
    A size of None is ``base.image_size`` (``--image-size``), else the model's own. The tables and pictures
    are rewritten after every cell, so a long grid can be read while it runs.
    """
    if base.zero_shot:
        raise UsageError(
            "compare scores classifiers on one split; a zero-shot model is judged over several class "
            "splits: run `hartrace train --zero-shot --zs-splits K` per backbone and compare their zeroshot.md"
        )
    if split is not None and split not in SPLITS:
        raise UsageError(f"--split must be val or test, got {split!r}")
    base.check_paths()
    for name in backbones:  # every name, and the dropout each is given, before hours of training
        parse_dropout(base.dropout, model_info(name))
    out_dir = Path(out) if out else Path(base.runs_dir) / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    require_writable_folder(out_dir, "--out" if out else "--runs-dir")
    split = scored_split(base, split)
    cells = plan(base, backbones, sizes, freezes)
    rows: list[dict[str, Any]] = []
    histories: dict[str, list[dict[str, float]]] = {}
    for i, cell in enumerate(cells, start=1):
        log(f"[{i}/{len(cells)}] {cell.name}")
        config = dataclasses.replace(
            base, backbone=cell.backbone, image_size=cell.size, freeze=cell.freeze, out=str(out_dir / cell.name)
        )
        result = train(config, progress=progress, log=log)
        report = evaluate(result.run_dir, split=split, progress=progress).report
        if not keep_last:
            (result.run_dir / LAST).unlink(missing_ok=True)
        rows.append(_row(cell, split, report, result.history, result.seconds))
        histories[cell.name] = result.history
        pivot = pivot_table(cells, rows, split)
        _write_outputs(out_dir, rows, pivot, histories, cells)
        log(f"{cell.name}: {SPLIT_NAMES[split]} accuracy {rows[-1]['accuracy']}%")
    return CompareResult(out_dir, split, rows, pivot_table(cells, rows, split))


def scored_split(base: TrainConfig, asked: str | None) -> str:
    """The split the cells are scored on: ``asked``, or test where the dataset holds labelled test images, else val.

    Judged from the dataset as training will read it (a Kaggle set with ``--test-fraction`` has a labelled test
    split, its own ``test/`` has none), before any training, so asking for a test split that is not there costs
    nothing.
    """
    index = configured_dataset(base, check_images=False, progress=False, min_classes=1)
    labelled_test = any(sample.label is not None for sample in index.splits.get("test", []))
    if asked == "test" and not labelled_test:
        raise UsageError(
            f"{index.root} ({index.layout}) has no labelled test split: use --split val, "
            "or hold one out with --test-fraction F"
        )
    return asked or ("test" if labelled_test else "val")


def plan(
    base: TrainConfig, backbones: Sequence[str], sizes: Sequence[int | None], freezes: Sequence[str | None]
) -> list[Cell]:
    """Every backbone x size x freeze cell, in that order; two that come to the same run (224 and the model's own
    224) are one cell."""
    cells: dict[str, Cell] = {}
    for backbone, size, freeze in itertools.product(backbones, sizes, freezes):
        info = model_info(backbone)
        size = size or base.image_size
        cell = Cell(backbone, size, freeze, size or info.input_size, str(freeze or info.default_freeze))
        cells.setdefault(cell.name, cell)
    return list(cells.values())


def _row(
    cell: Cell, split: str, report: dict[str, Any], history: list[dict[str, float]], seconds: float
) -> dict[str, Any]:
    return {
        "model": cell.backbone,
        "pixels": cell.pixels,
        "freeze": cell.freeze_label,
        "split": split,
        "accuracy": round(100 * report["accuracy"], 1),
        "top5": round(100 * report["top5_accuracy"], 1),
        "f1": round(report["weighted_f1"], 3),
        "images_per_second": round(sum(r["images_per_second"] for r in history) / len(history), 1),
        "epochs": len(history),
        "seconds": round(seconds, 1),
        "run": cell.name,
    }


def pivot_table(cells: Sequence[Cell], rows: Sequence[dict[str, Any]], split: str) -> Pivot:
    """The grid as a table: a row per backbone, a column per size (x freeze policy, where the grid has several),
    every planned cell in place from the start, empty until it has been scored."""
    models = list(dict.fromkeys(cell.backbone for cell in cells))
    columns = list(dict.fromkeys((cell.pixels, cell.freeze_label) for cell in cells))
    columns.sort(key=lambda column: column[0])  # stable: freeze policies keep the order they were given in
    freezes = {freeze for _, freeze in columns}
    scored = {(r["model"], r["pixels"], r["freeze"]): float(r["accuracy"]) for r in rows}
    values = [[scored.get((model, px, freeze)) for px, freeze in columns] for model in models]
    return Pivot(split, models, columns, values, next(iter(freezes)) if len(freezes) == 1 else None)


def pivot_markdown(pivot: Pivot) -> str:
    """The pivot as a markdown section; a note says what "–" means where a cell has no result."""
    lines = [
        f"## {pivot.title}",
        "",
        "| model | " + " | ".join(pivot.column_labels) + " |",
        "| --- |" + " ---: |" * len(pivot.columns),
    ]
    for model, values in zip(pivot.models, pivot.values, strict=True):
        lines.append(f"| {model} | " + " | ".join(_cell_text(v) for v in values) + " |")
    planned = sum(1 for row in pivot.values for _ in row)
    if pivot.filled < planned:
        lines += ["", f"{MISSING}: no result ({pivot.filled} of {planned} cells scored)"]
    return "\n".join(lines) + "\n"


def markdown_table(rows: Sequence[dict[str, Any]], split: str) -> str:
    """The long table: one row per cell, under a heading that names the split."""
    header = "| model | pixels | freeze | split | accuracy (%) | top-5 (%) | F1 | images/s | epochs | seconds |"
    lines = [f"## every cell, scored on the {SPLIT_NAMES[split]} split", "", header, "|" + " --- |" * 10]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['pixels']} | {r['freeze']} | {r['split']} | {r['accuracy']} | {r['top5']} | "
            f"{r['f1']} | {r['images_per_second']} | {r['epochs']} | {r['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def _cell_text(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}"


def _write_outputs(
    out_dir: Path,
    rows: Sequence[dict[str, Any]],
    pivot: Pivot,
    histories: dict[str, list[dict[str, float]]],
    cells: Sequence[Cell],
) -> None:
    """Every table with its picture: results.*, pivot.* and curves.*; each file replaced whole."""
    write_text(out_dir / "results.md", markdown_table(rows, pivot.split))
    write_csv(out_dir / "results.csv", COLUMNS, ([r[c] for c in COLUMNS] for r in rows))
    write_json(out_dir / "results.json", list(rows))

    write_text(out_dir / "pivot.md", pivot_markdown(pivot))
    write_csv(
        out_dir / "pivot.csv",
        ["model", "split", *pivot.column_labels],
        (
            [model, pivot.split, *("" if v is None else v for v in values)]
            for model, values in zip(pivot.models, pivot.values, strict=True)
        ),
    )
    grid = np.array([[np.nan if v is None else v for v in values] for values in pivot.values], dtype=float)
    save_figure(pivot_heatmap_figure(grid, pivot.models, pivot.column_labels, pivot.title), out_dir / "pivot.png")

    by_name = {cell.name: cell for cell in cells}
    write_csv(
        out_dir / "curves.csv",
        CURVE_COLUMNS,
        (
            [name, by_name[name].backbone, by_name[name].pixels, by_name[name].freeze_label]
            + [int(r["epoch"]), r["val_loss"], r["val_accuracy"]]
            for name, history in histories.items()
            for r in history
        ),
    )
    title = f"validation curves of every cell (scored on the {SPLIT_NAMES[pivot.split]} split)"
    save_figure(overlaid_curves_figure(histories, title), out_dir / "curves.png")

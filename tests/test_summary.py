"""``hartrace data summary``: numbers, report files and pictures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from hartrace.cli import main
from hartrace.data import load_dataset
from hartrace.data.summary import describe, size_statistics
from tests.conftest import make_image


def test_size_statistics() -> None:
    stats = size_statistics([(100, 50), (200, 80), (300, 90)])
    assert stats["count"] == 3
    assert stats["width"] == {"min": 100, "median": 200, "mean": 200.0, "max": 300}
    assert stats["height"]["median"] == 80


def test_summary_counts_match_the_dataset(kaggle_dir: Path) -> None:
    make_image(kaggle_dir / "train" / "Image_5.jpg", size=(64, 48))
    summary = describe(load_dataset(kaggle_dir, progress=False))
    train, val = summary["splits"]["train"], summary["splits"]["val"]
    assert train["images"] + val["images"] == 15
    assert {k: train["per_class"][k] + val["per_class"][k] for k in summary["classes"]} == {
        "calling": 5,
        "running": 5,
        "sitting": 5,
    }
    assert summary["splits"]["test"]["per_class"] == {"calling": 0, "running": 0, "sitting": 0, "?": 2}
    sizes = train["image_size"]["width"]["max"], val["image_size"]["width"]["max"]
    assert max(sizes) == 64


def test_summary_command_writes_reports_and_lists_skipped(kaggle_dir: Path, tmp_path: Path, capsys) -> None:
    (kaggle_dir / "train" / "Image_7.jpg").write_bytes(b"")
    (kaggle_dir / "train" / "Image_8.jpg").unlink()
    make_image(kaggle_dir / "masks" / "train" / "Image_9.png", fmt="PNG", mode="L")
    out = tmp_path / "report"
    assert main(["data", "summary", str(kaggle_dir), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "layout    kaggle" in printed
    assert "train/Image_7.jpg  [train]  empty file" in printed or "train/Image_7.jpg  [val]  empty file" in printed
    assert "Image_8.jpg" in printed and "missing" in printed
    with open(out / "skipped.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["path"]: r["reason"] for r in rows} == {"train/Image_7.jpg": "empty file", "train/Image_8.jpg": "missing"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["layout"] == "kaggle" and len(summary["skipped"]) == 2
    with open(out / "class_counts.csv", newline="") as f:
        counts = {row["class"]: int(row["train"]) + int(row["val"]) for row in csv.DictReader(f)}
    assert sum(counts.values()) == 13
    for picture in ("class_distribution.png", "samples.png"):
        with Image.open(out / picture) as image:
            assert image.format == "PNG" and min(image.size) > 200
            assert np.asarray(image.convert("L")).std() > 5, f"{picture} is blank"

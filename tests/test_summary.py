"""``hartrace data summary``: numbers, report files and pictures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.patches import Wedge
from PIL import Image

from hartrace.cli import main
from hartrace.data import load_dataset
from hartrace.data.samples import DatasetIndex, Sample
from hartrace.data.summary import PIE_SLICES, class_pie_figure, describe, size_statistics
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


def test_summary_draws_the_class_distribution_as_pies_on_request(kaggle_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "pie"
    assert main(["data", "summary", str(kaggle_dir), "--out", str(out), "--chart", "pie", "--quiet"]) == 0
    fig = class_pie_figure(load_dataset(kaggle_dir, progress=False))
    pies = [ax for ax in fig.axes if any(isinstance(p, Wedge) for p in ax.patches)]
    assert [ax.get_title() for ax in pies] == ["train (12 images)", "val (3 images)"]
    assert [len(ax.patches) for ax in pies] == [3, 3]  # one slice per class, each labelled with its share
    assert {t.get_text() for t in pies[1].texts if t.get_text()} == {
        "calling\n33.3%",
        "running\n33.3%",
        "sitting\n33.3%",
    }
    with Image.open(out / "class_distribution.png") as image:
        assert image.size[0] > image.size[1]  # two pies side by side, not the bar chart's tall one
    with pytest.raises(SystemExit) as exited:  # argparse's own usage error: one line, exit 2
        main(["data", "summary", str(kaggle_dir), "--chart", "donut"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "invalid choice: 'donut'" in err and err.count("\n") == 1


def test_a_pie_of_many_classes_groups_the_smallest_and_lists_the_rest() -> None:
    classes = [f"action {i}" for i in range(40)]
    samples = [Sample(Path(f"{c}_{k}.jpg"), c) for c in range(40) for k in range(5 + c)]  # 980, action 39 the most
    fig = class_pie_figure(DatasetIndex(Path("stanford"), "stanford40", classes, {"train": samples}))
    (pie,) = fig.axes
    assert len(pie.patches) == PIE_SLICES == 16
    legend = [t.get_text() for t in pie.get_legend().get_texts()]  # thin slices: named in a legend
    assert legend[-1] == "other (25 classes) 43.4%"  # (25 * 5 + 0 + ... + 24) / 980
    assert legend[0].startswith("action 25 ")
    assert "the 25 smallest classes grouped" in fig._suptitle.get_text()

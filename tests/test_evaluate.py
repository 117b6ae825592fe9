"""evaluate and predict on a run trained in seconds (compare: tests/test_compare.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hartrace.workflows.evaluate import evaluate
from hartrace.workflows.predict import predict
from hartrace.workflows.train import train
from tests.conftest import colour_folder, make_image, quick_config, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(dataset, run folder) of a resnet_small trained for 2 epochs on the colour set."""
    root = tmp_path_factory.mktemp("eval")
    data = colour_folder(root / "colours")
    runs = root / "checkpoints"
    result = train(quick_config(data, runs / "colours-run"), progress=False, log=lambda m: None)
    return data, result.run_dir


def _looks_like_a_picture(path: Path, min_side: int = 200) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= min_side
        assert np.asarray(image.convert("L")).std() > 5, f"{path.name} is blank"


def test_evaluate_writes_report_matrix_predictions_and_gallery(trained: tuple[Path, Path]) -> None:
    _, run = trained
    result = evaluate(run, progress=False)
    assert result.out_dir == run / "eval" / "val"
    report = json.loads((result.out_dir / "eval.json").read_text())
    assert report["images"] == 6 and 0 <= report["accuracy"] <= 1 and report["top5_accuracy"] == 1.0
    assert set(report["per_class"]) == {"blue", "green", "red"}
    with open(result.out_dir / "confusion_matrix.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert [r[0] for r in rows] == ["blue", "green", "red"]
    assert all(sum(float(x) for x in r[1:]) == pytest.approx(1.0) for r in rows), "rows are normalised"
    with open(result.out_dir / "predictions.csv", newline="") as f:
        predictions = list(csv.DictReader(f))
    assert len(predictions) == 6
    assert all(
        sum(float(p[f"p_{c}"]) for c in ("blue", "green", "red")) == pytest.approx(1.0, abs=1e-4) for p in predictions
    )
    assert {p["path"] for p in predictions} == set(json.loads((run / "split.json").read_text())["val"])
    _looks_like_a_picture(result.out_dir / "confusion_matrix.png")
    _looks_like_a_picture(result.out_dir / "misclassified.png", min_side=100)  # may say "nothing to show"


def test_evaluate_command_prints_the_per_class_report(trained: tuple[Path, Path]) -> None:
    _, run = trained
    result = run_cli("evaluate", "--run", str(run), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "weighted avg" in result.stdout and "accuracy" in result.stdout and "top5 accuracy" in result.stdout


def test_predict_one_image_writes_csv_and_bars(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = trained
    result = predict([data / "red" / "red_00.png"], checkpoint=run / "best.pt", top_k=2, out=tmp_path, progress=False)
    (only,) = result.predictions
    assert len(only.top) == 2 and only.top[0][1] >= only.top[1][1]
    assert only.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert result.bars_path is not None
    _looks_like_a_picture(result.bars_path)


def test_predict_a_kaggle_test_folder_and_skips_bad_files(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, run = trained
    kaggle = tmp_path / "har"
    for i in range(3):
        make_image(kaggle / "test" / f"Image_{i}.jpg", seed=i)
    (kaggle / "test" / "Image_3.jpg").write_bytes(b"")
    (kaggle / "Testing_set.csv").write_text("filename\n" + "".join(f"Image_{i}.jpg\n" for i in range(4)))
    result = predict([kaggle], checkpoint=run / "best.pt", out=tmp_path / "out", progress=False)
    assert [p.path.name for p in result.predictions] == ["Image_0.jpg", "Image_1.jpg", "Image_2.jpg"]
    assert [(s.path.name, s.reason) for s in result.skipped] == [("Image_3.jpg", "empty file")]
    with open(result.csv_path, newline="") as f:
        assert len(list(csv.DictReader(f))) == 3


def test_predict_without_checkpoint_uses_the_latest_run(trained: tuple[Path, Path]) -> None:
    data, run = trained
    result = run_cli("predict", str(data / "blue"), "--runs-dir", str(run.parent), "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("blue_") == 12
    assert (run / "predictions" / "predictions.csv").is_file()

"""``hartrace compare``: the split it scores, the pivot beside the long table, the curves, what a cell keeps."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hartrace.cli import main
from hartrace.render import overlaid_curves_figure, pivot_heatmap_figure
from hartrace.workflows.compare import Cell, pivot_markdown, pivot_table, plan, scored_split
from tests.conftest import colour_folder, quick_config

TINY = ["--weights", "none", "--epochs", "1", "--batch-size", "4", "--max-batches", "1", "--workers", "0", "--quiet"]


def _with_test_split(root: Path) -> Path:
    """An ImageFolder with a labelled test/ beside train/ (as Stanford 40 or UCF101 have): 3 colours."""
    colour_folder(root / "train", per_class=6)
    colour_folder(root / "test", per_class=2)
    return root


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _a_picture(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 150
        assert np.asarray(image.convert("L")).std() > 5, f"{path.name} is blank"


def test_compare_scores_the_test_split_and_its_pivot_and_curves_agree_with_the_long_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = _with_test_split(tmp_path / "data"), tmp_path / "cmp"
    grid = ["--backbones", "resnet_small,vgg_bn_small", "--sizes", "32,48"]
    assert main(["compare", "--data", str(data), *grid, *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out

    rows = _csv(out / "results.csv")
    assert [(r["model"], r["pixels"], r["freeze"]) for r in rows] == [
        ("resnet_small", "32", "none"),
        ("resnet_small", "48", "none"),
        ("vgg_bn_small", "32", "none"),
        ("vgg_bn_small", "48", "none"),
    ]
    assert {r["split"] for r in rows} == {"test"}, "test by default where the dataset has labelled test images"
    for r in rows:
        report = json.loads((out / r["run"] / "eval" / "test" / "eval.json").read_text())
        assert report["images"] == 6, "the 6 test images were scored, not the 3 validation ones"
        assert float(r["accuracy"]) == round(100 * report["accuracy"], 1)
        assert sorted(p.name for p in (out / r["run"]).glob("*.pt")) == ["best.pt"], "last.pt is removed"
    accuracy = {(r["model"], f"{r['pixels']} px"): float(r["accuracy"]) for r in rows}

    pivot = _csv(out / "pivot.csv")
    assert [p["model"] for p in pivot] == ["resnet_small", "vgg_bn_small"] and {p["split"] for p in pivot} == {"test"}
    assert {(p["model"], px): float(p[px]) for p in pivot for px in ("32 px", "48 px")} == accuracy
    markdown = (out / "pivot.md").read_text()
    assert markdown.startswith("## accuracy (%) on the test split, freeze none\n")
    for model in ("resnet_small", "vgg_bn_small"):
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {model} |"))
        assert line == f"| {model} | {accuracy[model, '32 px']:.1f} | {accuracy[model, '48 px']:.1f} |"
    assert "–" not in markdown, "every cell was scored"
    assert (out / "results.md").read_text().startswith("## every cell, scored on the test split\n")
    assert "## every cell, scored on the test split" in printed and "test accuracy" in printed
    assert markdown in printed, "the pivot is printed as it is written"

    curves = _csv(out / "curves.csv")
    assert {c["run"] for c in curves} == {r["run"] for r in rows}
    for c in curves:
        (epoch,) = _csv(out / c["run"] / "metrics.csv")
        assert c["epoch"] == epoch["epoch"] == "1"
        assert float(c["val_loss"]) == pytest.approx(float(epoch["val_loss"]))
        assert float(c["val_accuracy"]) == pytest.approx(float(epoch["val_accuracy"]))
    _a_picture(out / "pivot.png")
    _a_picture(out / "curves.png")

    cell = out / rows[0]["run"]
    assert main(["train", "--resume", str(cell), "--quiet"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no last.pt to resume from" in line


def test_keep_last_keeps_each_cells_last_checkpoint_and_val_can_be_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = _with_test_split(tmp_path / "data"), tmp_path / "cmp"
    argv = ["compare", "--data", str(data), "--backbones", "resnet_small", "--sizes", "32", "--split", "val"]
    assert main([*argv, "--keep-last", *TINY, "--out", str(out)]) == 0
    (row,) = _csv(out / "results.csv")
    assert row["split"] == "val" and (out / row["run"] / "eval" / "val" / "eval.json").is_file()
    assert sorted(p.name for p in (out / row["run"]).glob("*.pt")) == ["best.pt", "last.pt"]
    assert (out / "pivot.md").read_text().startswith("## accuracy (%) on the validation split")
    assert "on the validation split" in capsys.readouterr().out


def test_asking_for_a_test_split_that_is_not_there_is_one_line_before_any_training(
    tmp_path: Path, kaggle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = colour_folder(tmp_path / "flat", per_class=4)
    for data in (flat, kaggle_dir):  # no test/ at all; a test/ without labels (Kaggle's Testing_set.csv)
        out = tmp_path / f"cmp-{data.name}"
        assert (
            main(
                [
                    "compare",
                    "--data",
                    str(data),
                    "--backbones",
                    "resnet_small",
                    "--split",
                    "test",
                    *TINY,
                    "--out",
                    str(out),
                ]
            )
            == 2
        )
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "has no labelled test split: use --split val" in line
        assert not out.exists(), "nothing trained, nothing written"
        assert scored_split(quick_config(data, out), None) == "val", "the default where there is no labelled test"
    assert scored_split(quick_config(_with_test_split(tmp_path / "data"), tmp_path / "x"), None) == "test"
    carved = quick_config(kaggle_dir, tmp_path / "x", test_fraction=0.4)
    assert scored_split(carved, None) == "test", "Kaggle's labelled test split, once --test-fraction holds one out"
    out = tmp_path / "cmp-dropout"
    args = ["compare", "--data", str(flat), "--backbones", "resnet_small,resnet50", "--dropout", "0.2", *TINY]
    assert main([*args, "--out", str(out)]) == 2, "resnet50 has no dropout: refused before resnet_small trains"
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "resnet50 has no dropout layer" in line and not out.exists()


def test_the_pivot_names_several_freeze_policies_marks_cells_not_yet_scored_and_trains_no_cell_twice() -> None:
    cells = [
        Cell(model, px, freeze, px, freeze)
        for model in ("resnet50", "mobilenet_v2")
        for px in (224, 112)
        for freeze in ("trunk", "none")
    ]
    done = [{"model": "resnet50", "pixels": 224, "freeze": "none", "accuracy": 81.25}]
    pivot = pivot_table(cells, done, "test")
    assert pivot.column_labels == ["112 px · trunk", "112 px · none", "224 px · trunk", "224 px · none"]
    assert pivot.values == [[None, None, None, 81.25], [None, None, None, None]]
    markdown = pivot_markdown(pivot)
    assert markdown.startswith("## accuracy (%) on the test split\n"), "no single freeze policy to name"
    assert "| resnet50 | – | – | – | 81.2 |" in markdown and "1 of 8 cells scored" in markdown

    same_run = plan(quick_config(Path("data"), Path("out")), ["resnet_small"], [32, None], ["none", None])
    assert [cell.name for cell in same_run] == ["resnet_small-32px-freeze_none"], "one run, trained once"


def test_the_heatmap_writes_every_number_and_the_curves_name_every_cell() -> None:
    grid = np.array([[81.25, np.nan], [40.0, 95.5]])
    fig = pivot_heatmap_figure(grid, ["a", "b"], ["112 px", "224 px"], "accuracy (%) on the test split")
    (ax, _) = fig.axes
    assert ax.get_title() == "accuracy (%) on the test split"
    assert [t.get_text() for t in ax.texts] == ["81.2", "–", "40.0", "95.5"]

    history = [{"epoch": 1, "val_loss": 1.0, "val_accuracy": 0.5}, {"epoch": 2, "val_loss": 0.8, "val_accuracy": 0.7}]
    fig = overlaid_curves_figure({"a-112px": history, "b-224px": history[:1]}, "scored on the test split")
    loss_ax, acc_ax = fig.axes
    assert [text.get_text() for text in fig.legends[0].get_texts()] == ["a-112px", "b-224px"]
    assert list(acc_ax.lines[0].get_ydata()) == [50.0, 70.0]
    stars = [line for line in loss_ax.lines if line.get_marker() == "*"]
    assert [(float(s.get_xdata()[0]), float(s.get_ydata()[0])) for s in stars] == [(2.0, 0.8), (1.0, 1.0)]

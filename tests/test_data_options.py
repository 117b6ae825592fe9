"""Data-side training options: a test split carved where a layout has none (``--test-fraction``), and
augmentation by named parts (``--augment crop,flip,rotate=15``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torchvision.transforms import v2

from hartrace.base.errors import UsageError
from hartrace.cli import main
from hartrace.data import load_dataset
from hartrace.data.augment import AugmentConfig
from hartrace.data.clips import video_train_transform
from hartrace.data.transforms import eval_transform, train_transform
from hartrace.runs.checkpoint import read_checkpoint
from hartrace.workflows.evaluate import evaluate
from hartrace.workflows.train import read_config_file, resolve_config, resume
from tests.conftest import colour_folder, make_image
from tests.test_layouts import _stanford

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLASSES = ("calling", "running", "sitting")


def _kaggle(root: Path, per_class: int = 10) -> Path:
    """The Kaggle layout: ``per_class`` labelled training images per class, and an unlabelled test/."""
    rows = []
    for c, label in enumerate(CLASSES):
        for i in range(per_class):
            name = f"Image_{c * per_class + i + 1}.jpg"
            make_image(root / "train" / name, size=(24, 24), seed=c * 100 + i)
            rows.append(f"{name},{label}\n")
    (root / "Training_set.csv").write_text("filename,label\n" + "".join(rows))
    make_image(root / "test" / "Image_1.jpg", size=(24, 24), seed=999)
    (root / "Testing_set.csv").write_text("filename\nImage_1.jpg\n")
    return root


def _names(index, split: str) -> set[str]:
    return {index.relative(s.path) for s in index.splits[split]}


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (argv, lines)
    return lines[0]


def test_a_test_split_is_carved_saved_reused_and_scored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _kaggle(tmp_path / "har")
    assert main(["data", "summary", str(data), "--test-fraction", "0.2", "--out", str(tmp_path / "summary"), "-q"]) == 0
    table = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert table["class"] == ["train", "val", "test"], "three labelled splits; the unlabelled test/ is left out"
    for name in CLASSES:  # 10 a class: 2 to test, then 2 of the 8 left to val
        assert table[name] == ["6", "2", "2"], (name, table[name])

    first = load_dataset(data, test_fraction=0.2, progress=False)
    saved = json.loads((data / ".hartrace" / "split-test20-val20-seed0.json").read_text())
    assert sorted(saved["test"]) == sorted(_names(first, "test")) and saved["test_fraction"] == 0.2
    assert all(s.label is not None for s in first.splits["test"])
    assert not _names(first, "test") & (_names(first, "train") | _names(first, "val"))
    assert not (data / ".hartrace" / "split-val20-seed0.json").exists(), "the plain split is a file of its own"

    parts: list[AugmentConfig] = []  # the augmentation each training run builds
    from hartrace.workflows.train import trainer

    real = trainer.training_dataset

    def recording(samples, spec, augment, frame_counts):
        parts.append(augment)
        return real(samples, spec, augment, frame_counts)

    monkeypatch.setattr(trainer, "training_dataset", recording)
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(run), "--backbone", "resnet_small", "--weights", "none"]
    argv += ["--image-size", "32", "--epochs", "1", "--batch-size", "8", "--workers", "0", "--max-batches", "1"]
    assert main([*argv, "--test-fraction", "0.2", "--augment", "crop,flip,rotate=15", "-q"]) == 0
    run_split = json.loads((run / "split.json").read_text())
    for split in ("train", "val", "test"):
        assert sorted(run_split[split]) == sorted(saved[split]), f"the dataset's saved {split} split"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["augment"] == "crop=0.5,flip,rotate=15" and config["test_fraction"] == 0.2
    assert read_checkpoint(run / "last.pt")["meta"]["config"]["augment"] == "crop=0.5,flip,rotate=15"
    assert parts[-1] == AugmentConfig(rotation_degrees=15.0, color_jitter=0.0)

    said: list[str] = []
    resume(run, progress=False, log=said.append)  # its one epoch is done: it rebuilds, trains nothing more
    assert any("train 18 val 6 test 6 (held out)" in line for line in said), said
    assert parts[-1] == parts[0] and len(parts) == 2, "the resumed run rebuilds the same parts"
    assert sorted(json.loads((run / "split.json").read_text())["test"]) == sorted(saved["test"])

    result = evaluate(run, split="test", progress=False, workers=0)
    with (result.out_dir / "predictions.csv").open(newline="") as rows:
        scored = {row["path"]: row["true"] for row in csv.DictReader(rows)}
    truth = {first.relative(s.path): first.classes[s.label] for s in first.splits["test"]}
    assert scored == truth and result.report["split"] == "test", "exactly the held-out images, with their labels"

    make_image(data / "train" / "Image_late.jpg", size=(24, 24), seed=7)  # added after the split was saved
    with (data / "Training_set.csv").open("a") as csv_file:
        csv_file.write("Image_late.jpg,running\n")
    later = load_dataset(data, test_fraction=0.2, check_images=False, progress=False)
    for split in ("train", "val", "test"):
        assert _names(later, split) - {"train/Image_late.jpg"} == _names(first, split), f"{split} never moves"
    again = load_dataset(data, test_fraction=0.2, check_images=False, progress=False)
    assert [_names(again, split) for split in ("train", "val", "test")] == [
        _names(later, split) for split in ("train", "val", "test")
    ], "a file added later lands in the same split every time"

    line = _one_line_exit_2(
        ["data", "summary", str(data), "--split-file", str(run / "split.json"), "--test-fraction", "0.3"], capsys
    )
    assert "test fraction of 0.2" in line


def test_a_layout_with_its_own_labelled_test_split_refuses_a_test_fraction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stanford = _stanford(tmp_path / "Stanford40")
    folders = tmp_path / "folders"
    colour_folder(folders / "train", per_class=3, size=8)
    colour_folder(folders / "test", per_class=1, size=8)
    for root, layout in ((stanford, "stanford40"), (folders, "imagefolder")):
        line = _one_line_exit_2(["data", "summary", str(root), "--test-fraction", "0.2", "-q"], capsys)
        assert f"({layout} layout) has its own labelled test split" in line, line
        with pytest.raises(UsageError, match="its own labelled test split"):
            load_dataset(root, test_fraction=0.2, check_images=False, progress=False)
    line = _one_line_exit_2(["train", "--data", str(folders), "--test-fraction", "1.5", "-q"], capsys)
    assert "--test-fraction must be at least 0 and below 1" in line


def _kinds(transform: v2.Compose) -> list[type]:
    return [type(step) for step in transform.transforms]


def test_augmentation_parts_build_exactly_those_steps(tmp_path: Path) -> None:
    tail = [v2.ToImage, v2.ToDtype, v2.Normalize]
    seed_core = train_transform(32, MEAN, STD, AugmentConfig.parse("crop,flip"))
    assert _kinds(seed_core) == [v2.RandomResizedCrop, v2.RandomHorizontalFlip, *tail]
    assert seed_core.transforms[0].scale == (0.5, 1.0)

    named = train_transform(32, MEAN, STD, AugmentConfig.parse("crop,flip,rotate=15,jitter=0.2"))
    assert _kinds(named) == [v2.RandomResizedCrop, v2.RandomHorizontalFlip, v2.RandomRotation, v2.ColorJitter, *tail]
    rotation, jitter = named.transforms[2], named.transforms[3]
    assert rotation.degrees == [-15.0, 15.0]
    assert jitter.brightness == pytest.approx((0.8, 1.2)) and jitter.hue == pytest.approx((-0.05, 0.05))
    crop_only = train_transform(32, MEAN, STD, AugmentConfig.parse("crop=0.3"))
    assert _kinds(crop_only) == [v2.RandomResizedCrop, *tail] and crop_only.transforms[0].scale == (0.3, 1.0)
    doubled = train_transform(32, MEAN, STD, AugmentConfig.parse("crop,rotate=15", strength=2.0))
    assert doubled.transforms[0].scale == (0.08, 1.0) and doubled.transforms[1].degrees == [-30.0, 30.0]
    no_crop = train_transform(32, MEAN, STD, AugmentConfig.parse("flip"))
    assert _kinds(no_crop) == [v2.Resize, v2.CenterCrop, v2.RandomHorizontalFlip, *tail], "eval's crop, then flip"

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    default_before_parts = v2.Compose(  # `on` as it was before parts could be named
        [
            v2.RandomResizedCrop(32, scale=(0.5, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomRotation(10.0),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05),
            *eval_transform(32, MEAN, STD).transforms[2:],
        ]
    )
    on = train_transform(32, MEAN, STD, AugmentConfig.parse("on"))
    for seed in range(3):
        torch.manual_seed(seed)
        expected = default_before_parts(image)
        torch.manual_seed(seed)
        assert torch.equal(on(image), expected)
    off = train_transform(32, MEAN, STD, AugmentConfig.parse("off"))
    assert torch.equal(off(image), eval_transform(32, MEAN, STD)(image))

    clip_steps = video_train_transform(32, MEAN, STD, AugmentConfig.parse("on")).pipeline.transforms
    assert v2.RandomRotation not in map(type, clip_steps) and v2.ColorJitter in map(type, clip_steps)
    with pytest.raises(UsageError, match="rotate does not apply to video clips"):
        video_train_transform(32, MEAN, STD, AugmentConfig.parse("crop,rotate=15"))


def test_bad_augmentation_parts_are_one_line_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = colour_folder(tmp_path / "colours", per_class=2, size=8)
    runs = tmp_path / "runs"
    for text, words in (
        ("crop,blur", "unknown augmentation part 'blur'; known parts: crop[=MIN_SCALE], flip, rotate"),
        ("rotate=lots", "rotate=lots is not a number"),
        ("crop=1.5", "crop=1.5 is out of range"),
        ("flip=0.5", "flip takes no value"),
        ("flip,flip", "flip is given twice"),
        ("on,rotate=5", "on stands alone"),
    ):
        line = _one_line_exit_2(["train", "--data", str(data), "--runs-dir", str(runs), "--augment", text], capsys)
        assert words in line, line
    assert not runs.exists(), "refused before a run folder is made"

    config_file = tmp_path / "run.yaml"  # true/false: configs saved before parts could be named
    for value, spelt in (
        ("true", "on"),
        ("false", "off"),
        ("crop,flip,rotate=10,jitter=0.2", "on"),
        ("Crop=0.50,FLIP", "crop=0.5,flip"),
    ):
        config_file.write_text(f"augment: {value}\n")
        assert resolve_config(read_config_file(config_file)).augment == spelt

"""Seeded, stratified, saved validation splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hartrace.data import load_dataset
from hartrace.data.splits import stratified_split
from hartrace.errors import DataError
from tests.conftest import make_image

KEYS = [f"img{i:03d}.jpg" for i in range(100)]
LABELS = [i % 4 if i < 80 else 4 for i in range(100)]  # four classes of 20, one of 20


def test_same_seed_same_split_and_different_seed_differs() -> None:
    first = stratified_split(KEYS, LABELS, 0.2, seed=7)
    assert stratified_split(KEYS, LABELS, 0.2, seed=7) == first
    assert stratified_split(KEYS, LABELS, 0.2, seed=8) != first


def test_split_is_stratified_per_class() -> None:
    train, val = stratified_split(KEYS, LABELS, 0.2, seed=0)
    label_of = dict(zip(KEYS, LABELS, strict=True))
    assert sorted(train + val) == sorted(KEYS) and not set(train) & set(val)
    assert Counter(label_of[k] for k in val) == {0: 4, 1: 4, 2: 4, 3: 4, 4: 4}


def test_tiny_classes_keep_one_of_each() -> None:
    train, val = stratified_split(["a", "b", "c"], [0, 0, 1], 0.2, seed=0)
    assert len(val) == 1 and val[0] in ("a", "b")
    assert "c" in train, "a class with one image stays in training"


def test_bad_fraction_is_an_error() -> None:
    with pytest.raises(DataError, match="between 0 and 1"):
        stratified_split(KEYS, LABELS, 1.5, seed=0)


def _folder(root: Path, per_class: int) -> Path:
    for c in ("hugging", "fighting"):
        for i in range(per_class):
            path = root / c / f"{i:02d}.png"
            if not path.exists():
                make_image(path, size=(8, 8), fmt="PNG", seed=i)
    return root


def test_split_is_saved_and_held_out_images_never_move(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", 10)
    first = load_dataset(root, seed=3, progress=False)
    assert first.split_file == root / ".hartrace" / "split-val20-seed3.json"
    saved = json.loads(first.split_file.read_text())
    assert len(saved["val"]) == 4
    held_out = {s.path for s in first.splits["val"]}
    _folder(root, 30)  # the dataset grows
    second = load_dataset(root, seed=3, progress=False)
    assert held_out <= {s.path for s in second.splits["val"]}
    assert not held_out & {s.path for s in second.splits["train"]}
    assert 6 <= len(second.splits["val"]) <= 20, "new files are hashed into val at about the fraction"


def test_explicit_split_file_is_reused(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", 10)
    run_split = tmp_path / "run" / "split.json"
    made = load_dataset(root, split_file=run_split, seed=1, progress=False)
    assert run_split.exists()
    again = load_dataset(root, split_file=run_split, seed=99, progress=False)
    assert {s.path for s in again.splits["val"]} == {s.path for s in made.splits["val"]}


def test_corrupt_split_file_is_an_error(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", 4)
    bad = tmp_path / "split.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_dataset(root, split_file=bad, progress=False)

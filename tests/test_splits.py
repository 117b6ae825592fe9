"""Seeded, stratified, saved validation splits."""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from hartrace.base.errors import DataError
from hartrace.data import load_dataset
from hartrace.data.splits import group_of, resolve_splits, stratified_split
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


def _clip_group(key: str) -> str:
    return key.rsplit("_c", 1)[0]


def test_groups_stay_whole_and_tiny_classes_keep_their_rules() -> None:
    keys = [f"{c}_g{g:02d}_c{i}" for c in "ab" for g in range(1, 11) for i in range(1 + g % 3)]
    keys += ["z_g01_c0", "z_g01_c1"]  # a class whose clips all come from one recording
    labels = [{"a": 0, "b": 1, "z": 2}[key[0]] for key in keys]
    train, val = stratified_split(keys, labels, 0.2, seed=0, group=_clip_group)
    assert sorted(train + val) == sorted(keys)
    assert not {_clip_group(k) for k in train} & {_clip_group(k) for k in val}
    assert {"z_g01_c0", "z_g01_c1"} <= set(train), "a class with one group stays in training"
    for c in "ab":
        held = sum(k.startswith(c) for k in val)
        assert 3 <= held <= 5, "whole groups (of 1-3 clips), as close to the class's 20% (4 of 20) as they come"
    assert stratified_split(keys, labels, 0.2, seed=0, group=_clip_group) == (train, val)


def test_two_groups_give_one_to_each_side() -> None:
    train, val = stratified_split(["g1_c1", "g1_c2", "g2_c1"], [0, 0, 0], 0.9, seed=0, group=_clip_group)
    assert {_clip_group(k) for k in train} | {_clip_group(k) for k in val} == {"g1", "g2"} and train and val


def test_ungrouped_layouts_split_exactly_as_files() -> None:
    kaggle = partial(group_of, "kaggle")
    assert stratified_split(KEYS, LABELS, 0.2, seed=5, group=kaggle) == stratified_split(KEYS, LABELS, 0.2, seed=5)
    assert group_of("ucf101", "UCF-101/HandstandPushups/v_HandStandPushups_g08_c01.avi").endswith("_g08")
    assert group_of("hmdb51", "wave/Hi_(1)_wave_u_cm_np1_fr_goo_12.avi") == "wave/Hi_(1)_wave_u_cm_np1_fr_goo"
    assert group_of("stanford40", "JPEGImages/applauding_001.jpg") == "JPEGImages/applauding_001.jpg"


def test_a_later_clip_joins_its_groups_side(tmp_path: Path) -> None:
    keys = [f"g{g}_c{i}" for g in range(10) for i in range(3)]
    split_file = tmp_path / "split.json"
    val = resolve_splits(keys, [0] * len(keys), 0.2, 0, split_file, _clip_group)["val"]
    held_groups = {_clip_group(k) for k in val}
    later = [f"g{g}_c9" for g in range(10)] + [f"new{n}_c{i}" for n in range(40) for i in range(2)]
    sides = resolve_splits(keys + later, [0] * (len(keys) + len(later)), 0.2, 0, split_file, _clip_group)
    train2, val2 = sides["train"], sides["val"]
    assert val <= val2 and {k for k in later[:10] if _clip_group(k) in held_groups} <= val2
    assert not {_clip_group(k) for k in train2} & {_clip_group(k) for k in val2}, "new groups are hashed whole"
    assert 0 < sum(k.startswith("new") for k in val2) < 80


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
    with pytest.raises(DataError, match="split file not found"):
        load_dataset(root, split_file=run_split, seed=1, progress=False)  # a typo is not a new split
    assert not run_split.exists()
    made = load_dataset(root, seed=1, progress=False)
    run_split.parent.mkdir()
    run_split.write_bytes(made.split_file.read_bytes())
    again = load_dataset(root, split_file=run_split, seed=99, progress=False)
    assert {s.path for s in again.splits["val"]} == {s.path for s in made.splits["val"]}


def test_corrupt_split_file_is_an_error(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", 4)
    bad = tmp_path / "split.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_dataset(root, split_file=bad, progress=False)

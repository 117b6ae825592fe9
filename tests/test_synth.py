"""The embedded synthetic dataset: reproducible files, the Kaggle layout, honest evidence masks."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.synth import ACTIONS, SynthReport, generate, render_scene
from hartrace.synth.scene import sample_scene

SMALL = dict(per_class=3, test_per_class=2, size=64, seed=7, progress=False)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthReport]:
    root = tmp_path_factory.mktemp("synth") / "set"
    return root, generate(root, workers=2, **SMALL)


def _scenes(n_per_action: int, size: int = 96, seed: int = 0):
    for i, action in enumerate(ACTIONS):
        for j in range(n_per_action):
            yield action, sample_scene(action, np.random.default_rng([seed, i, j]), size)


def test_same_seed_gives_identical_bytes_whatever_the_worker_count(small_set, tmp_path: Path) -> None:
    root, _ = small_set
    again = tmp_path / "again"
    generate(again, workers=1, **SMALL)
    a, b = _files(root), _files(again)
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert different == [], f"files differ between runs with the same seed: {different[:5]}"


def test_a_different_seed_gives_different_images(small_set, tmp_path: Path) -> None:
    root, _ = small_set
    other = tmp_path / "other"
    generate(other, workers=1, **{**SMALL, "seed": 8})
    same = [p.name for p in (root / "train").iterdir() if p.read_bytes() == (other / "train" / p.name).read_bytes()]
    assert same == []


def test_writes_the_kaggle_layout_with_masks_and_answer_key(small_set) -> None:
    root, report = small_set
    assert report.root == root and report.n_train == 15 * 3 and report.n_test == 15 * 2
    assert report.seconds > 0 and report.images_per_second > 0

    train = _rows(root / "Training_set.csv")
    assert train[0] == ["filename", "label"]
    assert [r[0] for r in train[1:]] == [f"Image_{i}.jpg" for i in range(1, 46)]
    assert Counter(r[1] for r in train[1:]) == {a: 3 for a in ACTIONS}
    assert [r[1] for r in train[1:]] != sorted(r[1] for r in train[1:]), "classes are shuffled"

    test = _rows(root / "Testing_set.csv")
    assert test[0] == ["filename"] and all(len(r) == 1 for r in test)
    assert [r[0] for r in test[1:]] == [f"Image_{i}.jpg" for i in range(1, 31)]
    key = _rows(root / "Testing_set_labels.csv")
    assert key[0] == ["filename", "label"] and [r[0] for r in key[1:]] == [r[0] for r in test[1:]]
    assert Counter(r[1] for r in key[1:]) == {a: 2 for a in ACTIONS}

    assert (root / "classes.txt").read_text().splitlines() == list(ACTIONS)
    for split, n in (("train", 45), ("test", 30)):
        assert sorted(p.name for p in (root / split).iterdir()) == sorted(f"Image_{i}.jpg" for i in range(1, n + 1))
        assert sorted(p.name for p in (root / "masks" / split).iterdir()) == sorted(
            f"Image_{i}.png" for i in range(1, n + 1)
        )
    with Image.open(root / "train" / "Image_1.jpg") as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (64, 64))
    assert not list(root.rglob("*.tmp")), "no temporary files are left behind"


def test_every_mask_file_is_a_non_empty_binary_image_of_the_image_size(small_set) -> None:
    root, _ = small_set
    for split in ("train", "test"):
        for image_path in (root / split).iterdir():
            with Image.open(root / "masks" / split / (image_path.stem + ".png")) as m, Image.open(image_path) as im:
                assert m.mode == "L" and m.size == im.size
                values = np.asarray(m)
            assert set(np.unique(values)) <= {0, 255}
            assert (values == 255).sum() >= 20, f"{split}/{image_path.name} has an (almost) empty mask"


def test_render_scene_returns_an_image_and_its_mask() -> None:
    image, mask = render_scene("calling", np.random.default_rng(3), 80)
    assert image.mode == "RGB" and image.size == (80, 80)
    assert mask.dtype == bool and mask.shape == (80, 80) and mask.any() and not mask.all()
    again, mask2 = render_scene("calling", np.random.default_rng(3), 80)
    assert np.array_equal(np.asarray(image), np.asarray(again)) and np.array_equal(mask, mask2)


def test_mask_lies_on_what_the_figure_and_its_props_drew() -> None:
    """Redraw each scene without figure, props and distractors: every mask pixel must have changed."""
    for action, scene in _scenes(3):
        full = scene.render()
        bare = scene.render(roles=("clutter",))
        diff = np.abs(full.image.astype(int) - bare.image.astype(int)).max(axis=2)
        on = diff[full.mask]
        assert on.size >= 30, f"{action}: mask too small ({on.size} px)"
        assert (on > 0).all(), f"{action}: {(on == 0).sum()} mask pixels show untouched background"
        assert (on > 12).mean() > 0.95, f"{action}: mask pixels barely differ from the background"


def test_distractors_are_drawn_but_never_in_the_mask() -> None:
    with_distractors = 0
    for action, scene in _scenes(4):
        full = scene.render()
        without = scene.render(roles=("clutter", "figure", "prop"))
        changed = (np.abs(full.image.astype(int) - without.image.astype(int)).max(axis=2) > 0).astype(np.uint8)
        core = cv2.erode(changed, np.ones((3, 3), np.uint8)).astype(bool)  # away from anti-aliased borders
        if core.sum() >= 10:
            with_distractors += 1
        assert not (core & full.mask).any(), f"{action}: a distractor prop is in the evidence mask"
        assert not (full.visible("distractor") & full.mask).any()
    assert with_distractors >= 0.5 * 4 * len(ACTIONS), "too few scenes have distractor props"


def test_figures_vary_in_position_scale_and_facing() -> None:
    centres, areas, left = [], [], 0
    for _action, scene in _scenes(3, size=96):
        mask = scene.render().mask
        ys, xs = np.nonzero(mask)
        centres.append((xs.mean(), ys.mean()))
        areas.append(mask.sum())
        left += scene.mirror
    centres = np.array(centres)
    assert centres[:, 0].std() > 5 and centres[:, 1].std() > 3, "figures are always in the same place"
    assert max(areas) > 2 * min(areas)
    assert 0.2 < left / len(areas) < 0.8, "scenes are mirrored about half of the time"


def test_refuses_a_non_empty_folder_that_is_not_a_synthetic_set(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    with pytest.raises(UsageError, match="not empty"):
        generate(folder, **SMALL)
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.txt"], "nothing was written"
    file_path = tmp_path / "a_file"
    file_path.write_text("x")
    with pytest.raises(UsageError):
        generate(file_path, **SMALL)


def test_overwrites_an_earlier_synthetic_set_without_leftovers(tmp_path: Path) -> None:
    root = tmp_path / "set"
    generate(root, workers=1, **{**SMALL, "per_class": 2})
    with pytest.raises(UsageError, match="--overwrite"):
        generate(root, workers=1, **{**SMALL, "per_class": 1, "test_per_class": 1})
    assert len(list((root / "train").iterdir())) == 30, "a refused regeneration leaves the set as it was"
    report = generate(root, workers=1, overwrite=True, **{**SMALL, "per_class": 1, "test_per_class": 1})
    assert report.n_train == 15
    assert len(list((root / "train").iterdir())) == 15 and len(list((root / "masks" / "train").iterdir())) == 15
    assert len(list((root / "test").iterdir())) == 15


@pytest.mark.parametrize(
    "kwargs",
    [dict(per_class=0), dict(test_per_class=-1), dict(size=32), dict(seed=-1), dict(workers=0), dict(per_class=2.5)],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(UsageError) as info:
        generate(tmp_path / "out", **{**SMALL, **kwargs})
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_unknown_action_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="swimming"):
        render_scene("swimming", np.random.default_rng(0), 64)

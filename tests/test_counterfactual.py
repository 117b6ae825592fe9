"""Counterfactual renders: a synthetic image regenerated exactly, and redrawn without each part, nothing else."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.data.concepts import read_concept_map
from hartrace.synth import generate
from hartrace.synth.counterfactual import Counterfactuals, SyntheticSource, redraw_without
from hartrace.synth.draw import Part
from hartrace.synth.parts import CONCEPTS, concept_of
from hartrace.synth.video import FORMAT as VIDEO_FORMAT
from hartrace.synth.writer import MARKER
from tests.conftest import colour_folder

ACTIONS_SHOWN = ("calling", "cycling", "using_laptop", "hugging")


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticSource]:
    root = tmp_path_factory.mktemp("counterfactual") / "set"
    generate(root, per_class=1, test_per_class=1, size=64, seed=4, workers=1, progress=False)
    source = SyntheticSource.open(root)
    assert source is not None
    return root, source


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def _drops(name: str) -> Callable[[Part], bool]:
    if name == "clutter":
        return lambda p: p.role == "clutter"
    if name == "evidence":
        return lambda p: p.evidence
    return lambda p: concept_of(p.name, p.role) == name


def _images(root: Path, source: SyntheticSource) -> list[Path]:
    train = [root / "train" / f"Image_{source.labels['train'].index(a) + 1}.jpg" for a in ACTIONS_SHOWN]
    return train + [root / "test" / "Image_1.jpg"]


def test_regenerates_each_image_exactly_and_removes_one_part_and_nothing_else(synth_set) -> None:
    root, source = synth_set
    paths = _images(root, source)
    assert {source.scene(p).mirror for p in paths} == {False, True}  # both frames are covered
    for path in paths:
        cf = source.counterfactuals(path)
        scene = source.scene(path)
        assert cf.action == scene.action and cf.original.dtype == np.uint8
        np.testing.assert_array_equal(cf.original, _pixels(path))
        on_disk = read_concept_map(root, path)
        np.testing.assert_array_equal(cf.rendered.concept_map(), on_disk)
        assert cf.evidence is not None
        with Image.open(root / "masks" / cf.split / f"{path.stem}.png") as mask_file:
            np.testing.assert_array_equal(cf.evidence.mask, np.asarray(mask_file) > 0)

        present = {CONCEPTS[i] for i in np.unique(on_disk) if i}
        assert set(cf.names) == present | {"clutter"} and "background" not in cf.names
        wall = redraw_without(scene, lambda p: True).image
        for removal in (*cf.removals, cf.evidence):
            drop = _drops(removal.name)
            after = removal.rendered.concept_map()
            if removal.name in present:
                np.testing.assert_array_equal(removal.mask, on_disk == CONCEPTS.index(removal.name))
                assert CONCEPTS.index(removal.name) not in after
            kept = {CONCEPTS[i] for i in np.unique(after) if i}
            dropped = {c: [drop(p) for p in scene.parts if p.role != "clutter" and _drops(c)(p)] for c in present}
            assert not kept & {c for c, d in dropped.items() if all(d)}, (path.name, removal.name)
            assert {c for c, d in dropped.items() if not any(d)} <= kept, (path.name, removal.name)
            # nothing changes outside where the removed parts are drawn (hidden pixels and anti-aliased rims included)
            changed = np.any(removal.rendered.image != cf.rendered.image, axis=-1)
            drawn = np.any(redraw_without(scene, lambda p, d=drop: not d(p)).image != wall, axis=-1)
            np.testing.assert_array_equal(removal.changed, changed)
            assert not (changed & ~_dilate(drawn, 1)).any(), (path.name, removal.name)
            assert removal.mask.any()
            assert removal.image.shape == cf.original.shape and removal.image.dtype == np.uint8
            assert np.abs(removal.image.astype(int) - cf.original)[removal.mask].mean() > 4  # the part is gone
        assert not cf.evidence.rendered.mask.any()
        assert not cf["clutter"].rendered.visible("clutter").any()
        np.testing.assert_array_equal(cf["clutter"].rendered.concept_map(), on_disk)  # clutter is background

    hugging = source.scene(paths[ACTIONS_SHOWN.index("hugging")])
    assert sum(concept_of(p.name, p.role) == "head" for p in hugging.parts) == 2  # one "head" removal takes both


def test_the_same_image_twice_gives_identical_arrays(synth_set) -> None:
    root, source = synth_set
    path = root / "train" / f"Image_{source.labels['train'].index('calling') + 1}.jpg"
    first, again = source.counterfactuals(path), source.counterfactuals(str(path))

    def arrays(cf: Counterfactuals) -> list[np.ndarray]:
        removals = (*cf.removals, cf.evidence)
        return [cf.original] + [a for r in removals for a in (r.mask, r.image, r.changed)]

    assert first.names == again.names
    for a, b in zip(arrays(first), arrays(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_paths_that_are_not_images_of_the_set_and_edited_files_are_one_line_usage_errors(
    synth_set, tmp_path: Path
) -> None:
    root, source = synth_set
    outside = tmp_path / "Image_1.jpg"
    shutil.copy(root / "train" / "Image_1.jpg", outside)
    for path in (outside, root / "train" / "Image_99.jpg", root / "masks" / "train" / "Image_1.png", root / "train"):
        with pytest.raises(UsageError) as info:
            source.counterfactuals(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    shutil.copy(copy / "train" / "Image_2.jpg", copy / "train" / "Image_1.jpg")
    edited = SyntheticSource.open(copy)
    assert edited is not None and edited.counterfactuals(copy / "train" / "Image_2.jpg").removals
    with pytest.raises(UsageError, match="differs from its regenerated scene") as info:
        edited.counterfactuals(copy / "train" / "Image_1.jpg")
    assert "\n" not in str(info.value)


def test_open_skips_other_folders_and_refuses_sets_it_cannot_regenerate(synth_set, tmp_path: Path) -> None:
    root, source = synth_set
    assert source.root == root.resolve() and source.size == 64 and source.seed == 4 and source.jpeg_quality == 90
    assert len(source.labels["train"]) == 15 and len(source.labels["test"]) == 15
    assert SyntheticSource.open(colour_folder(tmp_path / "colours", per_class=1)) is None  # a user's own data
    assert SyntheticSource.open(tmp_path / "missing") is None
    video = tmp_path / "video"
    video.mkdir()
    (video / MARKER).write_text(json.dumps({"format": VIDEO_FORMAT, "version": 1, "complete": True}))
    assert SyntheticSource.open(video) is None

    meta = json.loads((root / MARKER).read_text())
    older = tmp_path / "older"  # written before the marker recorded the JPEG quality
    older.mkdir()
    (older / MARKER).write_text(json.dumps({k: v for k, v in meta.items() if k != "jpeg_quality"}))
    assert meta["jpeg_quality"] == 90 and SyntheticSource.open(older).jpeg_quality == 90
    for change, message in (({"complete": False}, "not finished"), ({"classes": ["calling"]}, "another version")):
        folder = tmp_path / message.replace(" ", "_")
        folder.mkdir()
        (folder / MARKER).write_text(json.dumps({**meta, **change}))
        with pytest.raises(UsageError, match=message):
            SyntheticSource.open(folder)

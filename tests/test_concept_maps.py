"""Concept maps of the synthetic set (which concept each pixel shows) and the concept image folders."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hartrace.cli import main
from hartrace.data.concepts import read_concept_map, read_legend
from hartrace.synth import ACTIONS
from hartrace.synth.concept_sets import concept_rng, generate_concept_sets, render_concept_image
from hartrace.synth.parts import CONCEPTS, PROP_CONCEPTS
from hartrace.synth.scene import Rendered, sample_scene
from tests.test_cli import _assert_one_line_usage_error

ID = {name: i for i, name in enumerate(CONCEPTS)}
BODY = [ID[n] for n in ("head", "torso", "arms", "legs")]

# sha256 (first 16 hex digits) of image + packed evidence mask of sample_scene(action, default_rng([11, i, 0]), 64),
# i the action's index, recorded with the generator as it was before concept maps: adding the maps must leave
# every picture a seed draws as it was (a change here also comes from a new OpenCV rasteriser)
IMAGES_BEFORE_MAPS = {
    "calling": "89c0670be485ad6f",
    "clapping": "368772fb8eac2f72",
    "cycling": "d70f88a2fe6c6098",
    "dancing": "47108b9240e8f8a1",
    "drinking": "7876020cfeb949fd",
    "eating": "91626a270915e00f",
    "fighting": "677471b953a00aa7",
    "hugging": "9d4820cccfbfbf1d",
    "laughing": "9a8838b25b0962ba",
    "listening_to_music": "30e04b4b25cc368e",
    "running": "bfc7d14dcf539abb",
    "sitting": "c22134f9481ac175",
    "sleeping": "6b50b9ec5477b6ab",
    "texting": "275e05a465af5c27",
    "using_laptop": "1a5e2fbdd5bd21c0",
}


def _changed(full: Rendered, without: Rendered) -> np.ndarray:
    return np.abs(full.image.astype(int) - without.image.astype(int)).max(axis=2) > 0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_the_legend_names_what_a_person_would_type() -> None:
    assert CONCEPTS[:5] == ("background", "head", "torso", "arms", "legs")
    assert {"phone", "bicycle", "laptop", "cup", "headphones", "plate", "chair", "table", "bed"} <= set(CONCEPTS)
    assert len(set(CONCEPTS)) == len(CONCEPTS) == 5 + len(PROP_CONCEPTS)


def test_the_set_carries_a_map_per_image_by_default_and_the_same_images_as_without(tmp_path: Path) -> None:
    for i, action in enumerate(ACTIONS):
        out = sample_scene(action, np.random.default_rng([11, i, 0]), 64).render()
        digest = hashlib.sha256(out.image.tobytes() + np.packbits(out.mask).tobytes()).hexdigest()[:16]
        assert digest == IMAGES_BEFORE_MAPS[action], f"{action}: the seed draws another picture than before"

    common = ["--per-class", "1", "--test-per-class", "1", "--size", "64", "--seed", "3", "--workers", "1", "-q"]
    assert main(["synth", "--out", str(tmp_path / "maps"), *common]) == 0
    assert main(["synth", "--out", str(tmp_path / "bare"), "--no-concept-maps", *common]) == 0
    root = tmp_path / "maps"
    assert read_legend(root) == CONCEPTS and read_legend(tmp_path / "bare") is None
    assert not (tmp_path / "bare" / "parts").exists()
    images = sorted((root / "train").glob("*.jpg")) + sorted((root / "test").glob("*.jpg"))
    assert len(images) == 30
    seen: set[int] = set()
    for image in images:
        ids = read_concept_map(root, image)
        assert ids is not None and ids.shape == (64, 64) and ids.max() < len(CONCEPTS)
        assert (ids == 0).mean() > 0.3 and np.isin(ids, BODY).any(), f"{image.name}: no figure on a background"
        seen |= set(np.unique(ids).tolist())
        for sub in ("", "masks"):  # the same images and evidence masks whether or not the maps are written
            rel = image.relative_to(root) if not sub else Path(sub) / image.parent.name / f"{image.stem}.png"
            assert (root / rel).read_bytes() == (tmp_path / "bare" / rel).read_bytes(), rel
    assert {ID["phone"], ID["bicycle"], ID["laptop"], ID["headphones"]} <= seen

    assert main(["synth", "--out", str(root), "--no-concept-maps", "--overwrite", *common]) == 0
    assert read_legend(root) is None and not list((root / "parts").rglob("*.png")), "no stale maps are left"


def test_props_and_body_parts_are_mapped_where_they_are_drawn() -> None:
    for action, prop in (("calling", "phone"), ("texting", "phone"), ("cycling", "bicycle"), ("drinking", "cup")):
        for k in range(3):
            scene = sample_scene(action, np.random.default_rng([21, k]), 96)
            full = scene.render()
            ids = full.concept_map()
            props_drawn = full.visible("prop")  # the action's own props (a chair, a table... besides)
            lying = full.visible("distractor")  # props lying around (another phone, perhaps)
            mapped = ids == ID[prop]
            assert (mapped & ~lying).sum() >= 6, f"{action} {k}: too few {prop} pixels"
            assert (props_drawn | lying)[mapped].mean() > 0.98, f"{action} {k}: {prop} pixels where none is drawn"
            held = props_drawn & ~lying
            assert mapped[held].mean() > 0.85, f"{action} {k}: the drawn {prop} is mapped as something else"
            drawn_props = _changed(full, scene.render(roles=("clutter", "figure")))
            assert drawn_props[mapped].mean() > 0.95, f"{action} {k}: {prop} pixels show no prop"

            body = np.isin(ids, BODY)
            assert _iou(body, full.visible("figure")) > 0.9, f"{action} {k}: body parts off the figure"
            on_figure = full.visible("figure") & ~props_drawn
            assert np.isin(ids[on_figure], BODY).mean() > 0.97
            untouched = ~_changed(full, scene.render(roles=("clutter",)))  # only wall and clutter there
            assert (ids[untouched] == 0).all(), f"{action} {k}: wall or clutter mapped as a concept"


def test_a_distractor_counts_as_its_kind() -> None:
    scene = sample_scene("calling", np.random.default_rng([12, 11]), 96)  # a phone lies on the floor
    assert [p.name for p in scene.parts if p.role == "distractor"] == ["distractor_phone"]
    full = scene.render()
    ids, lying = full.concept_map(), full.visible("distractor")
    assert lying.sum() >= 10 and (ids[lying] == ID["phone"]).mean() > 0.9
    core = cv2.erode(lying.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert (ids[core] == ID["phone"]).all()
    # a cup on a side table: the cup is a cup and the table a table
    scene = sample_scene("calling", np.random.default_rng([12, 5]), 96)
    ids = scene.render().concept_map()
    assert (ids == ID["cup"]).sum() >= 10 and (ids == ID["table"]).sum() >= 10


def test_maps_mirror_with_the_image() -> None:
    scene = sample_scene("cycling", np.random.default_rng(4), 80)
    plain = dataclasses.replace(scene, mirror=False).render()
    flipped = dataclasses.replace(scene, mirror=True).render()
    assert np.array_equal(flipped.image, plain.image[:, ::-1])
    assert np.array_equal(flipped.concept_map(), plain.concept_map()[:, ::-1])
    assert not np.array_equal(flipped.concept_map(), plain.concept_map())


def test_concept_folders_show_each_prop_in_a_scene_or_alone(tmp_path: Path) -> None:
    out = tmp_path / "concepts"
    args = ["synth", "--concepts", str(out), "--per-concept", "3", "--random-sets", "2", "--size", "64"]
    assert main([*args, "--seed", "5", "--workers", "1", "-q"]) == 0
    listing = json.loads((out / "concepts.json").read_text())
    assert listing["concepts"] == list(PROP_CONCEPTS) and listing["random"] == ["random_0", "random_1"]
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted([*PROP_CONCEPTS, "random_0", "random_1"])
    files: dict[bytes, str] = {}
    for folder in folders:
        assert sorted(p.name for p in (out / folder).iterdir()) == ["0.png", "1.png", "2.png"]
        for n in range(3):
            data = (out / folder / f"{n}.png").read_bytes()
            assert data not in files, f"{folder}/{n}.png repeats {files.get(data)}"
            files[data] = f"{folder}/{n}.png"
    for kind in PROP_CONCEPTS:
        with Image.open(out / kind / "1.png") as picture:
            assert picture.size == (64, 64) and picture.mode == "RGB"
            pixels = np.asarray(picture)
        drawn = render_concept_image(kind, concept_rng(5, kind, 1), 64)
        assert np.array_equal(pixels, drawn.image), f"{kind}: the file is not the seeded drawing"
        for n in range(4):
            ids = render_concept_image(kind, concept_rng(9, kind, n), 64, "alone").concept_map()
            assert set(np.unique(ids)) == {0, ID[kind]}, f"{kind}: something else than the prop is drawn"
            assert 0.005 < (ids == ID[kind]).mean() < 0.6, f"{kind} {n}: the prop covers {(ids == ID[kind]).mean():.1%}"
    # in a scene (the default): the prop at a figure's scale, among what random pictures show
    shares, with_figure = [], 0
    for kind in PROP_CONCEPTS:
        for n in range(6):
            ids = render_concept_image(kind, concept_rng(9, kind, n), 128).concept_map()
            shares.append((ids == ID[kind]).mean())
            with_figure += bool((ids == ID["head"]).any())
    assert min(shares) > 0, "a concept image without its prop"
    assert np.median(shares) < 0.05, f"props drawn larger than scenes draw them: median {np.median(shares):.1%}"
    assert 0.15 < with_figure / len(shares) < 0.55  # a third are scenes of an action, as in the random folders

    again = generate_concept_sets(tmp_path / "again", per_concept=3, random_sets=2, size=64, seed=5, progress=False)
    assert all((again.root / name).read_bytes() == data for data, name in files.items()), "same seed, same files"


def test_bad_concept_options_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "c")
    _assert_one_line_usage_error(capsys, ["synth", "--concepts", out, "--per-concept", "0"], "--per-concept")
    _assert_one_line_usage_error(capsys, ["synth", "--per-concept", "3"], "--per-concept", "--concepts")
    _assert_one_line_usage_error(capsys, ["synth", "--concepts", out, "--video"], "--video")
    _assert_one_line_usage_error(capsys, ["synth", "--concepts", out, "--random-sets", "-1"], "--random-sets")
    _assert_one_line_usage_error(capsys, ["synth", "--placement", "alone"], "--placement", "--concepts")
    assert not (tmp_path / "c").exists()


def test_a_palette_label_map_keeps_its_ids(tmp_path: Path) -> None:
    """Datasets such as Pascal VOC store label maps as palette PNGs: the pixel values are the ids, not greys."""
    from hartrace.data.concepts import concept_map_path

    ids = np.array([[0, 1], [2, 21]], dtype=np.uint8)
    picture = Image.fromarray(ids, "P")
    picture.putpalette([0, 0, 0, 250, 250, 250, 10, 10, 10] + [0] * 759)
    path = concept_map_path(tmp_path, tmp_path / "train" / "a.jpg")
    path.parent.mkdir(parents=True)
    picture.save(path)
    assert np.array_equal(read_concept_map(tmp_path, tmp_path / "train" / "a.jpg"), ids)

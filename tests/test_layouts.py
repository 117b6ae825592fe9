"""Each reader on a small fixture in its exact layout, awkward files included."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from hartrace.base.errors import DataError
from hartrace.data import detect_format, load_dataset
from tests.conftest import make_image, truncate

# --- Kaggle HAR ----------------------------------------------------------------------------------


def test_kaggle_layout_reads_bom_crlf_and_whitespace(kaggle_dir: Path) -> None:
    index = load_dataset(kaggle_dir, progress=False)
    assert index.layout == "kaggle"
    assert index.classes == ["calling", "running", "sitting"]
    assert len(index.splits["train"]) + len(index.splits["val"]) == 15
    assert {s.path.name for s in index.splits["test"]} == {"Image_1.jpg", "Image_2.jpg"}
    assert all(s.label is None for s in index.splits["test"]), "the Kaggle test set is unlabelled"
    assert index.skipped == []


def test_kaggle_bad_files_are_skipped_and_listed(kaggle_dir: Path) -> None:
    (kaggle_dir / "train" / "Image_1.jpg").write_bytes(b"")
    truncate(make_image(kaggle_dir / "train" / "Image_2.jpg", size=(300, 200)))
    (kaggle_dir / "train" / "Image_3.jpg").unlink()
    (kaggle_dir / "train" / "Image_4.jpg").write_text("<html>404</html>")
    index = load_dataset(kaggle_dir, progress=False)
    reasons = {s.path.name: s.reason for s in index.skipped}
    assert reasons == {
        "Image_1.jpg": "empty file",
        "Image_2.jpg": "truncated",
        "Image_3.jpg": "missing",
        "Image_4.jpg": "not an image",
    }
    usable = {s.path.name for split in ("train", "val") for s in index.splits[split]}
    assert len(usable) == 11 and not usable & set(reasons)


def test_kaggle_unicode_names_in_either_normal_form(tmp_path: Path) -> None:
    root = tmp_path / "har"
    nfc = unicodedata.normalize("NFC", "café_ü.jpg")
    make_image(root / "train" / unicodedata.normalize("NFD", nfc))  # as macOS writes it
    make_image(root / "train" / "日本語.jpg", seed=1)
    (root / "Training_set.csv").write_text(f"filename,label\n{nfc},eating\n日本語.jpg,eating\n", encoding="utf-8")
    index = load_dataset(root, progress=False)
    assert index.skipped == []
    assert len(index.splits["train"]) + len(index.splits["val"]) == 2


def test_kaggle_label_outside_class_list_is_an_error(kaggle_dir: Path) -> None:
    (kaggle_dir / "classes.txt").write_text("calling\nrunning\n")
    with pytest.raises(DataError, match=r"label 'sitting' \(Training_set.csv line 12\) is not in the class list"):
        load_dataset(kaggle_dir, progress=False)


def test_kaggle_csv_without_label_column_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "Training_set.csv").write_text("file,class\na.jpg,x\n")
    with pytest.raises(DataError, match="needs the column"):
        load_dataset(tmp_path, progress=False)


def test_kaggle_masks_become_evidence(kaggle_dir: Path) -> None:
    mask = make_image(kaggle_dir / "masks" / "train" / "Image_3.png", fmt="PNG", mode="L")
    index = load_dataset(kaggle_dir, progress=False)
    by_name = {s.path.name: s for split in ("train", "val") for s in index.splits[split]}
    assert by_name["Image_3.jpg"].mask_path == mask
    assert by_name["Image_4.jpg"].mask_path is None


# --- Stanford 40 Actions -------------------------------------------------------------------------


def _stanford(root: Path, actions: tuple[str, ...] = ("applauding", "riding_a_bike"), n: int = 4) -> Path:
    splits = root / "ImageSplits"
    splits.mkdir(parents=True)
    (splits / "actions.txt").write_text("action\tnumber of images\r\n" + "".join(f"{a}\t{n * 2}\r\n" for a in actions))
    for a in actions:
        names = [f"{a}_{i:03d}.jpg" for i in range(1, 2 * n + 1)]
        (splits / f"{a}_train.txt").write_text("\n".join(names[:n]) + "\n")
        (splits / f"{a}_test.txt").write_text("\n".join(names[n:]) + "\n")
        for i, name in enumerate(names):
            make_image(root / "JPEGImages" / name, seed=i)
            xml = (
                f"<annotation><filename>{name}</filename><object><action>{a}</action>"
                "<bndbox><xmax>30</xmax><xmin>4</xmin><ymax>25</ymax><ymin>2</ymin></bndbox></object></annotation>"
            )
            (root / "XMLAnnotations").mkdir(exist_ok=True)
            (root / "XMLAnnotations" / name.replace(".jpg", ".xml")).write_text(xml)
    return root


def test_stanford40_official_split_and_person_boxes(tmp_path: Path) -> None:
    index = load_dataset(_stanford(tmp_path / "Stanford40"), progress=False)
    assert index.layout == "stanford40"
    assert index.classes == ["applauding", "riding_a_bike"]
    assert len(index.splits["test"]) == 8, "the official test split is kept as is"
    assert len(index.splits["train"]) + len(index.splits["val"]) == 8
    assert index.class_counts("val") == {"applauding": 1, "riding_a_bike": 1}
    sample = index.splits["test"][0]
    assert sample.label == 0 and sample.boxes == ((4.0, 2.0, 30.0, 25.0),)


def test_stanford40_split_file_for_unknown_action_is_an_error(tmp_path: Path) -> None:
    root = _stanford(tmp_path / "s40")
    (root / "ImageSplits" / "jumping_train.txt").write_text("jumping_001.jpg\n")
    with pytest.raises(DataError, match=r"label 'jumping' .*actions.txt"):
        load_dataset(root, progress=False)


def test_stanford40_missing_split_file_is_an_error(tmp_path: Path) -> None:
    root = _stanford(tmp_path / "s40")
    (root / "ImageSplits" / "applauding_test.txt").unlink()
    with pytest.raises(DataError, match="applauding_test.txt is missing"):
        load_dataset(root, progress=False)


def test_stanford40_broken_xml_keeps_the_image(tmp_path: Path) -> None:
    root = _stanford(tmp_path / "s40")
    (root / "XMLAnnotations" / "applauding_001.xml").write_text("<annotation><object>")
    index = load_dataset(root, progress=False)
    assert any("applauding_001.xml" in note for note in index.notes)
    assert not index.skipped


# --- ImageFolder ---------------------------------------------------------------------------------


def test_imagefolder_flat_gets_a_validation_split(tmp_path: Path) -> None:
    for c in ("clapping", "dancing"):
        for i in range(5):
            make_image(tmp_path / "data" / c / f"{i}.png", fmt="PNG", seed=i)
    (tmp_path / "data" / "clapping" / "notes.txt").write_text("ignored: not an image extension")
    index = load_dataset(tmp_path / "data", progress=False)
    assert index.layout == "imagefolder" and index.classes == ["clapping", "dancing"]
    assert index.class_counts("val") == {"clapping": 1, "dancing": 1}
    assert index.class_counts("train") == {"clapping": 4, "dancing": 4}


def test_imagefolder_with_train_val_test_subroots(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for split, n in (("train", 3), ("val", 2)):
        for c in ("eating", "sleeping"):
            for i in range(n):
                make_image(root / split / c / f"{c}{i}.jpg", seed=i)
    make_image(root / "test" / "unlabelled.jpg")
    index = load_dataset(root, progress=False)
    assert index.split_file is None, "a layout with its own val split needs no saved split"
    assert [len(index.splits[s]) for s in ("train", "val", "test")] == [6, 4, 1]
    assert index.splits["test"][0].label is None


def test_imagefolder_class_only_in_val_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_image(root / "train" / "eating" / "a.jpg")
    make_image(root / "val" / "texting" / "b.jpg")
    with pytest.raises(DataError, match=r"label 'texting' \(folder val/texting\)"):
        load_dataset(root, progress=False)


# --- detection -----------------------------------------------------------------------------------


def test_detect_format(kaggle_dir: Path, tmp_path: Path) -> None:
    assert detect_format(kaggle_dir) == "kaggle"
    assert detect_format(_stanford(tmp_path / "s40")) == "stanford40"
    make_image(tmp_path / "folder" / "running" / "x.jpg")
    assert detect_format(tmp_path / "folder") == "imagefolder"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="cannot tell the layout"):
        detect_format(tmp_path / "empty")


def test_forced_format_that_does_not_fit(kaggle_dir: Path) -> None:
    with pytest.raises(DataError, match="not the Stanford 40 layout"):
        load_dataset(kaggle_dir, format="stanford40", progress=False)


def test_stanford40_official_actions_header_and_classes_txt(tmp_path: Path) -> None:
    root = _stanford(tmp_path / "s40")
    (root / "ImageSplits" / "actions.txt").write_bytes(
        b"action_name\tnumber_of_images\r\napplauding\t8\r\nriding_a_bike\t8\r\n"
    )
    assert load_dataset(root, check_images=False, progress=False).classes == ["applauding", "riding_a_bike"]
    (root / "classes.txt").write_text("riding_a_bike\napplauding\n")
    index = load_dataset(root, check_images=False, progress=False)
    assert index.classes == ["riding_a_bike", "applauding"], "classes.txt fixes the order"
    assert all(s.path.name.startswith(index.classes[s.label]) for s in index.splits["test"])
    (root / "classes.txt").write_text("applauding\n")
    with pytest.raises(DataError, match=r"label 'riding_a_bike' \(ImageSplits/riding_a_bike_train.txt\) .*classes.txt"):
        load_dataset(root, check_images=False, progress=False)

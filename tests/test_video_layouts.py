"""The UCF101, HMDB51 and videofolder readers on tiny fixtures in their exact layouts, bad videos included."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hartrace.base.errors import DataError, UsageError
from hartrace.cli import main
from hartrace.data import detect_format, load_dataset
from tests.conftest import make_image

FRAMES, WIDTH, HEIGHT = 12, 32, 24


def frame_level(index: int) -> int:
    """The grey level frame ``index`` of :func:`make_video` is painted with (readable back after MJPG)."""
    return 10 + 15 * index


def make_video(path: Path, frames: int = FRAMES, size: tuple[int, int] = (WIDTH, HEIGHT), fourcc: str = "MJPG") -> Path:
    """A tiny video whose frame ``i`` is uniform grey ``frame_level(i)``, so a reader can tell which frames it got."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, size)
    assert writer.isOpened(), f"cannot write {path}"
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), frame_level(i), dtype=np.uint8))
    writer.release()
    return path


def frame_indices(frames: np.ndarray) -> list[int]:
    """Which :func:`make_video` frames a ``[T, H, W, 3]`` array holds."""
    return [round((float(frame.mean()) - 10) / 15) for frame in frames]


UCF_CLASSES = ("Basketball", "ApplyEyeMakeup", "HandstandPushups")  # classInd's order, deliberately not sorted


def make_ucf101(root: Path, lists_dir: str = "ucfTrainTestlist", videos_dir: str = "UCF-101", folds: int = 2) -> Path:
    """UCF101 as the official archive has it: 3 classes x 5 groups x 2 clips; fold N tests on group N."""
    lists = root / lists_dir if lists_dir else root
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_bytes("".join(f"{i} {c}\r\n" for i, c in enumerate(UCF_CLASSES, 1)).encode())
    for name in UCF_CLASSES:
        file_name = name.replace("Handstand", "HandStand")  # the archive's own spelling inside that folder
        for group in range(1, 6):
            for clip in (1, 2):
                make_video(
                    (root / videos_dir if videos_dir else root) / name / f"v_{file_name}_g{group:02d}_c{clip:02d}.avi"
                )
    for fold in range(1, folds + 1):
        train, test = [], []
        for number, name in enumerate(UCF_CLASSES, 1):
            file_name = name.replace("Handstand", "HandStand")
            for group in range(1, 6):
                for clip in (1, 2):
                    entry = f"{name}/v_{file_name}_g{group:02d}_c{clip:02d}.avi"
                    (test.append(entry) if group == fold else train.append(f"{entry} {number}"))
        (lists / f"trainlist{fold:02d}.txt").write_bytes(("\r\n".join(train) + "\r\n").encode())
        (lists / f"testlist{fold:02d}.txt").write_bytes(("\r\n".join(test) + "\r\n").encode())
    return root


HMDB_CLASSES = ("wave", "brush_hair", "cartwheel")  # sorted by the reader


def make_hmdb51(root: Path, videos_dir: str = "") -> Path:
    """HMDB51: ``<class>/<video>.avi`` and ``testTrainMulti_7030_splits/<class>_test_split1.txt`` (tags 1/2/0)."""
    lists = root / "testTrainMulti_7030_splits"
    lists.mkdir(parents=True)
    for name in HMDB_CLASSES:
        lines = []
        for i, tag in enumerate((1, 1, 1, 2, 2, 0)):
            video = f"{name}_clip_{i}.avi"
            make_video((root / videos_dir if videos_dir else root) / name / video)
            lines.append(f"{video} {tag} ")
        (lists / f"{name}_test_split1.txt").write_text("\n".join(lines) + "\n")
    return root


# --- UCF101 --------------------------------------------------------------------------------------


def test_ucf101_official_layout(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "UCF101")
    assert detect_format(root) == "ucf101"
    index = load_dataset(root, progress=False)
    assert index.layout == "ucf101" and index.task == "video"
    assert index.classes == list(UCF_CLASSES), "classInd's order is the class order"
    assert index.skipped == []
    assert len(index.splits["test"]) == 6 and all("_g01_" in s.path.name for s in index.splits["test"])
    assert {s.label for s in index.splits["test"] if "HandStand" in s.path.name} == {2}
    assert len(index.splits["train"]) + len(index.splits["val"]) == 24
    assert index.class_counts("val") == {name: 2 for name in UCF_CLASSES}, "val is carved from train, stratified"
    assert index.split_file is not None and index.split_file.name.endswith("-fold1.json")
    saved = json.loads(index.split_file.read_text())
    assert sorted(saved["val"]) == sorted(index.relative(s.path) for s in index.splits["val"])
    assert all(index.relative(s.path).startswith("UCF-101/") for s in index.splits["train"])
    video = index.splits["train"][0].path
    assert index.frame_counts[video] == FRAMES and index.image_sizes[video] == (WIDTH, HEIGHT)
    assert load_dataset(root, progress=False).splits["val"] == index.splits["val"], "the saved split is reused"


def test_ucf101_second_fold_has_its_own_split(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "UCF101")
    index = load_dataset(root, fold=2, progress=False)
    assert all("_g02_" in s.path.name for s in index.splits["test"]) and len(index.splits["test"]) == 6
    assert not any("_g02_" in s.path.name for s in index.splits["train"] + index.splits["val"])
    assert index.split_file is not None and index.split_file.name.endswith("-fold2.json")


def test_ucf101_flat_layout_split_files_and_videos_in_root(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "ucf", lists_dir="", videos_dir="", folds=1)
    assert detect_format(root) == "ucf101"
    index = load_dataset(root, progress=False)
    assert index.skipped == [] and len(index.splits["test"]) == 6


def test_ucf101_missing_fold_is_an_error_naming_the_file(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "UCF101", folds=1)
    with pytest.raises(DataError, match=r"ucfTrainTestlist/trainlist02.txt \(fold 2\) is missing"):
        load_dataset(root, fold=2, progress=False)
    with pytest.raises(UsageError, match="fold must be 1, 2 or 3"):
        load_dataset(root, fold=4, progress=False)


def test_ucf101_labels_outside_class_ind_name_file_and_line(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "UCF101", folds=1)
    lists = root / "ucfTrainTestlist"
    original = (lists / "testlist01.txt").read_text()
    (lists / "testlist01.txt").write_text(original + "Surfing/v_Surfing_g01_c01.avi\n")
    with pytest.raises(
        DataError, match=r"label 'Surfing' \(testlist01.txt line 7\) is not in the class list from classInd.txt"
    ):
        load_dataset(root, progress=False)
    (lists / "testlist01.txt").write_text(original)
    with open(lists / "trainlist01.txt", "a") as f:
        f.write("Basketball/v_Basketball_g09_c01.avi 7\n")
    with pytest.raises(DataError, match=r"trainlist01.txt line 25: class number 7 is not in classInd.txt"):
        load_dataset(root, progress=False)


def test_ucf101_class_number_that_contradicts_the_folder_is_an_error(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "UCF101", folds=1)
    with open(root / "ucfTrainTestlist" / "trainlist01.txt", "a") as f:
        f.write("Basketball/v_Basketball_g02_c01.avi 2\n")
    with pytest.raises(DataError, match=r"line 25: class number 2 is ApplyEyeMakeup .* folder Basketball"):
        load_dataset(root, progress=False)


def test_ucf101_masks_become_evidence(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "UCF101", folds=1)
    mask = root / "masks" / "Basketball" / "v_Basketball_g01_c01.npz"
    mask.parent.mkdir(parents=True)
    np.savez_compressed(mask, mask=np.ones((FRAMES, HEIGHT, WIDTH), dtype=bool))
    index = load_dataset(root, progress=False)
    by_name = {s.path.name: s for s in index.splits["test"]}
    assert by_name["v_Basketball_g01_c01.avi"].mask_path == mask
    assert by_name["v_Basketball_g01_c02.avi"].mask_path is None


def test_unusable_videos_are_skipped_with_their_reason(tmp_path: Path) -> None:
    root = make_ucf101(tmp_path / "UCF101", folds=1)
    videos = root / "UCF-101" / "Basketball"
    (videos / "v_Basketball_g02_c01.avi").write_bytes(b"")
    (videos / "v_Basketball_g02_c02.avi").unlink()
    (videos / "v_Basketball_g03_c01.avi").write_text("<html>404</html>")
    header_only = videos / "v_Basketball_g03_c02.avi"
    header_only.write_bytes(header_only.read_bytes()[:200])
    tail_cut = videos / "v_Basketball_g04_c01.avi"
    tail_cut.write_bytes(tail_cut.read_bytes()[: int(tail_cut.stat().st_size * 0.8)])
    index = load_dataset(root, progress=False)
    reasons = {s.path.name: s.reason for s in index.skipped}
    not_a_video = "not a video (unknown format or truncated header)"
    assert reasons == {
        "v_Basketball_g02_c01.avi": "empty file",
        "v_Basketball_g02_c02.avi": "missing",
        "v_Basketball_g03_c01.avi": not_a_video,
        "v_Basketball_g03_c02.avi": not_a_video,
    }
    assert {s.split for s in index.skipped} <= {"train", "val"}
    usable = {s.path.name: s for split in ("train", "val") for s in index.splits[split]}
    assert not usable.keys() & reasons.keys()
    assert 0 < index.frame_counts[usable["v_Basketball_g04_c01.avi"].path] < FRAMES, "a cut-off tail keeps what decodes"


# --- HMDB51 --------------------------------------------------------------------------------------


def test_hmdb51_official_layout_tags(tmp_path: Path) -> None:
    root = make_hmdb51(tmp_path / "HMDB51")
    assert detect_format(root) == "hmdb51"
    index = load_dataset(root, progress=False)
    assert index.layout == "hmdb51" and index.task == "video"
    assert index.classes == sorted(HMDB_CLASSES)
    assert index.class_counts("test") == {name: 2 for name in sorted(HMDB_CLASSES)}
    assert len(index.splits["train"]) + len(index.splits["val"]) == 9
    everything = [s.path.name for split in index.splits.values() for s in split]
    assert not any(name.endswith("_clip_5.avi") for name in everything), "tag 0 is in neither split"
    assert index.skipped == []


def test_hmdb51_videos_under_hmdb51_folder_and_missing_fold(tmp_path: Path) -> None:
    root = make_hmdb51(tmp_path / "HMDB51", videos_dir="hmdb51")
    index = load_dataset(root, progress=False)
    assert index.skipped == [] and all(s.path.parent.parent.name == "hmdb51" for s in index.splits["test"])
    with pytest.raises(DataError, match=r"testTrainMulti_7030_splits/brush_hair_test_split2.txt \(fold 2\) is missing"):
        load_dataset(root, fold=2, progress=False)


def test_hmdb51_bad_tag_names_file_and_line(tmp_path: Path) -> None:
    root = make_hmdb51(tmp_path / "HMDB51")
    with open(root / "testTrainMulti_7030_splits" / "wave_test_split1.txt", "a") as f:
        f.write("wave_clip_9.avi 3\n")
    with pytest.raises(DataError, match=r"wave_test_split1.txt line 7: expected '<video> <0\|1\|2>'"):
        load_dataset(root, progress=False)


def test_hmdb51_clips_of_one_video_stay_on_one_side(tmp_path: Path) -> None:
    lists = tmp_path / "HMDB51" / "testTrainMulti_7030_splits"
    lists.mkdir(parents=True)
    lines = [f"{source}_goo_{clip}.avi 1 " for source in ("a", "b", "c", "d", "e") for clip in range(3)]
    (lists / "wave_test_split1.txt").write_text("\n".join(lines) + "\n")
    index = load_dataset(tmp_path / "HMDB51", check_images=False, progress=False)
    sources = {split: {s.path.name[0] for s in index.splits[split]} for split in ("train", "val")}
    assert sources["val"] and sources["train"] and not sources["val"] & sources["train"]
    assert len(index.splits["val"]) == 3, "one source video (3 clips) reaches the 20% share of 15"


def test_classes_txt_fixes_the_classes_of_every_video_layout(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    for name in ("jump", "squat"):
        for i in range(2):
            make_video(folder / name / f"{name}{i}.avi", frames=2)
    layouts = (
        (make_ucf101(tmp_path / "UCF101", folds=1), list(UCF_CLASSES)),
        (make_hmdb51(tmp_path / "HMDB51"), sorted(HMDB_CLASSES)),
        (folder, ["jump", "squat"]),
    )
    for root, own in layouts:
        assert load_dataset(root, check_images=False, progress=False).classes == own
        (root / "classes.txt").write_text("\n".join(reversed(own)) + "\n")
        index = load_dataset(root, check_images=False, progress=False)
        assert index.classes == own[::-1], root.name
        assert all(index.classes[s.label] == s.path.parent.name for split in index.splits.values() for s in split)
        assert load_dataset(root, classes=own, check_images=False, progress=False).classes == own, "explicit wins"
    with pytest.raises(DataError, match=r"label 'Basketball' \(trainlist01.txt line 1\) is not in the class list"):
        load_dataset(layouts[0][0], classes=["ApplyEyeMakeup", "HandstandPushups"], check_images=False, progress=False)


# --- videofolder and detection -------------------------------------------------------------------


def test_videofolder_flat_and_with_subroots(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    for name in ("jump", "squat"):
        for i in range(4):
            make_video(flat / name / f"{name}{i}.mp4", fourcc="mp4v")
    (flat / "jump" / "notes.txt").write_text("not a video")
    assert detect_format(flat) == "videofolder"
    index = load_dataset(flat, progress=False)
    assert index.layout == "videofolder" and index.task == "video" and index.classes == ["jump", "squat"]
    assert index.class_counts("val") == {"jump": 1, "squat": 1} and index.class_counts("train") == {
        "jump": 3,
        "squat": 3,
    }
    assert index.split_file is not None and "fold" not in index.split_file.name
    with pytest.raises(UsageError, match="--fold applies to the UCF101 and HMDB51 layouts only"):
        load_dataset(flat, fold=2, progress=False)

    split = tmp_path / "split"
    for part, n in (("train", 2), ("val", 1)):
        for name in ("jump", "squat"):
            for i in range(n):
                make_video(split / part / name / f"{name}{i}.avi")
    make_video(split / "test" / "unlabelled.avi")
    index = load_dataset(split, progress=False)
    assert index.split_file is None
    assert [len(index.splits[s]) for s in ("train", "val", "test")] == [4, 2, 1]
    assert index.splits["test"][0].label is None


def test_detection_keeps_image_layouts_and_explains_failure(tmp_path: Path) -> None:
    make_image(tmp_path / "images" / "running" / "a.jpg")
    make_video(tmp_path / "images" / "running" / "clip.avi")
    assert detect_format(tmp_path / "images") == "imagefolder", "folders of images stay ImageFolder"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"cannot tell the layout .*UCF101.*HMDB51.*videofolder"):
        detect_format(tmp_path / "empty")


# --- hartrace data summary -----------------------------------------------------------------------


def test_data_summary_on_a_video_dataset(tmp_path: Path, capsys) -> None:
    root = make_ucf101(tmp_path / "UCF101", folds=1)
    (root / "UCF-101" / "Basketball" / "v_Basketball_g02_c01.avi").write_bytes(b"")
    out = tmp_path / "report"
    assert main(["data", "summary", str(root), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "layout    ucf101" in printed and "task      video" in printed
    assert "frame size  width 32-32" in printed and "frames      12-12 per video" in printed
    assert "UCF-101/Basketball/v_Basketball_g02_c01.avi" in printed and "empty file" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "video" and summary["splits"]["test"]["frames"]["median"] == FRAMES
    assert summary["splits"]["test"]["per_class"] == {name: 2 for name in UCF_CLASSES}
    assert (out / "samples.png").stat().st_size > 0 and (out / "class_distribution.png").stat().st_size > 0


def test_data_summary_on_a_folder_with_no_layout_exits_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "nothing" / "here").mkdir(parents=True)
    assert main(["data", "summary", str(tmp_path / "nothing"), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "cannot tell the layout" in capsys.readouterr().err

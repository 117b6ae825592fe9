"""Every reader on the real, published metadata of Kaggle HAR, Stanford 40, UCF101 and HMDB51.

The metadata files are copied byte for byte (CRLF, header rows, trailing spaces, odd
names and all) from ``shared/real_formats``; only the media are stand-ins: tiny images
and videos written under the names the files list. Expected numbers are computed here
from the files with plain string and ``csv`` parsing, independently of the readers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from hartrace.base.errors import DataError
from hartrace.data import detect_format, load_dataset
from hartrace.data.samples import DatasetIndex
from tests.conftest import ROOT, run_cli
from tests.test_video_layouts import make_video


def _real_formats() -> Path | None:
    """Where the real metadata is: ``$HARTRACE_REAL_FORMATS``, else ``shared/real_formats`` in or beside the repo."""
    given = os.environ.get("HARTRACE_REAL_FORMATS")
    candidates = [Path(given)] if given else [ROOT / "shared" / "real_formats", ROOT.parent / "shared" / "real_formats"]
    return next((path for path in candidates if (path / "PROVENANCE.md").is_file()), None)


REAL = _real_formats()
if REAL is None and os.environ.get("CI"):
    raise RuntimeError("CI must test the readers on the real metadata: shared/real_formats is missing beside the clone")
if REAL is None:
    pytest.skip("the real metadata files (shared/real_formats) are not on this machine", allow_module_level=True)

TRAINING = ("train", "val")  # the official training part: what hartrace trains on plus the val carved from it


def copy_exact(source: Path, target: Path) -> Path:
    """``source``'s bytes at ``target``, checked identical."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    assert target.read_bytes() == source.read_bytes()
    return target


def tiny_image(size: tuple[int, int] = (8, 8)) -> bytes:
    """One small JPEG, written under every listed name (decoding checks content, not identity)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 60, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_files(folder: Path, names: list[str], content: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(content)


def tiny_video(path: Path) -> Path:
    return make_video(path, frames=4, size=(16, 16))


def crlf_lines(path: Path) -> list[str]:
    """The non-empty lines of a CRLF file, asserting every line ends in CRLF."""
    data = path.read_bytes().decode("utf-8")
    assert data.endswith("\r\n") and data.count("\n") == data.count("\r\n"), f"{path.name} is not CRLF throughout"
    return [line for line in data.split("\r\n") if line]


def names_in(index: DatasetIndex, splits: tuple[str, ...]) -> list[str]:
    return [index.relative(s.path) for split in splits for s in index.splits.get(split, [])]


def labelled(index: DatasetIndex, splits: tuple[str, ...]) -> dict[str, str]:
    """Every sample's path (relative to the root) and class name."""
    return {
        index.relative(s.path): index.classes[s.label]
        for split in splits
        for s in index.splits.get(split, [])
        if s.label is not None
    }


# --- Kaggle HAR ----------------------------------------------------------------------------------

KAGGLE = REAL / "kaggle_har"


def kaggle_rows(name: str) -> list[dict[str, str]]:
    with open(KAGGLE / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def kaggle_real(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both CSVs as published, and a tiny image for each of their 18,000 rows."""
    root = tmp_path_factory.mktemp("kaggle") / "Human Action Recognition"
    image = tiny_image()
    for name, folder in (("Training_set.csv", "train"), ("Testing_set.csv", "test")):
        copy_exact(KAGGLE / name, root / name)
        write_files(root / folder, [row["filename"] for row in kaggle_rows(name)], image)
    return root


def test_kaggle_reads_every_row_of_the_real_csvs(kaggle_real: Path) -> None:
    rows = kaggle_rows("Training_set.csv")
    expected = Counter(row["label"] for row in rows)
    assert len(rows) == 12_600 and len(expected) == 15 and set(expected.values()) == {840}
    assert detect_format(kaggle_real) == "kaggle"
    index = load_dataset(kaggle_real, progress=False)
    assert index.layout == "kaggle" and index.classes == sorted(expected)
    assert index.skipped == [], "every listed image is there and decodes"
    train, val = index.class_counts("train"), index.class_counts("val")
    assert {name: train[name] + val[name] for name in index.classes} == expected
    assert val == dict.fromkeys(index.classes, 168) and train == dict.fromkeys(index.classes, 672), "80/20 per class"
    assert labelled(index, TRAINING) == {f"train/{row['filename']}": row["label"] for row in rows}
    by_name = labelled(index, TRAINING)
    assert by_name["train/Image_1.jpg"] == "sitting" and by_name["train/Image_2.jpg"] == "using_laptop"
    assert by_name["train/Image_12600.jpg"] == "listening_to_music"
    test = index.splits["test"]
    assert len(test) == 5_400 and all(s.label is None for s in test), "the test set is unlabelled"
    assert [s.path.name for s in test] == [row["filename"] for row in kaggle_rows("Testing_set.csv")]
    assert not any("\r" in name or name != name.strip() for name in names_in(index, ("train", "val", "test")))


# --- Stanford 40 ---------------------------------------------------------------------------------

STANFORD = REAL / "stanford40" / "ImageSplits"
S40_ACTIONS = ("applauding", "blowing_bubbles", "looking_through_a_microscope", "watching_TV", "writing_on_a_book")


def s40_split(action: str, split: str) -> list[str]:
    return crlf_lines(STANFORD / f"{action}_{split}.txt")


def person_box(name: str) -> tuple[float, float, float, float]:
    """The box written for image ``<action>_NNN.jpg``: it varies with NNN, so each file's own box is checked."""
    n = int(Path(name).stem.rsplit("_", 1)[1])
    return (1.0 + n % 5, 2.0 + n % 3, 12.0 + n % 4, 14.0 - n % 2)


def voc_annotation(name: str, action: str) -> str:
    """An ``XMLAnnotations`` file in the official schema (PASCAL-VOC-like, one person)."""
    xmin, ymin, xmax, ymax = (int(v) for v in person_box(name))
    return (
        f"<annotation>\n\t<filename>{name}</filename>\n"
        "\t<size>\n\t\t<width>16</width>\n\t\t<height>16</height>\n\t\t<depth>3</depth>\n\t</size>\n"
        f"\t<object>\n\t\t<action>{action}</action>\n\t\t<name>person</name>\n\t\t<bndbox>\n"
        f"\t\t\t<xmax>{xmax}</xmax>\n\t\t\t<xmin>{xmin}</xmin>\n\t\t\t<ymax>{ymax}</ymax>\n\t\t\t<ymin>{ymin}</ymin>\n"
        "\t\t</bndbox>\n\t</object>\n</annotation>\n"
    )


def make_stanford40(root: Path) -> Path:
    """The real split files, ``actions.txt`` in the official format for these actions, an image + XML per name."""
    for path in STANFORD.iterdir():
        copy_exact(path, root / "ImageSplits" / path.name)
    counts = {action: len(s40_split(action, "train")) + len(s40_split(action, "test")) for action in S40_ACTIONS}
    actions = "action_name\tnumber_of_images\r\n" + "".join(f"{a}\t{n}\r\n" for a, n in counts.items())
    (root / "ImageSplits" / "actions.txt").write_bytes(actions.encode())
    image = tiny_image((16, 16))
    (root / "XMLAnnotations").mkdir()
    for action in S40_ACTIONS:
        names = s40_split(action, "train") + s40_split(action, "test")
        write_files(root / "JPEGImages", names, image)
        for name in names:
            (root / "XMLAnnotations" / f"{Path(name).stem}.xml").write_text(voc_annotation(name, action))
    return root


@pytest.fixture(scope="session")
def stanford_real(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stanford40(tmp_path_factory.mktemp("s40") / "Stanford40")


def test_stanford40_real_splits_with_the_actions_header(stanford_real: Path) -> None:
    assert detect_format(stanford_real) == "stanford40"
    index = load_dataset(stanford_real, progress=False)
    assert index.classes == list(S40_ACTIONS), "actions.txt's order; its header row is not a class"
    assert "watching_TV" in index.classes, "capitals kept"
    assert index.skipped == [] and index.notes == []
    assert index.class_counts("test") == {a: len(s40_split(a, "test")) for a in S40_ACTIONS}
    assert list(index.class_counts("test").values()) == [184, 159, 91, 123, 146]
    train, val = index.class_counts("train"), index.class_counts("val")
    assert {a: train[a] + val[a] for a in S40_ACTIONS} == dict.fromkeys(S40_ACTIONS, 100)
    assert val == dict.fromkeys(S40_ACTIONS, 20)
    expected = {f"JPEGImages/{name}": a for a in S40_ACTIONS for name in s40_split(a, "train")}
    assert labelled(index, TRAINING) == expected
    for split in ("train", "val", "test"):
        for sample in index.splits[split]:
            assert sample.boxes == (person_box(sample.path.name),), sample.path.name
    tv = [s.path.name for s in index.splits["test"] if index.classes[s.label] == "watching_TV"]
    assert tv == s40_split("watching_TV", "test") and all(name.startswith("watching_TV_") for name in tv)


def test_stanford40_per_action_files_are_the_big_lists_lines() -> None:
    for split, per_action in (("train", 100), ("test", None)):
        big = crlf_lines(STANFORD / f"{split}.txt")
        by_action = Counter(name.rsplit("_", 1)[0] for name in big)
        assert len(by_action) == 40 and len(big) == len(set(big))
        if per_action:
            assert set(by_action.values()) == {per_action}, "100 training images per action"
        for action in S40_ACTIONS:
            own = [name for name in big if re.fullmatch(rf"{re.escape(action)}_\d+\.jpg", name)]
            assert s40_split(action, split) == own, f"{action}_{split}.txt"
    assert len(crlf_lines(STANFORD / "train.txt")) + len(crlf_lines(STANFORD / "test.txt")) == 9_532


def test_stanford40_classes_txt_and_an_explicit_list_fix_the_classes(tmp_path: Path) -> None:
    root = make_stanford40(tmp_path / "Stanford40")
    reordered = list(reversed(S40_ACTIONS))
    (root / "classes.txt").write_text("\n".join(reordered) + "\n")
    index = load_dataset(root, check_images=False, progress=False)
    assert index.classes == reordered
    assert labelled(index, ("test",)) == {f"JPEGImages/{n}": a for a in S40_ACTIONS for n in s40_split(a, "test")}
    wider = ["riding_a_bike", *S40_ACTIONS]
    index = load_dataset(root, classes=wider, check_images=False, progress=False)
    assert index.classes == wider, "an explicit list wins over classes.txt"
    assert index.class_counts("test")["riding_a_bike"] == 0
    assert index.class_counts("test")["applauding"] == 184
    with pytest.raises(DataError, match=r"label 'watching_TV' \(ImageSplits/watching_TV_train.txt\) is not in"):
        load_dataset(root, classes=[a for a in S40_ACTIONS if a != "watching_TV"], check_images=False, progress=False)


def test_stanford40_data_summary_on_the_command_line(stanford_real: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_cli("data", "summary", str(stanford_real), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "layout    stanford40" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["splits"]["test"]["per_class"]["watching_TV"] == 123
    assert summary["splits"]["test"]["with_evidence"] == 703


# --- UCF101 --------------------------------------------------------------------------------------

UCF = REAL / "ucf101" / "ucfTrainTestlist"
UCF_GROUP = re.compile(r"^(?P<folder>[^/]+)/v_(?P<action>[A-Za-z]+)_g(?P<group>\d{2})_c\d{2}\.avi$")


def ucf_class_ind() -> list[str]:
    numbered = {int(n): name for n, name in (line.split(" ") for line in crlf_lines(UCF / "classInd.txt"))}
    return [numbered[n] for n in range(1, len(numbered) + 1)]


def ucf_train(fold: int) -> dict[str, int]:
    """``<Class>/<video>`` -> 0-based class of ``trainlist0N.txt``."""
    lines = crlf_lines(UCF / f"trainlist0{fold}.txt")
    return {path: int(number) - 1 for path, number in (line.split(" ") for line in lines)}


def ucf_test(fold: int) -> list[str]:
    return crlf_lines(UCF / f"testlist0{fold}.txt")


def ucf_group(key: str) -> tuple[str, str]:
    """(class, gNN) of ``UCF-101/<Class>/v_<Class>_gNN_cMM.avi``."""
    match = UCF_GROUP.match(key.removeprefix("UCF-101/"))
    assert match, key
    return match["folder"], match["group"]


def first_per_class(paths: list[str], n: int) -> list[str]:
    taken: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        folder = path.split("/")[0]
        if len(taken[folder]) < n:
            taken[folder].append(path)
    return [path for paths in taken.values() for path in paths]


@pytest.fixture(scope="session")
def ucf_real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    """The real classInd and six lists; videos only for the first 3 training and first test clip of each class."""
    root = tmp_path_factory.mktemp("ucf") / "UCF101"
    for path in UCF.iterdir():
        copy_exact(path, root / "ucfTrainTestlist" / path.name)
    train, test = first_per_class(list(ucf_train(1)), 3), first_per_class(ucf_test(1), 1)
    for path in train + test:
        tiny_video(root / "UCF-101" / path)
    return root, train, test


def test_ucf101_lists_every_line_of_the_real_fold_1(ucf_real) -> None:
    root, _, _ = ucf_real
    assert detect_format(root) == "ucf101"
    index = load_dataset(root, check_images=False, progress=False)
    classes = ucf_class_ind()
    assert index.classes == classes and len(classes) == 101 and classes[36] == "HandstandPushups"
    train = ucf_train(1)
    assert len(train) == 9_537 and len(ucf_test(1)) == 3_783
    assert labelled(index, TRAINING) == {f"UCF-101/{path}": classes[label] for path, label in train.items()}
    assert labelled(index, ("test",)) == {f"UCF-101/{path}": path.split("/")[0] for path in ucf_test(1)}
    handstand = [s.path.name for split in ("train", "val", "test") for s in index.splits[split] if s.label == 36]
    assert len(handstand) == sum(p.startswith("HandstandPushups/") for p in [*train, *ucf_test(1)])
    assert handstand and all(name.startswith("v_HandStandPushups_g") for name in handstand)


@pytest.mark.parametrize("fold", [2, 3])
def test_ucf101_other_folds_list_their_lines(ucf_real, fold: int) -> None:
    root, _, _ = ucf_real
    index = load_dataset(root, fold=fold, check_images=False, progress=False)
    assert len(names_in(index, TRAINING)) == len(ucf_train(fold)) and len(index.splits["test"]) == len(ucf_test(fold))
    official_train = {ucf_group(key) for key in names_in(index, TRAINING)}
    assert not official_train & {ucf_group(key) for key in names_in(index, ("test",))}, "the official folds"


def test_ucf101_validation_keeps_every_group_on_one_side(ucf_real, tmp_path: Path) -> None:
    root, _, _ = ucf_real
    index = load_dataset(root, check_images=False, progress=False)
    train, val = names_in(index, ("train",)), names_in(index, ("val",))
    train_groups, val_groups = {ucf_group(k) for k in train}, {ucf_group(k) for k in val}
    assert not train_groups & val_groups, "no _gNN_ group on both sides"
    assert 0.18 < len(val) / (len(train) + len(val)) < 0.26
    assert {c for c, _ in val_groups} == {c for c, _ in train_groups} == set(ucf_class_ind()), "every class on both"
    # Clips the saved split has never seen join their group's side.
    saved = json.loads(index.split_file.read_text())
    unseen = [saved["val"][0], saved["train"][0]]
    trimmed = dict(saved, train=saved["train"][1:], val=saved["val"][1:])
    (tmp_path / "split.json").write_text(json.dumps(trimmed))
    again = load_dataset(root, split_file=tmp_path / "split.json", check_images=False, progress=False)
    assert unseen[0] in names_in(again, ("val",)) and unseen[1] in names_in(again, ("train",))


def test_ucf101_only_the_written_clips_are_usable(ucf_real) -> None:
    root, train, test = ucf_real
    index = load_dataset(root, progress=False)
    assert sorted(names_in(index, TRAINING)) == sorted(f"UCF-101/{p}" for p in train)
    assert sorted(names_in(index, ("test",))) == sorted(f"UCF-101/{p}" for p in test)
    assert len(train) == 303 and len(test) == 101
    assert len(index.skipped) == 9_537 + 3_783 - 404 and {s.reason for s in index.skipped} == {"missing"}
    assert set(index.class_counts("test").values()) == {1}


# --- HMDB51 --------------------------------------------------------------------------------------

HMDB = REAL / "hmdb51" / "testTrainMulti_7030_splits"
HMDB_SPECIAL = "!#&()+;@[]~"
HMDB_FILE = re.compile(r"^(.+)_test_split([123])\.txt$")


def hmdb_rows(action: str, fold: int) -> list[tuple[str, str]]:
    """``(video, tag)`` per line of ``<action>_test_split<fold>.txt``: each line is ``<video> <tag> \\n``."""
    rows = []
    for line in (HMDB / f"{action}_test_split{fold}.txt").read_text(encoding="utf-8").split("\n"):
        if line:
            assert line.endswith(" "), "every line ends in a space"
            video, tag = line[:-1].rsplit(" ", 1)
            rows.append((video, tag))
    return rows


def hmdb_actions() -> list[str]:
    return sorted({m[1] for path in HMDB.iterdir() if (m := HMDB_FILE.match(path.name))})


def hmdb_source(key: str) -> str:
    """The source video of ``<class>/<name>_N.avi``: the name without its trailing clip number."""
    return re.sub(r"_\d+\.avi$", "", key)


def hmdb_picks() -> list[tuple[str, str]]:
    """(action, video) to write: 2 training and 1 test clip of each class in fold 1, and names with odd characters."""
    picks: list[tuple[str, str]] = []
    for action in hmdb_actions():
        rows = hmdb_rows(action, 1)
        picks += [(action, v) for v, tag in rows if tag == "1"][:2] + [(action, v) for v, tag in rows if tag == "2"][:1]
    rows = [(action, video, tag) for action in hmdb_actions() for video, tag in hmdb_rows(action, 1)]
    for char in HMDB_SPECIAL:
        for wanted in ("1", "2", "0"):
            picks += [(action, video) for action, video, tag in rows if char in video and tag == wanted][:1]
    return list(dict.fromkeys(picks))


@pytest.fixture(scope="session")
def hmdb_real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]]]:
    """All 153 real split files; videos (under ``<class>/``) for :func:`hmdb_picks` only."""
    root = tmp_path_factory.mktemp("hmdb") / "HMDB51"
    for path in HMDB.iterdir():
        copy_exact(path, root / "testTrainMulti_7030_splits" / path.name)
    picks = hmdb_picks()
    for action, video in picks:
        tiny_video(root / action / video)
    return root, picks


def test_hmdb51_lists_the_real_fold_1_by_tag(hmdb_real) -> None:
    root, _ = hmdb_real
    assert len(list((root / "testTrainMulti_7030_splits").iterdir())) == 153
    assert detect_format(root) == "hmdb51"
    index = load_dataset(root, check_images=False, progress=False)
    actions = hmdb_actions()
    assert index.classes == actions and len(actions) == 51
    tags = {action: Counter(tag for _, tag in hmdb_rows(action, 1)) for action in actions}
    train, val = index.class_counts("train"), index.class_counts("val")
    assert {a: train[a] + val[a] for a in actions} == {a: tags[a]["1"] for a in actions}
    assert index.class_counts("test") == {a: tags[a]["2"] for a in actions}
    assert sum(tags[a]["1"] for a in actions) == 3_570 and sum(tags[a]["2"] for a in actions) == 1_530
    expected = {f"{a}/{v}": a for a in actions for v, tag in hmdb_rows(a, 1) if tag == "1"}
    assert labelled(index, TRAINING) == expected, "names read exactly: no trailing space, odd characters kept"
    unused = {f"{a}/{v}" for a in actions for v, tag in hmdb_rows(a, 1) if tag == "0"}
    assert len(unused) == 1_666 and not unused & set(names_in(index, ("train", "val", "test"))), "tag 0: neither"


def test_hmdb51_validation_keeps_each_source_video_on_one_side(hmdb_real) -> None:
    root, _ = hmdb_real
    index = load_dataset(root, check_images=False, progress=False)
    train, val = names_in(index, ("train",)), names_in(index, ("val",))
    assert not {hmdb_source(k) for k in train} & {hmdb_source(k) for k in val}
    assert 0.18 < len(val) / (len(train) + len(val)) < 0.26
    assert all(n > 0 for n in index.class_counts("val").values())


def test_hmdb51_odd_names_read_back_from_disk(hmdb_real) -> None:
    root, picks = hmdb_real
    index = load_dataset(root, progress=False)
    tags = {(a, v): tag for a in hmdb_actions() for v, tag in hmdb_rows(a, 1)}
    usable = {*names_in(index, TRAINING), *names_in(index, ("test",))}
    assert usable == {f"{a}/{v}" for a, v in picks if tags[(a, v)] != "0"}
    assert {char for name in usable for char in HMDB_SPECIAL if char in name} == set(HMDB_SPECIAL) - {"~"}
    assert {s.reason for s in index.skipped} == {"missing"}
    tilde = "cartwheel/jenny_~_rad_cartwheel_f_cm_np1_ri_med_0.avi"
    assert (root / tilde).is_file() and tilde not in usable, "tag 0 in fold 1"
    assert tilde in names_in(load_dataset(root, fold=2, check_images=False, progress=False), ("test",))

"""Readers for the video layouts: UCF101, HMDB51 and a folder of videos per class.

Like the image readers they only *list* a layout (see :mod:`hartrace.data.layouts`).
UCF101 and HMDB51 come with three official train/test splits ("folds"); ``fold``
picks one, and the validation split is carved from its training part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from hartrace.base.errors import DataError, UsageError
from hartrace.data.layouts import ClassList, Listing, class_index, read_class_folders, read_text, resolve_name
from hartrace.data.samples import Sample
from hartrace.data.video import is_video_file

#: The official splits of UCF101 and HMDB51.
FOLDS = (1, 2, 3)

UCF_LISTS = "ucfTrainTestlist"  # the split files' folder in the official archive
UCF_VIDEOS = "UCF-101"  # the videos' folder in the official archive
HMDB_LISTS = "testTrainMulti_7030_splits"
HMDB_VIDEOS = "hmdb51"

_HMDB_SPLIT = re.compile(r"^(?P<action>.+)_test_split(?P<fold>[1-9])\.txt$")
_HMDB_TAGS = {"1": "train", "2": "test"}  # 0: in neither split for this fold


def check_fold(fold: int) -> int:
    if fold not in FOLDS:
        raise UsageError(f"the fold must be 1, 2 or 3 (the official UCF101/HMDB51 splits), got {fold}")
    return fold


def _lists_dir(root: Path, folder: str, is_marker: Callable[[Path], bool]) -> Path | None:
    """Where the split files are: the official sub-folder, else the root itself."""
    for candidate in (root / folder, root):
        if candidate.is_dir() and any(is_marker(p) for p in candidate.iterdir()):
            return candidate
    return None


def _is_class_ind(path: Path) -> bool:
    return path.name == "classInd.txt" and path.is_file()


def _is_hmdb_split(path: Path) -> bool:
    return _HMDB_SPLIT.match(path.name) is not None and path.is_file()


def _find_video(root: Path, folders: tuple[str, ...], relative: str) -> Path:
    """``relative`` under the first of ``root/<folder>`` or ``root`` that has it (else the likelier place)."""
    bases = [root / folder for folder in folders if (root / folder).is_dir()] + [root]
    for base in bases:
        path = resolve_name(base, relative)
        if path.exists():
            return path
    return bases[0] / relative


def _mask_for(root: Path, class_folder: str, video: str) -> Path | None:
    """Per-frame evidence at ``masks/<Class>/<stem>.npz`` (the synthetic set writes them)."""
    mask = root / "masks" / class_folder / (Path(video).stem + ".npz")
    return mask if mask.is_file() else None


# --- UCF101 --------------------------------------------------------------------------------------


def read_class_ind(path: Path) -> list[str]:
    """Class names from ``classInd.txt`` (``1 ApplyEyeMakeup`` per line) in their numbered order."""
    numbered: dict[int, str] = {}
    for line_no, line in enumerate(read_text(path).splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2 or not words[0].isdigit():
            raise DataError(f"{path.name} line {line_no}: expected '<number> <class>', got {line.strip()!r}")
        number, name = int(words[0]), words[1]
        if number in numbered or name in numbered.values():
            raise DataError(f"{path.name} line {line_no}: class {number} {name} is listed twice")
        numbered[number] = name
    if not numbered:
        raise DataError(f"class list {path} is empty")
    if sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise DataError(f"{path.name} must number its classes 1..{len(numbered)} without gaps")
    return [numbered[n] for n in sorted(numbered)]


def read_ucf101(root: Path, classes: ClassList | None = None, fold: int = 1) -> Listing:
    """``ucfTrainTestlist/{classInd.txt, trainlist0N.txt, testlist0N.txt}`` + ``UCF-101/<Class>/*.avi``.

    The class order is classInd's, or that of ``classes`` when given. Training lines
    carry a class number, test lines none: their class is the folder part of the path.
    Either way the class must be in classInd (and in ``classes`` when given).
    """
    lists = _lists_dir(root, UCF_LISTS, _is_class_ind)
    if lists is None:
        raise DataError(f"{root} has no {UCF_LISTS}/classInd.txt, so it is not the UCF101 layout")
    fold = check_fold(fold)
    official = read_class_ind(lists / "classInd.txt")
    by_folder = {name.lower(): name for name in official}
    in_class_ind = class_index(official, "classInd.txt")
    classes = classes or ClassList(tuple(official), "classInd.txt")
    lookup = classes.lookup()

    def listed(name: str) -> list[Sample]:
        path = lists / name
        if not path.is_file():
            raise DataError(f"UCF101 split file {path.relative_to(root).as_posix()} (fold {fold}) is missing")
        samples = []
        for line_no, line in enumerate(read_text(path).splitlines(), 1):
            words = line.split()
            if not words:
                continue
            where = f"{name} line {line_no}"
            relative = words[0].replace("\\", "/")
            folder, _, video = relative.rpartition("/")
            if not folder or len(words) > 2:
                raise DataError(f"{where}: expected '<Class>/<video>[ <class number>]', got {line.strip()!r}")
            class_folder = folder.split("/")[-1]
            # classInd's spelling wins: the archive's names differ in case (HandstandPushups/v_HandStandPushups_*)
            action = by_folder.get(class_folder.lower()) or official[in_class_ind(class_folder, where)]
            if len(words) == 2:
                if not words[1].isdigit() or not 1 <= int(words[1]) <= len(official):
                    raise DataError(f"{where}: class number {words[1]} is not in classInd.txt (1..{len(official)})")
                if official[int(words[1]) - 1] != action:
                    raise DataError(
                        f"{where}: class number {words[1]} is {official[int(words[1]) - 1]} in classInd.txt "
                        f"but the video is in the folder {folder}"
                    )
            path_on_disk = _find_video(root, (UCF_VIDEOS,), relative)
            samples.append(Sample(path_on_disk, lookup(action, where), _mask_for(root, class_folder, video)))
        return samples

    pools = {"train": listed(f"trainlist{fold:02d}.txt"), "test": listed(f"testlist{fold:02d}.txt")}
    return Listing("ucf101", list(classes.names), pools)


# --- HMDB51 --------------------------------------------------------------------------------------


def read_hmdb51(root: Path, classes: ClassList | None = None, fold: int = 1) -> Listing:
    """``testTrainMulti_7030_splits/<class>_test_split<N>.txt`` (``<video> <tag>``) + ``<class>/<video>``.

    Tags: 1 training, 2 test, 0 in neither. The classes are the sorted names that
    have split files (HMDB51's usual order), or ``classes`` in its order when given.
    """
    lists = _lists_dir(root, HMDB_LISTS, _is_hmdb_split)
    if lists is None:
        raise DataError(f"{root} has no {HMDB_LISTS}/<class>_test_split1.txt files, so it is not the HMDB51 layout")
    fold = check_fold(fold)
    found = {(m["action"], int(m["fold"])) for p in lists.iterdir() if (m := _HMDB_SPLIT.match(p.name)) and p.is_file()}
    official = sorted({action for action, _ in found})
    classes = classes or ClassList(tuple(official), f"the split files in {lists.name}/")
    lookup = classes.lookup()
    pools: dict[str, list[Sample]] = {"train": [], "test": []}
    for action in official:
        path = lists / f"{action}_test_split{fold}.txt"
        if (action, fold) not in found:
            raise DataError(f"HMDB51 split file {path.relative_to(root).as_posix()} (fold {fold}) is missing")
        label = lookup(action, path.name)
        for line_no, line in enumerate(read_text(path).splitlines(), 1):
            words = line.split()
            if not words:
                continue
            if len(words) != 2 or words[1] not in ("0", "1", "2"):
                raise DataError(f"{path.name} line {line_no}: expected '<video> <0|1|2>', got {line.strip()!r}")
            if words[1] in _HMDB_TAGS:
                video = _find_video(root, (HMDB_VIDEOS,), f"{action}/{words[0]}")
                pools[_HMDB_TAGS[words[1]]].append(Sample(video, label, _mask_for(root, action, words[0])))
    return Listing("hmdb51", list(classes.names), pools)


# --- videofolder ---------------------------------------------------------------------------------


def read_videofolder(root: Path, classes: ClassList | None = None, fold: int = 1) -> Listing:
    """``root/<class>/*.avi`` (any video extension), or ``root/{train,val,test}/<class>/*``: ImageFolder for videos."""
    if fold != 1:
        raise UsageError("--fold applies to the UCF101 and HMDB51 layouts only; a videofolder has one split")
    return read_class_folders(root, classes, is_video_file, "videofolder", "videos")


VIDEO_READERS: dict[str, Callable[[Path, ClassList | None, int], Listing]] = {
    "ucf101": read_ucf101,
    "hmdb51": read_hmdb51,
    "videofolder": read_videofolder,
}


def detect_split_layout(root: Path) -> str | None:
    """``ucf101`` or ``hmdb51`` when ``root`` holds their split files, else None."""
    if _lists_dir(root, UCF_LISTS, _is_class_ind) is not None:
        return "ucf101"
    if _lists_dir(root, HMDB_LISTS, _is_hmdb_split) is not None:
        return "hmdb51"
    return None


def has_video_folders(root: Path) -> bool:
    """Whether ``root`` has class sub-folders (directly or under ``train/``) holding videos."""
    folders = (p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return any(is_video_file(f) for folder in folders for f in folder.rglob("*"))

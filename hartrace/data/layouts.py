"""Readers for the dataset layouts HAR practitioners already have.

Each reader only *lists* a layout: class names, and samples per split as the
layout defines them. Decoding, skipping bad files and making a validation split
are the same for every layout and live in :mod:`hartrace.data.index`. The video
layouts (UCF101, HMDB51, folders of videos) are read by
:mod:`hartrace.data.video_layouts`, which builds on the helpers here; :mod:`hartrace.data.readers`
names every reader and tells a folder's layout.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hartrace.base.errors import DataError
from hartrace.data.decode import IMAGE_EXTENSIONS
from hartrace.data.samples import Box, Sample


@dataclass
class Listing:
    """What a layout names: classes and samples per split (``val`` only if the layout has one)."""

    layout: str
    classes: list[str]
    pools: dict[str, list[Sample]]
    notes: list[str] = field(default_factory=list)


# --- shared helpers ---------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """Text of a metadata file: UTF-8 with or without BOM; CRLF is left to the callers' parsers."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"missing file: {path}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text") from None


def read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV as ``(line number, {column: value})`` with names and values stripped."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path.name} is empty")
    columns = [name.strip().lower() for name in header]
    absent = [name for name in required if name not in columns]
    if absent:
        raise DataError(f"{path.name} needs the column(s) {', '.join(absent)}; its header is {','.join(header)}")
    rows = []
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        row = {name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(columns)}
        rows.append((reader.line_num, row))
    return rows


def resolve_name(folder: Path, name: str) -> Path:
    """``folder / name``, tolerating a Unicode normalisation (NFC/NFD) that differs from the disk's."""
    path = folder / name
    if path.exists():
        return path
    for form in ("NFC", "NFD"):
        candidate = folder / unicodedata.normalize(form, name)
        if candidate.exists():
            return candidate
    return path


def class_index(classes: list[str], source: str) -> Callable[[str, str], int]:
    """A lookup from label to index that fails clearly on a label outside ``classes``."""
    positions = {name: i for i, name in enumerate(classes)}

    def lookup(label: str, where: str) -> int:
        if label not in positions:
            shown = ", ".join(classes[:20]) + (", ..." if len(classes) > 20 else "")
            raise DataError(f"label {label!r} ({where}) is not in the class list from {source}: {shown}")
        return positions[label]

    return lookup


def unique_names(names: list[str], source: str | Path) -> list[str]:
    """``names`` if they can be a class list (some, none twice), else an error naming ``source``."""
    if not names:
        raise DataError(f"class list {source} is empty")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise DataError(f"class list {source} names {', '.join(twice)} twice")
    return names


def read_class_file(path: Path) -> list[str]:
    """One class name per line (``classes.txt``, ``--classes FILE``); the order is the class order."""
    return unique_names([line.strip() for line in read_text(path).splitlines() if line.strip()], path)


@dataclass(frozen=True)
class ClassList:
    """The classes labels must belong to, in class order, and where they came from (named in errors).

    A list given from outside (``classes=``, ``classes.txt``) replaces the layout's own
    for every reader, so the same dataset gets the same class indices whatever its layout.
    """

    names: tuple[str, ...]
    source: str

    def lookup(self) -> Callable[[str, str], int]:
        return class_index(list(self.names), self.source)


def is_image_name(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


# --- (a) Kaggle "Human Action Recognition" -------------------------------------------------------


def find_file(root: Path, name: str) -> Path | None:
    for child in root.iterdir() if root.is_dir() else ():
        if child.name.lower() == name.lower() and child.is_file():
            return child
    return None


def read_kaggle(root: Path, classes: ClassList | None = None) -> Listing:
    """``Training_set.csv`` (filename,label) + ``train/``; ``Testing_set.csv`` (filename) + ``test/``.

    Evidence masks are picked up from ``masks/<split>/<stem>.png`` where present
    (the synthetic set writes them).
    """
    train_csv = find_file(root, "Training_set.csv")
    if train_csv is None:
        raise DataError(f"{root} has no Training_set.csv, so it is not the Kaggle HAR layout")
    rows = read_csv(train_csv, ("filename", "label"))
    classes = classes or ClassList(tuple(sorted({row["label"] for _, row in rows if row["label"]})), train_csv.name)
    lookup = classes.lookup()

    def sample(folder: str, name: str, label: int | None) -> Sample:
        mask = root / "masks" / folder / (Path(name).stem + ".png")
        return Sample(resolve_name(root / folder, name), label, mask if mask.is_file() else None)

    train = []
    for line, row in rows:
        if not row["filename"]:
            raise DataError(f"{train_csv.name} line {line} has no filename")
        train.append(sample("train", row["filename"], lookup(row["label"], f"{train_csv.name} line {line}")))
    pools = {"train": train}
    test_csv = find_file(root, "Testing_set.csv")
    if test_csv is not None:
        pools["test"] = [sample("test", row["filename"], None) for _, row in read_csv(test_csv, ("filename",))]
    return Listing("kaggle", list(classes.names), pools)


# --- (b) Stanford 40 Actions ---------------------------------------------------------------------

_SPLIT_FILE = re.compile(r"^(?P<action>.+)_(?P<split>train|test)\.txt$")


def read_person_boxes(xml_path: Path) -> tuple[Box, ...]:
    """Person boxes from a Stanford 40 ``XMLAnnotations`` file (every ``object/bndbox``)."""
    root = ElementTree.parse(xml_path).getroot()
    boxes = []
    for bndbox in root.iter("bndbox"):
        coords = [float(bndbox.findtext(tag, "nan")) for tag in ("xmin", "ymin", "xmax", "ymax")]
        if all(c == c for c in coords):  # no NaN: every coordinate present
            boxes.append(tuple(coords))
    return tuple(boxes)


def read_actions(path: Path) -> list[str]:
    """The actions of Stanford 40's ``actions.txt``: rows of action and number of images, under a header row.

    The official file opens with ``action_name  number_of_images`` (tab-separated); any
    first row whose second field is not a number is taken for a header, not an action.
    """
    rows = [line.split() for line in read_text(path).splitlines() if line.strip()]
    if rows and len(rows[0]) > 1 and not rows[0][1].isdigit():
        rows = rows[1:]
    return unique_names([row[0] for row in rows], "ImageSplits/actions.txt")


def read_stanford40(root: Path, classes: ClassList | None = None) -> Listing:
    """``JPEGImages/``, ``ImageSplits/actions.txt`` + ``<action>_{train,test}.txt``, ``XMLAnnotations/``.

    The actions are actions.txt's; a given class list only names and orders the classes.
    """
    splits_dir, images_dir, xml_dir = root / "ImageSplits", root / "JPEGImages", root / "XMLAnnotations"
    actions_file = splits_dir / "actions.txt"
    if not actions_file.is_file():
        raise DataError(f"{root} has no ImageSplits/actions.txt, so it is not the Stanford 40 layout")
    actions = read_actions(actions_file)
    in_actions = class_index(actions, "ImageSplits/actions.txt")
    classes = classes or ClassList(tuple(actions), "ImageSplits/actions.txt")
    lookup = classes.lookup()
    notes: list[str] = []
    pools: dict[str, list[Sample]] = {"train": [], "test": []}
    found = {(m["action"], m["split"]) for p in splits_dir.iterdir() if (m := _SPLIT_FILE.match(p.name))}
    for action, split in sorted(found):
        in_actions(action, f"ImageSplits/{action}_{split}.txt")
    for action in actions:
        for split in ("train", "test"):
            where = f"ImageSplits/{action}_{split}.txt"
            if (action, split) not in found:
                raise DataError(f"Stanford 40 split file {where} is missing")
            label = lookup(action, where)
            for name in read_text(splits_dir / f"{action}_{split}.txt").split():
                boxes, note = _boxes_of(xml_dir / (Path(name).stem + ".xml"))
                notes.extend(note)
                pools[split].append(Sample(resolve_name(images_dir, name), label, None, boxes))
    return Listing("stanford40", list(classes.names), pools, notes)


def _boxes_of(xml_path: Path) -> tuple[tuple[Box, ...], list[str]]:
    """An image's person boxes, or none and a note when its annotation is absent or unreadable."""
    if not xml_path.is_file():
        return (), []
    try:
        return read_person_boxes(xml_path), []
    except (ElementTree.ParseError, ValueError) as exc:
        return (), [f"person boxes unreadable in XMLAnnotations/{xml_path.name}: {exc}"]


# --- (c) ImageFolder -----------------------------------------------------------------------------


def class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def files_in(folder: Path, is_member: Callable[[Path], bool] = is_image_name) -> list[Path]:
    """The files under ``folder`` (any depth) that ``is_member`` accepts, sorted."""
    return sorted(p for p in folder.rglob("*") if is_member(p))


def read_imagefolder(root: Path, classes: ClassList | None = None) -> Listing:
    """``root/<class>/*``, or ``root/{train,val,test}/<class>/*`` (an unlabelled ``test/`` may hold files directly)."""
    return read_class_folders(root, classes)


def read_class_folders(
    root: Path,
    classes: ClassList | None = None,
    is_member: Callable[[Path], bool] = is_image_name,
    layout: str = "imagefolder",
    what: str = "images",
) -> Listing:
    """A folder per class of the files ``is_member`` accepts (images for ImageFolder, videos for videofolder)."""
    has_subroots = (root / "train").is_dir() and any(files_in(d, is_member) for d in class_dirs(root / "train"))
    subroots = (
        {s: root / s for s in ("train", "val", "test") if (root / s).is_dir()} if has_subroots else {"train": root}
    )
    if classes is None:
        own = tuple(d.name for d in class_dirs(subroots["train"]) if files_in(d, is_member))
        if not own:
            raise DataError(f"{root} has no class sub-folders with {what} in them")
        classes = ClassList(own, f"the class folders of {subroots['train'].name if has_subroots else root.name}/")
    lookup = classes.lookup()
    pools: dict[str, list[Sample]] = {}
    for split, folder in subroots.items():
        pool = []
        for class_dir in class_dirs(folder):
            files = files_in(class_dir, is_member)
            if files:
                label = lookup(class_dir.name, f"folder {class_dir.relative_to(root)}")
                pool.extend(Sample(path, label) for path in files)
        if split == "test":
            pool.extend(Sample(path, None) for path in sorted(folder.iterdir()) if is_member(path))
        pools[split] = pool
    return Listing(layout, list(classes.names), pools)

"""Read any supported dataset into a :class:`DatasetIndex`, the one shape the rest of hartrace uses."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from hartrace.base.errors import DataError, UsageError
from hartrace.base.progress import progress_bar
from hartrace.data.decode import ImageDecodeError, probe
from hartrace.data.formats import FOLD_FORMATS, FORMATS, VIDEO_FORMATS
from hartrace.data.layouts import ClassList, Listing, read_class_file, unique_names
from hartrace.data.readers import READERS, detect_format
from hartrace.data.samples import SPLIT_NAMES, DatasetIndex, Sample, SkippedFile
from hartrace.data.splits import (
    default_split_path,
    group_of,
    load_split,
    resolve_splits,
    save_split,
    saved_test_fraction,
)


def _probe_one(path: Path) -> tuple[int, int] | str:
    try:
        return probe(path)
    except ImageDecodeError as exc:
        return str(exc)


def _probe_video_one(path: Path) -> Any:
    from hartrace.data.video import VideoDecodeError, probe_video

    try:
        return probe_video(path)
    except VideoDecodeError as exc:
        return str(exc)


def _scan(
    samples: list[tuple[str, Sample]],
    probe_one: Callable[[Path], Any],
    workers: int | None,
    progress: bool,
    what: str,
    chunksize: int,
) -> tuple[dict[Path, Any], list[SkippedFile]]:
    """``probe_one`` on every file in threads: its result for the good ones, the bad ones with their reason (a str)."""
    workers = workers or os.cpu_count() or 1
    paths = [sample.path for _, sample in samples]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(
            progress_bar(
                pool.map(probe_one, paths, chunksize=chunksize),
                total=len(paths),
                desc=f"checking {what}s",
                enabled=progress,
                unit=what[:3],
            )
        )
    found: dict[Path, Any] = {}
    skipped: list[SkippedFile] = []
    for (split, sample), result in zip(samples, results, strict=True):
        if isinstance(result, str):
            skipped.append(SkippedFile(sample.path, result, split))
        else:
            found[sample.path] = result
    return found, skipped


def scan_images(
    samples: list[tuple[str, Sample]], workers: int | None = None, progress: bool = True
) -> tuple[dict[Path, tuple[int, int]], list[SkippedFile]]:
    """Decode every image once: sizes of the good ones, and the bad ones with their reason.

    Pillow releases the GIL while decoding, so threads use every core.
    """
    return _scan(samples, _probe_one, workers, progress, "image", 32)


def scan_videos(
    samples: list[tuple[str, Sample]], workers: int | None = None, progress: bool = True
) -> tuple[dict[Path, tuple[int, int]], dict[Path, int], list[SkippedFile]]:
    """Probe every video once: frame sizes and frame counts of the good ones, the bad ones with their reason.

    OpenCV releases the GIL while decoding, so threads use every core.
    """
    from hartrace.data.video import quiet_decoder

    with quiet_decoder():
        infos, skipped = _scan(samples, _probe_video_one, workers, progress, "video", 4)
    sizes = {path: (info.width, info.height) for path, info in infos.items()}
    return sizes, {path: info.frames for path, info in infos.items()}, skipped


def _test_fraction(listing: Listing, root: Path, test_fraction: float, split_file: Path | None) -> float:
    """The test split to carve: a saved split's own, else ``test_fraction``; refused where the layout labels its own
    test split, or where it disagrees with the saved split."""
    if not 0.0 <= test_fraction < 1.0:
        raise UsageError(f"--test-fraction must be at least 0 and below 1, got {test_fraction}")
    if split_file is not None:
        saved = saved_test_fraction(load_split(split_file))
        if test_fraction and saved != test_fraction:
            raise UsageError(
                f"the split file {split_file} holds a test fraction of {saved:g}, not {test_fraction:g}: "
                "leave out --test-fraction to use it"
            )
        test_fraction = saved
    if test_fraction and any(s.label is not None for s in listing.pools.get("test", [])):
        raise UsageError(
            f"{root} ({listing.layout} layout) has its own labelled test split: --test-fraction is for layouts "
            "without one (Kaggle, an ImageFolder without a labelled test/)"
        )
    return test_fraction


def _with_validation(
    listing: Listing,
    root: Path,
    val_fraction: float,
    seed: int,
    split_file: Path | None,
    fold: int | None = None,
    test_fraction: float = 0.0,
) -> tuple[dict[str, list[Sample]], Path | None]:
    """The layout's own splits, plus a saved stratified validation split carved from train if it has none,
    and a saved stratified test split carved before it where ``test_fraction`` asks (it replaces an unlabelled
    ``test`` pool, the Kaggle layout's).

    Each official fold (UCF101/HMDB51) trains on different videos, so each gets its own saved split;
    clips of one recording (UCF101, HMDB51) stay on one side.
    """
    pools = dict(listing.pools)
    own_val = "val" in pools
    if own_val and split_file is None and not test_fraction:
        return pools, None
    train = pools.get("train", []) + (pools.pop("val", []) if split_file is not None else [])
    carve_val = 0.0 if own_val and split_file is None else val_fraction  # a layout's own val/ is never re-split
    if split_file is None:
        split_file = default_split_path(root, carve_val, seed, test_fraction)
        if fold is not None:
            split_file = split_file.with_name(f"{split_file.stem}-fold{fold}{split_file.suffix}")

    def key(sample: Sample) -> str:
        try:
            return sample.path.relative_to(root).as_posix()
        except ValueError:
            return sample.path.as_posix()

    keys = [key(s) for s in train]
    group = partial(group_of, listing.layout)
    sides = resolve_splits(keys, [s.label for s in train], carve_val, seed, split_file, group, test_fraction)
    pools["train"] = [s for s, k in zip(train, keys, strict=True) if k in sides["train"]]
    if "val" not in pools:  # the layout's own val/ stays as it is
        pools["val"] = [s for s, k in zip(train, keys, strict=True) if k in sides["val"]]
    if test_fraction:
        pools["test"] = [s for s, k in zip(train, keys, strict=True) if k in sides["test"]]
        pools = {name: pools[name] for name in SPLIT_NAMES}
    return pools, split_file


def save_index_split(path: Path, index: DatasetIndex, val_fraction: float, seed: int) -> Path:
    """Write ``index``'s split as a run keeps it (``split.json``): train and val, and the test split where
    one was carved, so every later command reads exactly these images on each side."""
    carved = index.test_fraction > 0
    return save_split(
        path,
        [index.relative(s.path) for s in index.splits["train"]],
        [index.relative(s.path) for s in index.splits["val"]],
        val_fraction,
        seed,
        [index.relative(s.path) for s in index.splits["test"]] if carved else None,
        index.test_fraction,
    )


def class_list(root: Path, classes: list[str] | str | Path | None) -> ClassList | None:
    """The class list every layout must use: ``classes`` (names or a file), else ``root/classes.txt``, else None.

    None leaves the classes to the layout (its CSV labels, actions.txt, classInd.txt, folders...).
    """
    if isinstance(classes, (str, Path)):
        return ClassList(tuple(read_class_file(Path(classes))), str(classes))
    if classes is not None:
        return ClassList(tuple(unique_names(list(classes), "given")), "the given class list")
    if (root / "classes.txt").is_file():
        return ClassList(tuple(read_class_file(root / "classes.txt")), "classes.txt")
    return None


def load_dataset(
    root: str | Path,
    *,
    format: str = "auto",
    val_fraction: float = 0.2,
    seed: int = 0,
    split_file: str | Path | None = None,
    test_fraction: float = 0.0,
    classes: list[str] | str | Path | None = None,
    check_images: bool = True,
    workers: int | None = None,
    progress: bool = True,
    fold: int = 1,
    min_classes: int = 1,
) -> DatasetIndex:
    """Read a dataset folder in any supported layout.

    Args:
        root: the dataset folder.
        format: ``auto`` (judged from marker files), or one of :data:`FORMATS`: ``kaggle``,
            ``stanford40``, ``imagefolder`` (images), ``ucf101``, ``hmdb51``, ``videofolder`` (videos).
        val_fraction, seed: the stratified validation split made where the layout has none.
        split_file: a saved split to reuse (a run's); by default the dataset's own, made on first use.
        test_fraction: where the layout has no labelled test split (Kaggle, an ImageFolder without a labelled
            test/), hold out this share of each class as a labelled test split, before the validation split
            (then ``val_fraction`` is a share of what is left); a saved split brings its own.
        classes: a class list (or a file with one name per line) that every label must belong to, in class
            order; by default ``root/classes.txt`` if there is one, else the layout's own.
        check_images: decode every image (probe every video) once, skipping and listing the unusable ones.
        fold: the official UCF101/HMDB51 train/test split, 1..3.
        min_classes: refuse a dataset with fewer classes (training needs 2), before anything is written.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    if split_file is not None and not Path(split_file).is_file():
        raise DataError(f"split file not found: {split_file} (give a saved split.json, or leave it out to make one)")
    if format == "auto":
        format = detect_format(root)
    if format not in READERS:
        raise DataError(f"unknown dataset format {format!r}; choose one of: auto, {', '.join(FORMATS)}")
    video = format in VIDEO_FORMATS
    if fold != 1 and format not in FOLD_FORMATS:
        raise UsageError(f"--fold applies to the UCF101 and HMDB51 layouts only, not {format}")
    given = class_list(root, classes)
    listing = READERS[format](root, given, fold=fold) if video else READERS[format](root, given)
    if len(listing.classes) < min_classes:
        raise DataError(
            f"{root} has {len(listing.classes)} class ({', '.join(listing.classes) or 'none'}): "
            f"this needs at least {min_classes} (one folder of images per class)"
        )
    given_split = Path(split_file) if split_file is not None else None
    test_fraction = _test_fraction(listing, root, test_fraction, given_split)
    pools, used_split = _with_validation(
        listing, root, val_fraction, seed, given_split, fold if format in FOLD_FORMATS else None, test_fraction
    )
    if test_fraction:
        listing.notes.append(
            f"test split: {test_fraction:.0%} of each class's labelled training {'videos' if video else 'images'}, "
            "held out before the validation split"
        )
    index = DatasetIndex(
        root,
        listing.layout,
        listing.classes,
        pools,
        split_file=used_split,
        notes=listing.notes,
        task="video" if video else "image",
        test_fraction=test_fraction,
    )
    if check_images:
        everything = [(split, s) for split, samples in pools.items() for s in samples]
        if video:
            index.image_sizes, index.frame_counts, index.skipped = scan_videos(everything, workers, progress)
        else:
            index.image_sizes, index.skipped = scan_images(everything, workers, progress)
        bad = {skipped.path for skipped in index.skipped}
        index.splits = {split: [s for s in samples if s.path not in bad] for split, samples in pools.items()}
    if not any(s.label is not None for s in index.splits.get("train", [])):
        raise DataError(f"no usable labelled training {index.task}s in {root}")
    return index

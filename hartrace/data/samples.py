"""What a dataset is once read: samples, splits, and the files that were skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: A person box (x0, y0, x1, y1) in the image's pixel coordinates.
Box = tuple[float, float, float, float]

SPLIT_NAMES = ("train", "val", "test")

#: What a dataset's samples are: still images or videos.
TASKS = ("image", "video")


@dataclass(frozen=True)
class Sample:
    """One image or video: where it is, its class index (None when unlabelled) and its evidence.

    Evidence is what the action is made of, used to judge explanations: a mask
    file (the synthetic sets: a PNG per image, an ``.npz`` of per-frame masks per
    video) or person boxes (Stanford 40).
    """

    path: Path
    label: int | None
    mask_path: Path | None = None
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A file the dataset names but that cannot be used, and why."""

    path: Path
    reason: str
    split: str


@dataclass
class DatasetIndex:
    """A dataset after reading: classes, samples per split, and everything skipped.

    ``task`` says whether samples are images or videos. ``image_sizes`` holds each
    usable file's ``(width, height)`` (a video's frame size); ``frame_counts`` each
    usable video's decodable frames. ``test_fraction`` is the share of the labelled training
    pool held out as the ``test`` split (0: none was; a ``test`` split is the layout's own).
    """

    root: Path
    layout: str
    classes: list[str]
    splits: dict[str, list[Sample]]
    skipped: list[SkippedFile] = field(default_factory=list)
    image_sizes: dict[Path, tuple[int, int]] = field(default_factory=dict)
    split_file: Path | None = None
    notes: list[str] = field(default_factory=list)
    task: str = "image"
    frame_counts: dict[Path, int] = field(default_factory=dict)
    test_fraction: float = 0.0

    def class_counts(self, split: str) -> dict[str, int]:
        """Images per class in ``split`` (unlabelled images are counted under ``"?"``)."""
        counts = Counter(self.classes[s.label] if s.label is not None else "?" for s in self.splits.get(split, []))
        ordered = {name: counts.get(name, 0) for name in self.classes}
        if counts.get("?"):
            ordered["?"] = counts["?"]
        return ordered

    def relative(self, path: Path) -> str:
        """A path as shown to the user and stored in split files: relative to the root, POSIX style."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def labels(self) -> dict[str, str]:
        """Each labelled item's class by its id (:meth:`relative`), the truth the explorer and `visualize` show."""
        return {
            self.relative(s.path): self.classes[s.label]
            for samples in self.splits.values()
            for s in samples
            if s.label is not None
        }

    def find(self, path: str | Path) -> tuple[str, Sample] | None:
        """The split and sample of a file given by any path to it; None for a file the index does not hold,
        so a picture of an image from elsewhere never claims a true class."""
        try:
            item = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None
        for split, samples in self.splits.items():
            for sample in samples:
                if self.relative(sample.path) == item:
                    return split, sample
        return None

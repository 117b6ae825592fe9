"""What the run's dataset says about the images ``visualize`` draws: an image's true class, and random picks.

A picture names a true class only for a file the run's dataset index holds (its labelled samples,
whatever the layout labels them by); any other image says only what the model predicts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from hartrace.base.errors import UsageError
from hartrace.data import DatasetIndex
from hartrace.data.samples import Sample
from hartrace.runs.loading import Opened, open_dataset


@dataclass(frozen=True)
class TrueClass:
    """An image's class as its dataset labels it, and where that was read."""

    name: str
    split: str
    root: Path

    def source(self) -> str:
        return f"the {self.split} split of {self.root}"


def label_of(index: DatasetIndex, path: str | Path) -> TrueClass | None:
    """The class of ``path`` if the index holds it labelled; None otherwise (an image from elsewhere)."""
    found = index.find(path)
    if found is None or found[1].label is None:
        return None
    split, sample = found
    return TrueClass(index.classes[sample.label], split, index.root)


def true_class_of(opened: Opened, image: str | Path, data: str | Path | None = None) -> tuple[TrueClass | None, str]:
    """The true class of ``image`` from the run's dataset (read without decoding it), and a note on how it was
    found or why not: an image outside the dataset, or a dataset that is no longer where the run says."""
    try:
        index = open_dataset(opened, data, check_images=False)
    except UsageError as exc:
        return None, f"no true class: {exc}"
    truth = label_of(index, image)
    if truth is None:
        return None, f"no true class: the image is not one of the labelled images of {index.root}"
    return truth, f"from {truth.source()}"


def pick_validation(index: DatasetIndex, count: int, seed: int = 0) -> list[Sample]:
    """``count`` random labelled validation samples, the same ones for the same seed and split."""
    pool = sorted((s for s in index.splits.get("val", []) if s.label is not None), key=lambda s: index.relative(s.path))
    if not pool:
        raise UsageError(f"{index.root} has no labelled validation {index.task}s to pick from")
    if count > len(pool):
        raise UsageError(
            f"--random-val {count}: the validation split has {len(pool)} labelled {index.task}s; ask for at most that"
        )
    return random.Random(seed).sample(pool, count)


def folder_names(index: DatasetIndex, samples: list[Sample]) -> list[str]:
    """One output folder name per sample: the file's stem, or its dataset path (``/`` as ``_``) where two stems
    are the same (``imagefolder`` classes may hold files of one name)."""
    stems = [s.path.stem for s in samples]
    return [
        stem if stems.count(stem) == 1 else str(Path(index.relative(s.path)).with_suffix("")).replace("/", "_")
        for stem, s in zip(stems, samples, strict=True)
    ]

"""Cross-dataset zero-shot: train on one dataset's classes, test on every class of another.

Brattoli et al. (CVPR 2020) train on Kinetics and test on all of UCF101's and HMDB51's
classes. A test class only counts as unseen if nothing like it was trained on, so they
remove from the training classes every one whose name embedding lies within a small
distance of any test class name, and list the removed ones. :func:`class_overlap` does the
same with the cosine similarity of the class-name embeddings: a training class whose
similarity to some test class is at or above the threshold is removed, and the report names
the test class it was too close to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hartrace.base.errors import UsageError
from hartrace.zeroshot.protocol import cosine_scores

#: Rounding slack: identical names have a cosine of 1 up to float error, and must reach a threshold of 1.
_SLACK = 1e-6


@dataclass(frozen=True)
class Closest:
    """A class, the most similar class name of the other dataset, and their cosine similarity."""

    name: str
    closest: str
    similarity: float

    def to_meta(self) -> dict[str, Any]:
        return {"class": self.name, "closest": self.closest, "similarity": round(self.similarity, 4)}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Closest:
        return cls(str(meta["class"]), str(meta["closest"]), float(meta["similarity"]))


@dataclass(frozen=True)
class ClassOverlap:
    """Which training classes stay, which go (each with the test class it was too close to), and how close the
    nearest kept training class is to each test class (the near misses a reader should judge)."""

    seen: tuple[int, ...]
    removed: tuple[Closest, ...]
    closest: tuple[Closest, ...]


def class_overlap(
    train_classes: Sequence[str],
    test_classes: Sequence[str],
    train_embeddings: np.ndarray,
    test_embeddings: np.ndarray,
    threshold: float,
) -> ClassOverlap:
    """Remove every training class whose name has a cosine similarity of ``threshold`` or more with a test class.

    The embeddings are the raw class-name vectors (``[N_train, D]`` and ``[N_test, D]``), not
    the centred regression targets: the threshold reads on the scale the embedding model gives.
    Fewer than 2 training classes left is an error: there would be nothing to learn names from.
    """
    similarity = np.asarray(cosine_scores(np.asarray(train_embeddings), np.asarray(test_embeddings)))
    nearest_test = similarity.argmax(axis=1)
    removed = [i for i in range(len(train_classes)) if similarity[i, nearest_test[i]] >= threshold - _SLACK]
    seen = tuple(i for i in range(len(train_classes)) if i not in removed)
    if len(seen) < 2:
        raise UsageError(
            f"{len(removed)} of the {len(train_classes)} training classes have a name within cosine {threshold} of a "
            f"test class, leaving {len(seen)} to train on (at least 2 are needed): raise --zs-overlap-threshold"
        )
    kept = similarity[list(seen)]
    return ClassOverlap(
        seen=seen,
        removed=tuple(
            Closest(train_classes[i], test_classes[nearest_test[i]], float(similarity[i, nearest_test[i]]))
            for i in removed
        ),
        closest=tuple(
            Closest(name, train_classes[seen[int(kept[:, j].argmax())]], float(kept[:, j].max()))
            for j, name in enumerate(test_classes)
        ),
    )


@dataclass(frozen=True, eq=False)
class CrossTest:
    """What a cross-dataset run is tested on: every class of another dataset, by name.

    ``embeddings`` are the test classes' regression targets ``[N_test, D]``, made by the same
    map as the training classes' (:func:`hartrace.zeroshot.training.regression_targets`), so a
    prediction is compared with both alike.
    """

    data: str  # the test dataset's folder, absolute
    format: str
    classes: tuple[str, ...]
    embeddings: np.ndarray
    threshold: float
    removed: tuple[Closest, ...]
    closest: tuple[Closest, ...]

    def to_meta(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "format": self.format,
            "classes": list(self.classes),
            "embeddings": torch.from_numpy(np.ascontiguousarray(self.embeddings, dtype=np.float32)),
            "threshold": self.threshold,
            "removed": [c.to_meta() for c in self.removed],
            "closest": [c.to_meta() for c in self.closest],
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> CrossTest:
        embeddings = meta["embeddings"]
        embeddings = embeddings.numpy() if isinstance(embeddings, torch.Tensor) else np.asarray(embeddings, np.float32)
        return cls(
            str(meta["data"]),
            str(meta["format"]),
            tuple(str(c) for c in meta["classes"]),
            embeddings,
            float(meta["threshold"]),
            tuple(Closest.from_meta(c) for c in meta["removed"]),
            tuple(Closest.from_meta(c) for c in meta["closest"]),
        )

    def describe(self) -> dict[str, Any]:
        """The test set and the overlap filter, in names: what a run folder and a report list."""
        return {
            "test_data": self.data,
            "test_classes": list(self.classes),
            "overlap_threshold": self.threshold,
            "removed": [c.to_meta() for c in self.removed],
            "closest_trained": [c.to_meta() for c in self.closest],
        }

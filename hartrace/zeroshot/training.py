"""A zero-shot run's setup: which classes it may see, their name embeddings, and its loss.

:func:`prepare_zero_shot` makes it once per run, and :class:`hartrace.zeroshot.objectives.ZeroShot`
hands it to training: only the seen classes' samples train and validate, the MSE loss's
``predict`` answers among the seen classes, and the split is recorded in the checkpoint, so
the unseen classes can be scored later from the checkpoint alone. A cross-dataset run
(``zs_test_data``) sees its dataset's classes minus those too close to a test class, and
records the test classes' names and embeddings instead of unseen ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hartrace.base.errors import UsageError
from hartrace.data.samples import DatasetIndex, Sample
from hartrace.zeroshot.cross import CrossTest, class_overlap
from hartrace.zeroshot.embeddings import class_embeddings
from hartrace.zeroshot.objective import EmbeddingRegressionLoss
from hartrace.zeroshot.protocol import class_splits

#: The run folder's record of which classes were seen and which held out.
ZERO_SHOT_CLASSES = "zero_shot_classes.json"


@dataclass(frozen=True)
class ZeroShotSetup:
    """One seen/unseen split of the classes and every class's regression target ``[N, D]``
    (see :func:`regression_targets`); for a cross-dataset run, no unseen classes but a ``test`` set."""

    embeddings: np.ndarray
    seen: tuple[int, ...]
    unseen: tuple[int, ...]
    source: str
    split: int
    splits: int
    test: CrossTest | None = None

    @property
    def dim(self) -> int:
        """What the network's head outputs: the embedding size, not the number of classes."""
        return int(self.embeddings.shape[1])

    def seen_samples(self, samples: Iterable[Sample]) -> list[Sample]:
        keep = set(self.seen)
        return [s for s in samples if s.label in keep]

    def loss(self) -> EmbeddingRegressionLoss:
        """MSE to the label's embedding; its predictions name the nearest *seen* class."""
        return EmbeddingRegressionLoss(self.embeddings, candidates=self.seen)

    def to_meta(self) -> dict[str, Any]:
        return {
            "embeddings": torch.from_numpy(np.ascontiguousarray(self.embeddings, dtype=np.float32)),
            "seen": list(self.seen),
            "unseen": list(self.unseen),
            "source": self.source,
            "split": self.split,
            "splits": self.splits,
            **({"test": self.test.to_meta()} if self.test is not None else {}),
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ZeroShotSetup:
        embeddings = meta["embeddings"]
        embeddings = embeddings.numpy() if isinstance(embeddings, torch.Tensor) else np.asarray(embeddings, np.float32)
        return cls(
            embeddings,
            tuple(meta["seen"]),
            tuple(meta["unseen"]),
            str(meta["source"]),
            int(meta["split"]),
            int(meta["splits"]),
            CrossTest.from_meta(meta["test"]) if meta.get("test") else None,
        )

    def describe(self, index: DatasetIndex, train: Sequence[Sample], val: Sequence[Sample]) -> dict[str, Any]:
        """What ``zero_shot_classes.json`` says: the split in class names, and exactly which videos trained and
        validated."""
        classes = index.classes
        held_out = {"unseen": [classes[i] for i in self.unseen]} if self.test is None else self.test.describe()
        return {
            "split": self.split + 1,
            "of": self.splits,
            "embeddings": self.source,
            "dimensions": self.dim,
            "seen": [classes[i] for i in self.seen],
            **held_out,
            "train": [index.relative(s.path) for s in train],
            "val": [index.relative(s.path) for s in val],
        }


def unseen_samples(index: DatasetIndex, setup: ZeroShotSetup) -> list[Sample]:
    """Every labelled video of an unseen class, from every split: none of them was ever trained on."""
    keep = set(setup.unseen)
    return [s for samples in index.splits.values() for s in samples if s.label in keep]


def regression_targets(embeddings: np.ndarray, seen: Sequence[int]) -> np.ndarray:
    """Class-name embeddings as targets a network can regress: centred on the seen classes' mean, unit variance.

    Sentence embeddings of short names share a large common direction (all-MiniLM-L6-v2's
    cosines between unrelated action names are still around 0.3), and unit rows put each
    of D components near 1/sqrt(D): predicting the mean embedding already gives a tiny MSE,
    and the network learns nothing (seen-class accuracy stays at chance). Removing the
    seen classes' mean (only what training may know) and scaling rows to norm sqrt(D)
    makes the class differences the signal. Cosine ranking is unchanged in kind: every
    class, seen or unseen, goes through the same affine map.
    """
    centred = embeddings - embeddings[list(seen)].mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return (centred / np.where(norms > 0, norms, 1.0) * np.sqrt(embeddings.shape[1])).astype(np.float32)


def prepare_zero_shot(config: Any, index: DatasetIndex) -> ZeroShotSetup:
    """The seen/unseen split ``config.zs_split`` of ``config.zs_splits`` (seeded) and the class-name targets;
    with ``config.zs_test_data``, the cross-dataset setup (:func:`prepare_cross_dataset`)."""
    if getattr(config, "zs_test_data", None):
        return prepare_cross_dataset(config, index)
    split = class_splits(len(index.classes), config.zs_splits, unseen_fraction=config.unseen_fraction, seed=config.seed)
    chosen = split[config.zs_split]
    targets = regression_targets(class_embeddings(index.classes, config.embeddings), chosen.seen)
    return ZeroShotSetup(targets, chosen.seen, chosen.unseen, str(config.embeddings), config.zs_split, config.zs_splits)


def prepare_cross_dataset(config: Any, index: DatasetIndex) -> ZeroShotSetup:
    """Train on ``index``'s classes except those whose name is within ``config.zs_overlap_threshold`` (cosine) of a
    class of ``config.zs_test_data``; test on every class of that dataset.

    Both datasets' names are embedded together and mapped to targets by the same centring (on the kept training
    classes), so the test names are compared with the network's outputs as the training names are.
    """
    from hartrace.data import load_dataset

    source = str(config.embeddings)
    if source.lower().endswith(".npy"):
        raise UsageError(
            f"{source} holds one row per class of one dataset; cross-dataset zero-shot names two datasets' classes: "
            "give a .json file mapping each class name to its vector, a word2vec text file, or minilm"
        )
    test_root = os.path.abspath(os.path.expanduser(config.zs_test_data))
    test_index = load_dataset(
        test_root, format=config.zs_test_format, check_images=False, progress=False, min_classes=2
    )
    if test_index.task != index.task:
        raise UsageError(
            f"--zs-test-data {config.zs_test_data} holds {test_index.task}s, but the run trains on {index.task}s"
        )
    train_names, test_names = list(index.classes), list(test_index.classes)
    names = class_embeddings(train_names + test_names, config.embeddings)
    n_train = len(train_names)
    overlap = class_overlap(train_names, test_names, names[:n_train], names[n_train:], config.zs_overlap_threshold)
    targets = regression_targets(names, overlap.seen)
    test = CrossTest(
        test_root,
        str(config.zs_test_format),
        tuple(test_names),
        targets[n_train:],
        float(config.zs_overlap_threshold),
        overlap.removed,
        overlap.closest,
    )
    return ZeroShotSetup(targets[:n_train], overlap.seen, (), source, config.zs_split, config.zs_splits, test)

"""What a run learns and how its outputs are read: the one seam between classifying and zero-shot.

An :class:`Objective` is handed to training and to evaluation and prediction, so none of them
branches on the kind of run. It says

- how wide the network's head is (one logit per class, or the class-name embedding size);
- the losses and how an output names a class for the epoch metrics (:class:`Criteria`);
- which samples train and validate (all of them, or the seen classes' only);
- what a run folder and its checkpoints record about it;
- which samples an evaluation scores and how a checkpoint's outputs become class scores
  (softmax probabilities, or the cosine to the class names' embeddings).

:class:`Classification` and :class:`ZeroShot` are the two; :func:`training_objective` picks one
for a training configuration, :func:`run_objective` for what a checkpoint records.
(:mod:`hartrace.zeroshot.objective` is the zero-shot loss module itself.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.data.samples import DatasetIndex, Sample
from hartrace.zeroshot.protocol import cosine_scores
from hartrace.zeroshot.training import ZERO_SHOT_CLASSES, ZeroShotSetup, prepare_zero_shot, unseen_samples

#: The "split" a zero-shot evaluation scores (and its folder under ``eval/``): every video of the unseen classes.
UNSEEN = "unseen"
#: What a cross-dataset run is scored on (its folder under ``eval/``): every video of the test dataset.
CROSS_DATASET = "cross-dataset"


@dataclass
class Criteria:
    """What a training loop needs from an objective: the training and validation losses, how outputs name a class."""

    train: nn.Module
    val: nn.Module
    predict: Callable[[torch.Tensor], torch.Tensor]  # [B, outputs] -> [B] class indices, for the epoch metrics

    def to(self, device: torch.device) -> Criteria:
        """Move the losses (and whatever they hold, such as class embeddings) to ``device``; returns self."""
        self.train.to(device)
        self.val.to(device)
        return self


@dataclass(frozen=True)
class Evaluation:
    """What evaluating a run scores: its samples, the classes given a score column each, and what the report adds."""

    split: str  # the name of what was scored, and the folder under eval/
    samples: list[Sample]
    classes: tuple[int, ...]  # class indices, in the order of the score columns
    labels: np.ndarray  # [N]: each sample's position in ``classes``
    report: dict[str, Any] = field(default_factory=dict)
    desc: str = "evaluating"  # the progress bar's label


class Objective(Protocol):
    """A run's head and loss, and how its outputs are read (see the module's docstring)."""

    @property
    def name(self) -> str:
        """``classify`` or ``zero-shot``, as :attr:`hartrace.runs.spec.RunSpec.objective` says it."""
        ...

    @property
    def softmax(self) -> bool:
        """Whether a checkpoint's outputs are probabilities (softmax per clip, before clips are averaged)."""
        ...

    def head_width(self, n_classes: int) -> int:
        """How many numbers the network outputs for a dataset of ``n_classes`` classes."""
        ...

    def criteria(self) -> Criteria:
        """Fresh training and validation losses and how an output names a class (on the CPU: move them with ``.to``)."""
        ...

    def trains_on(self, samples: Iterable[Sample]) -> list[Sample]:
        """The samples of a training or validation split this objective learns from."""
        ...

    def note(self) -> str:
        """What the training log adds after the number of classes (empty, or the seen/unseen split)."""
        ...

    def run_files(self, index: DatasetIndex, train: Sequence[Sample], val: Sequence[Sample]) -> dict[str, Any]:
        """Extra JSON files of the run folder, by file name."""
        ...

    def meta(self) -> dict[str, Any]:
        """What every checkpoint's metadata records about the objective, beside the model and classes."""
        ...

    def evaluation(self, index: DatasetIndex, split: str) -> Evaluation:
        """The samples an evaluation scores (``split`` of ``index``, or every video of the unseen classes)."""
        ...

    def class_scores(self, outputs: np.ndarray, classes: Sequence[int] | None = None) -> np.ndarray:
        """``[N, len(classes)]`` float32 scores (default: all classes) from a checkpoint's outputs ``[N, width]``."""
        ...


@dataclass(frozen=True)
class Classification:
    """One logit per class, cross-entropy (with ``label_smoothing`` while training), softmax probabilities as scores."""

    label_smoothing: float = 0.0

    name = "classify"
    softmax = True

    def head_width(self, n_classes: int) -> int:
        return n_classes

    def criteria(self) -> Criteria:
        return Criteria(nn.CrossEntropyLoss(label_smoothing=self.label_smoothing), nn.CrossEntropyLoss(), _arg_max)

    def trains_on(self, samples: Iterable[Sample]) -> list[Sample]:
        return list(samples)

    def note(self) -> str:
        return ""

    def run_files(self, index: DatasetIndex, train: Sequence[Sample], val: Sequence[Sample]) -> dict[str, Any]:
        return {}

    def meta(self) -> dict[str, Any]:
        return {}

    def evaluation(self, index: DatasetIndex, split: str) -> Evaluation:
        """The labelled samples of ``split``, scored against every class."""
        if split not in index.splits:
            raise UsageError(f"{index.root} has no {split!r} split (it has: {', '.join(index.splits)})")
        samples = [s for s in index.splits[split] if s.label is not None]
        if not samples:
            raise UsageError(
                f"the {split!r} split of {index.root} has no labelled {index.task}s: use `hartrace predict` for it"
            )
        labels = np.array([s.label for s in samples])
        return Evaluation(split, samples, tuple(range(len(index.classes))), labels, {}, f"evaluating {split}")

    def class_scores(self, outputs: np.ndarray, classes: Sequence[int] | None = None) -> np.ndarray:
        """The probabilities themselves (the softmax is taken per clip as outputs are made), in ``classes``' columns."""
        if classes is None or list(classes) == list(range(outputs.shape[1])):
            return outputs
        return outputs[:, list(classes)]


@dataclass(frozen=True, eq=False)
class ZeroShot:
    """Regress the class name's embedding (MSE) on the seen classes; score by cosine to the classes' embeddings."""

    setup: ZeroShotSetup

    name = "zero-shot"
    softmax = False

    def head_width(self, n_classes: int) -> int:
        return self.setup.dim

    def criteria(self) -> Criteria:
        """One MSE module for training and validation; its predictions name the nearest *seen* class."""
        loss = self.setup.loss()
        return Criteria(loss, loss, lambda outputs: loss.predict(outputs.float()))

    def trains_on(self, samples: Iterable[Sample]) -> list[Sample]:
        return self.setup.seen_samples(samples)

    def note(self) -> str:
        test = self.setup.test
        if test is not None:
            return (
                f" ({len(self.setup.seen)} trained on, {len(test.removed)} removed as too close to a test class; "
                f"zero-shot test: the {len(test.classes)} classes of {test.data})"
            )
        return f" ({len(self.setup.seen)} seen, {len(self.setup.unseen)} unseen: zero-shot)"

    def run_files(self, index: DatasetIndex, train: Sequence[Sample], val: Sequence[Sample]) -> dict[str, Any]:
        return {ZERO_SHOT_CLASSES: self.setup.describe(index, train, val)}

    def meta(self) -> dict[str, Any]:
        return {"zero_shot": self.setup.to_meta()}

    def evaluation(self, index: DatasetIndex, split: str) -> Evaluation:
        """Every labelled video of the unseen classes (from every split: none was trained on), scored on those classes.

        ``split`` is not used: a zero-shot run is always scored on what it never saw. A cross-dataset run is
        scored on another dataset's classes, which an evaluation of its own dataset cannot name: it refuses.
        """
        setup = self.setup
        if setup.test is not None:
            raise UsageError(
                f"this is a cross-dataset zero-shot run: trained on classes of {index.root}, it is scored on every "
                f"class of {setup.test.data}, not on a split of its own dataset; `hartrace train --zero-shot "
                f"--zs-test-data` wrote those scores to eval/{CROSS_DATASET}/ in the run and zeroshot.md beside it"
            )
        samples = unseen_samples(index, setup)
        if not samples:
            raise UsageError(f"{index.root} has no labelled videos of the unseen classes to score")
        position: dict[int | None, int] = {label: i for i, label in enumerate(setup.unseen)}
        labels = np.array([position[s.label] for s in samples])
        unseen = [index.classes[i] for i in setup.unseen]
        report = {
            "zero_shot": {
                "split": setup.split + 1,
                "of": setup.splits,
                "embeddings": setup.source,
                "seen": [index.classes[i] for i in setup.seen],
                "unseen": unseen,
                "chance_top1": 1.0 / len(unseen),
            }
        }
        return Evaluation(UNSEEN, samples, setup.unseen, labels, report, "scoring unseen classes")

    def class_scores(self, outputs: np.ndarray, classes: Sequence[int] | None = None) -> np.ndarray:
        """The cosine of each predicted embedding to each class name's embedding."""
        embeddings = self.setup.embeddings if classes is None else self.setup.embeddings[list(classes)]
        return cosine_scores(outputs, embeddings).astype(np.float32, copy=False)


def training_objective(config: Any, index: DatasetIndex) -> Objective:
    """The objective a training configuration asks for (by its ``zero_shot``, ``label_smoothing`` and zs options)."""
    if config.zero_shot:
        return ZeroShot(prepare_zero_shot(config, index))
    return Classification(float(config.label_smoothing))


def run_objective(zero_shot: ZeroShotSetup | None) -> Objective:
    """The objective of a trained run, from what its checkpoint records (:attr:`RunSpec.zero_shot`)."""
    return Classification() if zero_shot is None else ZeroShot(zero_shot)


def _arg_max(outputs: torch.Tensor) -> torch.Tensor:
    return outputs.argmax(1)

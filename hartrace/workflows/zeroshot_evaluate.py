"""Scoring a zero-shot checkpoint on the classes it never saw: the nearest class-name embedding wins.

Each unseen video's predicted embedding (averaged over its test clips) is compared by
cosine with the embeddings of the unseen classes only, as Brattoli et al. do; the
similarities take the place of class probabilities, so the usual evaluation report,
confusion matrix and top-k accuracy apply unchanged.
"""

from __future__ import annotations

import numpy as np

from hartrace.data.samples import DatasetIndex
from hartrace.base.errors import UsageError
from hartrace.runs.inference import Scored, model_outputs
from hartrace.runs.loading import Opened
from hartrace.zeroshot.protocol import cosine_scores
from hartrace.zeroshot.training import unseen_samples

#: The name of the "split" a zero-shot evaluation scores: every video of the unseen classes.
UNSEEN = "unseen"  # the folder name Opened.evaluated_split gives a zero-shot run


def score_unseen(opened: Opened, index: DatasetIndex, *, batch_size: int = 64, progress: bool = True) -> Scored:
    """Cosine similarities ``[N, unseen classes]`` of every unseen-class video, with its true unseen class."""
    setup = opened.spec.zero_shot
    if setup is None:
        raise UsageError(f"{opened.checkpoint} is not a zero-shot model")
    samples = unseen_samples(index, setup)
    if not samples:
        raise UsageError(f"{index.root} has no labelled videos of the unseen classes to score")
    outputs = model_outputs(
        opened.model, samples, opened.spec, softmax=False, batch_size=batch_size, progress=progress, desc="scoring unseen classes"
    )
    scores = cosine_scores(outputs, setup.embeddings[list(setup.unseen)])
    position = {label: i for i, label in enumerate(setup.unseen)}
    labels = np.array([position[s.label] for s in samples])
    classes = [index.classes[i] for i in setup.unseen]
    extra = {"zero_shot": {"split": setup.split + 1, "of": setup.splits, "embeddings": setup.source,
                           "seen": [index.classes[i] for i in setup.seen], "unseen": classes,
                           "chance_top1": 1.0 / len(classes)}}  # fmt: skip
    return Scored(UNSEEN, samples, scores.astype(np.float32), labels, classes, extra)

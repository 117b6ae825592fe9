"""Zero-shot action recognition from class names (after Brattoli et al., CVPR 2020).

A video network regresses the text embedding of its class's name with an MSE loss; a video
of a class never trained on is assigned the unseen class whose name embedding is nearest::

    from hartrace.zeroshot import class_embeddings, class_splits, EmbeddingRegressionLoss
    E = class_embeddings(classes)                       # [N, 384], unit rows (bundled MiniLM)
    split = class_splits(len(classes), 10)[0]           # seen / unseen class indices
    criterion = EmbeddingRegressionLoss(E, candidates=split.seen)
    loss = criterion(outputs, labels); predicted = criterion.predict(outputs)

Across datasets, :func:`class_overlap` removes the training classes whose names are too close to
a test class, as the paper removes Kinetics classes near UCF101's and HMDB51's.

Training, evaluation and prediction see a run through its :class:`~hartrace.zeroshot.objectives.Objective`
(:class:`Classification` or :class:`ZeroShot`): head width, losses, which samples train, what is
recorded, and how outputs become class scores.

Names load on first use, so importing this package imports neither torch nor sentence-transformers.
"""

from __future__ import annotations

from hartrace.base.lazy import lazy_getattr

_EXPORTS = {
    "MINILM": "hartrace.zeroshot.embeddings",
    "class_name_text": "hartrace.zeroshot.embeddings",
    "text_embeddings": "hartrace.zeroshot.embeddings",
    "class_embeddings": "hartrace.zeroshot.embeddings",
    "read_word_vectors": "hartrace.zeroshot.embeddings",
    "ClassSplit": "hartrace.zeroshot.protocol",
    "class_splits": "hartrace.zeroshot.protocol",
    "cosine_scores": "hartrace.zeroshot.protocol",
    "zero_shot_predict": "hartrace.zeroshot.protocol",
    "topk_accuracy": "hartrace.zeroshot.protocol",
    "summarise_splits": "hartrace.zeroshot.protocol",
    "format_mean_std": "hartrace.zeroshot.protocol",
    "class_overlap": "hartrace.zeroshot.cross",
    "EmbeddingRegressionLoss": "hartrace.zeroshot.objective",
    "Objective": "hartrace.zeroshot.objectives",
    "Classification": "hartrace.zeroshot.objectives",
    "ZeroShot": "hartrace.zeroshot.objectives",
    "training_objective": "hartrace.zeroshot.objectives",
    "run_objective": "hartrace.zeroshot.objectives",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)

"""The zero-shot evaluation protocol: random seen/unseen class splits, nearest-name prediction, top-k.

Brattoli et al. (CVPR 2020) train on half of a dataset's classes and test on the other half,
repeated over 10 random splits, and report the mean and standard deviation of top-1/top-5
accuracy. A video is assigned the unseen class whose name embedding is nearest (by cosine)
to the vector the network predicted for it.

Functions take numpy arrays or torch tensors and answer in the kind they were given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from hartrace.base.errors import UsageError

Array = TypeVar("Array", np.ndarray, torch.Tensor)

_TOPK_KEY = re.compile(r"top\d+")


@dataclass(frozen=True)
class ClassSplit:
    """One partition of class indices: train on ``seen``, test zero-shot on ``unseen`` (both sorted)."""

    seen: tuple[int, ...]
    unseen: tuple[int, ...]


def class_splits(n_classes: int, k: int, *, unseen_fraction: float = 0.5, seed: int = 0) -> list[ClassSplit]:
    """``k`` distinct random seen/unseen partitions of ``range(n_classes)``, reproducible from ``seed``.

    Each split has exactly ``round(n_classes * unseen_fraction)`` unseen classes (Python's
    round: UCF101's 101 classes at 0.5 give 50 unseen, 51 seen). The first ``j`` splits do not
    depend on ``k``, so asking for more splits later keeps the earlier ones.
    """
    if not 0 < unseen_fraction < 1:
        raise UsageError(f"unseen_fraction must be between 0 and 1, got {unseen_fraction}")
    if k < 1:
        raise UsageError(f"the number of splits must be at least 1, got {k}")
    n_unseen = round(n_classes * unseen_fraction)
    if n_unseen < 2 or n_classes - n_unseen < 1:
        raise UsageError(
            f"{n_classes} classes at unseen_fraction={unseen_fraction} give {n_unseen} unseen and "
            f"{n_classes - n_unseen} seen; zero-shot needs at least 2 unseen and 1 seen class"
        )
    possible = math.comb(n_classes, n_unseen)
    if k > possible:
        raise UsageError(f"only {possible} distinct splits of {n_classes} classes exist; asked for {k}")
    rng = np.random.default_rng(seed)
    splits: list[ClassSplit] = []
    taken: set[tuple[int, ...]] = set()
    while len(splits) < k:
        unseen = tuple(sorted(int(c) for c in rng.permutation(n_classes)[:n_unseen]))
        if unseen in taken:
            continue
        taken.add(unseen)
        seen = tuple(sorted(set(range(n_classes)) - set(unseen)))
        splits.append(ClassSplit(seen=seen, unseen=unseen))
    return splits


def cosine_scores(predicted: Array, class_embeddings: np.ndarray | torch.Tensor) -> Array:
    """Cosine similarity of each prediction to each class embedding: ``[N, D] x [M, D] -> [N, M]``.

    Returns the kind (numpy or torch, and for torch the device and float dtype) of ``predicted``.
    """
    _check_pair(predicted, class_embeddings)
    if isinstance(predicted, torch.Tensor):
        dtype = predicted.dtype if predicted.is_floating_point() else torch.float32
        embeddings = torch.as_tensor(class_embeddings, device=predicted.device, dtype=dtype)
        return F.normalize(predicted.to(dtype), dim=1) @ F.normalize(embeddings, dim=1).T
    predicted_np = np.asarray(predicted, dtype=np.float32)
    embeddings_np = _to_numpy(class_embeddings).astype(np.float32, copy=False)
    return _unit_rows(predicted_np) @ _unit_rows(embeddings_np).T


def zero_shot_predict(
    predicted: Array, class_embeddings: np.ndarray | torch.Tensor, candidates: Sequence[int]
) -> Array:
    """Candidate class indices ranked best first for each prediction: ``[N, len(candidates)]``.

    Only ``candidates`` (the unseen classes) can be predicted; the indices returned are rows of
    ``class_embeddings``, not positions in ``candidates``. Ties keep the candidates' order.
    """
    n_classes = len(class_embeddings)
    chosen = candidate_indices(candidates, n_classes)
    if isinstance(predicted, torch.Tensor):
        index = torch.as_tensor(chosen, device=predicted.device)
        scores = cosine_scores(predicted, torch.as_tensor(class_embeddings, device=predicted.device)[index])
        order = torch.argsort(scores, dim=1, descending=True, stable=True)
        return index[order]
    scores_np = cosine_scores(np.asarray(predicted), _to_numpy(class_embeddings)[chosen])
    order_np = np.argsort(-scores_np, axis=1, kind="stable")
    return chosen[order_np]


def topk_accuracy(
    ranked: np.ndarray | torch.Tensor, labels: Sequence[int] | np.ndarray | torch.Tensor, ks: Sequence[int] = (1, 5)
) -> dict[str, float]:
    """Share of rows whose true label is among the first ``k`` ranked classes, as ``{"top1": ..., "top5": ...}``.

    A ``k`` larger than the number of ranked classes counts them all. Every label must appear in
    its row: a test video of a class that was not a candidate is a protocol mistake, not a miss.
    """
    ranked_np = _to_numpy(ranked)
    labels_np = _to_numpy(labels).reshape(-1)
    if ranked_np.ndim != 2 or ranked_np.shape[0] != labels_np.shape[0]:
        raise UsageError(
            f"ranked classes {tuple(ranked_np.shape)} and labels ({labels_np.shape[0]},) do not match: "
            "expected [N, M] and [N]"
        )
    if ranked_np.shape[0] == 0:
        raise UsageError("no predictions to score")
    if any(int(k) < 1 for k in ks):
        raise UsageError(f"top-k needs k >= 1, got {list(ks)}")
    hits = ranked_np == labels_np[:, None]
    absent = ~hits.any(axis=1)
    if absent.any():
        row = int(np.flatnonzero(absent)[0])
        raise UsageError(f"label {int(labels_np[row])} (row {row}) is not among the ranked candidate classes")
    position = hits.argmax(axis=1)
    return {f"top{int(k)}": float((position < int(k)).mean()) for k in ks}


def summarise_splits(results: Sequence[Mapping[str, Any]], metrics: Sequence[str] | None = None) -> dict[str, Any]:
    """Mean and population standard deviation (``ddof=0``, numpy's default) of each metric over splits.

    ``results`` holds one dict per split (e.g. :func:`topk_accuracy`'s, plus anything else worth
    keeping); ``metrics`` defaults to the ``top<k>`` keys every split has. Returns
    ``{"splits": K, "mean": {...}, "std": {...}, "per_split": [...]}``, each per-split row numbered
    from 1 (``"split": 1``), as a report or a ``split1/`` folder would name it.
    """
    if not results:
        raise UsageError("no split results to summarise")
    if metrics is None:
        metrics = [key for key in results[0] if _TOPK_KEY.fullmatch(key) and all(key in r for r in results)]
    missing = [(i, m) for i, r in enumerate(results) for m in metrics if m not in r]
    if missing:
        raise UsageError(f"split {missing[0][0] + 1} has no {missing[0][1]!r} result")
    values = {m: np.array([float(r[m]) for r in results]) for m in metrics}
    return {
        "splits": len(results),
        "mean": {m: float(v.mean()) for m, v in values.items()},
        "std": {m: float(v.std(ddof=0)) for m, v in values.items()},
        "per_split": [{"split": i, **dict(r)} for i, r in enumerate(results, start=1)],
    }


def format_mean_std(mean: float, std: float, *, percent: bool = True, digits: int = 1) -> str:
    """``"48.0 ± 2.1"`` for a report; fractions (0.48, 0.021) are shown as percentages unless ``percent=False``."""
    scale = 100.0 if percent else 1.0
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def _to_numpy(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm; an all-zero row stays zero (like ``F.normalize``), scoring 0 everywhere."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def _shape(values: Any) -> tuple[int, ...]:
    return tuple(values.shape) if isinstance(values, torch.Tensor) else tuple(np.shape(values))


def _check_pair(predicted: Any, class_embeddings: Any) -> None:
    p_shape, e_shape = _shape(predicted), _shape(class_embeddings)
    if len(p_shape) != 2 or len(e_shape) != 2 or p_shape[1] != e_shape[1]:
        raise UsageError(
            f"predicted vectors {p_shape} and class embeddings {e_shape} do not match: expected [N, D] and [M, D]"
        )


def candidate_indices(candidates: Sequence[int], n_classes: int) -> np.ndarray:
    """``candidates`` checked (non-empty, no repeats, all in ``0..n_classes-1``) as an int64 array."""
    chosen = np.asarray(list(candidates), dtype=np.int64)
    if chosen.ndim != 1 or chosen.size == 0:
        raise UsageError("zero-shot prediction needs at least one candidate class")
    if len(set(chosen.tolist())) != chosen.size:
        raise UsageError("candidate classes must not repeat")
    if chosen.min() < 0 or chosen.max() >= n_classes:
        raise UsageError(f"candidate classes must be indices in 0..{n_classes - 1}, got {chosen.tolist()}")
    return chosen

"""Which class an explanation is for: the prediction, a class index or name, several, or the top-k."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from hartrace.base.errors import UsageError

Target = int | str | Sequence[int | str] | torch.Tensor | None


def _index(value: int | str, classes: Sequence[str] | None, n_classes: int) -> int:
    if isinstance(value, str) and not value.isdigit():
        if classes is None or value not in classes:
            known = f"; known: {', '.join(classes)}" if classes else ""
            raise UsageError(f"unknown target class {value!r}{known}")
        return list(classes).index(value)
    index = int(value)
    if not 0 <= index < n_classes:
        raise UsageError(f"target class index {index} is out of range (the model has {n_classes} classes)")
    return index


def resolve_targets(target: Target, logits: torch.Tensor, classes: Sequence[str] | None = None) -> torch.Tensor:
    """Class indices ``[B, K]`` for ``target``.

    ``None`` or ``"pred"``: the predicted class; ``"topK"`` (e.g. ``"top5"``): the K most
    probable classes of each image; an int or class name: that class for every image;
    a list: those classes for every image; a tensor ``[B]`` or ``[B, K]``: as given.
    """
    batch, n_classes = logits.shape
    if isinstance(target, torch.Tensor):
        target = target.to(logits.device).long()
        return target[:, None] if target.dim() == 1 else target
    if target is None or target == "pred":
        return logits.argmax(1, keepdim=True)
    if isinstance(target, str) and (match := re.fullmatch(r"top(\d+)", target.strip().lower())):
        return logits.topk(min(int(match.group(1)), n_classes), dim=1).indices
    values = [target] if isinstance(target, (int, str)) else list(target)
    indices = [_index(v, classes, n_classes) for v in values]
    return torch.tensor(indices, device=logits.device).expand(batch, len(indices))

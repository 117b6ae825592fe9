"""Batched class probabilities for a list of samples: what evaluate, predict and compare share."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from hartrace.data.dataset import ImageDataset
from hartrace.data.samples import Sample
from hartrace.data.transforms import eval_transform
from hartrace.progress import progress_bar
from hartrace.device import autocast, autocast_dtype


def checkpoint_transform(meta: dict[str, Any]):
    """The evaluation preprocessing a checkpoint was trained with."""
    return eval_transform(int(meta["input_size"]), meta["mean"], meta["std"])


@torch.no_grad()
def predict_probabilities(
    model: nn.Module,
    samples: Sequence[Sample],
    meta: dict[str, Any],
    *,
    batch_size: int = 64,
    workers: int | None = None,
    amp: str = "auto",
    progress: bool = True,
    desc: str = "predicting",
) -> np.ndarray:
    """Softmax probabilities ``[N, classes]`` (float32) for ``samples``, in order."""
    device = next(model.parameters()).device
    dtype = autocast_dtype(device, amp)
    loader = DataLoader(
        ImageDataset(samples, checkpoint_transform(meta)),
        batch_size=batch_size,
        num_workers=min(4, os.cpu_count() or 1) if workers is None else workers,
    )
    model.eval()
    chunks = []
    with progress_bar(total=len(samples), desc=desc, enabled=progress) as bar:
        for images, _ in loader:
            images = images.to(device).contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                logits = model(images)
            chunks.append(torch.softmax(logits.float(), dim=1).cpu())
            bar.update(len(images))
    if not chunks:
        return np.zeros((0, len(meta["classes"])), dtype=np.float32)
    return torch.cat(chunks).numpy()

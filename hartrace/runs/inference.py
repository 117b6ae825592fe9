"""Batched model outputs for a list of samples: what evaluate, predict, compare and zero-shot share.

Images are one forward pass each. A video is scored on several clips spread over it
(``test_clips`` in the checkpoint), and the clip scores are averaged, as the UCF101 and
Kinetics protocols do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from hartrace.base.device import autocast, autocast_dtype, model_memory_format, to_memory_format
from hartrace.base.progress import Progress, progress_bar
from hartrace.data.pipeline import evaluation_dataset, loader_context, release_stops
from hartrace.data.samples import Sample
from hartrace.runs.spec import RunSpec
from hartrace.runs.tasks import task_of


@torch.no_grad()
def model_outputs(
    model: nn.Module,
    samples: Sequence[Sample],
    run: RunSpec,
    *,
    softmax: bool = True,
    clips: int | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    amp: str = "auto",
    progress: Progress = True,
    desc: str = "predicting",
) -> np.ndarray:
    """``[N, outputs]`` float32 for ``samples``, in order: class probabilities, or the raw outputs.

    A video's outputs are the mean over its ``clips`` clips (default: the checkpoint's
    ``test_clips``); with ``softmax`` the clip probabilities are averaged.
    """
    spec = run.input
    task = task_of(spec)
    clips = clips or task.clips_per_item(spec)
    per_item = clips if task.is_video else 1  # an image is one picture, whatever ``clips`` says
    device = next(model.parameters()).device
    dtype = autocast_dtype(device, amp)
    channels_last = model_memory_format(model) == task.channels_last()
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    loader = DataLoader(
        evaluation_dataset(samples, spec, clips=clips),
        batch_size=max(1, batch_size // clips),
        num_workers=workers,
        multiprocessing_context=loader_context(spec.task) if workers else None,
        worker_init_fn=release_stops if workers else None,
    )
    model.eval()
    chunks = []
    with progress_bar(total=len(samples), desc=desc, enabled=progress) as bar:
        for inputs, _ in loader:
            batch = inputs.flatten(0, 1) if per_item > 1 else inputs  # [B, N, C, T, H, W] -> [B*N, C, T, H, W]
            with autocast(device, dtype):
                outputs = model(to_memory_format(batch.to(device), channels_last)).float()
            if softmax:
                outputs = torch.softmax(outputs, dim=1)
            chunks.append(outputs.view(len(inputs), per_item, -1).mean(1).cpu())
            bar.update(len(inputs))
    if not chunks:
        return np.zeros((0, run.outputs), dtype=np.float32)
    return torch.cat(chunks).numpy()


def predict_probabilities(model: nn.Module, samples: Sequence[Sample], run: RunSpec, **options: Any) -> np.ndarray:
    """Softmax probabilities ``[N, classes]`` (float32) for ``samples``, in order (videos: averaged over clips)."""
    return model_outputs(model, samples, run, softmax=True, **options)

"""The frozen-trunk feature cache: run the trunk once, then train the head for many epochs on its output.

Valid only when nothing about an image changes between epochs (augmentation off)
and the trunk cannot change (frozen, BatchNorm in eval). Under DDP every rank
extracts its share and the shares are gathered, so each rank holds the whole cache.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from hartrace.base.device import autocast, to_memory_format
from hartrace.base.progress import progress_bar
from hartrace.data.pipeline import loader_context, release_stops
from hartrace.runs.distributed import Distributed
from hartrace.workflows.train.sampler import EpochSampler


@torch.no_grad()
def extract_features(
    model: nn.Module,
    dataset: Dataset,
    *,
    ctx: Distributed,
    batch_size: int,
    workers: int,
    amp_dtype: torch.dtype | None,
    channels_last: bool,
    progress: bool,
    desc: str,
    task: str = "image",
) -> TensorDataset:
    """``TensorDataset(features, labels)`` in dataset order, features kept in the autocast dtype."""
    was_training = model.training
    model.eval()
    sampler = EpochSampler(len(dataset), shuffle=False, rank=ctx.rank, world=ctx.world, pad=False)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        multiprocessing_context=loader_context(task) if workers else None,
        worker_init_fn=release_stops if workers else None,
    )
    chunks, labels = [], []
    with progress_bar(total=len(sampler), desc=desc, enabled=progress) as bar:
        for images, targets in loader:
            images = to_memory_format(images.to(ctx.device), channels_last)
            with autocast(ctx.device, amp_dtype):
                features = model.forward_trunk(images)
            chunks.append(features.cpu().contiguous())
            labels.append(targets)
            bar.update(len(targets))
    model.train(was_training)
    mine = (list(sampler), torch.cat(chunks), torch.cat(labels))
    shares = ctx.gather(mine)
    order = torch.tensor([i for indices, _, _ in shares for i in indices])
    features = torch.cat([f for _, f, _ in shares])[order.argsort()]
    targets = torch.cat([t for _, _, t in shares])[order.argsort()]
    return TensorDataset(features, targets)


def cache_bytes(dataset: TensorDataset) -> int:
    return sum(t.element_size() * t.nelement() for t in dataset.tensors)

"""Randomness a resumed run replays exactly: the order of each epoch, and each item's augmentation.

The order of epoch ``e`` depends only on ``(seed, e)``, and an item's random crop, flip or
clip start only on ``(seed, e, index)``, never on which DataLoader worker made it or how
many items that worker made before. So a run resumed part-way through an epoch, with any
number of workers, sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, Sampler


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63)


def item_seed(seed: int, epoch: int, index: int) -> int:
    return (epoch_seed(seed, epoch) * 6_364_136_223_846_793_005 + index * 1_442_695_040_888_963_407 + 1) % (2**63)


class SeededItems(Dataset):
    """``dataset`` whose item ``i`` in epoch ``e`` draws its randomness from ``item_seed(seed, e, i)``.

    torch's global generator (what the transforms draw from) is reseeded around each item and
    put back afterwards, so the main process's own stream (dropout) is left as it was.
    ``set_epoch`` before each epoch's DataLoader is made: workers take a copy when they start.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> object:
        outside = torch.get_rng_state()
        torch.manual_seed(item_seed(self.seed, self.epoch, index))
        try:
            return self.dataset[index]
        finally:
            torch.set_rng_state(outside)


class EpochSampler(Sampler[int]):
    """Shuffle (or keep) ``n`` indices per epoch, pad to a multiple of ``world``, take rank's share.

    ``skip`` drops the first indices of this rank's share: the samples already
    trained on when an interrupted epoch is resumed.
    """

    def __init__(
        self,
        n: int,
        *,
        shuffle: bool,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world: int = 1,
        skip: int = 0,
        pad: bool = True,
    ) -> None:
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, epoch
        self.rank, self.world, self.skip, self.pad = rank, world, skip, pad

    def _indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
            order = torch.randperm(self.n, generator=generator).tolist()
        else:
            order = list(range(self.n))
        if self.pad and self.world > 1 and self.n:
            total = math.ceil(self.n / self.world) * self.world
            order += order[: total - self.n]
        return order[self.rank :: self.world][self.skip :]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices())

    def __len__(self) -> int:
        return len(self._indices())

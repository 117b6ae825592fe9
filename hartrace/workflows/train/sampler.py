"""A seeded per-epoch shuffle, sharded across DDP ranks, that can start part-way through an epoch.

The order of epoch ``e`` depends only on ``(seed, e)``, so a resumed run sees
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63)


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

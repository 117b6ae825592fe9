"""Each channel's most activating inputs over a whole split, kept while streaming, and where in them it fired.

A dataset is seen batch by batch; keeping every activation map would cost memory in
proportion to the images. :class:`TopActivations` keeps, per channel, only the ``k`` best
so far (their scores, their positions in the stream and their maps), so memory is
``channels x k`` maps whatever the split's size. :func:`fired_boxes` then finds the region
of each map that fired, at the input's resolution.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

#: The region that fired: the connected part of the upsampled map above this share of its maximum.
REGION_SHARE = 0.5


class TopActivations:
    """The ``k`` inputs with the highest per-channel maximum, for ``channels`` channels, over a stream of batches.

    ::

        top = TopActivations(channels=256, k=16)
        for start, maps in batches:          # maps [B, C, h, w] of inputs start .. start + B - 1
            top.add(maps, start)
        top.scores, top.items, top.maps       # [C, k], [C, k] stream positions, [C, k, h, w]

    Rows are best first; a channel seen on fewer than ``k`` inputs has ``-inf`` scores and item ``-1`` in the rest.
    """

    def __init__(self, channels: int, k: int) -> None:
        if channels < 1 or k < 1:
            raise ValueError(f"channels and k must be at least 1, got {channels} and {k}")
        self.channels, self.k = channels, k
        self.scores = torch.full((channels, k), -torch.inf)
        self.items = torch.full((channels, k), -1, dtype=torch.long)
        self.maps: torch.Tensor | None = None  # [C, k, h, w], made on the first batch (its shape and device)

    def add(self, maps: torch.Tensor, start: int) -> None:
        """Merge a batch of maps ``[B, C, h, w]`` (or ``[B, C]`` for one value per channel) of inputs
        ``start .. start + B - 1``."""
        if maps.dim() == 2:
            maps = maps[:, :, None, None]
        if maps.dim() != 4 or maps.shape[1] != self.channels:
            raise ValueError(f"expected maps [B, {self.channels}, h, w], got {list(maps.shape)}")
        maps = maps.detach().float()
        if self.maps is None:
            device = maps.device
            self.maps = torch.zeros((self.channels, self.k, *maps.shape[2:]), device=device)
            self.scores, self.items = self.scores.to(device), self.items.to(device)
        batch = maps.shape[0]
        peaks = maps.flatten(2).amax(2).T  # [C, B]
        scores = torch.cat([self.scores, peaks], 1)  # [C, k + B]
        items = torch.cat(
            [self.items, torch.arange(start, start + batch, device=maps.device).expand(self.channels, -1)], 1
        )
        best = scores.topk(self.k, dim=1).indices  # [C, k]
        # only the winners' maps are gathered: the old ones (index < k) or the batch's ([B, C] -> [C, B])
        from_batch = best >= self.k
        kept = self.maps.gather(1, best.clamp(max=self.k - 1)[:, :, None, None].expand_as(self.maps))
        fresh = maps.transpose(0, 1)[
            torch.arange(self.channels, device=maps.device)[:, None], (best - self.k).clamp(min=0)
        ]
        self.maps = torch.where(from_batch[:, :, None, None], fresh, kept)
        self.scores, self.items = scores.gather(1, best), items.gather(1, best)


def fired_boxes(
    maps: torch.Tensor | np.ndarray, size: int, share: float = REGION_SHARE
) -> list[tuple[int, int, int, int]]:
    """Where each map ``[N, h, w]`` fired, as boxes ``(x0, y0, x1, y1)`` (exclusive) in a ``size`` x ``size`` input.

    A map is upsampled bilinearly to the input, as the unit's mask is in network dissection;
    its region is the connected (8-neighbour) part above ``share`` of its maximum that holds
    the peak. A map that never exceeds zero did not fire: its box is the whole input.
    """
    grid = torch.as_tensor(np.asarray(maps) if not isinstance(maps, torch.Tensor) else maps).detach().float().cpu()
    if grid.dim() != 3:
        raise ValueError(f"expected maps [N, h, w], got {list(grid.shape)}")
    if not len(grid):
        return []
    eight = np.ones((3, 3), dtype=bool)
    boxes = []
    step = max(1, (1 << 22) // (size * size))  # maps upsampled at once: a few million values
    pictures = (
        picture
        for start in range(0, len(grid), step)
        for picture in _upsample(grid[start : start + step], size).numpy()
    )
    for picture in pictures:
        peak = float(picture.max())
        if not peak > 0:
            boxes.append((0, 0, size, size))
            continue
        regions, _ = ndimage.label(picture >= share * peak, structure=eight)
        y, x = np.unravel_index(int(picture.argmax()), picture.shape)
        rows, columns = ndimage.find_objects(regions)[regions[y, x] - 1]
        boxes.append((int(columns.start), int(rows.start), int(columns.stop), int(rows.stop)))
    return boxes


def _upsample(maps: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(maps[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]

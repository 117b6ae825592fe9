"""Does a map point at the evidence? The pointing game and the energy inside the evidence, with baselines.

A uniformly random map's peak lands in the evidence with probability equal to the
evidence's share of the image, and puts that same share of its energy inside it:
that share is the random-map baseline each score is reported beside.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _dilate(mask: torch.Tensor, tolerance: int) -> torch.Tensor:
    if tolerance <= 0:
        return mask
    kernel = 2 * tolerance + 1
    return F.max_pool2d(mask[:, None].float(), kernel, stride=1, padding=tolerance)[:, 0] > 0


def pointing_hits(cams: torch.Tensor, masks: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """Per image: is the map's maximum inside the evidence (within ``tolerance`` pixels)? ``[B]`` bool.

    ``cams`` ``[B, H, W]``, ``masks`` ``[B, H, W]`` bool. Ties between several maxima count
    as a hit only if the first (row-major) lies inside.
    """
    masks = _dilate(masks.bool(), tolerance)
    flat_index = cams.flatten(1).argmax(1)
    return masks.flatten(1).gather(1, flat_index[:, None])[:, 0]


def energy_inside(cams: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per image: the share of the map's total mass that lies inside the evidence, ``[B]`` in [0, 1]."""
    cams = cams.clamp(min=0).flatten(1)
    inside = (cams * masks.flatten(1).float()).sum(1)
    total = cams.sum(1)
    return torch.where(total > 0, inside / total.clamp(min=1e-12), torch.zeros_like(total))


def random_baseline(masks: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """Per image: the pointing-game hit rate (and expected inside-energy) of a uniformly random map."""
    return _dilate(masks.bool(), tolerance).flatten(1).float().mean(1)

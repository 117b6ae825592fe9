"""Does a map rank an image's parts the way the model relies on them?

The reliance on a part is measured, not assumed: the drop in the predicted class's
probability when the scene is redrawn without that part (the synthetic generator can).
A map's claim about the same part is its mass there: the share of the map's total
(non-negative) mass on the part's pixels. Per image, the Spearman correlation between
the two over the image's parts says whether the map ranks the parts as the model uses
them; a uniformly random map puts mass in proportion to a part's area, which is the
baseline every method is reported beside.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import spearmanr

#: Fewer parts than this give no correlation worth reporting.
MIN_PARTS = 3


def part_mass(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``[B, P]``: the share of each map's mass (``maps`` ``[B, H, W]``, negatives clipped) on each part's
    pixels (``masks`` ``[B, P, H, W]`` bool). A map with no mass gives zeros."""
    if maps.dim() != 3 or masks.dim() != 4 or masks.shape[0] != maps.shape[0] or masks.shape[2:] != maps.shape[1:]:
        raise ValueError(f"expected maps [B, H, W] and masks [B, P, H, W], got {list(maps.shape)}, {list(masks.shape)}")
    weights = maps.float().clamp(min=0)
    on_part = (weights[:, None] * masks.float()).flatten(2).sum(2)
    total = weights.flatten(1).sum(1, keepdim=True)
    return torch.where(total > 0, on_part / total.clamp(min=1e-12), torch.zeros_like(on_part))


def rank_agreement(mass: np.ndarray, reliance: np.ndarray) -> float:
    """Spearman's rho between a map's mass per part and the model's reliance per part; NaN when there are
    fewer than :data:`MIN_PARTS` parts or either side does not vary (no ranking to agree with)."""
    mass, reliance = np.asarray(mass, dtype=np.float64), np.asarray(reliance, dtype=np.float64)
    if mass.shape != reliance.shape or mass.ndim != 1:
        raise ValueError(f"expected two vectors of the same length, got {mass.shape} and {reliance.shape}")
    if len(mass) < MIN_PARTS or np.ptp(mass) == 0 or np.ptp(reliance) == 0:
        return math.nan
    return float(spearmanr(mass, reliance).statistic)


__all__ = ["MIN_PARTS", "part_mass", "rank_agreement"]

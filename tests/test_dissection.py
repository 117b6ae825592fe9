"""Network dissection's streaming tally: its threshold is numpy's quantile (to a bin), its IoU the paper's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import jaccard_score

from hartrace.metrics.dissection import CEILING_LEVELS, DissectionTally, IoUCeiling


def _dense_iou(maps: torch.Tensor, ids: torch.Tensor, thresholds: torch.Tensor, concepts: int) -> np.ndarray:
    """The paper's IoU from whole arrays: masks = upsampled maps > T_u, summed over the images with the concept."""
    size = ids.shape[-1]
    up = F.interpolate(maps, size=(size, size), mode="bilinear", align_corners=False)
    iou = np.full((maps.shape[1], concepts), np.nan)
    for k in range(concepts):
        with_concept = (ids == k).flatten(1).any(1)
        if not with_concept.any():
            continue
        truth = (ids[with_concept] == k).flatten().numpy()
        for unit in range(maps.shape[1]):
            mask = (up[with_concept, unit] > thresholds[unit].float()).flatten().numpy()
            iou[unit, k] = jaccard_score(truth, mask, zero_division=0.0)
    return iou


def test_iou_is_the_hand_computed_one_over_the_images_where_the_concept_appears() -> None:
    torch.manual_seed(0)
    maps = torch.zeros(2, 1, 4, 4)
    maps[0, 0, :2, :2] = torch.tensor([[10.0, 11.0], [12.0, 13.0]])  # image 0 fires top-left
    maps[1, 0, 3, :] = torch.tensor([14.0, 15.0, 16.0, 17.0])  # image 1 fires along the bottom row
    maps += torch.rand(2, 1, 4, 4) * 0.5  # the other 24 values stay below 1
    ids = torch.zeros(2, 4, 4, dtype=torch.long)
    ids[0, :, 0] = 1  # concept 1: image 0's left column (not in image 1)
    ids[1, 3, :3] = 2  # concept 2: three of image 1's bottom row
    ids[0, 3, 3] = 2  # ... and one pixel of image 0 (where nothing fired)
    tally = DissectionTally(1, 32, 3, 4, quantile=0.25)  # 8 of 32 values (the hot ones) above T
    tally.add(maps, ids)
    threshold = float(tally.thresholds()[0])
    assert float(maps[maps < 1].max()) <= threshold < 10  # the first edge with only the 8 hot values above it
    iou = tally.ious()[0].numpy()
    # concept 1: only image 0 counts; 2 of its 4 pixels are in the 4-pixel mask -> 2 / (4 + 4 - 2)
    assert iou[1] == pytest.approx(2 / 6)
    # concept 2: both images; 3 pixels shared, masks 4 + 4, concept 4 -> 3 / (8 + 4 - 3)
    assert iou[2] == pytest.approx(3 / 9)
    np.testing.assert_allclose(iou, _dense_iou(maps, ids, tally.thresholds(), 3)[0], atol=1e-9)


def test_streamed_thresholds_and_ious_match_numpy_and_scikit_learn_on_whole_arrays() -> None:
    """Batches whose scale grows (the histograms are rebinned), images without maps, a concept in few images,
    maps upsampled 5 -> 20 px: the thresholds are within a bin of numpy's quantile, the IoUs equal sklearn's."""
    torch.manual_seed(0)
    images, units, side, size, concepts = 120, 6, 5, 20, 4
    scale = torch.linspace(0.05, 4, images)[:, None, None, None]
    maps = torch.relu(torch.randn(images, units, side, side)) ** 2 * torch.rand(1, units, 1, 1) * scale
    ids = F.interpolate(torch.randint(0, concepts, (images, 1, 4, 4)).float(), size=(size, size))[:, 0].long()
    ids[(ids == 3) & (torch.arange(images)[:, None, None] % 4 != 0)] = 0  # concept 3 in a quarter of the images
    ids[::9] = -1  # these images have no concept map
    tally = DissectionTally(units, images * side * side, concepts, size, bins=128)
    for start in range(0, images, 16):
        tally.add(maps[start : start + 16], ids[start : start + 16])
    thresholds = tally.thresholds()
    exact = np.quantile(maps.transpose(0, 1).reshape(units, -1).numpy(), 0.995, axis=1)
    gap = thresholds.numpy() - exact
    assert (gap >= -1e-6).all() and (gap <= tally.bin_width.numpy() + 1e-6).all(), gap / tally.bin_width.numpy()
    mapped = ids[:, 0, 0] >= 0
    dense = _dense_iou(maps[mapped], ids[mapped], thresholds, concepts)
    np.testing.assert_allclose(tally.ious().numpy(), dense, atol=1e-9)
    assert tally.binned < 0.2 * images * units * size * size  # the lower bound on T_u kept most values out


def test_a_concept_that_appears_nowhere_has_no_iou_and_bad_shapes_are_refused() -> None:
    tally = DissectionTally(2, 2 * 9, 3, 3)
    tally.add(torch.rand(2, 2, 3, 3), torch.zeros(2, 3, 3, dtype=torch.long))
    iou = tally.ious().numpy()
    assert np.isnan(iou[:, 1:]).all() and not np.isnan(iou[:, 0]).any()
    with pytest.raises(ValueError, match="expected maps"):
        tally.add(torch.rand(2, 3, 3, 3))
    with pytest.raises(ValueError, match="positions"):
        tally.add(torch.rand(1, 2, 3, 3))  # more than the split it was told of


def test_the_ceiling_is_the_concepts_own_map_seen_through_the_layers_grid_within_the_firing_budget() -> None:
    """With a budget to spare, the ceiling equals sklearn's IoU of the pooled-and-upsampled concept mask at its best
    level; a grid as fine as the masks outlines any concept perfectly; a prop of a few pixels seen through a 2 x 2
    grid cannot; and a unit firing on 0.5 % of the pixels cannot cover a concept of 12.5 %."""
    torch.manual_seed(1)
    size, grid, concepts = 16, (4, 4), 3
    ids = torch.zeros(6, size, size, dtype=torch.long)
    ids[:3, 4:12, 2:10] = 1  # a big concept in half the images: about 12 % of the pixels
    for n in range(6):
        y, x = torch.randint(0, size - 2, (2,)).tolist()
        ids[n, y : y + 2, x : x + 2] = 2  # a 2 x 2 prop everywhere
    ceiling = IoUCeiling(concepts, grid, size, quantile=0.5)
    ceiling.add(ids[:4])
    ceiling.add(ids[4:])
    got = ceiling.ious().numpy()
    for k in (1, 2):
        with_k = (ids == k).flatten(1).any(1)
        truth = (ids[with_k] == k).float()[:, None]
        up = F.interpolate(F.adaptive_avg_pool2d(truth, grid), size=(size, size), mode="bilinear")[:, 0]
        best = max(
            jaccard_score(truth.flatten().numpy(), (up > level).flatten().numpy(), zero_division=0.0)
            for level in CEILING_LEVELS
        )
        assert got[k] == pytest.approx(best)
    assert got[1] > got[2]  # the big concept is outlined better than the small one
    fine = IoUCeiling(concepts, (size, size), size, quantile=0.5)
    fine.add(ids)
    np.testing.assert_allclose(fine.ious().numpy()[1:], 1.0)
    coarse = IoUCeiling(concepts, (2, 2), size, quantile=0.5)
    coarse.add(ids)
    assert coarse.ious().numpy()[2] < 0.2
    budget = IoUCeiling(concepts, (size, size), size)  # the paper's 0.5 %: 7.7 pixels of 1536 fire
    budget.add(ids)
    assert budget.ious().numpy()[1] == pytest.approx(0.005 * ids.numel() / int((ids == 1).sum()))
    absent = IoUCeiling(4, grid, size)
    absent.add(ids)
    assert np.isnan(absent.ious().numpy()[3])
    with pytest.raises(ValueError, match="concept maps"):
        ceiling.add(ids[:, :8])

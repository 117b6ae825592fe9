"""Transforms and the torch Dataset: shapes, normalisation, and masks that follow their image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hartrace.data.dataset import UNLABELLED, ImageDataset, evidence_mask
from hartrace.data.samples import Sample
from hartrace.data.transforms import AugmentConfig, denormalise, eval_transform, train_transform
from tests.conftest import make_image

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _sample_with_mask(tmp_path: Path) -> Sample:
    pixels = np.zeros((60, 80, 3), dtype=np.uint8)
    pixels[:, 40:] = 255  # right half white
    Image.fromarray(pixels).save(tmp_path / "img.png")
    mask = np.zeros((60, 80), dtype=np.uint8)
    mask[:, 40:] = 255  # the evidence is exactly the white half
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return Sample(tmp_path / "img.png", 2, tmp_path / "mask.png")


def test_eval_transform_resizes_crops_and_normalises(tmp_path: Path) -> None:
    image = Image.open(make_image(tmp_path / "a.jpg", size=(120, 90))).convert("RGB")
    tensor = eval_transform(64, MEAN, STD)(image)
    assert tensor.shape == (3, 64, 64) and tensor.dtype == torch.float32
    restored = denormalise(tensor, MEAN, STD)
    assert 0.0 <= restored.min() and restored.max() <= 1.0
    assert abs(tensor.mean().item()) < 3, "normalised values are centred, not 0..255"


def test_masks_follow_geometric_augmentation(tmp_path: Path) -> None:
    sample = _sample_with_mask(tmp_path)
    dataset = ImageDataset([sample], train_transform(48, (0, 0, 0), (1, 1, 1)), with_evidence=True)
    torch.manual_seed(0)
    for _ in range(10):
        image, label, mask = dataset[0]
        assert label == 2 and mask.shape == (1, 48, 48) and mask.dtype == torch.bool
        brightness = image.mean(0)
        # wherever the mask says "evidence", the image is the white half (colour jitter keeps it bright)
        if mask.any() and (~mask).any():
            assert brightness[mask[0]].mean() > brightness[~mask[0]].mean() + 0.3


def test_augmentation_off_is_the_eval_transform(tmp_path: Path) -> None:
    image = Image.open(make_image(tmp_path / "a.jpg", size=(70, 50))).convert("RGB")
    off = train_transform(32, MEAN, STD, AugmentConfig(enabled=False))
    assert torch.equal(off(image), eval_transform(32, MEAN, STD)(image))


def test_boxes_become_an_evidence_mask(tmp_path: Path) -> None:
    sample = Sample(tmp_path / "x.jpg", 0, boxes=((10, 5, 19, 14),))
    mask = evidence_mask(sample, (40, 30))
    assert mask.shape == (30, 40) and mask.sum() == 100 and mask[5, 10] and not mask[4, 10]


def test_unlabelled_samples_get_the_unlabelled_marker(tmp_path: Path) -> None:
    dataset = ImageDataset([Sample(make_image(tmp_path / "t.jpg"), None)], eval_transform(32, MEAN, STD))
    assert dataset[0][1] == UNLABELLED

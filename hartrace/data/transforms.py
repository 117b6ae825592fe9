"""Training augmentation and evaluation preprocessing (torchvision ``transforms.v2``).

Geometric transforms move an evidence mask together with its image (``tv_tensors.Mask``),
so explanations can later be scored against the right pixels. Which parts a run uses is an
:class:`~hartrace.data.augment.AugmentConfig` (``--augment crop,flip,rotate=15``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from hartrace.data.augment import AugmentConfig

#: Eval resizes the short side to ``size / EVAL_CROP_RATIO`` then centre-crops, as torchvision's references do.
EVAL_CROP_RATIO = 0.875


def _to_normalised_tensor(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [
        v2.ToImage(),
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(mean=list(mean), std=list(std)),
    ]


def eval_transform(size: int, mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """Resize the short side, centre-crop to ``size``, normalise."""
    return v2.Compose(
        [
            v2.Resize(round(size / EVAL_CROP_RATIO), antialias=True),
            v2.CenterCrop(size),
            *_to_normalised_tensor(mean, std),
        ]
    )


def train_transform(
    size: int, mean: Sequence[float], std: Sequence[float], augment: AugmentConfig | None = None
) -> v2.Compose:
    """The parts of ``augment`` (default ``on``): random resized crop (else eval's resize and centre crop),
    horizontal flip, rotation, colour jitter; then normalise. Augmentation off is the eval transform."""
    augment = augment or AugmentConfig()
    if not augment.active:
        return eval_transform(size, mean, std)
    if augment.crop:
        crop: list[v2.Transform] = [v2.RandomResizedCrop(size, scale=augment.crop_scale, antialias=True)]
    else:
        crop = [v2.Resize(round(size / EVAL_CROP_RATIO), antialias=True), v2.CenterCrop(size)]
    return v2.Compose(crop + random_steps(augment) + _to_normalised_tensor(mean, std))


def random_steps(augment: AugmentConfig, *, rotate: bool = True) -> list[v2.Transform]:
    """The parts of ``augment`` after the crop (flip, rotation unless ``rotate`` is False, colour jitter),
    scaled by its strength: shared by image and clip training."""
    s = augment.strength
    steps: list[v2.Transform] = []
    if augment.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if rotate and augment.rotation_degrees > 0:
        steps.append(v2.RandomRotation(augment.rotation_degrees * s))
    if augment.color_jitter > 0:
        j = augment.color_jitter * s
        steps.append(v2.ColorJitter(brightness=j, contrast=j, saturation=j, hue=min(0.5, j / 4)))
    return steps


def denormalise(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo ``Normalize`` for display: ``[..., 3, H, W]`` back to ``[0, 1]``."""
    shape = (3, 1, 1)
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).view(shape)
    d = torch.tensor(std, dtype=images.dtype, device=images.device).view(shape)
    return (images * d + m).clamp(0, 1)


def to_display_image(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised ``[3, H, W]`` model input as the uint8 ``[H, W, 3]`` picture the model saw."""
    pixels = denormalise(image.detach().cpu(), mean, std).permute(1, 2, 0).numpy()
    return (pixels * 255).round().astype(np.uint8)

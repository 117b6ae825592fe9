"""Training augmentation and evaluation preprocessing (torchvision ``transforms.v2``).

Geometric transforms move an evidence mask together with its image (``tv_tensors.Mask``),
so explanations can later be scored against the right pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from hartrace.base.errors import UsageError

#: Eval resizes the short side to ``size / EVAL_CROP_RATIO`` then centre-crops, as torchvision's references do.
EVAL_CROP_RATIO = 0.875


@dataclass(frozen=True)
class AugmentConfig:
    """How hard to augment; ``strength`` scales every knob at once (0 = none, 1 = the defaults)."""

    enabled: bool = True
    strength: float = 1.0
    hflip: bool = True
    rotation_degrees: float = 10.0
    color_jitter: float = 0.2
    min_crop_scale: float = 0.5

    def __post_init__(self) -> None:
        if self.strength < 0:
            raise UsageError(f"augmentation strength must be >= 0, got {self.strength}")


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
    """RandomResizedCrop, horizontal flip, small rotation and colour jitter, then normalise."""
    augment = augment or AugmentConfig()
    if not augment.enabled or augment.strength == 0:
        return eval_transform(size, mean, std)
    s = augment.strength
    steps: list[v2.Transform] = [
        v2.RandomResizedCrop(size, scale=(max(0.08, 1.0 - (1.0 - augment.min_crop_scale) * s), 1.0), antialias=True)
    ]
    if augment.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if augment.rotation_degrees > 0:
        steps.append(v2.RandomRotation(augment.rotation_degrees * s))
    if augment.color_jitter > 0:
        j = augment.color_jitter * s
        steps.append(v2.ColorJitter(brightness=j, contrast=j, saturation=j, hue=min(0.5, j / 4)))
    return v2.Compose(steps + _to_normalised_tensor(mean, std))


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

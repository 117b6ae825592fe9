"""The time axis of video explanations: which frames a map says matter, and per-frame layers as volumes.

A CNN+LSTM runs its 2-D CNN on every frame at once, so those layers see a batch of
``B * T`` frames (``[B*T, C, h, w]``) while the model's input is a clip ``[B, C, T, H, W]``.
Folding the frames back into a volume ``[B, C, T, h, w]`` lets the CAM family treat such
a layer like a 3-D convolution's, with one map per video normalised across its frames.
Frames are expected video-major (frame ``t`` of video ``b`` at ``b * T + t``), the order
``clip.transpose(1, 2).flatten(0, 1)`` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hartrace.base.errors import UsageError
from hartrace.probe.views import frames_per_item, frames_to_volume

__all__ = ["evenly_spaced", "frames_to_volume", "per_frame_frames", "temporal_importance"]


def temporal_importance(cams: Any) -> np.ndarray:
    """Each frame's share of a video map's total mass: ``[T, H, W] -> [T]`` (``[B, T, H, W] -> [B, T]``).

    Shares sum to 1 per video; an all-zero map gives every frame the same share, since
    it says nothing about when. Negative values (an un-ReLU'd map) count as no mass.
    """
    values = (
        cams.detach().cpu().double().numpy() if isinstance(cams, torch.Tensor) else np.asarray(cams, dtype=np.float64)
    )
    if values.ndim not in (3, 4):
        raise UsageError(f"expected a video map [T, H, W] or [B, T, H, W], got shape {tuple(values.shape)}")
    mass = np.nan_to_num(values, nan=0.0).clip(min=0).sum(axis=(-2, -1))
    total = mass.sum(axis=-1, keepdims=True)
    uniform = np.full_like(mass, 1.0 / mass.shape[-1])
    return np.where(total > 0, mass / np.where(total > 0, total, 1.0), uniform)


def evenly_spaced(n_frames: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``n_frames`` (first and last included), all if fewer."""
    if n_frames <= 0:
        raise UsageError("a clip needs at least one frame")
    if count <= 0:
        raise UsageError(f"the number of frames to show must be positive, got {count}")
    if count >= n_frames:
        return list(range(n_frames))
    return sorted({int(round(i)) for i in np.linspace(0, n_frames - 1, count)})


def per_frame_frames(activation_shape: Sequence[int], input_shape: Sequence[int]) -> int | None:
    """Frames per video when a layer ran per frame and kept its maps (``[B*T, C, h, w]`` for a clip input),
    else None."""
    return frames_per_item(activation_shape, input_shape) if len(activation_shape) == 4 else None

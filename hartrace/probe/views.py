"""What one item's captured output *is*: spatial maps, a volume over time, a sequence, or a vector.

Layers differ in what their outputs mean: a conv layer gives channel maps ``[C, H, W]``, a
3-D conv a volume ``[C, T, H, W]``, an LSTM a sequence ``[T, F]``, a linear layer a vector
``[F]``. A CNN+LSTM runs its 2-D CNN on every frame at once, so those layers see a batch of
``B * T`` frames while the model's input is a clip ``[B, C, T, H, W]``; their outputs are
folded back per video (frames video-major: frame ``t`` of video ``b`` at ``b * T + t``, the
order ``clip.transpose(1, 2).flatten(0, 1)`` gives). Renderers draw each kind as what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from hartrace.base.errors import UsageError

#: The kinds of item view, by the rank of one item's output.
VIEW_KINDS = {1: "vector", 2: "sequence", 3: "maps", 4: "volume"}


def frames_per_item(activation_shape: Sequence[int], input_shape: Sequence[int]) -> int | None:
    """Frames per video when a layer ran per frame (batch ``B*T`` for a clip input ``[B, C, T, H, W]``), else None."""
    if len(input_shape) != 5 or not 2 <= len(activation_shape) <= 4:  # a per-frame 2-D net gives at most [B*T, C, h, w]
        return None
    batch, frames = int(input_shape[0]), int(input_shape[2])
    return frames if int(activation_shape[0]) == batch * frames else None


def frames_to_volume(tensor: torch.Tensor, frames: int) -> torch.Tensor:
    """``[B*T, C, h, w]`` per-frame outputs (video-major) as one volume per video, ``[B, C, T, h, w]``."""
    if tensor.dim() != 4 or tensor.shape[0] % frames:
        raise UsageError(f"expected per-frame outputs [B*T, C, h, w] with T={frames}, got shape {tuple(tensor.shape)}")
    batch = tensor.shape[0] // frames
    return tensor.reshape(batch, frames, *tensor.shape[1:]).transpose(1, 2)


@dataclass(frozen=True)
class ItemView:
    """One item's output of one layer, shaped as what it is.

    ``kind`` is ``maps`` ``[C, H, W]``, ``volume`` ``[C, T, H, W]``, ``sequence`` ``[T, F]``
    (time or tokens by features) or ``vector`` ``[F]``; ``per_frame`` says the layer ran once
    per frame of a clip, so its time axis was folded back from the batch.
    """

    kind: str
    values: torch.Tensor
    per_frame: bool = False


def item_view(activation: torch.Tensor, input_shape: Sequence[int], index: int = 0) -> ItemView:
    """Item ``index`` of a captured batch output, as an :class:`ItemView`."""
    frames = frames_per_item(activation.shape, input_shape)
    if frames is not None:
        item = activation[index * frames : (index + 1) * frames]  # [T, ...] of this video
        values = item.transpose(0, 1) if item.dim() == 4 else item.reshape(frames, -1)  # [C, T, h, w] or [T, F]
        return ItemView(VIEW_KINDS[values.dim()], values, per_frame=True)
    values = activation[index]
    if values.dim() == 0 or all(side == 1 for side in values.shape[1:]):
        values = values.reshape(-1)  # a pooled layer ([C, 1, 1] or [C, 1, 1, 1]) is a vector
    elif values.dim() > 4:
        values = values.flatten(1)  # beyond a volume: channels by everything else, shown as a sequence
    return ItemView(VIEW_KINDS[values.dim()], values)

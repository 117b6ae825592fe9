"""Does a map point at the evidence? The pointing game and the energy inside the evidence, with baselines.

A uniformly random map's peak lands in the evidence with probability equal to the
evidence's share of the image, and puts that same share of its energy inside it:
that share is the random-map baseline each score is reported beside.

Every score takes images (maps and masks ``[B, H, W]``) or videos (``[B, T, H, W]``,
one evidence mask per frame). For a video the whole volume is one map: its peak must
fall inside the evidence of the frame it is in, and the baseline is the evidence's
share of the volume. ``per_frame=True`` scores every frame on its own instead,
giving ``[B, T]``; a frame without evidence can never be hit and has baseline 0, so
select frames with ``masks.flatten(2).any(2)`` before averaging.

A pointing game is shown twice, strict (the peak inside the evidence itself) and tolerant
(within a margin of it): :func:`pointing_game` gives both with their baselines, since a
large margin can make a random map look good and no margin can make a fair map look poor.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from hartrace.base.errors import UsageError


def _dilate(mask: torch.Tensor, tolerance: int) -> torch.Tensor:
    """Grow every frame's evidence by ``tolerance`` pixels in the image plane (never across time): a pixel is
    near it when its Euclidean distance to an evidence pixel is at most ``tolerance``, as the pointing game's
    15-px margin is measured (Zhang et al. 2016)."""
    if tolerance <= 0:
        return mask
    offsets = torch.arange(-tolerance, tolerance + 1, dtype=torch.float32)
    disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= tolerance**2).float()
    frames = mask.reshape(-1, 1, *mask.shape[-2:]).float()
    near = F.conv2d(frames, disc[None, None].to(frames.device), padding=tolerance) > 0.5
    return near.reshape(mask.shape)


def _items(tensor: torch.Tensor, per_frame: bool) -> torch.Tensor:
    """Each scored item's values on the last axis: per image or video ``[B, N]``, or per frame ``[B, T, H*W]``."""
    return tensor.flatten(2) if per_frame else tensor.flatten(1)


def _check(masks: torch.Tensor, per_frame: bool, cams: torch.Tensor | None = None) -> None:
    if cams is not None and tuple(cams.shape) != tuple(masks.shape):
        raise UsageError(f"maps {tuple(cams.shape)} and evidence masks {tuple(masks.shape)} must have the same shape")
    if per_frame and masks.dim() != 4:
        raise UsageError(f"per-frame scores need video masks [B, T, H, W], got shape {tuple(masks.shape)}")


def pointing_hits(
    cams: torch.Tensor, masks: torch.Tensor, tolerance: int = 0, *, per_frame: bool = False
) -> torch.Tensor:
    """Per image or video: is the map's maximum inside the evidence (within ``tolerance`` pixels)? ``[B]`` bool.

    ``cams`` ``[B, H, W]`` or ``[B, T, H, W]``, ``masks`` the same shape, bool. Ties between
    several maxima count as a hit only if the first (row-major, earliest frame) lies inside.
    ``per_frame``: each frame's own peak against its own evidence, ``[B, T]``.
    """
    _check(masks, per_frame, cams)
    dilated = _items(_dilate(masks.bool(), tolerance), per_frame)
    flat_index = _items(cams, per_frame).argmax(-1, keepdim=True)
    return dilated.gather(-1, flat_index)[..., 0]


def energy_inside(cams: torch.Tensor, masks: torch.Tensor, *, per_frame: bool = False) -> torch.Tensor:
    """Per image or video: the share of the map's total mass inside the evidence, ``[B]`` in [0, 1]
    (``[B, T]`` per frame)."""
    _check(masks, per_frame, cams)
    cams = _items(cams.clamp(min=0), per_frame)
    inside = (cams * _items(masks, per_frame).float()).sum(-1)
    total = cams.sum(-1)
    return torch.where(total > 0, inside / total.clamp(min=1e-12), torch.zeros_like(total))


def random_baseline(masks: torch.Tensor, tolerance: int = 0, *, per_frame: bool = False) -> torch.Tensor:
    """Per image or video (or frame): the pointing-game hit rate (and expected inside-energy)
    of a uniformly random map."""
    _check(masks, per_frame)
    return _items(_dilate(masks.bool(), tolerance), per_frame).float().mean(-1)


class PointingGame(NamedTuple):
    """Per item: the strict hit (0 px) and the tolerant hit (within ``tolerance`` px), each beside the
    random map's chance of the same."""

    strict: torch.Tensor
    strict_random: torch.Tensor
    tolerant: torch.Tensor
    tolerant_random: torch.Tensor


def pointing_game(cams: torch.Tensor, masks: torch.Tensor, tolerance: int, *, per_frame: bool = False) -> PointingGame:
    """:func:`pointing_hits` and :func:`random_baseline` at 0 px and at ``tolerance`` px, as they are reported."""
    return PointingGame(
        pointing_hits(cams, masks, 0, per_frame=per_frame),
        random_baseline(masks, 0, per_frame=per_frame),
        pointing_hits(cams, masks, tolerance, per_frame=per_frame),
        random_baseline(masks, tolerance, per_frame=per_frame),
    )

"""Decoded videos as model inputs: clip transforms and a torch ``Dataset`` of clips.

A clip is transformed as one ``tv_tensors.Video``: a random crop, flip or colour
jitter is drawn once and applied to every frame (a crop that moved between frames
would be motion the video does not have), and a ``tv_tensors.Mask`` of per-frame
evidence moves with the frames, so explanations can be scored against the right pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import tv_tensors
from torchvision.transforms import v2

from hartrace.base.errors import DataError, UsageError
from hartrace.data.augment import AugmentConfig
from hartrace.data.dataset import UNLABELLED
from hartrace.data.samples import Sample
from hartrace.data.transforms import EVAL_CROP_RATIO, random_steps
from hartrace.data.video import VideoDecodeError, clip_indices, decode_frames, frame_count, load_video_mask


class VideoTransform:
    """uint8 frames ``[T, H, W, 3]`` (and a bool mask ``[T, H, W]``) -> float ``[C, T, H, W]`` (and the mask moved).

    One call draws the random parameters once for the whole clip and its mask.
    """

    def __init__(self, steps: Sequence[v2.Transform]) -> None:
        self.pipeline = v2.Compose(list(steps))

    def __call__(self, frames: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor | None = None):
        frames = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise UsageError(f"frames must be [T, H, W, 3], got shape {list(frames.shape)}")
        video = tv_tensors.Video(frames.permute(0, 3, 1, 2))  # torchvision's video layout [T, C, H, W]
        if mask is None:
            return self._clip(self.pipeline(video))
        mask = torch.from_numpy(np.ascontiguousarray(mask)) if isinstance(mask, np.ndarray) else mask
        if tuple(mask.shape) != tuple(frames.shape[:3]):
            raise UsageError(f"the mask must be [T, H, W] = {list(frames.shape[:3])}, got {list(mask.shape)}")
        video, moved = self.pipeline(video, tv_tensors.Mask(mask.bool()))
        return self._clip(video), moved.as_subclass(torch.Tensor).bool()

    @staticmethod
    def _clip(video: torch.Tensor) -> torch.Tensor:
        return video.as_subclass(torch.Tensor).permute(1, 0, 2, 3).contiguous()  # [C, T, H, W] for video models

    def __repr__(self) -> str:
        return f"VideoTransform({self.pipeline!r})"


def _normalise(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [
        v2.ToDtype({tv_tensors.Video: torch.float32, "others": None}, scale=True),
        v2.Normalize(mean=list(mean), std=list(std)),
    ]


def video_eval_transform(size: int, mean: Sequence[float], std: Sequence[float]) -> VideoTransform:
    """Resize the short side to ``size / 0.875``, centre-crop to ``size``, normalise (as the image eval does)."""
    return VideoTransform(
        [v2.Resize(round(size / EVAL_CROP_RATIO), antialias=True), v2.CenterCrop(size), *_normalise(mean, std)]
    )


def video_train_transform(
    size: int, mean: Sequence[float], std: Sequence[float], augment: AugmentConfig | None = None
) -> VideoTransform:
    """Short-side resize, then the parts of ``augment`` that apply to clips: random crop (``min_crop_scale``;
    else a centre crop), flip and colour jitter, drawn once for every frame.

    Rotation is left out: video recipes (C3D, R(2+1)D) train with crops and flips,
    and a rotated frame's black corners would be the same in every frame of a clip. ``on`` means
    crop, flip and jitter here; naming ``rotate`` for clips is refused.
    """
    augment = augment or AugmentConfig()
    if not augment.active:
        return video_eval_transform(size, mean, std)
    if augment.named and augment.rotation_degrees > 0:
        raise UsageError(
            f"--augment {augment.text}: rotate does not apply to video clips; video training takes crop, flip, jitter"
        )
    crop = v2.RandomResizedCrop(size, scale=augment.crop_scale, antialias=True) if augment.crop else v2.CenterCrop(size)
    steps = [v2.Resize(round(size / EVAL_CROP_RATIO), antialias=True), crop, *random_steps(augment, rotate=False)]
    return VideoTransform(steps + _normalise(mean, std))


def _mask_frames(mask: np.ndarray, used: Sequence[int], height: int, width: int) -> np.ndarray:
    """The evidence of the frames at ``used``, at the frames' size (nearest neighbour where it differs)."""
    picked = mask[[min(i, len(mask) - 1) for i in used]]
    if picked.shape[1:] != (height, width):
        resized = F.interpolate(torch.from_numpy(picked)[:, None].float(), size=(height, width), mode="nearest")
        picked = resized[:, 0].numpy() > 0.5
    return picked


class VideoDataset(torch.utils.data.Dataset):
    """Clips of videos, decoding only the frames a clip needs.

    Items are ``(clip, label)`` with ``clip`` float ``[C, T, H, W]``; with ``clips > 1``
    ``clip`` is ``[N, C, T, H, W]`` (one per clip, each transformed on its own). With
    ``with_evidence`` a bool mask ``[T, H, W]`` (or ``[N, T, H, W]``) transformed with
    the frames is added; all False where the video has no mask. Unlabelled videos
    get label ``-1``.

    ``frame_counts`` (``DatasetIndex.frame_counts``) holds the frames the dataset
    check found decodable (truncated files included); without it each video's
    header is read (:func:`hartrace.data.video.frame_count`).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable,
        *,
        clip_length: int = 16,
        stride: int = 1,
        clips: int = 1,
        mode: str = "center",
        with_evidence: bool = False,
        frame_counts: Mapping[Path, int] | None = None,
    ) -> None:
        # fail on bad options now, not later inside a DataLoader worker
        clip_indices(1, clip_length, stride, clips=clips, mode=mode, rng=np.random.default_rng(0))
        self.samples = list(samples)
        self.transform = transform
        self.clip_length, self.stride, self.clips, self.mode = clip_length, stride, clips, mode
        self.with_evidence = with_evidence
        self.frame_counts = dict(frame_counts or {})

    def __len__(self) -> int:
        return len(self.samples)

    def _decode(self, sample: Sample) -> tuple[np.ndarray, list[int]]:
        """The frames of every clip, one after another, and the frame index each really is."""
        n_frames = self.frame_counts.get(sample.path) or frame_count(sample.path)
        per_clip = clip_indices(n_frames, self.clip_length, self.stride, clips=self.clips, mode=self.mode)
        return decode_frames(sample.path, [i for clip in per_clip for i in clip])

    def __getitem__(self, index: int):
        sample = self.samples[index]
        try:
            frames, used = self._decode(sample)
        except VideoDecodeError as exc:
            raise DataError(f"{sample.path}: {exc} (it changed after the dataset was checked)") from None
        label = UNLABELLED if sample.label is None else sample.label
        parts = [slice(k * self.clip_length, (k + 1) * self.clip_length) for k in range(self.clips)]
        if not self.with_evidence:
            clips = [self.transform(frames[part]) for part in parts]
            return (clips[0] if self.clips == 1 else torch.stack(clips)), label
        if sample.mask_path is not None:
            masks = _mask_frames(load_video_mask(sample.mask_path), used, frames.shape[1], frames.shape[2])
        else:
            masks = np.zeros(frames.shape[:3], dtype=bool)
        clips, moved = zip(*(self.transform(frames[part], masks[part]) for part in parts), strict=True)
        if self.clips == 1:
            return clips[0], label, moved[0]
        return torch.stack(clips), label, torch.stack(moved)

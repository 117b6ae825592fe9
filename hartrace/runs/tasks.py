"""Image or video: one strategy object says how a run's inputs are found, read, batched, shown and overlaid.

Code above this module asks the task (``task_of(spec)``) instead of comparing ``"video"``
strings: an image is one picture ``[1, 3, H, W]``; a video is the clip its model is shown at
test time ``[1, 3, T, H, W]``, shown as its frames. Both show as uint8 frames ``[T, H, W, 3]``
(``T = 1`` for an image), so overlays and previews are written once for both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hartrace.base.errors import UsageError
from hartrace.data.pipeline import InputSpec
from hartrace.data.samples import Sample, SkippedFile


@dataclass(frozen=True)
class Input:
    """One input as the model takes it: the batch ``[1, ...]``, and where its frames came from in the file."""

    batch: torch.Tensor
    frame_indices: list[int]
    fps: float


@dataclass(frozen=True)
class Task:
    """How one kind of input (images or videos) is handled; see :data:`IMAGE` and :data:`VIDEO`."""

    name: str  # "image" or "video", as checkpoints and configs store it
    noun: str  # one sample, in words
    nouns: str  # several samples, in words
    rate_unit: str  # what a training speed counts per second
    input_rank: int  # dims of a model batch: 4 ([B, C, H, W]) or 5 ([B, C, T, H, W])
    is_member: Callable[[Path], bool]  # does a file hold one of this task's inputs?

    @property
    def is_video(self) -> bool:
        return self.input_rank == 5

    def clips_per_item(self, spec: InputSpec) -> int:
        """How many clips a sample is scored on: a video's test clips, averaged; an image's one picture."""
        return spec.test_clips if self.is_video else 1

    def channels_last(self) -> torch.memory_format:
        return torch.channels_last_3d if self.is_video else torch.channels_last

    def scan(self, samples: Sequence[tuple[str, Sample]], progress: bool = False) -> list[SkippedFile]:
        """Decode (probe) every file once: the ones that cannot be used, with the reason."""
        from hartrace.data.index import scan_images, scan_videos

        return (
            scan_videos(samples, progress=progress)[2] if self.is_video else scan_images(samples, progress=progress)[1]
        )

    def read(self, path: str | Path, spec: InputSpec) -> Input:
        """The normalised input the model is shown at test time (a video: its centre clip), as a batch of one."""
        if not self.is_video:
            from hartrace.data import load_rgb
            from hartrace.data.decode import ImageDecodeError
            from hartrace.data.transforms import eval_transform

            try:
                picture = load_rgb(path)
            except ImageDecodeError as exc:
                raise UsageError(f"cannot read image {path}: {exc}") from None
            return Input(eval_transform(spec.size, spec.mean, spec.std)(picture).unsqueeze(0), [0], 0.0)
        from hartrace.data.video import VideoDecodeError, clip_indices, probe_video, read_video, video_eval_transform

        try:
            info = probe_video(path)
            indices = clip_indices(info.frames, spec.clip_length, spec.clip_stride, clips=1, mode="center")[0]
            frames = read_video(path, indices)
        except VideoDecodeError as exc:
            raise UsageError(f"cannot read video {path}: {exc}") from None
        clip = video_eval_transform(spec.size, spec.mean, spec.std)(frames)
        return Input(clip.unsqueeze(0), list(indices), float(info.fps or 0.0))

    def frames(self, item: torch.Tensor, spec: InputSpec) -> np.ndarray:
        """What the model saw of one normalised item (``[C, H, W]`` or ``[C, T, H, W]``), uint8 ``[T, H, W, 3]``."""
        from hartrace.data.transforms import to_display_image

        item = item.detach().cpu()
        if not self.is_video:
            return to_display_image(item, spec.mean, spec.std)[None]
        return np.stack([to_display_image(item[:, t], spec.mean, spec.std) for t in range(item.shape[1])])

    def as_maps(self, per_frame: torch.Tensor) -> torch.Tensor:
        """Per-frame masks ``[B, T, H, W]`` in the shape of this task's maps, so they can be scored together.

        A clip's maps keep their time axis; an image's have none, so its one frame is taken: ``[B, H, W]``.
        """
        return per_frame if self.is_video else per_frame[:, 0]

    def overlay(self, frames: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
        """A map (``[H, W]``, or ``[T, H, W]`` over a clip) over the frames, uint8 ``[T, H, W, 3]``."""
        from hartrace.render import cam_overlay

        maps = cam[None] if cam.ndim == 2 else cam
        return np.stack([cam_overlay(frame, m, alpha=alpha) for frame, m in zip(frames, maps, strict=True)])


def _is_image(path: Path) -> bool:
    from hartrace.data.layouts import is_image_name

    return is_image_name(path)


def _is_video(path: Path) -> bool:
    from hartrace.data.video import is_video_file

    return is_video_file(path)


IMAGE = Task("image", "image", "images", "img", 4, _is_image)
VIDEO = Task("video", "video", "videos", "clips", 5, _is_video)
TASKS = {task.name: task for task in (IMAGE, VIDEO)}


def task_of(spec: InputSpec | str) -> Task:
    """The task of an input spec (or of its name)."""
    name = spec if isinstance(spec, str) else spec.task
    if name not in TASKS:
        raise UsageError(f"unknown task {name!r}: expected one of {', '.join(TASKS)}")
    return TASKS[name]

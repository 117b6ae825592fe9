"""What a model of each task is fed: one place that turns samples into a torch Dataset.

Training, validation, evaluation, prediction and batch explanation all ask here, so an
image model and a video model go through the same code everywhere else: only this
module knows that a video sample becomes ``[C, T, H, W]`` clips (and, at test time,
several clips per video whose scores are averaged).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from hartrace.base.errors import DataError, UsageError
from hartrace.data.samples import Sample
from hartrace.data.transforms import AugmentConfig, eval_transform, train_transform

TASKS = ("image", "video")
FrameCounts = Mapping[Path, int] | None

#: Frames between sampled frames of a clip when a checkpoint does not say.
DEFAULT_CLIP_STRIDE = 1
#: Clips averaged per video at evaluation (spread evenly over the video), when not given.
DEFAULT_TEST_CLIPS = 5


@dataclass(frozen=True)
class InputSpec:
    """How a model's inputs are made: task, side length, normalisation and, for video, the clip."""

    task: str
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    clip_length: int | None = None
    clip_stride: int = DEFAULT_CLIP_STRIDE
    test_clips: int = DEFAULT_TEST_CLIPS

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise UsageError(f"task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if self.task == "video" and (self.clip_length is None or self.clip_length < 1):
            raise UsageError(f"a video model needs a clip length of at least 1 frame, got {self.clip_length}")
        if self.clip_stride < 1 or self.test_clips < 1:
            raise UsageError("--clip-stride and --test-clips must be at least 1")

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> InputSpec:
        """The input spec a checkpoint was trained with (older image checkpoints have no task)."""
        return cls(
            task=meta.get("task", "image"),
            size=int(meta["input_size"]),
            mean=tuple(meta["mean"]),
            std=tuple(meta["std"]),
            clip_length=meta.get("clip_length"),
            clip_stride=int(meta.get("clip_stride") or DEFAULT_CLIP_STRIDE),
            test_clips=int(meta.get("test_clips") or DEFAULT_TEST_CLIPS),
        )

    @classmethod
    def from_info(cls, info: Any, size: int | None = None) -> InputSpec:
        """A zoo model's own defaults (a :class:`~hartrace.models.ModelInfo`): for a model that has no run yet."""
        return cls(info.task, int(size or info.input_size), tuple(info.mean), tuple(info.std), info.clip_length)

    def input_shape(self, batch: int = 1) -> tuple[int, ...]:
        """The shape of a batch the model takes: ``[B, 3, H, W]``, or ``[B, 3, T, H, W]`` for clips."""
        frames = (self.clip_length,) if self.task == "video" and self.clip_length else ()
        return (batch, 3, *frames, self.size, self.size)

    def to_meta(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "input_size": self.size,
            "mean": list(self.mean),
            "std": list(self.std),
            "clip_length": self.clip_length,
            "clip_stride": self.clip_stride,
            "test_clips": self.test_clips,
        }


def training_dataset(
    samples: Sequence[Sample], spec: InputSpec, augment: AugmentConfig | None, frame_counts: FrameCounts = None
) -> Dataset:
    """Augmented items for training: one random clip per video and epoch.

    ``frame_counts`` (the dataset index's) saves reading each video's header again.
    """
    if spec.task == "image":
        from hartrace.data.dataset import ImageDataset

        return ImageDataset(samples, train_transform(spec.size, spec.mean, spec.std, augment))
    from hartrace.data.video import VideoDataset, video_train_transform

    return VideoDataset(
        samples,
        video_train_transform(spec.size, spec.mean, spec.std, augment),
        clip_length=spec.clip_length,
        stride=spec.clip_stride,
        clips=1,
        mode="random",
        frame_counts=frame_counts,
    )


def evaluation_dataset(
    samples: Sequence[Sample],
    spec: InputSpec,
    *,
    clips: int = 1,
    with_evidence: bool = False,
    frame_counts: FrameCounts = None,
) -> Dataset:
    """Deterministic items: the centre crop, and ``clips`` clips per video (``[N, C, T, H, W]`` when N > 1)."""
    if spec.task == "image":
        from hartrace.data.dataset import ImageDataset

        return ImageDataset(samples, eval_transform(spec.size, spec.mean, spec.std), with_evidence=with_evidence)
    from hartrace.data.video import VideoDataset, video_eval_transform

    return VideoDataset(
        samples,
        video_eval_transform(spec.size, spec.mean, spec.std),
        clip_length=spec.clip_length,
        stride=spec.clip_stride,
        clips=clips,
        mode="center" if clips == 1 else "uniform",
        with_evidence=with_evidence,
        frame_counts=frame_counts,
    )


def dataset_task(root: str | Path, format: str = "auto") -> str:
    """``"video"`` or ``"image"``: what the dataset at ``root`` holds, judged from its layout without reading it."""
    from hartrace.data.formats import VIDEO_FORMATS
    from hartrace.data.readers import detect_format

    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    layout = detect_format(root) if format == "auto" else format
    return "video" if layout in VIDEO_FORMATS else "image"


def loader_context(task: str) -> BaseContext | None:
    """How DataLoader workers start: videos from a fresh forkserver, images by forking this process.

    OpenCV's FFmpeg backend guards opening a video with a process-wide lock; a worker forked
    while that lock was taken hangs in ``VideoCapture`` for ever (seen with two workers
    evaluating right after a dataset check). A forkserver child never inherits it. The
    server imports the clip pipeline once, so each worker still starts in milliseconds.
    """
    if task != "video" or "forkserver" not in mp.get_all_start_methods():
        return None
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["hartrace.data.forkserver_stops", "hartrace.data.clips"])
    _start_forkserver_deaf_to_stops()
    return context


def release_stops(worker_id: int) -> None:
    """``worker_init_fn`` of a loader whose workers answer Ctrl-C and SIGTERM as torch's workers do.

    Video workers start with both blocked (:mod:`hartrace.data.forkserver_stops`); a loader that does
    not ignore them itself (the trainer's does) unblocks them here. A no-op for a worker forked from a
    process that had not blocked them.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _start_forkserver_deaf_to_stops() -> None:
    """Start the forkserver ignoring Ctrl-C and SIGTERM (an ignored signal stays ignored across exec).

    Both reach the whole process group; the trainer answers them by saving a checkpoint and
    stopping, which may need one more DataLoader, so the server must outlive them. It still
    exits with this process: it stops when the pipe from this process closes.
    """
    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()  # signal handlers can only be changed from the main thread
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        forkserver.ensure_running()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

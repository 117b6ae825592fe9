"""Decode the videos a user's dataset may hold into RGB frames, or say why not; choose a clip's frames.

torchvision has no video decoder of its own, so OpenCV's FFmpeg backend decodes.
Frames are read sequentially (``grab`` every frame, ``retrieve`` only the wanted
ones): seeking with ``CAP_PROP_POS_FRAMES`` lands on the wrong frame for some
MJPG/MPEG-4 files, and UCF101/HMDB51 clips are a few hundred frames at most.
Real datasets hold half-downloaded files whose header promises more frames than
decode; reading clamps to what decodes instead of failing.

The transforms and the torch ``VideoDataset`` live in :mod:`hartrace.data.clips`
(they need torch) and are importable from here too.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hartrace.base.errors import DataError, UsageError
from hartrace.base.lazy import lazy_getattr

#: Extensions listed when walking a folder for videos; FFmpeg still judges the content.
VIDEO_EXTENSIONS: tuple[str, ...] = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")

#: Ways to place clips in a video (see :func:`clip_indices`).
CLIP_MODES = ("center", "uniform", "random")

# A frame count above this in a header is garbage (FFmpeg reports -2**63 for a still image).
_MAX_HEADER_FRAMES = 10**8


class VideoDecodeError(Exception):
    """A file that cannot be used as a video; ``str()`` is the reason shown to the user."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found: frames that decode, frame size in pixels, frame rate."""

    frames: int
    width: int
    height: int
    fps: float


def is_video_file(path: str | Path) -> bool:
    """A visible file with a video extension (the content is judged when it is decoded)."""
    path = Path(path)
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in VIDEO_EXTENSIONS


@contextmanager
def quiet_decoder() -> Iterator[None]:
    """Silence OpenCV's warnings (a line per file it cannot open) while checking many files.

    hartrace reports each unusable file with its reason instead. FFmpeg's own error
    lines about damaged frames (``[mjpeg @ 0x..] ...``) bypass OpenCV and still show.
    """
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise VideoDecodeError("missing")
    if path.is_dir():
        raise VideoDecodeError("is a directory")
    if path.stat().st_size == 0:
        raise VideoDecodeError("empty file")
    # One decoding thread per file: files are decoded in parallel (probe threads, DataLoader workers).
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    if not capture.isOpened():
        capture.release()
        raise VideoDecodeError("not a video (unknown format or truncated header)")
    return capture


def _header_frames(capture: cv2.VideoCapture) -> int | None:
    """The frame count the container claims, or None where it claims nothing usable."""
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    if not math.isfinite(count) or not 0 < count < _MAX_HEADER_FRAMES:
        return None
    return int(count)


def _count_decodable(path: Path) -> int:
    """Frames that decode, counted from the start: the truth when the header is wrong."""
    capture = _open(path)
    try:
        count = 0
        while capture.grab():
            count += 1
        return count
    finally:
        capture.release()


def probe_video(path: str | Path) -> VideoInfo:
    """Check that ``path`` is a usable video and return its :class:`VideoInfo`.

    The first frame is decoded, then the last one the header promises (one seek);
    only when that fails are the frames counted one by one, so a good file costs
    little and a truncated one reports the frames it really has.

    Raises:
        VideoDecodeError: missing, empty, not a video, or no frame decodes.
    """
    path = Path(path)
    capture = _open(path)
    try:
        ok, first = capture.read()
        if not ok or first is None:
            raise VideoDecodeError("no decodable frames")
        height, width = first.shape[:2]
        fps = capture.get(cv2.CAP_PROP_FPS)
        header = _header_frames(capture)
        last_decodes = header == 1 or (
            header is not None and capture.set(cv2.CAP_PROP_POS_FRAMES, header - 1) and capture.grab()
        )
    finally:
        capture.release()
    frames = header if last_decodes and header is not None else _count_decodable(path)
    return VideoInfo(frames, int(width), int(height), float(fps) if math.isfinite(fps) and fps > 0 else 0.0)


def frame_count(path: str | Path) -> int:
    """The frames ``path``'s header claims (no decoding), or those :func:`probe_video` finds where it claims none.

    Cheap enough to call per training item; reading clamps to what decodes, so a
    header that over-counts costs nothing worse than repeated last frames.
    """
    capture = _open(Path(path))
    try:
        header = _header_frames(capture)
    finally:
        capture.release()
    return header if header is not None else probe_video(path).frames


def _grab_frames(path: Path, wanted: set[int], into: dict[int, np.ndarray]) -> int:
    """Decode frames 0..max(wanted) in order, keeping the wanted ones (BGR); return how many decoded."""
    capture = _open(path)
    try:
        for index in range(max(wanted) + 1):
            if not capture.grab():
                return index
            if index in wanted:
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    return index
                into[index] = frame
        return max(wanted) + 1
    finally:
        capture.release()


def _read_all(path: Path) -> list[np.ndarray]:
    capture = _open(path)
    try:
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                return frames
            frames.append(frame)
    finally:
        capture.release()


def decode_frames(path: str | Path, indices: Sequence[int] | None = None) -> tuple[np.ndarray, list[int]]:
    """Like :func:`read_video`, also returning the frame index each returned frame really is.

    Indices past the last decodable frame are clamped to it, so evidence masks can
    follow the same clamped indices.
    """
    path = Path(path)
    if indices is None:
        bgr = _read_all(path)
        used = list(range(len(bgr)))
    else:
        indices = [int(i) for i in indices]
        if not indices:
            raise UsageError("read_video needs at least one frame index")
        if min(indices) < 0:
            raise UsageError(f"frame indices must be >= 0, got {min(indices)}")
        decoded: dict[int, np.ndarray] = {}
        count = _grab_frames(path, set(indices), decoded)
        used = [min(i, count - 1) for i in indices]
        if count and not decoded.keys() >= set(used):  # truncated: the last frame that decodes, in a second pass
            _grab_frames(path, set(used) - decoded.keys(), decoded)
        bgr = [decoded[i] for i in used if i in decoded]
    if not bgr or len(bgr) != len(used):
        raise VideoDecodeError("no decodable frames")
    if len({frame.shape for frame in bgr}) > 1:
        raise VideoDecodeError("the frame size changes within the video")
    # BGR -> RGB by a numpy view, not cv2.cvtColor: OpenCV's thread pool, once started in a
    # parent process, can deadlock the DataLoader workers forked from it.
    return np.ascontiguousarray(np.stack(bgr)[..., ::-1]), used


def read_video(path: str | Path, indices: Sequence[int] | None = None) -> np.ndarray:
    """Frames ``indices`` of ``path`` (all frames when None) as uint8 RGB ``[T, H, W, 3]``.

    Indices may repeat and come in any order; the result follows their order.

    Raises:
        VideoDecodeError: the file is not a usable video.
    """
    return decode_frames(path, indices)[0]


def load_video_mask(path: str | Path) -> np.ndarray:
    """Per-frame evidence from a masks ``.npz`` (one array ``mask``) as bool ``[frames, H, W]``."""
    path = Path(path)
    try:
        with np.load(path) as data:
            mask = data["mask"]
    except FileNotFoundError:
        raise DataError(f"evidence mask not found: {path}") from None
    except KeyError:
        raise DataError(f"{path} holds no array named 'mask'") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npz mask ({exc})") from None
    if mask.ndim != 3:
        raise DataError(f"{path}: the mask must be [frames, H, W], got shape {list(mask.shape)}")
    return mask.astype(bool)


def _random_start(high: int, rng: Any) -> int:
    """A start in ``[0, high)``: from ``rng`` (numpy or torch generator), else torch's global generator."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(high))
    import torch

    if rng is None or isinstance(rng, torch.Generator):
        return int(torch.randint(high, (1,), generator=rng).item())
    raise UsageError(f"rng must be a numpy or torch generator, got {type(rng).__name__}")


def clip_indices(
    n_frames: int, clip_length: int, stride: int = 1, *, clips: int = 1, mode: str = "center", rng: Any = None
) -> list[list[int]]:
    """The frame indices of ``clips`` clips of ``clip_length`` frames, ``stride`` frames apart.

    Modes: ``center`` one clip in the middle (evaluation); ``uniform`` clip starts
    spread evenly from the first to the last possible start (the multi-clip test
    protocol; one uniform clip is the middle one, and ``center`` with ``clips > 1``
    spreads the same way); ``random`` random starts (training), drawn from ``rng``
    (a numpy or torch generator) or torch's global generator, which the trainer seeds
    (per DataLoader worker too), so runs repeat.

    A video shorter than a clip's span repeats its last frame to fill the clip
    instead of looping back: looping would join the last frame to the first, a jump
    no real motion makes, and for classes that are time-reverses of each other
    (sitting down / standing up) it would show the other class's motion.
    """
    for name, value in (("n_frames", n_frames), ("clip_length", clip_length), ("stride", stride), ("clips", clips)):
        if int(value) < 1:
            raise UsageError(f"{name} must be at least 1, got {value}")
    if mode not in CLIP_MODES:
        raise UsageError(f"unknown clip mode {mode!r}; choose one of: {', '.join(CLIP_MODES)}")
    span = (clip_length - 1) * stride + 1
    room = max(0, n_frames - span)  # the last possible start
    if mode == "random":
        starts = [_random_start(room + 1, rng) for _ in range(clips)]
    elif clips == 1:
        starts = [room // 2]
    else:
        starts = [round(k * room / (clips - 1)) for k in range(clips)]
    return [[min(start + t * stride, n_frames - 1) for t in range(clip_length)] for start in starts]


__getattr__ = lazy_getattr(
    __name__,
    {
        "VideoDataset": "hartrace.data.clips",
        "VideoTransform": "hartrace.data.clips",
        "video_eval_transform": "hartrace.data.clips",
        "video_train_transform": "hartrace.data.clips",
    },
)

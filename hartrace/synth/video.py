"""The synthetic video action set: one drawn figure moving through T frames, with per-frame evidence masks.

A clip samples its static scene once (background, clutter, distractors, where
the figure stands, a gentle camera shake) and re-poses only the figure, so
nothing but the action moves.  Each frame is drawn by :meth:`Scene.render`,
whose part-ownership label map gives that frame's evidence mask.  The set is
written in the UCF101 layout (fold 1) and is reproducible: every clip draws
all its randomness from its own generator seeded with ``(seed, split, class,
clip)``, whatever the number of worker processes.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hartrace.base.errors import HartraceError, UsageError
from hartrace.base.io import atomic_path, write_bytes, write_text
from hartrace.synth.draw import ROLES, Part, Similarity, bbox
from hartrace.synth.motions import VIDEO_ACTIONS, sample_motion
from hartrace.synth.scene import SS, Scene, compose_scene, place_group, sample_backdrop
from hartrace.synth.writer import _check_int, claim_folder, run_jobs, write_marker

FORMAT = "hartrace-synth-video"  # the marker's format: a video set never overwrites an image set
FOURCC = {".avi": "MJPG", ".mp4": "mp4v"}
TEST_GROUPS = range(1, 8)  # UCF101 split 1 tests on groups 1-7 and trains on 8-25
TRAIN_GROUPS = range(8, 26)
_VIDEO_KEY = 0x5649  # keeps video generators apart from the image set's
_SPLIT_KEYS = {"train": 0, "test": 1}

Item = tuple[str, int, int, str]  # split, class index, clip index, relative path without extension
Job = tuple[str, int, int, float, str, int, list[Item]]  # root, size, frames, fps, extension, seed, items


@dataclass
class VideoScene:
    """Everything needed to draw one clip: the static scene, the action's parts per frame and where they go."""

    action: str
    scene: Scene  # background, clutter, distractors and mirroring; no figure
    poses: list[list[Part]]  # the action's parts per frame, in the group's local frame
    place: Similarity  # local frame -> pixels
    shake: list[tuple[float, float]]  # camera offset per frame, pixels

    def render(self, roles: Iterable[str] = ROLES) -> tuple[np.ndarray, np.ndarray]:
        """Frames uint8 ``[T, H, W, 3]`` and evidence masks bool ``[T, H, W]``, drawing only ``roles``."""
        roles = tuple(roles)
        frames, masks = [], []
        scale, (ox, oy) = self.place.scale, self.place.origin
        for pose, (dx, dy) in zip(self.poses, self.shake, strict=False):
            background, parts = self.scene.background, self.scene.parts
            if dx or dy:
                cam = Similarity(1.0, (dx, dy))
                # the floor edge is drawn on the supersampled grid anyway: snapping its shift to that grid
                # keeps the number of distinct walls small, so their paintings are reused
                floor = None if background.floor_y is None else background.floor_y + round(dy * SS) / SS
                background, parts = replace(background, floor_y=floor), [p.moved(cam) for p in parts]
            shot = Similarity(scale, (ox + dx, oy + dy))
            parts = parts + [p.moved(shot) for p in pose]
            out = Scene(self.action, self.scene.size, background, parts, self.scene.mirror).render(roles)
            frames.append(out.image)
            masks.append(out.mask)
        return np.stack(frames), np.stack(masks)


def _check_clip(action: str, size: object, frames: object) -> tuple[int, int]:
    if action not in VIDEO_ACTIONS:
        raise UsageError(f"unknown video action {action!r}; expected one of: {', '.join(VIDEO_ACTIONS)}")
    return _check_int("size", size, 32, 2048), _check_int("frames", frames, 4, 10_000)


def sample_video(action: str, rng: np.random.Generator, size: int, frames: int) -> VideoScene:
    """Draw every random choice of one clip of ``action`` from ``rng``."""
    size, frames = _check_clip(action, size, frames)
    backdrop = sample_backdrop(rng, size)
    motion = sample_motion(action, backdrop.ctx, frames)
    times = [k / (frames - 1) for k in range(frames)]
    if motion.reverse:
        times.reverse()
    amp = 0.0 if rng.random() < 0.3 else rng.uniform(0.002, 0.01) * size
    freq, phase = rng.uniform(0.3, 1.2, 2), rng.uniform(0.0, 2 * math.pi, 2)
    shake = [
        (
            float(amp * math.sin(2 * math.pi * freq[0] * u + phase[0])),
            float(amp * math.sin(2 * math.pi * freq[1] * u + phase[1])),
        )
        for u in times
    ]

    groups = [motion.pose(u) for u in times]
    x0, y0, x1, y1 = bbox([p for g in groups for p in g.parts])  # all frames: the figure never leaves the picture
    place = place_group(rng, size, (x0, y0, x1, y1))
    extent = (*place.point(np.array([x0, y0])), *place.point(np.array([x1, y1])))
    scene = compose_scene(action, size, backdrop, [], place, groups[0].ground, extent)
    return VideoScene(action, scene, [g.parts for g in groups], place, shake)


def render_video(action: str, rng: np.random.Generator, size: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """One clip of ``action``: frames uint8 ``[T, H, W, 3]`` RGB and evidence masks bool ``[T, H, W]``."""
    return sample_video(action, rng, size, frames).render()


def choose_actions(names: Sequence[str] | None) -> tuple[str, ...]:
    """The actions a set draws, in :data:`VIDEO_ACTIONS` order: all of them, or ``names`` (any case, no repeats).

    Two sets drawn with overlapping and disjoint choices are the test bed of cross-dataset zero-shot.
    """
    if names is None:
        return VIDEO_ACTIONS
    by_lower = {a.lower(): a for a in VIDEO_ACTIONS}
    chosen: list[str] = []
    for name in names:
        if not name.strip():
            raise UsageError(f"an action name is empty: separate names by single commas, e.g. {VIDEO_ACTIONS[0]},Jump")
        action = by_lower.get(name.strip().lower())
        if action is None:
            raise UsageError(f"unknown video action {name.strip()!r}; expected some of: {', '.join(VIDEO_ACTIONS)}")
        if action in chosen:
            raise UsageError(f"video action {action} is named twice")
        chosen.append(action)
    if not chosen:
        raise UsageError(f"name at least one video action: {', '.join(VIDEO_ACTIONS)}")
    return tuple(a for a in VIDEO_ACTIONS if a in chosen)


def video_rng(seed: int, split: str, action_index: int, clip: int) -> np.random.Generator:
    """The generator for one clip: independent of every other clip and of the worker that draws it."""
    return np.random.default_rng(np.random.SeedSequence([seed, _VIDEO_KEY, _SPLIT_KEYS[split], action_index, clip]))


# --- files ------------------------------------------------------------------------------------


def write_video(dest: Path | str, frames: np.ndarray, fps: float) -> Path:
    """Encode RGB frames ``[T, H, W, 3]`` into ``dest`` atomically; its extension picks the codec (see FOURCC)."""
    import cv2

    dest = Path(dest)
    fourcc = FOURCC.get(dest.suffix.lower())
    if fourcc is None:
        raise UsageError(f"cannot write {dest.name}: video files must end in {' or '.join(FOURCC)}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise UsageError(f"video frames must be uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise UsageError(f"video frames need an even width and height (codecs drop an odd row), got {width}x{height}")
    with atomic_path(dest, suffix=dest.suffix) as tmp:  # OpenCV picks the container from the extension
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), float(fps), (width, height))
        if not writer.isOpened():
            raise HartraceError(f"OpenCV cannot write {fourcc} video to {dest.suffix} files on this machine")
        try:
            for frame in frames:
                writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV wants BGR
        finally:
            writer.release()
    return dest


def clip_names(split: str, n: int) -> list[tuple[int, int]]:
    """UCF101 ``(group, clip)`` numbers of ``n`` clips per class: test in groups 1-7, training in 8-25."""
    groups = TEST_GROUPS if split == "test" else TRAIN_GROUPS
    return sorted((groups[i % len(groups)], 1 + i // len(groups)) for i in range(n))


def _render_job(job: Job) -> int:
    root_s, size, frames, fps, ext, seed, items = job
    root = Path(root_s)
    for split, action_index, clip, rel in items:
        pixels, masks = render_video(
            VIDEO_ACTIONS[action_index], video_rng(seed, split, action_index, clip), size, frames
        )
        write_video(root / "UCF-101" / (rel + ext), pixels, fps)
        buf = io.BytesIO()
        np.savez_compressed(buf, mask=masks)
        write_bytes(root / "masks" / (rel + ".npz"), buf.getvalue())
    return len(items)


def _clear_videos(root: Path) -> None:
    """Remove the clips, masks and split files of an earlier synthetic video set (nothing else)."""
    for top in ("UCF-101", "masks"):
        for folder in (root / top).glob("*"):
            if folder.is_dir():
                for f in folder.iterdir():
                    if f.is_file() and f.name.startswith(("v_", ".v_")):
                        f.unlink()
    for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt"):
        (root / "ucfTrainTestlist" / name).unlink(missing_ok=True)


@dataclass(frozen=True)
class VideoSynthReport:
    """What :func:`generate_video_set` wrote and how fast."""

    root: Path
    n_train: int
    n_test: int
    frames: int
    seconds: float
    videos_per_second: float
    frames_per_second: float


def _check_fps(fps: object) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not 0 < fps <= 240:
        raise UsageError(f"fps must be a number above 0 and at most 240, got {fps!r}")
    return float(fps)


def _split_lines(names: dict[str, list[str]], actions: Sequence[str]) -> dict[str, str]:
    label = {a: i + 1 for i, a in enumerate(actions)}
    return {
        "classInd.txt": "".join(f"{i} {a}\n" for a, i in label.items()),
        "trainlist01.txt": "".join(f"{n} {label[n.split('/')[0]]}\n" for n in names["train"]),
        "testlist01.txt": "".join(f"{n}\n" for n in names["test"]),
    }


def generate_video_set(
    out_dir: Path | str,
    *,
    per_class: int = 30,
    test_per_class: int = 10,
    size: int = 96,
    frames: int = 24,
    fps: float = 12,
    seed: int = 0,
    video_format: str = "avi",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    actions: Sequence[str] | None = None,
) -> VideoSynthReport:
    """Write the synthetic video action set to ``out_dir`` in the UCF101 layout, with per-frame evidence masks.

    Layout: ``UCF-101/<Class>/v_<Class>_gGG_cCC.avi`` (or ``.mp4``),
    ``ucfTrainTestlist/{classInd,trainlist01,testlist01}.txt``,
    ``masks/<Class>/<stem>.npz`` (array ``mask``: bool ``[frames, size, size]``)
    and ``classes.txt``.  The same ``seed`` gives the same frames and masks for
    any ``workers``.  ``actions`` draws only those (see :func:`choose_actions`); a clip is the one
    the full set holds under the same seed, so two sets that share classes need different seeds
    to share no video.
    """
    chosen = choose_actions(actions)
    per_class = _check_int("per_class", per_class, 1)
    test_per_class = _check_int("test_per_class", test_per_class, 0)
    size = _check_int("size", size, 32, 2048)
    if size % 2:
        raise UsageError(f"size must be even for video codecs, got {size}")
    frames = _check_int("frames", frames, 4, 10_000)
    fps = _check_fps(fps)
    seed = _check_int("seed", seed, 0)
    if video_format not in ("avi", "mp4"):
        raise UsageError(f"video format must be avi or mp4, got {video_format!r}")
    n_workers = (os.cpu_count() or 1) if workers is None else _check_int("workers", workers, 1)
    root = Path(out_dir).expanduser()
    ext = "." + video_format
    meta = {
        "format": FORMAT,
        "version": 1,
        "seed": seed,
        "per_class": per_class,
        "test_per_class": test_per_class,
        "size": size,
        "frames": frames,
        "fps": fps,
        "video_format": video_format,
        "classes": list(chosen),
    }
    claim_folder(root, meta, _clear_videos, what="synthetic video set", overwrite=overwrite)

    start = time.perf_counter()
    items: list[Item] = []
    names: dict[str, list[str]] = {"train": [], "test": []}
    for split, n in (("train", per_class), ("test", test_per_class)):
        for action in chosen:
            for clip, (g, c) in enumerate(clip_names(split, n)):
                rel = f"{action}/v_{action}_g{g:02d}_c{c:02d}"
                items.append((split, VIDEO_ACTIONS.index(action), clip, rel))
                names[split].append(rel + ext)
    n_workers = max(1, min(n_workers, len(items) // 4 or 1))
    chunk = max(1, min(8, len(items) // (n_workers * 6) or 1))
    jobs: list[Job] = [
        (str(root), size, frames, fps, ext, seed, items[i : i + chunk]) for i in range(0, len(items), chunk)
    ]

    run_jobs(_render_job, jobs, n_workers, total=len(items), desc="synth video", progress=progress)

    for name, text in _split_lines(names, chosen).items():
        write_text(root / "ucfTrainTestlist" / name, text)
    write_text(root / "classes.txt", "\n".join(chosen) + "\n")
    write_marker(root, meta, complete=True)
    seconds = time.perf_counter() - start
    rate = len(items) / seconds if seconds > 0 else 0.0
    return VideoSynthReport(root, len(names["train"]), len(names["test"]), frames, seconds, rate, rate * frames)


__all__ = [
    "FORMAT",
    "VIDEO_ACTIONS",
    "VideoScene",
    "VideoSynthReport",
    "choose_actions",
    "clip_names",
    "generate_video_set",
    "render_video",
    "sample_video",
    "video_rng",
    "write_video",
]

"""The explorer's video side: a run's videos and one cached analysis per (run, video).

A video costs one model pass over the clip the model is shown at test time (its centre
clip), with the gradients of every class captured at the CAM layer in the same pass.
Each class's map ``[T, H, W]`` and its temporal importance are computed from that
capture the first time someone asks and kept with it, so switching class, moving
the frame slider or changing the overlay's opacity never runs the model again.

:class:`VideoViews` shares the explorer's :class:`~hartrace.explorer.store.RunStore` (run loading,
validation predictions, target resolution, the pass counter) and keeps its own LRU
cache of video analyses; the clip is read and shown by the run's task (:mod:`hartrace.runs.tasks`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from hartrace.attribution.registry import DEFAULT_METHOD, method_spec
from hartrace.base.errors import UsageError
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.rows import ItemRow
from hartrace.explorer.state import RunState
from hartrace.explorer.store import RunStore
from hartrace.probe import Capture, HookManager


@dataclass
class VideoAnalysis:
    """One video's clip as the model saw it, its capture at the CAM layer, and the maps derived from it."""

    frames: np.ndarray  # uint8 [T, H, W, 3], the clip's frames as the model saw them
    clip: torch.Tensor  # [1, C, T, H, W], the normalised model input
    frame_indices: list[int]  # the video's own frame numbers of the clip's frames
    fps: float
    layer: str  # the CAM layer, where every class's gradients were captured
    capture: Capture
    _maps: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def probabilities(self) -> list[float]:
        return self.capture.probabilities[0].tolist()

    def cam(self, k: int, method: str = DEFAULT_METHOD) -> np.ndarray:
        """Class ``k``'s map ``[T, H, W]`` in [0, 1] (normalised over the whole clip),
        computed once from the capture."""
        from hartrace.attribution.explanation import maps_from_capture

        spec = method_spec(method)
        if not spec.from_capture:
            raise UsageError(f"{spec.name} runs the model again: the video view offers the methods that do not")
        classes = self.capture.probabilities.shape[1]
        if not 0 <= k < classes:
            raise UsageError(f"class index {k} is out of range (this model has {classes} classes)")
        key = (spec.name, k)
        with self._lock:  # the capture's target columns are every class, in order: column k is class k
            if key not in self._maps:
                self._maps[key] = maps_from_capture(self.capture, [self.layer], spec, columns=[k])[0, 0].cpu().numpy()
            return self._maps[key]

    def cams(self, method: str = DEFAULT_METHOD) -> np.ndarray:
        """Every class's map, ``[K, T, H, W]`` (each computed on first use)."""
        return np.stack([self.cam(k, method) for k in range(self.capture.probabilities.shape[1])])

    def importance(self, k: int, method: str = DEFAULT_METHOD) -> np.ndarray:
        """Each frame's share of class ``k``'s map, ``[T]`` (sums to 1)."""
        from hartrace.attribution.temporal import temporal_importance

        return temporal_importance(self.cam(k, method))


class VideoViews:
    """A run's videos, and one cached analysis per (run, video), over ``store``'s runs."""

    def __init__(self, store: RunStore, *, cache_size: int = 8) -> None:
        self.store = store
        self._videos: LRUCache[VideoAnalysis] = LRUCache(cache_size)

    def _video_run(self, run: str) -> RunState:
        state = self.store.run(run)
        if not self.store.task(run).is_video:
            raise UsageError(f"{run} is an image run: videos can only be explored in a video run")
        return state

    def videos(self, run: str) -> list[ItemRow]:
        """The run's validation videos with their true and predicted class (from the run's evaluation)."""
        self._video_run(run)
        return list(self.store.predictions(run))

    def video(self, run: str, video_id: str) -> VideoAnalysis:
        """The analysis of one video of the run's dataset (computed once, then served from the cache)."""

        def analyse() -> VideoAnalysis:
            state = self._video_run(run)
            if video_id not in state.files:
                raise UsageError(f"unknown video {video_id!r}")
            opened = state.opened
            opened.require_class_scores("the Video page")
            read = self.store.read(run, state.files[video_id], video_id)
            clip = read.batch.to(next(opened.model.parameters()).device)
            layer = self.store.model_info(run).cam_layer
            every_class = torch.arange(len(opened.classes))[None]
            with state.lock, HookManager(opened.model, [layer], gradients=[layer], classes=opened.classes) as hooks:
                captured = hooks.forward(clip)
                hooks.backward(every_class)
                self.store.count_pass()
            frames = self.store.task(run).frames(clip[0], opened.spec.input)
            return VideoAnalysis(frames, clip, read.frame_indices, read.fps, layer, captured)

        return self._videos.get_or_compute((run, video_id), analyse)

    def video_target(self, run: str, video_id: str, target: str | int | None = None) -> int:
        """The class index a target names; None or "" is the class the clip is predicted as."""
        return self.store.target_index(run, self.video(run, video_id).capture, target)

    def video_cam(
        self, run: str, video_id: str, target: str | int | None = None, method: str = DEFAULT_METHOD
    ) -> np.ndarray:
        """The map ``[T, H, W]`` of ``target`` (default: the prediction) over the video's clip."""
        return self.video(run, video_id).cam(self.video_target(run, video_id, target), method)

    def video_importance(
        self, run: str, video_id: str, target: str | int | None = None, method: str = DEFAULT_METHOD
    ) -> np.ndarray:
        """Which frames of the clip the map of ``target`` says matter: each frame's share, ``[T]``."""
        return self.video(run, video_id).importance(self.video_target(run, video_id, target), method)

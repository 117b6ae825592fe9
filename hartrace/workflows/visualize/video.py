"""``hartrace visualize`` on a video: one clip, one pass, every picture over time.

The clip the model sees (its test-time centre clip) goes through one
:class:`~hartrace.probe.HookManager` pass; the temporal CAM ``[T, H, W]`` and every
picture are drawn from that capture: a frame strip with overlays and the
temporal-importance curve, an animated GIF and an MP4 of the overlays, activation grids
per time slice, 3-D kernel grids, histograms and probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hartrace.data.pipeline import InputSpec
from hartrace.data.transforms import to_display_image
from hartrace.data.video import VideoDecodeError, clip_indices, probe_video, read_video, video_eval_transform
from hartrace.base.errors import UsageError
from hartrace.attribution.temporal import temporal_importance
from hartrace.base.io import save_figure, write_csv
from hartrace.runs.loading import Opened
from hartrace.probe import resolve_layers
from hartrace.render import histogram_figure, layer_flow_figure, probability_bars_figure
from hartrace.workflows.visualize.capture import capture_with_cam, save_layer_pictures
from hartrace.render.video import (
    frame_strip_figure,
    overlay_frames,
    temporal_importance_figure,
    write_gif,
    write_mp4,
)


def model_clip(video: str | Path, spec: InputSpec) -> tuple[torch.Tensor, list[int], float]:
    """The normalised centre clip ``[1, C, T, H, W]`` a video model is shown, its frame indices, and the video's fps."""
    try:
        info = probe_video(video)
        indices = clip_indices(info.frames, spec.clip_length, spec.clip_stride, clips=1, mode="center")[0]
        frames = read_video(video, indices)
    except VideoDecodeError as exc:
        raise UsageError(f"cannot read video {video}: {exc}") from None
    clip = video_eval_transform(spec.size, spec.mean, spec.std)(frames)
    return clip.unsqueeze(0), list(indices), info.fps


def clip_pictures(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """The frames a model saw, uint8 ``[T, H, W, 3]``, from its normalised clip ``[C, T, H, W]``."""
    return np.stack([to_display_image(clip[:, t], mean, std) for t in range(clip.shape[1])])


def visualize_video(
    opened: Opened,
    video: str | Path,
    layers: Sequence[str],
    *,
    method: str,
    cam_layer: str,
    target: str | int | None,
    top_n: int,
    alpha: float,
    out_dir: Path,
) -> tuple[dict[str, Path], dict[str, Any], torch.Tensor, Any]:
    """Write every picture of ``video`` to ``out_dir``; returns (pictures, summary, cam ``[T, H, W]``, capture)."""
    model, classes = opened.model, opened.classes
    spec = opened.spec.input
    resolve_layers(model, [*layers, cam_layer])
    clip, indices, fps = model_clip(video, spec)
    clip = clip.to(next(model.parameters()).device)
    shown = clip_pictures(clip[0].cpu(), spec.mean, spec.std)

    captured, targets, cams = capture_with_cam(model, clip, layers, cam_layer, method, target, classes)
    importance = temporal_importance(cams)
    target_name = classes[int(targets[0, 0])]
    layers = [name for name in captured.layers if name in layers]

    pictures: dict[str, Path] = {}

    def save(key: str, figure: Any, name: str) -> None:
        pictures[key] = save_figure(figure, out_dir / name)

    labels = [f"frame {i}" for i in indices]
    save("frames", frame_strip_figure(shown, cams.numpy(), importance=importance, labels=labels,
                                      title=f"{Path(video).name}: {method} at {cam_layer} for {target_name}"), "frames.png")  # fmt: skip
    save("temporal importance", temporal_importance_figure(importance, title=f"which frames the {method} map says matter"), "temporal_importance.png")
    write_csv(out_dir / "temporal_importance.csv", ["clip_frame", "video_frame", "importance"],
              ([t, indices[t], f"{importance[t]:.6f}"] for t in range(len(indices))))  # fmt: skip
    overlays = overlay_frames(shown, cams.numpy(), alpha=alpha)
    play_fps = max(1.0, (fps or 12.0) / spec.clip_stride)
    pictures["animation"] = write_gif(overlays, out_dir / "cam.gif", play_fps)
    write_mp4(overlays, out_dir / "cam.mp4", play_fps)
    np.save(out_dir / "cam.npy", cams.numpy().astype(np.float32))
    save_layer_pictures(save, captured, layers, top_n)
    save("histograms", histogram_figure({name: captured[name].stats for name in layers}, title="activation values per layer"), "histograms.png")
    save("probabilities", probability_bars_figure(captured.probabilities[0].numpy(), classes, top_k=min(10, len(classes)), title="class probabilities"), "probabilities.png")
    middle = shown[len(shown) // 2]
    save("flow", layer_flow_figure(middle, captured, layers, classes=classes, title=f"{Path(video).name}: input to prediction"), "flow.png")

    summary = {
        "video": str(video),
        "checkpoint": str(opened.checkpoint),
        "method": method,
        "cam_layer": cam_layer,
        "target": target_name,
        "clip_frames": indices,
        "temporal_importance": [round(float(v), 6) for v in importance],
        **captured.summary(),
        "pictures": {key: str(path.name) for key, path in pictures.items()},
    }
    return pictures, summary, cams, captured

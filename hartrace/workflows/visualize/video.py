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

from hartrace.attribution.temporal import temporal_importance
from hartrace.base.io import save_figure, write_csv
from hartrace.probe import resolve_layers
from hartrace.render.charts import verdict
from hartrace.render.video import (
    frame_strip_figure,
    temporal_importance_figure,
    write_gif,
    write_mp4,
)
from hartrace.runs.loading import Opened
from hartrace.runs.tasks import VIDEO
from hartrace.workflows.visualize.capture import (
    capture_with_cam,
    flow_picture,
    prediction_summary,
    save_capture_pictures,
)


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
    true_label: str | None = None,
) -> tuple[dict[str, Path], dict[str, Any], torch.Tensor, Any]:
    """Write every picture of ``video`` to ``out_dir``; returns (pictures, summary, cam ``[T, H, W]``, capture).
    ``true_label``, the video's class when its dataset says, is named beside the prediction."""
    model, classes = opened.model, opened.classes
    spec = opened.spec.input
    resolve_layers(model, [*layers, cam_layer])
    read = VIDEO.read(video, spec)
    clip, indices = read.batch.to(next(model.parameters()).device), read.frame_indices
    shown = VIDEO.frames(clip[0], spec)

    captured, targets, cams = capture_with_cam(model, clip, layers, cam_layer, method, target, classes)
    importance = temporal_importance(cams)
    target_name = classes[int(targets[0, 0])]
    layers = [name for name in captured.layers if name in layers]
    prediction = prediction_summary(captured, classes, true_label)
    line = verdict(true_label, prediction["predicted"], prediction["predicted_probability"])

    pictures: dict[str, Path] = {}

    def save(key: str, figure: Any, name: str) -> None:
        pictures[key] = save_figure(figure, out_dir / name)

    labels = [f"frame {i}" for i in indices]
    save(
        "frames",
        frame_strip_figure(
            shown,
            cams.numpy(),
            importance=importance,
            labels=labels,
            title=f"{Path(video).name}: {method} at {cam_layer} for {target_name}; {line}",
        ),
        "frames.png",
    )
    save(
        "temporal importance",
        temporal_importance_figure(importance, title=f"which frames the {method} map says matter"),
        "temporal_importance.png",
    )
    write_csv(
        out_dir / "temporal_importance.csv",
        ["clip_frame", "video_frame", "importance"],
        ([t, indices[t], f"{importance[t]:.6f}"] for t in range(len(indices))),
    )
    overlays = VIDEO.overlay(shown, cams.numpy(), alpha=alpha)
    play_fps = max(1.0, (read.fps or 12.0) / spec.clip_stride)
    pictures["animation"] = write_gif(overlays, out_dir / "cam.gif", play_fps)
    write_mp4(overlays, out_dir / "cam.mp4", play_fps)
    np.save(out_dir / "cam.npy", cams.numpy().astype(np.float32))
    kernels = save_capture_pictures(save, captured, layers, classes, top_n, true_label)
    middle = shown[len(shown) // 2]
    save("flow", flow_picture(model, middle, captured, layers, classes, video, true_label), "flow.png")

    summary = {
        "video": str(video),
        "checkpoint": str(opened.checkpoint),
        **prediction,
        "method": method,
        "cam_layer": cam_layer,
        "target": target_name,
        "clip_frames": indices,
        "temporal_importance": [round(float(v), 6) for v in importance],
        **captured.summary(),
        "kernels": kernels,
        "pictures": {key: str(path.name) for key, path in pictures.items()},
    }
    return pictures, summary, cams, captured

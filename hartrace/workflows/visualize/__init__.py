"""``hartrace visualize``: one image, one pass, every picture -- and the report that bundles them.

Capture once, render many: a single :class:`~hartrace.probe.HookManager` pass records
the chosen layers (activations, kernels, histograms), the CAM layer's gradients for
the target classes, and the probabilities; every picture is then drawn from that
capture without running the model again (Score-CAM and the pixel methods excepted,
which run the model by definition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hartrace.attribution.registry import method_spec
from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder, save_figure
from hartrace.probe import resolve_layers
from hartrace.render import cam_figure, layer_flow_figure
from hartrace.runs.loading import open_model
from hartrace.runs.tasks import task_of
from hartrace.workflows.visualize.capture import capture_with_cam, save_capture_pictures, write_captures_and_report


@dataclass
class VisualizeResult:
    out_dir: Path
    pictures: dict[str, Path]
    summary: dict[str, Any]
    cams: torch.Tensor = field(repr=False)


def visualize(
    image: str | Path,
    layers: Sequence[str] | None = None,
    *,
    run: str | Path | None = None,
    checkpoint: str | Path | None = None,
    runs_dir: str | Path = "checkpoints",
    method: str = "gradcam",
    cam_layer: str | None = None,
    target: str | int | None = None,
    top_n: int = 16,
    alpha: float = 0.5,
    out: str | Path | None = None,
) -> VisualizeResult:
    """Every picture for ``image`` at ``layers`` (default: the model's display groups), plus ``report.html``.

    Writes ``activations_<layer>.png``, ``kernels_<layer>.png`` (conv layers),
    ``histograms.png``, ``probabilities.png``, ``cam.png`` (with ``cam.npy``),
    ``flow.png``, ``report.html`` and ``captures.json`` to ``out``
    (default ``<run>/visualize/<image name>/``). For a video model ``image`` is a video:
    ``frames.png``, ``cam.gif``, ``cam.mp4`` and ``temporal_importance.png/.csv`` take the
    place of ``cam.png``, and ``cam.npy`` is ``[T, H, W]`` (see :mod:`hartrace.workflows.visualize.video`).
    """
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"--alpha is the overlay's opacity, from 0 to 1; got {alpha}")
    if not Path(image).is_file():
        raise UsageError(f"input not found: {image}")
    opened = open_model(run, checkpoint, runs_dir)
    model, classes = opened.model, opened.classes
    opened.require_class_scores("visualize")
    out_dir = require_writable_folder(
        Path(out) if out else opened.checkpoint.parent / "visualize" / Path(image).stem, "--out"
    )
    info = model.info
    layers = list(layers) if layers else [p for group in info.layer_groups.values() for p in group][:6]
    cam_layer = cam_layer or opened.spec.cam_layer
    resolve_layers(model, [*layers, cam_layer])  # every name checked before any work
    method = method_spec(method).name  # and the method
    task = task_of(opened.spec.input)
    if task.is_video:
        from hartrace.workflows.visualize.video import visualize_video

        if not task.is_member(Path(image)):
            raise UsageError(f"{image} is not a video file, and {opened.checkpoint} is a video model: give it a video")
        pictures, summary, cams, captured = visualize_video(
            opened,
            image,
            layers,
            method=method,
            cam_layer=cam_layer,
            target=target,
            top_n=top_n,
            alpha=alpha,
            out_dir=out_dir,
        )
        write_captures_and_report(out_dir, f"hartrace: {Path(image).name}", pictures, summary, captured)
        return VisualizeResult(out_dir, pictures, summary, cams)
    batch = task.read(image, opened.spec.input).batch.to(next(model.parameters()).device)
    shown = task.frames(batch[0], opened.spec.input)[0]

    captured, targets, cams = capture_with_cam(model, batch, layers, cam_layer, method, target, classes)
    target_name = classes[int(targets[0, 0])]
    layers = [name for name in captured.layers if name in layers]  # model order, as the flow diagram reads

    pictures: dict[str, Path] = {}

    def save(key: str, figure: Any, name: str) -> None:
        pictures[key] = save_figure(figure, out_dir / name)

    save_capture_pictures(save, captured, layers, classes, top_n)
    save(
        "cam",
        cam_figure(shown, [cams.numpy()], titles=[f"{method} at {cam_layer}: {target_name}"], alpha=alpha),
        "cam.png",
    )
    np.save(out_dir / "cam.npy", cams.numpy().astype(np.float32))
    save(
        "flow",
        layer_flow_figure(shown, captured, layers, classes=classes, title=f"{Path(image).name}: input to prediction"),
        "flow.png",
    )

    summary = {
        "image": str(image),
        "checkpoint": str(opened.checkpoint),
        "method": method,
        "cam_layer": cam_layer,
        "target": target_name,
        **captured.summary(),
        "pictures": {key: str(path.name) for key, path in pictures.items()},
    }
    write_captures_and_report(out_dir, f"hartrace: {Path(image).name}", pictures, summary, captured)
    return VisualizeResult(out_dir, pictures, summary, cams)

"""``hartrace visualize``: one image, one pass, every picture -- and the report that bundles them.

Capture once, render many: a single :class:`~hartrace.probe.HookManager` pass records
the chosen layers (activations, kernels, histograms), the CAM layer's gradients for
the target classes, and the probabilities; every picture is then drawn from that
capture without running the model again (Score-CAM and the pixel methods excepted,
which run the model by definition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from hartrace.attribution.registry import method_spec
from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder, save_figure
from hartrace.models import ModelInfo
from hartrace.probe import resolve_layers
from hartrace.probe.layers import default_layers
from hartrace.render import cam_figure
from hartrace.render.charts import verdict
from hartrace.runs.loading import Opened, open_dataset, open_model
from hartrace.runs.tasks import task_of
from hartrace.workflows.visualize.capture import (
    capture_with_cam,
    flow_picture,
    prediction_summary,
    save_capture_pictures,
    write_captures_and_report,
)
from hartrace.workflows.visualize.truth import TrueClass, folder_names, label_of, pick_validation, true_class_of


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
    data: str | Path | None = None,
    method: str = "gradcam",
    cam_layer: str | None = None,
    target: str | int | None = None,
    top_n: int = 16,
    alpha: float = 0.5,
    out: str | Path | None = None,
) -> VisualizeResult:
    """Every picture for ``image`` at ``layers`` (default: :func:`~hartrace.probe.layers.default_layers`, the
    first conv, each trunk stage and the head's convs), plus ``report.html``.

    Writes ``activations_<layer>.png``, ``kernels_<layer>.png`` (conv layers),
    ``histograms.png``, ``probabilities.png``, ``cam.png`` (with ``cam.npy``),
    ``flow.png``, ``report.html`` and ``captures.json`` to ``out``
    (default ``<run>/visualize/<image name>/``). For a video model ``image`` is a video:
    ``frames.png``, ``cam.gif``, ``cam.mp4`` and ``temporal_importance.png/.csv`` take the
    place of ``cam.png``, and ``cam.npy`` is ``[T, H, W]`` (see :mod:`hartrace.workflows.visualize.video`).
    When ``image`` is one of the run's dataset (``data``: where it is now, if moved), every picture names its
    true class beside the prediction.
    """
    _check_alpha(alpha)
    if not Path(image).is_file():
        raise UsageError(f"input not found: {image}")
    opened = _open(run, checkpoint, runs_dir)
    truth, note = true_class_of(opened, image, data)
    out_dir = require_writable_folder(
        Path(out) if out else opened.checkpoint.parent / "visualize" / Path(image).stem, "--out"
    )
    return _visualize_one(opened, image, truth, note, layers, method, cam_layer, target, top_n, alpha, out_dir)


def visualize_random_val(
    count: int = 1,
    layers: Sequence[str] | None = None,
    *,
    seed: int = 0,
    run: str | Path | None = None,
    checkpoint: str | Path | None = None,
    runs_dir: str | Path = "checkpoints",
    data: str | Path | None = None,
    method: str = "gradcam",
    cam_layer: str | None = None,
    target: str | int | None = None,
    top_n: int = 16,
    alpha: float = 0.5,
    out: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> list[VisualizeResult]:
    """:func:`visualize` for ``count`` random validation images (videos, for a video run) of the run, the same
    ones for the same ``seed``; each into its own folder ``<out>/<image name>/`` (default ``<run>/visualize/``).
    The chosen files are logged before the work starts."""
    _check_alpha(alpha)
    opened = _open(run, checkpoint, runs_dir)
    index = open_dataset(opened, data)
    picked = pick_validation(index, count, seed)
    log(
        f"random validation {index.task}s (seed {seed}, {count} of {len(index.splits['val'])}): "
        + ", ".join(index.relative(s.path) for s in picked)
    )
    base = Path(out) if out else opened.checkpoint.parent / "visualize"
    results = []
    for sample, name in zip(picked, folder_names(index, picked), strict=True):
        truth = label_of(index, sample.path)
        note = f"from {truth.source()}" if truth else "no true class"
        out_dir = require_writable_folder(base / name, "--out")
        results.append(
            _visualize_one(opened, sample.path, truth, note, layers, method, cam_layer, target, top_n, alpha, out_dir)
        )
    return results


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"--alpha is the overlay's opacity, from 0 to 1; got {alpha}")


def _open(run: str | Path | None, checkpoint: str | Path | None, runs_dir: str | Path) -> Opened:
    opened = open_model(run, checkpoint, runs_dir)
    opened.require_class_scores("visualize")
    return opened


def _visualize_one(
    opened: Opened,
    image: str | Path,
    truth: TrueClass | None,
    truth_note: str,
    layers: Sequence[str] | None,
    method: str,
    cam_layer: str | None,
    target: str | int | None,
    top_n: int,
    alpha: float,
    out_dir: Path,
) -> VisualizeResult:
    model, classes = opened.model, opened.classes
    info = cast(ModelInfo, model.info)
    layers = list(layers) if layers else default_layers(model, info.stages, info.head)
    cam_layer = cam_layer or opened.spec.cam_layer
    resolve_layers(model, [*layers, cam_layer])  # every name checked before any work
    method = method_spec(method).name  # and the method
    true_label = truth.name if truth else None
    known = {"true_class": true_label, "true_class_note": truth_note}
    task = task_of(opened.spec.input)
    if task.is_video:
        from hartrace.workflows.visualize.video import visualize_video

        if not task.is_member(Path(image)):
            raise UsageError(f"{image} is not a video file, and {opened.checkpoint} is a video model: give it a video")
        drawn, summary, cams, captured = visualize_video(
            opened,
            image,
            layers,
            method=method,
            cam_layer=cam_layer,
            target=target,
            top_n=top_n,
            alpha=alpha,
            out_dir=out_dir,
            true_label=true_label,
        )
        summary = {**known, **summary}
        write_captures_and_report(out_dir, _report_title(image, summary), drawn, summary, captured)
        return VisualizeResult(out_dir, drawn, summary, cams)
    batch = task.read(image, opened.spec.input).batch.to(next(model.parameters()).device)
    shown = task.frames(batch[0], opened.spec.input)[0]

    captured, targets, cams = capture_with_cam(model, batch, layers, cam_layer, method, target, classes)
    target_name = classes[int(targets[0, 0])]
    layers = [name for name in captured.layers if name in layers]  # model order, as the flow diagram reads
    prediction = prediction_summary(captured, classes, true_label)

    pictures: dict[str, Path] = {}

    def save(key: str, figure: Any, name: str) -> None:
        pictures[key] = save_figure(figure, out_dir / name)

    kernels = save_capture_pictures(save, captured, layers, classes, top_n, true_label)
    line = verdict(true_label, prediction["predicted"], prediction["predicted_probability"])
    save(
        "cam",
        cam_figure(
            shown, [cams.numpy()], titles=[f"{method} at {cam_layer}: {target_name}"], alpha=alpha, suptitle=line
        ),
        "cam.png",
    )
    np.save(out_dir / "cam.npy", cams.numpy().astype(np.float32))
    save("flow", flow_picture(model, shown, captured, layers, classes, image, true_label), "flow.png")

    summary = {
        "image": str(image),
        "checkpoint": str(opened.checkpoint),
        **known,
        **prediction,
        "method": method,
        "cam_layer": cam_layer,
        "target": target_name,
        **captured.summary(),
        "kernels": kernels,
        "pictures": {key: str(path.name) for key, path in pictures.items()},
    }
    write_captures_and_report(out_dir, _report_title(image, summary), pictures, summary, captured)
    return VisualizeResult(out_dir, pictures, summary, cams)


def _report_title(image: str | Path, summary: dict[str, Any]) -> str:
    line = verdict(summary["true_class"], summary["predicted"], summary["predicted_probability"])
    return f"hartrace: {Path(image).name}, {line}"

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
from typing import Any

import numpy as np
import torch

from hartrace.data import load_rgb
from hartrace.data.decode import ImageDecodeError
from hartrace.data.transforms import to_display_image
from hartrace.errors import UsageError
from hartrace.attribution.explanation import maps_from_capture
from hartrace.attribution.registry import method_spec
from hartrace.attribution.targets import resolve_targets
from hartrace.inference import checkpoint_transform
from hartrace.io import save_figure, write_json, write_text
from hartrace.loading import open_model
from hartrace.probe import HookManager, resolve_layers
from hartrace.probe.capture import Capture
from hartrace.render import (
    cam_figure,
    histogram_figure,
    html_report,
    kernel_grid_figure,
    layer_flow_figure,
    probability_bars_figure,
)
from hartrace.render.views import layer_view_figure


@dataclass
class VisualizeResult:
    out_dir: Path
    pictures: dict[str, Path]
    summary: dict[str, Any]
    cams: torch.Tensor = field(repr=False)


def _file_name(layer: str) -> str:
    return layer.replace(".", "_")


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
    place of ``cam.png``, and ``cam.npy`` is ``[T, H, W]`` (see :mod:`hartrace.visualize_video`).
    """
    opened = open_model(run, checkpoint, runs_dir)
    model, meta, classes = opened.model, opened.meta, opened.classes
    opened.require_class_scores("visualize")
    info = model.info
    layers = list(layers) if layers else [p for group in info.layer_groups.values() for p in group][:6]
    cam_layer = cam_layer or meta.get("cam_layer") or info.cam_layer
    resolve_layers(model, [*layers, cam_layer])  # every name checked before any work
    method = method_spec(method).name  # and the method
    if meta.get("task", "image") == "video":
        from hartrace.data.video import is_video_file
        from hartrace.visualize_video import visualize_video

        if not is_video_file(Path(image)):
            raise UsageError(f"{image} is not a video file, and {opened.checkpoint} is a video model: give it a video")
        out_dir = Path(out) if out else opened.checkpoint.parent / "visualize" / Path(image).stem
        pictures, summary, cams, captured = visualize_video(
            opened, image, layers, method=method, cam_layer=cam_layer, target=target, top_n=top_n, alpha=alpha, out_dir=out_dir
        )
        write_captures_and_report(out_dir, f"hartrace: {Path(image).name}", pictures, summary, captured)
        return VisualizeResult(out_dir, pictures, summary, cams)
    try:
        picture = load_rgb(image)
    except ImageDecodeError as exc:
        raise UsageError(f"cannot read image {image}: {exc}") from None
    device = next(model.parameters()).device
    batch = checkpoint_transform(meta)(picture).unsqueeze(0).to(device)
    shown = to_display_image(batch[0], meta["mean"], meta["std"])

    captured, targets, cams = capture_with_cam(model, batch, layers, cam_layer, method, target, classes)
    target_name = classes[int(targets[0, 0])]
    layers = [name for name in captured.layers if name in layers]  # model order, as the flow diagram reads

    out_dir = Path(out) if out else opened.checkpoint.parent / "visualize" / Path(image).stem
    pictures: dict[str, Path] = {}

    def save(key: str, figure: Any, name: str) -> None:
        pictures[key] = save_figure(figure, out_dir / name)

    save_layer_pictures(save, captured, layers, top_n)
    save("histograms", histogram_figure({name: captured[name].stats for name in layers}, title="activation values per layer"), "histograms.png")
    save("probabilities", probability_bars_figure(captured.probabilities[0].numpy(), classes, top_k=min(10, len(classes)), title="class probabilities"), "probabilities.png")
    save("cam", cam_figure(shown, [cams.numpy()], titles=[f"{method} at {cam_layer}: {target_name}"], alpha=alpha), "cam.png")
    np.save(out_dir / "cam.npy", cams.numpy().astype(np.float32))
    save("flow", layer_flow_figure(shown, captured, layers, classes=classes, title=f"{Path(image).name}: input to prediction"), "flow.png")

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


def save_layer_pictures(save: Callable[[str, Any, str], None], captured: Capture, layers: Sequence[str], top_n: int) -> None:
    """Each layer's output drawn as what it is (maps, maps over time, a time x feature heatmap, bars), and its kernels."""
    for layer in layers:
        entry, view = captured[layer], captured.view(layer)
        title = f"{layer} ({entry.kind})"
        axis = "frame" if view.per_frame or len(captured.input_shape) == 5 else "position"
        save(f"activations {layer}", layer_view_figure(view.kind, view.values, top_n=top_n, title=title, axis=axis),
             f"activations_{_file_name(layer)}.png")  # fmt: skip
        if entry.kernel is not None:
            save(f"kernels {layer}", kernel_grid_figure(entry.kernel, title=f"{layer} kernels {tuple(entry.kernel.shape)}"),
                 f"kernels_{_file_name(layer)}.png")  # fmt: skip


def capture_with_cam(
    model: torch.nn.Module, batch: torch.Tensor, layers: Sequence[str], cam_layer: str, method: str,
    target: str | int | None, classes: Sequence[str],
) -> tuple[Capture, torch.Tensor, torch.Tensor]:
    """One pass over ``batch`` (one image or clip): the capture of ``layers``, the targets ``[1, K]`` and the map
    of the first target (``[H, W]`` or ``[T, H, W]``). Score-CAM and the pixel methods run the model again."""
    spec = method_spec(method)
    wanted = list(dict.fromkeys([*layers, cam_layer]))
    with HookManager(model, wanted, gradients=[cam_layer] if spec.needs_gradients else False, classes=classes) as hooks:
        captured = hooks.forward(batch)
        targets = resolve_targets(target, captured.logits, classes)
        captured.extra["targets"] = targets.cpu()
        if spec.needs_gradients:
            hooks.backward(targets)
    cams = maps_from_capture(captured, [cam_layer], spec, model=model, images=batch)[0, 0]
    return captured, targets, cams.detach().cpu()


def write_captures_and_report(
    out_dir: Path, title: str, pictures: dict[str, Path], summary: dict[str, Any], captured: Capture, extra_tables: Sequence[Any] = ()
) -> None:
    """``captures.json`` (the numbers) and ``report.html`` (every picture, the top classes and the layer table)."""
    write_json(out_dir / "captures.json", summary)
    sections = [(key, path.read_bytes()) for key, path in pictures.items()]
    table = ("top classes", ["class", "probability"], [[row["class"], f"{row['probability']:.4f}"] for row in summary["top_k"]])
    layer_table = ("layers", ["layer", "kind", "shape", "mean", "std", "zeros", "dead channels"], [
        [c.name, c.kind, "x".join(map(str, c.shape)), f"{c.stats.mean:.4g}", f"{c.stats.std:.4g}", f"{c.stats.zero_fraction:.1%}", f"{c.stats.dead_fraction:.1%}"]
        for c in captured.layers.values()
    ])  # fmt: skip
    write_text(out_dir / "report.html", html_report(title, sections, summary, [table, *extra_tables, layer_table]))

"""What every visualization shares: one capture with the CAM, each layer drawn as what it is, and the report.

Capture once, render many: the chosen layers, the CAM layer's gradients for the target and
the probabilities come from one :class:`~hartrace.probe.HookManager` pass; every picture is
then drawn from that capture (Score-CAM and the pixel methods run the model by definition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from hartrace.attribution.explanation import maps_from_capture
from hartrace.attribution.registry import method_spec
from hartrace.attribution.targets import resolve_targets
from hartrace.base.io import write_json, write_text
from hartrace.models import ModelInfo
from hartrace.probe import HookManager
from hartrace.probe.capture import Capture
from hartrace.probe.layers import layers_skipped_between
from hartrace.render import (
    histogram_figure,
    html_report,
    kernel_grid_figure,
    layer_flow_figure,
    probability_bars_figure,
)
from hartrace.render.charts import shown_classes
from hartrace.render.kernels import choose_kernels
from hartrace.render.views import layer_view_figure


def file_name(layer: str) -> str:
    return layer.replace(".", "_")


def flow_picture(
    model: nn.Module,
    shown: Any,
    captured: Capture,
    layers: Sequence[str],
    classes: Sequence[str],
    source: str | Path,
    true_label: str | None,
) -> Any:
    """The layer-flow figure of ``source`` (``shown``: the image, or a video's middle frame), with the layers
    skipped between the chosen ones and the trunk/head boundary marked."""
    return layer_flow_figure(
        shown,
        captured,
        layers,
        classes=classes,
        title=f"{Path(source).name}: input to prediction",
        skipped=layers_skipped_between(model, layers),
        head=cast(ModelInfo, model.info).head,
        true_label=true_label,
    )


def save_capture_pictures(
    save: Callable[[str, Any, str], None],
    captured: Capture,
    layers: Sequence[str],
    classes: Sequence[str],
    top_n: int,
    true_label: str | None = None,
) -> dict[str, Any]:
    """The pictures every capture gives, image or video: each layer's output drawn as what it is (maps, maps
    over time, a time x feature heatmap, bars) and its kernels, the layers' histograms, and the probabilities
    (the true class marked when known). Returns what each kernel picture draws, by layer, for ``captures.json``."""
    kernels: dict[str, Any] = {}
    for layer in layers:
        entry, view = captured[layer], captured.view(layer)
        title = f"{layer} ({entry.kind})"
        axis = "frame" if view.per_frame or len(captured.input_shape) == 5 else "position"
        save(
            f"activations {layer}",
            layer_view_figure(view.kind, view.values, top_n=top_n, title=title, axis=axis),
            f"activations_{file_name(layer)}.png",
        )
        if entry.kernel is not None:
            kernels[layer] = choose_kernels(entry.kernel).to_json()
            save(
                f"kernels {layer}",
                kernel_grid_figure(entry.kernel, title=f"{layer} kernels {tuple(entry.kernel.shape)}"),
                f"kernels_{file_name(layer)}.png",
            )
    save(
        "histograms",
        histogram_figure({name: captured[name].stats for name in layers}, title="activation values per layer"),
        "histograms.png",
    )
    save(
        "probabilities",
        probability_bars_figure(captured.probabilities[0].numpy(), classes, true_label=true_label),
        "probabilities.png",
    )
    return kernels


def prediction_summary(captured: Capture, classes: Sequence[str], true_label: str | None) -> dict[str, Any]:
    """The prediction as every picture states it, beside the true class when known, and how many classes the
    probability chart shows (:func:`~hartrace.render.charts.shown_classes`)."""
    probabilities = captured.probabilities[0]
    top = int(probabilities.argmax())
    return {
        "predicted": classes[top],
        "predicted_probability": round(float(probabilities[top]), 6),
        "correct": None if true_label is None else classes[top] == true_label,
        "probabilities_shown": shown_classes(len(classes)),
    }


def capture_with_cam(
    model: torch.nn.Module,
    batch: torch.Tensor,
    layers: Sequence[str],
    cam_layer: str,
    method: str,
    target: str | int | None,
    classes: Sequence[str],
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
    out_dir: Path,
    title: str,
    pictures: dict[str, Path],
    summary: dict[str, Any],
    captured: Capture,
    extra_tables: Sequence[Any] = (),
) -> None:
    """``captures.json`` (the numbers) and ``report.html`` (every picture, the top classes and the layer table)."""
    write_json(out_dir / "captures.json", summary)
    sections = [(key, path.read_bytes()) for key, path in pictures.items()]
    table = (
        "top classes",
        ["class", "probability"],
        [[row["class"], f"{row['probability']:.4f}"] for row in summary["top_k"]],
    )
    layer_table = (
        "layers",
        ["layer", "kind", "shape", "mean", "std", "zeros", "dead channels"],
        [
            [
                c.name,
                c.kind,
                "x".join(map(str, c.shape)),
                f"{c.stats.mean:.4g}",
                f"{c.stats.std:.4g}",
                f"{c.stats.zero_fraction:.1%}",
                f"{c.stats.dead_fraction:.1%}",
            ]
            for c in captured.layers.values()
        ],
    )
    write_text(out_dir / "report.html", html_report(title, sections, summary, [table, *extra_tables, layer_table]))

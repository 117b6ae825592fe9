"""The one way to explain: ``explain`` runs a method on inputs, ``maps_from_capture`` turns a capture into maps.

Every method (the CAM family and captum's pixel methods, see :mod:`hartrace.attribution.registry`)
goes through the same two functions, so the command line, the explorer, the audit and the
Python API cannot drift apart. Maps are float ``[B, K, H, W]`` in ``[0, 1]`` per image
(``[B, K, T, H, W]`` for clips, normalised per video), one column per target class.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hartrace.attribution.cam import cam_maps
from hartrace.attribution.pixel import pixel_maps
from hartrace.attribution.registry import DEFAULT_METHOD, MethodSpec, method_spec
from hartrace.attribution.targets import Target, resolve_targets
from hartrace.base.display import result_html
from hartrace.base.errors import UsageError
from hartrace.probe.capture import Capture
from hartrace.probe.hooks import HookManager


@dataclass
class Explanation:
    """What one call of :func:`explain` gives: the maps, the targets they explain, and the pass they came from.

    ``capture`` holds the logits, probabilities and the layers' activations (and gradients),
    so a caller can show the prediction beside the maps without running the model again.
    ``inputs`` are the images or clips explained (the caller's tensor, not a copy): what a
    notebook draws the overlays on.
    """

    maps: torch.Tensor  # [B, K, H, W] or [B, K, T, H, W], in [0, 1]
    targets: torch.Tensor  # [B, K] class indices, one per map column
    method: str
    layers: tuple[str, ...]
    capture: Capture = field(repr=False)
    inputs: torch.Tensor | None = field(default=None, repr=False)

    @property
    def probabilities(self) -> torch.Tensor:
        return self.capture.probabilities

    def __repr__(self) -> str:
        """One line: method, layers, the maps' shape and the classes item 0's maps explain."""
        names = self.capture.classes
        explained = [names[k] if names else str(k) for k in self.targets[0].tolist()[:3]] if len(self.targets) else []
        more = ", ..." if self.targets.shape[-1] > 3 else ""
        where = f" at {', '.join(self.layers)}" if self.layers else ""
        return (
            f"Explanation({self.method}{where}: maps {list(self.maps.shape)}; "
            f"item 0 explains {', '.join(map(repr, explained))}{more})"
        )

    def _repr_html_(self) -> str:
        """In a notebook: the prediction and targets per item, and the overlays (frames with overlays, for clips)."""
        return result_html("explanation_html", self)


def _layers(layer: str | Sequence[str] | None) -> list[str]:
    if layer is None:
        return []
    return [layer] if isinstance(layer, str) else list(layer)


@contextmanager
def _eval_mode(model: nn.Module | None) -> Iterator[None]:
    was_training = model is not None and model.training
    if model is not None:
        model.eval()
    try:
        yield
    finally:
        if model is not None:
            model.train(was_training)


def _plain_capture(model: nn.Module, inputs: torch.Tensor, classes: Sequence[str] | None) -> Capture:
    """The prediction alone (no layers): for the pixel methods that attribute to the input whatever the layer."""
    with _eval_mode(model), torch.no_grad():
        logits = model(inputs)
    logits = logits[0] if isinstance(logits, (tuple, list)) else logits
    probabilities = torch.softmax(logits.detach().float(), dim=1)
    return Capture({}, logits.detach(), probabilities, tuple(inputs.shape), list(classes) if classes else None)


def explain(
    model: nn.Module,
    inputs: torch.Tensor,
    layer: str | Sequence[str] | None,
    method: str | MethodSpec = DEFAULT_METHOD,
    target: Target = None,
    *,
    classes: Sequence[str] | None = None,
    batch_size: int = 64,
    **options: Any,
) -> Explanation:
    """Explain ``model``'s scores on ``inputs`` (images ``[B, C, H, W]`` or clips ``[B, C, T, H, W]``).

    One forward pass captures ``layer`` (several layers are fused by averaging their maps);
    gradient methods add backward passes that stop at the layer. ``target``: None (the
    prediction), a class index or name, a list, ``"topK"``, or a tensor ``[B]``/``[B, K]``.
    ``options`` go to captum's methods (``steps``, ``samples``, ``window``...).
    """
    spec = method_spec(method)
    layers = _layers(layer)
    if spec.uses_layer and not layers:
        raise UsageError(f"{spec.name} needs a layer: name one (see `hartrace layers`)")
    if layers and (spec.uses_layer or spec.family == "cam"):
        gradients = layers if spec.needs_gradients else False
        with HookManager(model, layers, gradients=gradients, classes=classes) as hooks:
            capture = hooks.forward(inputs)
            targets = resolve_targets(target, capture.logits, classes)
            if spec.needs_gradients:
                hooks.backward(targets)
    else:
        capture = _plain_capture(model, inputs, classes)
        targets = resolve_targets(target, capture.logits, classes)
    capture.extra["targets"] = targets.detach().cpu()
    maps = maps_from_capture(capture, layers, spec, model=model, images=inputs, batch_size=batch_size, **options)
    return Explanation(maps, capture.extra["targets"], spec.name, tuple(layers), capture, inputs.detach())


def maps_from_capture(
    capture: Capture,
    layers: str | Sequence[str],
    method: str | MethodSpec = DEFAULT_METHOD,
    *,
    model: nn.Module | None = None,
    images: torch.Tensor | None = None,
    columns: Sequence[int] | None = None,
    batch_size: int = 64,
    **options: Any,
) -> torch.Tensor:
    """Maps ``[B, K, H, W]`` for the capture's target columns (``capture.extra["targets"]``, else the prediction).

    The CAM family reads the captured activations (and gradients); Score-CAM and the pixel
    methods also run ``model`` on ``images``. ``columns`` picks some of the target columns.
    """
    spec = method_spec(method)
    layers = _layers(layers)
    if spec.family == "cam":
        if not layers:
            raise UsageError(f"{spec.name} needs a layer: name one (see `hartrace layers`)")
        with _eval_mode(model):  # Score-CAM scores masked inputs: BatchNorm and dropout as at test time
            return cam_maps(
                capture, layers, spec.name, model=model, images=images, batch_size=batch_size, columns=columns
            )
    if model is None or images is None:
        raise UsageError(f"{spec.name} runs the model: pass model and images")
    targets = capture.extra.get("targets")
    targets = capture.logits.argmax(1, keepdim=True).cpu() if targets is None else targets
    targets = targets if columns is None else targets[:, list(columns)]
    return pixel_maps(model, images, targets, method=spec, layer=layers[0] if layers else None, **options)


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    layer: str | Sequence[str],
    target: Target = None,
    method: str = DEFAULT_METHOD,
    classes: Sequence[str] | None = None,
) -> torch.Tensor:
    """A CAM for any ``nn.Module``: float ``[B, H, W]`` at the input's resolution, ReLU'd, in [0, 1] per image.

    ``target``: None (predicted class), a class index or name, or a tensor ``[B]``. With
    several targets (``"top5"``, a list) the result is ``[B, K, H, W]``. Several layers are fused.
    A clip ``[B, C, T, H, W]`` gives ``[B, T, H, W]`` (``[B, K, T, H, W]``), normalised per video,
    from 3-D conv layers and from the per-frame layers of a CNN+LSTM alike.
    """
    maps = explain(model, images, layer, method, target, classes=classes).maps
    return maps[:, 0] if maps.shape[1] == 1 else maps

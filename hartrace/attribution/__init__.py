"""Explanations: the CAM family over one capture, and captum's pixel-level methods, behind one call.

Named ``attribution``, not ``explain``: a subpackage of that name would replace the exported
function ``hartrace.explain`` as soon as it was first imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hartrace.attribution.cam import METHODS, CAMMethod, cams_from_capture, compute_cams, get_method, normalise
from hartrace.attribution.pixel import PIXEL_METHODS, pixel_attributions, pixel_method_name
from hartrace.attribution.targets import Target, resolve_targets
from hartrace.attribution.temporal import temporal_importance

ALL_METHODS = (*METHODS, *PIXEL_METHODS)

__all__ = [
    "ALL_METHODS",
    "METHODS",
    "PIXEL_METHODS",
    "CAMMethod",
    "cams_from_capture",
    "compute_cams",
    "explain",
    "get_method",
    "grad_cam",
    "normalise",
    "pixel_attributions",
    "resolve_targets",
    "temporal_importance",
]


def explain(
    model: nn.Module,
    images: torch.Tensor,
    layer: str | Sequence[str] | None,
    *,
    method: str = "gradcam",
    target: Target = None,
    classes: Sequence[str] | None = None,
    **options: object,
) -> torch.Tensor:
    """Maps ``[B, K, H, W]`` in [0, 1] from any method: a CAM (needs ``layer``) or a pixel method.

    Clips ``[B, C, T, H, W]`` give ``[B, K, T, H, W]``, normalised per video.
    """
    if pixel_method_name(method) is not None:
        first = layer if isinstance(layer, str) or layer is None else layer[0]
        return pixel_attributions(model, images, method=method, target=target, classes=classes, layer=first, **options)
    if layer is None:
        raise ValueError(f"{method} needs a layer")
    return compute_cams(model, images, layer, method=method, target=target, classes=classes)


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    layer: str | Sequence[str],
    target: Target = None,
    method: str = "gradcam",
    classes: Sequence[str] | None = None,
) -> torch.Tensor:
    """A CAM for any ``nn.Module``: float ``[B, H, W]`` at the input's resolution, ReLU'd, in [0, 1] per image.

    ``target``: None (predicted class), a class index or name, or a tensor ``[B]``. With
    several targets (``"top5"``, a list) the result is ``[B, K, H, W]``. Several layers are fused.
    A clip ``[B, C, T, H, W]`` gives ``[B, T, H, W]`` (``[B, K, T, H, W]``), normalised per video,
    from 3-D conv layers and from the per-frame layers of a CNN+LSTM alike.
    """
    maps = explain(model, images, layer, method=method, target=target, classes=classes)
    return maps[:, 0] if maps.shape[1] == 1 else maps

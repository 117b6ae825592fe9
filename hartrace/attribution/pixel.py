"""Pixel-level attributions, computed by captum: saliency, Integrated Gradients, SmoothGrad, occlusion, guided Grad-CAM.

Every method returns the same shape as the CAM family: ``[B, K, H, W]`` in ``[0, 1]``
(``[B, K, T, H, W]`` for clips ``[B, C, T, H, W]``, normalised per video), the absolute
attribution summed over colour channels and min-max normalised per image, so overlays,
audits and the explorer treat all methods alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

import torch
from torch import nn

from hartrace.attribution.cam import normalise
from hartrace.attribution.registry import MethodSpec, method_spec
from hartrace.attribution.temporal import per_frame_frames
from hartrace.base.errors import UsageError
from hartrace.probe.layers import resolve_layers


def captum_attr() -> ModuleType:
    """``captum.attr``, imported on first use: it imports ``matplotlib.pyplot``, which importing hartrace must not."""
    import captum.attr

    return captum.attr


@contextmanager
def no_inplace_relu(model: nn.Module) -> Iterator[None]:
    """Turn ``ReLU(inplace=True)`` off for the duration: captum's backward hooks need it (restored after)."""
    changed = [m for m in model.modules() if isinstance(m, nn.ReLU) and m.inplace]
    for module in changed:
        module.inplace = False
    try:
        yield
    finally:
        for module in changed:
            module.inplace = True


def _saliency(model: nn.Module, images: torch.Tensor, target: torch.Tensor, **_: object) -> torch.Tensor:
    return captum_attr().Saliency(model).attribute(images, target=target, abs=True)


def _integrated_gradients(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    *,
    steps: int = 32,
    internal_batch_size: int = 32,
    **_: object,
) -> torch.Tensor:
    return (
        captum_attr()
        .IntegratedGradients(model)
        .attribute(
            images,
            baselines=torch.zeros_like(images),
            target=target,
            n_steps=steps,
            internal_batch_size=internal_batch_size,
        )
    )


def _smoothgrad(
    model: nn.Module, images: torch.Tensor, target: torch.Tensor, *, samples: int = 16, noise: float = 0.15, **_: object
) -> torch.Tensor:
    stdev = noise * float(images.detach().max() - images.detach().min())
    return (
        captum_attr()
        .NoiseTunnel(captum_attr().Saliency(model))
        .attribute(
            images,
            nt_type="smoothgrad",
            nt_samples=samples,
            nt_samples_batch_size=samples,
            stdevs=stdev,
            target=target,
            abs=True,
        )
    )


def occlusion_window(image_side: int, window: int | None = None) -> tuple[int, int]:
    """The occlusion patch's side and stride on an image ``image_side`` pixels wide (default: an eighth of it)."""
    side = window or max(4, image_side // 8)
    return side, max(1, side // 2)


def _occlusion(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    *,
    window: int | None = None,
    frames: int | None = None,
    **_: object,
) -> torch.Tensor:
    """A grey-out window slides over the image; on a clip (``[B, C, T, H, W]``) it also spans ``frames`` frames."""
    side, stride = occlusion_window(images.shape[-1], window)
    shape, strides = (side, side), (stride, stride)
    if images.dim() == 5:
        length = frames or max(1, images.shape[2] // 4)
        shape, strides = (length, *shape), (max(1, length // 2), *strides)
    channels = images.shape[1]
    return (
        captum_attr()
        .Occlusion(model)
        .attribute(
            images,
            target=target,
            sliding_window_shapes=(channels, *shape),
            strides=(channels, *strides),
            baselines=0.0,
            perturbations_per_eval=16,
        )
    )


def _guided_gradcam(
    model: nn.Module, images: torch.Tensor, target: torch.Tensor, *, layer: nn.Module | None = None, **_: object
) -> torch.Tensor:
    if layer is None:
        raise UsageError("guided Grad-CAM needs a layer")
    if images.dim() == 5 and _runs_per_frame(model, images, layer):
        raise UsageError(
            "guided Grad-CAM on a clip needs a layer with a time axis (a 3-D conv); "
            "this one runs per frame: use gradcam"
        )
    return captum_attr().GuidedGradCam(model, layer).attribute(images, target=target)


def _runs_per_frame(model: nn.Module, clip: torch.Tensor, layer: nn.Module) -> bool:
    """Does ``layer`` see the frames of one clip as a batch (a CNN+LSTM's CNN)? One clip through the model tells."""
    shapes: list[tuple[int, ...]] = []
    handle = layer.register_forward_hook(lambda _m, _i, output: shapes.append(tuple(output.shape)))
    try:
        with torch.no_grad():
            model(clip[:1])
    finally:
        handle.remove()
    return bool(shapes) and per_frame_frames(shapes[0], (1, *clip.shape[1:])) is not None


#: captum's methods by canonical name (what each one is: :mod:`hartrace.attribution.registry`).
PIXEL_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "saliency": _saliency,
    "integrated_gradients": _integrated_gradients,
    "smoothgrad": _smoothgrad,
    "occlusion": _occlusion,
    "guided_gradcam": _guided_gradcam,
}


def pixel_maps(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    method: str | MethodSpec,
    layer: str | None = None,
    **options: object,
) -> torch.Tensor:
    """Attribution maps ``[B, K, H, W]`` in ``[0, 1]`` for the class columns ``targets`` ``[B, K]``, from captum.

    The model runs in eval mode (restored after), with in-place ReLUs switched off.
    """
    spec = method_spec(method)
    if spec.family != "pixel":
        raise UsageError(f"{spec.name} is a CAM, not a pixel method; pixel methods: {', '.join(PIXEL_FUNCTIONS)}")
    module = resolve_layers(model, [layer])[layer] if layer is not None and spec.uses_layer else None
    was_training = model.training
    model.eval()
    try:
        inputs = images.detach().clone().requires_grad_()
        maps = []
        with no_inplace_relu(model), warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", category=UserWarning, module="captum"
            )  # its notes on hooks it sets itself
            for k in range(targets.shape[1]):
                attribution = PIXEL_FUNCTIONS[spec.name](
                    model, inputs, targets[:, k].to(images.device), layer=module, **options
                )
                maps.append(normalise(attribution.detach().abs().sum(1).float()))
        return torch.stack(maps, dim=1)
    finally:
        model.train(was_training)

"""The CAM family as a template method over one capture.

:class:`CAMMethod` does everything the methods share -- which gradients to capture,
ReLU, upsampling to the input, per-image min-max normalisation and fusing several
layers -- and each method only says how it turns a layer's activations (and
gradients) into a map. Maps for several classes come from one forward pass.

Maps are float tensors ``[B, H, W]`` at the input's resolution (``[B, T, H, W]`` for
video), ReLU'd and min-max normalised per image to ``[0, 1]``. For a clip, one map spans
all frames and is normalised per video, so a frame that matters more stays brighter.
Layers that ran per frame (a CNN+LSTM's CNN, ``[B*T, C, h, w]``) are folded back into a
volume first (:mod:`hartrace.attribution.temporal`); their channel weights come from each
frame's own gradients, so frames the model ignores get faint maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hartrace.attribution.registry import MethodSpec, method_spec
from hartrace.attribution.temporal import frames_to_volume, per_frame_frames
from hartrace.base.errors import UsageError
from hartrace.probe.capture import Capture

EPS = 1e-7


@dataclass
class LayerContext:
    """What a method may use to build one layer's map for one target column."""

    activation: torch.Tensor  # [B, C, *spatial]
    gradient: torch.Tensor | None  # [B, C, *spatial], d(target logit)/d(activation)
    model: nn.Module | None = None
    images: torch.Tensor | None = None
    targets: torch.Tensor | None = None  # [B] class indices of this column
    batch_size: int = 64
    per_frame: bool = False  # a per-frame layer folded into [B, C, T, h, w]: channel weights per frame

    @property
    def pooled_dims(self) -> tuple[int, ...]:
        """The dims a channel weight summarises: every spatial one, or (h, w) of each frame of a per-frame layer."""
        return (3, 4) if self.per_frame else tuple(range(2, self.activation.dim()))


def _expand(weights: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Weights ``[B, C]`` (or ``[B, C, T]``) broadcastable against ``like``."""
    return weights.view(*weights.shape, *([1] * (like.dim() - weights.dim())))


class CAMMethod:
    """Base of the CAM family: by default, map = sum over channels of weight_c * A_c."""

    name = ""
    needs_gradients = True
    needs_model = False

    def channel_weights(self, ctx: LayerContext) -> torch.Tensor:
        raise NotImplementedError

    def raw_map(self, ctx: LayerContext) -> torch.Tensor:
        """The map before ReLU and resizing: ``[B, *spatial]``."""
        weights = self.channel_weights(ctx)
        return (_expand(weights, ctx.activation) * ctx.activation).sum(1)


class GradCAM(CAMMethod):
    """Selvaraju et al. 2017: channel weight = spatial mean of the gradient."""

    name = "gradcam"

    def channel_weights(self, ctx: LayerContext) -> torch.Tensor:
        return ctx.gradient.mean(dim=ctx.pooled_dims)


class GradCAMPlusPlus(CAMMethod):
    """Chattopadhay et al. 2018: positive gradients weighted by second/third-order terms."""

    name = "gradcam++"

    def channel_weights(self, ctx: LayerContext) -> torch.Tensor:
        grads, dims = ctx.gradient, ctx.pooled_dims
        g2, g3 = grads.pow(2), grads.pow(3)
        summed = _expand(ctx.activation.sum(dim=dims), grads)
        alpha = g2 / (2 * g2 + summed * g3 + 1e-6)  # pytorch-grad-cam's epsilon, so the two agree
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        return (grads.clamp(min=0) * alpha).sum(dim=dims)


class XGradCAM(CAMMethod):
    """Fu et al. 2020: gradients weighted by the normalised activations."""

    name = "xgradcam"

    def channel_weights(self, ctx: LayerContext) -> torch.Tensor:
        dims = ctx.pooled_dims
        return (ctx.gradient * ctx.activation).sum(dim=dims) / (ctx.activation.sum(dim=dims) + EPS)


class LayerCAM(CAMMethod):
    """Jiang et al. 2021: element-wise positive gradient times activation (good at shallow layers)."""

    name = "layercam"

    def raw_map(self, ctx: LayerContext) -> torch.Tensor:
        return (ctx.gradient.clamp(min=0) * ctx.activation).sum(1)


class HiResCAM(CAMMethod):
    """Draelos & Carin 2020: element-wise gradient times activation, faithful to the model."""

    name = "hirescam"

    def raw_map(self, ctx: LayerContext) -> torch.Tensor:
        return (ctx.gradient * ctx.activation).sum(1)


class EigenCAM(CAMMethod):
    """Muhammad & Yeasin 2020: the first principal component of the activations (class-agnostic).

    For a clip the component is taken over all (t, h, w) positions of the video at once.
    The projection is computed exactly as pytorch-grad-cam does (centred, numpy SVD), so
    the two agree; the sign of a principal component is otherwise arbitrary.
    """

    name = "eigencam"
    needs_gradients = False

    def raw_map(self, ctx: LayerContext) -> torch.Tensor:
        maps = []
        for item in ctx.activation.detach().float().cpu().numpy():
            flat = item.reshape(item.shape[0], -1).T
            flat = flat - flat.mean(axis=0)
            _, _, vt = np.linalg.svd(flat, full_matrices=False)
            maps.append((flat @ vt[0]).reshape(item.shape[1:]))
        return torch.from_numpy(np.stack(maps)).to(ctx.activation.device)


class ScoreCAM(CAMMethod):
    """Wang et al. 2020: each channel, as a mask on the input, is weighted by the score it keeps.

    Batched: the masked inputs of many channels go through the model together. For a
    clip each channel's volume becomes one mask over the whole clip (trilinear).
    """

    name = "scorecam"
    needs_gradients = False
    needs_model = True

    @torch.no_grad()
    def channel_weights(self, ctx: LayerContext) -> torch.Tensor:
        images, activation = ctx.images, ctx.activation.float()
        size = images.shape[2:]
        mode = "trilinear" if activation.dim() == 5 else "bilinear"
        masks = F.interpolate(activation, size=size, mode=mode, align_corners=True)
        flat = masks.flatten(2)
        low, high = flat.min(-1).values, flat.max(-1).values
        masks = (masks - _expand(low, masks)) / _expand(high - low + 1e-8, masks)
        weights = []
        for item in range(images.shape[0]):
            scores = []
            target = int(ctx.targets[item])
            for start in range(0, masks.shape[1], ctx.batch_size):
                chunk = masks[item, start : start + ctx.batch_size].unsqueeze(1)
                logits = ctx.model(images[item : item + 1] * chunk)
                scores.append(logits[:, target].float())
            weights.append(torch.softmax(torch.cat(scores), dim=0))
        return torch.stack(weights)


#: The CAM family's implementations by canonical name (what each one is: :mod:`hartrace.attribution.registry`).
CAM_CLASSES: dict[str, type[CAMMethod]] = {
    cls.name: cls for cls in (GradCAM, GradCAMPlusPlus, XGradCAM, LayerCAM, HiResCAM, EigenCAM, ScoreCAM)
}


def get_method(name: str | MethodSpec) -> CAMMethod:
    """The CAM implementation of ``name`` (any alias the registry knows)."""
    spec = method_spec(name)
    if spec.family != "cam":
        raise UsageError(f"{spec.name} attributes to pixels, it is not a CAM; CAMs: {', '.join(CAM_CLASSES)}")
    return CAM_CLASSES[spec.name]()


def upsample_and_normalise(raw: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """ReLU, resize ``[B, *spatial]`` to ``size`` (bilinear / trilinear), min-max normalise per image."""
    cam = raw.float().clamp(min=0).unsqueeze(1)
    mode = "trilinear" if cam.dim() == 5 else "bilinear"
    cam = F.interpolate(cam, size=tuple(size), mode=mode, align_corners=False).squeeze(1)
    return normalise(cam)


def normalise(cam: torch.Tensor) -> torch.Tensor:
    """Min-max to [0, 1] per image; a constant map becomes all zeros.

    No epsilon in the denominator: maps of an untrained or saturated layer can span
    1e-10, and an additive epsilon would flatten them to nothing.
    """
    flat = cam.flatten(1)
    low = flat.min(1).values
    span = flat.max(1).values - low
    span = torch.where(span > 0, span, torch.ones_like(span))
    shape = (-1, *([1] * (cam.dim() - 1)))
    return (cam - low.view(shape)) / span.view(shape)


def cam_maps(
    capture: Capture,
    layers: Sequence[str],
    method: str | CAMMethod = "gradcam",
    *,
    model: nn.Module | None = None,
    images: torch.Tensor | None = None,
    batch_size: int = 64,
    columns: Sequence[int] | None = None,
) -> torch.Tensor:
    """CAMs ``[B, K, H, W]`` (or ``[B, K, T, H, W]`` for clips) for every target column of the capture
    (or only ``columns``).

    Gradient methods need the capture's gradients (``HookManager.backward``); Score-CAM
    also needs ``model`` and ``images``. Several layers are fused by averaging their
    normalised maps, then normalising again. A layer that ran per frame on a clip input
    (output batch ``B*T``) gives per-frame maps, bilinear per frame, normalised per video.
    """
    method = get_method(method) if isinstance(method, str) else method
    targets = capture.extra.get("targets")
    if targets is None:
        targets = capture.logits.argmax(1, keepdim=True).cpu()
    size = capture.input_shape[2:]
    maps = []
    for k in range(targets.shape[1]) if columns is None else columns:
        per_layer = []
        for name in layers:
            layer = capture[name]
            if method.needs_gradients and layer.gradient is None:
                raise UsageError(f"{method.name} needs gradients at {name}: capture it with gradients=[{name!r}]")
            if method.needs_model and (model is None or images is None):
                raise UsageError(f"{method.name} runs the model: pass model and images")
            activation = layer.activation
            gradient = layer.gradient[:, k].to(activation.device) if layer.gradient is not None else None
            frames = per_frame_frames(activation.shape, capture.input_shape)
            if frames is not None:
                activation = frames_to_volume(activation, frames)
                gradient = None if gradient is None else frames_to_volume(gradient, frames)
            if activation.dim() != len(size) + 2:
                raise UsageError(
                    f"{name} outputs {tuple(layer.activation.shape)}, which has no map for an input "
                    f"{tuple(capture.input_shape)}: pick a convolutional layer that keeps the input's "
                    f"{'time and ' if len(size) == 3 else ''}spatial axes"
                )
            ctx = LayerContext(
                activation.float(),
                None if gradient is None else gradient.float(),
                model,
                images,
                targets[:, k],
                batch_size,
                per_frame=frames is not None,
            )
            per_layer.append(upsample_and_normalise(method.raw_map(ctx), size))
        fused = per_layer[0] if len(per_layer) == 1 else normalise(torch.stack(per_layer).mean(0))
        maps.append(fused)
    return torch.stack(maps, dim=1)

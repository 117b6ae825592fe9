"""Does the model's score follow the map? Deletion and insertion curves, average drop and increase.

A faithful map ranks pixels by how much the model needs them: remove the top-ranked
pixels first and the target-class probability should fall fast (deletion, low area
under the curve); add them first to an uninformative baseline and it should rise fast
(insertion, high area). Each curve is reported beside the same curve for a random
pixel order, so a map is judged against chance rather than in the abstract
(Petsiuk et al. 2018, RISE).

Conventions:

* Pixels are ranked by the map, descending; equal values keep row-major order (a
  stable sort), so a flat map gives a well-defined curve. ``order="random"`` ranks them
  by a seeded permutation instead (seed 0 when no generator is given, so audits repeat).
* At step ``k`` of ``steps`` the top ``floor(k * N / steps)`` of the ``N`` pixels are
  perturbed, in every colour channel: fractions 0, 1/steps, ..., 1.
* Baselines, all in the model's (normalised) input space: ``"blur"`` is the image under a
  strong Gaussian blur -- an odd kernel about a quarter of the shorter side, sigma
  torchvision's (and OpenCV's) default for that kernel, reflect padding -- the RISE
  insertion convention, which removes detail but not colour; a blur is linear with
  weights summing to 1, so blurring the normalised tensor equals blurring the pixels.
  ``"zero"`` is zeros, i.e. the dataset's mean colour; ``"mean"`` is each image's own
  per-channel mean colour.
* The curve value is the softmax probability of the target class.
* :func:`average_drop_increase` multiplies the *normalised* tensor by the map, as
  pytorch-grad-cam's ``CamMultImageConfidenceChange`` does: where the map is 0 the pixel
  becomes the dataset's mean colour (the ``"zero"`` baseline) rather than black, so the
  masked image stays within the inputs the model saw in training, and no mean/std is needed.

Clips work too: images ``[B, C, T, H, W]`` with maps ``[B, T, H, W]`` (the blur is per frame).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torch import nn

from hartrace.base.errors import UsageError

__all__ = [
    "BASELINES",
    "DEFAULT_STEPS",
    "MODES",
    "ORDERS",
    "average_drop_increase",
    "baseline_images",
    "blur_kernel_size",
    "curve_auc",
    "eval_mode",
    "perturbation_curve",
    "pixel_ranks",
]

DEFAULT_STEPS = 20  # at most 20 + 1 forward passes per image per curve
MODES = ("deletion", "insertion")
ORDERS = ("map", "random")
BASELINES = ("blur", "zero", "mean")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Every module in eval mode for the duration; each module's own mode restored after (frozen BN stays frozen)."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise UsageError(f"unknown {what} {value!r}; choose one of: {', '.join(allowed)}")
    return value


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what} must be a positive integer, not {value!r}")
    return value


def _check_inputs(images: torch.Tensor, maps: object, targets: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps ``[B, *spatial]`` (float, finite) and targets ``[B]`` (long) on the images' device, or a UsageError."""
    if not isinstance(images, torch.Tensor) or images.dim() not in (4, 5):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise UsageError(f"images must be a tensor [B, C, H, W] (or clips [B, C, T, H, W]), got {shape}")
    maps = torch.as_tensor(maps).to(images.device, torch.float32)
    expected = (images.shape[0], *images.shape[2:])
    if tuple(maps.shape) != expected:
        raise UsageError(
            f"maps must be {expected} (one map per image at the input's size), got {tuple(maps.shape)}; "
            "take one class column ([:, 0]) of a [B, K, H, W] result and upsample smaller maps first"
        )
    if not bool(torch.isfinite(maps).all()):
        raise UsageError("maps contain NaN or infinite values")
    targets = torch.as_tensor(targets).to(images.device)
    if targets.dtype.is_floating_point or targets.dtype == torch.bool or tuple(targets.shape) != (images.shape[0],):
        raise UsageError(
            f"targets must be {images.shape[0]} class indices (a long tensor [B]), "
            f"got {tuple(targets.shape)} {targets.dtype}"
        )
    return maps, targets.long()


def _target_probabilities(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int
) -> torch.Tensor:
    """Softmax probability of each input's target class, ``[N]`` float64, in chunks of ``batch_size``."""
    out = []
    for start in range(0, inputs.shape[0], batch_size):
        logits = model(inputs[start : start + batch_size])
        out.append(_pick(logits, targets[start : start + batch_size]))
    return torch.cat(out)


def _pick(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if int(targets.max()) >= logits.shape[1] or int(targets.min()) < 0:
        raise UsageError(f"target classes {targets.unique().tolist()} outside the model's {logits.shape[1]} classes")
    return logits.double().softmax(1).gather(1, targets[:, None])[:, 0]


def blur_kernel_size(height: int, width: int) -> int:
    """The ``"blur"`` baseline's kernel: about a quarter of the shorter side, odd (1 = no blur for tiny images)."""
    return (min(height, width) // 4) | 1


def baseline_images(images: torch.Tensor, baseline: str) -> torch.Tensor:
    """The fully perturbed images for ``baseline`` (see the module docstring), same shape as ``images``."""
    _choice(baseline, BASELINES, "baseline")
    if baseline == "zero":
        return torch.zeros_like(images)
    if baseline == "mean":
        return images.mean(dim=tuple(range(2, images.dim())), keepdim=True).expand_as(images).clone()
    kernel = blur_kernel_size(*images.shape[-2:])
    if kernel == 1:
        return images.clone()
    planes = images.reshape(-1, 1, *images.shape[-2:]).float()  # every frame and channel blurred on its own
    return TF.gaussian_blur(planes, [kernel, kernel]).reshape(images.shape).to(images.dtype)


def pixel_ranks(maps: torch.Tensor, order: str = "map", generator: torch.Generator | None = None) -> torch.Tensor:
    """Each pixel's rank ``[B, N]`` (0 = perturbed first): by the map, descending and stable,
    or a seeded random order."""
    _choice(order, ORDERS, "order")
    flat = maps.flatten(1)
    if order == "map":
        ordering = torch.sort(flat, dim=1, descending=True, stable=True).indices
    else:
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        ordering = torch.rand(flat.shape, generator=generator, device=generator.device).argsort(1).to(flat.device)
    ranks = torch.empty_like(ordering)
    positions = torch.arange(flat.shape[1], device=flat.device).expand_as(ordering)
    return ranks.scatter_(1, ordering, positions)


def perturbation_curve(
    model: nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    *,
    mode: str,
    steps: int = DEFAULT_STEPS,
    order: str = "map",
    generator: torch.Generator | None = None,
    baseline: str = "blur",
    batch_size: int = 64,
) -> np.ndarray:
    """The target-class probability ``[B, steps + 1]`` as the top-ranked pixels are removed or restored.

    ``mode="deletion"``: the image, then its top 1/steps, 2/steps, ... of pixels replaced by
    the baseline. ``mode="insertion"``: the baseline, then the image's top pixels restored.
    All ``B x (steps + 1)`` inputs are built by tensor ops and run in chunks of
    ``batch_size``, under ``no_grad``, in eval mode (restored after): ``steps + 1`` forward
    inputs per image, no more. See the module docstring for ranking and baselines.
    """
    _choice(mode, MODES, "mode")
    _choice(order, ORDERS, "order")
    _choice(baseline, BASELINES, "baseline")
    steps = _positive_int(steps, "steps")
    batch_size = _positive_int(batch_size, "batch_size")
    maps, targets = _check_inputs(images, maps, targets)
    ranks = pixel_ranks(maps, order, generator)  # [B, N]
    total = ranks.shape[1]
    counts = torch.arange(steps + 1, device=images.device) * total // steps  # pixels perturbed at each step
    base = baseline_images(images, baseline)
    start, end = (images, base) if mode == "deletion" else (base, images)
    spatial = (1, *images.shape[2:])  # a mask covers every channel
    flat_count = images.shape[0] * (steps + 1)
    out = []
    with torch.no_grad(), eval_mode(model):
        for first in range(0, flat_count, batch_size):
            index = torch.arange(first, min(first + batch_size, flat_count), device=images.device)
            item, step = index // (steps + 1), index % (steps + 1)
            changed = (ranks[item] < counts[step, None]).view(-1, *spatial)  # [n, 1, *spatial]
            inputs = torch.where(changed, end[item], start[item])
            out.append(_pick(model(inputs), targets[item]))
    return torch.cat(out).view(images.shape[0], steps + 1).cpu().numpy()


def curve_auc(curves: np.ndarray | Sequence[float]) -> np.ndarray:
    """Area under each curve ``[..., S]`` by the trapezoid rule over x = linspace(0, 1, S): ``[...]``.

    A straight line from 1 to 0 gives 0.5; a constant c gives c.
    """
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim < 1 or curves.shape[-1] < 2:
        raise UsageError(f"a curve needs at least 2 points on its last axis, got shape {curves.shape}")
    return np.trapezoid(curves, dx=1.0 / (curves.shape[-1] - 1), axis=-1)


def average_drop_increase(
    model: nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Per image: the relative drop ``max(0, Y - O) / Y`` and the increase ``O > Y`` (0/1), each ``[B]`` float64.

    Chattopadhay et al. 2018 (Grad-CAM++): ``Y`` is the target-class probability of the
    image, ``O`` that of the image multiplied by its map (maps in [0, 1], at the image's
    size; the normalised tensor is multiplied, see the module docstring). The paper reports
    the means x 100. Both passes run together in chunks of ``batch_size``, in eval mode.
    """
    batch_size = _positive_int(batch_size, "batch_size")
    maps, targets = _check_inputs(images, maps, targets)
    if float(maps.min()) < 0 or float(maps.max()) > 1:
        raise UsageError(
            f"maps must lie in [0, 1] to mask an image, got [{float(maps.min()):.3g}, {float(maps.max()):.3g}]"
        )
    masked = images * maps.unsqueeze(1)
    with torch.no_grad(), eval_mode(model):
        probs = _target_probabilities(model, torch.cat([images, masked]), targets.repeat(2), batch_size)
    full, kept = probs.view(2, -1).cpu().numpy()
    drop = np.where(full > 0, np.maximum(0.0, full - kept) / np.where(full > 0, full, 1.0), 0.0)
    return drop, (kept > full).astype(np.float64)

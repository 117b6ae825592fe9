"""Feature visualisation: the input that drives one unit (a channel's mean activation, or a class logit) up.

Plain gradient ascent on pixels finds high-frequency patterns that excite the unit but tell a person
nothing. The usual remedies (Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017, as
Lucid and Lucent apply them) are used here:

- the image is parameterised in a decorrelated space: a Fourier spectrum whose frequencies are scaled by
  1/f (so low frequencies move as fast as high ones do in a natural image), mixed through the square root
  of the colour covariance and squashed by a sigmoid into ``[0, 1]``;
- every step sees a randomly transformed copy (reflect padding, jitter, scale, rotation), so only
  patterns that survive small moves are reinforced;
- a unit that is 0 for the starting grey image still gets a direction to move in (Lucid's redirected
  ReLU gradient), else it would stay 0 for good.

A batch of images is optimised at once, one per unit; each image has its own random stream (seeded by
``seed`` and its unit), so a unit's picture does not depend on which other units share its batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from hartrace.base.errors import UsageError
from hartrace.probe.layers import resolve_layers

__all__ = [
    "FeatvisResult",
    "FeatvisSettings",
    "FourierImage",
    "UnitTarget",
    "colour_sqrt",
    "mean_channel_activation",
    "prior_colour_sqrt",
    "random_transform",
    "visualise",
]

#: Pixel logits are the inverse FFT divided by this: it keeps the first steps' images in the sigmoid's
#: linear range (an image starts as faint grey noise, not saturated).
SPECTRUM_DAMPING = 4.0
#: Correlation between the R, G and B values of one pixel assumed when no images are at hand
#: (natural photographs: about 0.8 to 0.9).
PRIOR_COLOUR_CORRELATION = 0.85


@dataclass(frozen=True)
class UnitTarget:
    """What each image of the batch maximises: channel ``units[i]`` of ``layer`` (its mean over space),
    or, with ``layer`` None, the model's output ``units[i]`` (a class logit)."""

    layer: str | None
    units: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.units:
            raise UsageError("no units to visualise: give at least one channel or class")
        if any(u < 0 for u in self.units):
            raise UsageError(f"channel and class indices are 0 or more, got {list(self.units)}")


@dataclass(frozen=True)
class FeatvisSettings:
    """Everything that decides the picture besides the model and the unit; saved beside each result."""

    size: int = 128
    steps: int = 256
    lr: float = 0.05
    seed: int = 0
    decay: float = 1.0  # the spectrum's 1/f**decay scaling
    pad: float = 0.1  # reflect padding, as a share of the side
    jitter: float = 0.06  # largest shift, as a share of the side
    scale: tuple[float, float] = (0.9, 1.1)
    rotation: float = 10.0  # degrees either way

    def __post_init__(self) -> None:
        if self.size < 8 or self.steps < 1 or self.lr <= 0:
            raise UsageError(f"feature visualisation needs size >= 8, steps >= 1 and lr > 0, got {self}")

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "scale": list(self.scale)}


@dataclass
class FeatvisResult:
    """The optimised images ``[B, 3, H, W]`` in ``[0, 1]`` (CPU), each one's final objective (on the image
    itself, untransformed) and the seconds the optimisation took."""

    images: torch.Tensor
    objective: torch.Tensor
    seconds: float
    settings: FeatvisSettings = field(default_factory=FeatvisSettings)


def frequency_scale(height: int, width: int, decay: float = 1.0) -> torch.Tensor:
    """``1 / f**decay`` for the real FFT's frequencies ``[H, W // 2 + 1]``; the zero frequency is capped at
    ``1 / max(H, W)`` so the mean colour moves no faster than the slowest wave."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    frequency = torch.sqrt(fx * fx + fy * fy).clamp(min=1.0 / max(height, width))
    return frequency.pow(-decay)


def colour_sqrt(images: torch.Tensor) -> torch.Tensor:
    """The square root of the RGB covariance of ``images`` ``[N, 3, H, W]`` (values in ``[0, 1]``), scaled so
    its largest column has norm 1: it maps decorrelated colour to RGB with the data's colour statistics."""
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise UsageError(f"colour statistics need RGB images [N, 3, H, W], got {tuple(images.shape)}")
    pixels = images.detach().double().permute(1, 0, 2, 3).reshape(3, -1)
    return _scaled_sqrt(torch.cov(pixels) + 1e-6 * torch.eye(3, dtype=torch.float64))


def prior_colour_sqrt(std: Sequence[float] = (0.229, 0.224, 0.225)) -> torch.Tensor:
    """The colour square root for channels with spread ``std`` (a run's normalisation) and the correlation
    natural photographs have: the stand-in when no images are at hand."""
    s = torch.tensor(std, dtype=torch.float64)
    correlation = torch.full((3, 3), PRIOR_COLOUR_CORRELATION, dtype=torch.float64).fill_diagonal_(1.0)
    return _scaled_sqrt(correlation * s[:, None] * s[None, :])


def _scaled_sqrt(covariance: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a covariance, divided by its largest column norm (float32)."""
    values, vectors = torch.linalg.eigh(covariance)
    root = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    scaled: torch.Tensor = (root / root.norm(dim=0).max()).float()
    return scaled


class FourierImage(nn.Module):
    """A batch of images held as scaled Fourier spectra in decorrelated colour; calling it gives RGB in ``[0, 1]``.

    Args:
        batch, size: ``batch`` square images of side ``size``.
        colour: the 3x3 map from decorrelated colour to RGB (:func:`colour_sqrt`); None: :func:`prior_colour_sqrt`.
        generators: one per image, to draw its starting spectrum (small noise); None: torch's default.
    """

    scale: torch.Tensor
    colour: torch.Tensor

    def __init__(
        self,
        batch: int,
        size: int,
        *,
        decay: float = 1.0,
        colour: torch.Tensor | None = None,
        generators: Sequence[torch.Generator] | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        shape = (3, size, size // 2 + 1, 2)
        if generators is not None and len(generators) != batch:
            raise ValueError(f"{len(generators)} generators for {batch} images")
        if generators:
            start = torch.stack([torch.randn(shape, generator=g) for g in generators])
        else:
            start = torch.randn((batch, *shape))
        self.spectrum = nn.Parameter(0.01 * start)
        self.register_buffer("scale", frequency_scale(size, size, decay)[None, None, :, :])
        self.register_buffer("colour", (prior_colour_sqrt() if colour is None else colour).float())

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        decorrelated = torch.fft.irfft2(spectrum, s=(self.size, self.size), norm="ortho") / SPECTRUM_DAMPING
        rgb = torch.einsum("ij,bjhw->bihw", self.colour, decorrelated)
        return torch.sigmoid(rgb)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def random_transform(
    images: torch.Tensor, generators: Sequence[torch.Generator], settings: FeatvisSettings
) -> torch.Tensor:
    """Each image padded (reflect), shifted, scaled and rotated at random by its own generator, then cropped
    back to its size: differentiable (torchvision's tensor transforms sample on a grid)."""
    side = images.shape[-1]
    pad = max(1, round(settings.pad * side))
    shift = max(1, round(settings.jitter * side))
    moved = []
    for image, generator in zip(images, generators, strict=True):
        angle = _uniform(generator, -settings.rotation, settings.rotation)
        scale = _uniform(generator, *settings.scale)
        dx, dy = (int(torch.randint(-shift, shift + 1, (), generator=generator)) for _ in range(2))
        padded = TF.pad(image[None], [pad, pad, pad, pad], padding_mode="reflect")
        turned = TF.affine(
            padded,
            angle=angle,
            translate=[dx, dy],
            scale=scale,
            shear=[0.0, 0.0],
            interpolation=InterpolationMode.BILINEAR,
        )
        moved.append(TF.center_crop(turned, [side, side]))
    return torch.cat(moved)


class _RedirectedRelu(torch.autograd.Function):
    """ReLU whose backward pass still says which way to move an image whose unit is shut for it.

    A unit that is 0 for the starting image gets no gradient through an ordinary ReLU and would stay
    0 (Lucid's remedy, its "redirected" ReLU gradient): where, for an image, no gradient at all gets
    through, the gradient is passed on wherever it would raise the ReLU's input, and dropped where it
    would push an already negative input lower. Anywhere some gradient gets through, it is the
    ordinary ReLU's.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        ordinary = grad * (x > 0)
        redirected = grad.masked_fill((x < 0) & (grad > 0), 0.0)  # a loss gradient > 0 would push x lower
        shut = ordinary.flatten(1).abs().sum(dim=1) == 0
        return torch.where(shut.view(-1, *[1] * (grad.dim() - 1)), redirected, ordinary)


@contextmanager
def redirected_relus(model: nn.Module) -> Iterator[None]:
    """Every ``nn.ReLU`` of ``model`` computed as :class:`_RedirectedRelu` for the duration (a ``F.relu`` call
    inside a forward is out of reach); in-place ReLUs are switched off meanwhile, and everything is restored."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    inplace = [m.inplace for m in relus]

    def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...], __: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = _RedirectedRelu.apply(inputs[0])
        return result

    handles = []
    try:
        for module in relus:
            module.inplace = False
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()
        for module, was in zip(relus, inplace, strict=True):
            module.inplace = was


class _Reached(Exception):
    """Raised by the hook once the target layer has run: nothing after it is needed."""


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients for the weights for the duration; each module's mode and each
    parameter's ``requires_grad`` restored after, even on error."""
    modes = [(module, module.training) for module in model.modules()]
    wanted = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in wanted:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        for p, requires in wanted:
            p.requires_grad_(requires)


def _layer_output(model: nn.Module, module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``module``'s output for ``inputs``, stopping the forward pass there."""
    seen: list[torch.Tensor] = []

    def hook(_: nn.Module, __: object, output: object) -> None:
        seen.append(output[0] if isinstance(output, (tuple, list)) else output)  # type: ignore[arg-type]
        raise _Reached

    handle = module.register_forward_hook(hook)
    try:
        model(inputs)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not seen:
        raise UsageError("the chosen layer did not run in the forward pass: pick a layer the model uses")
    return seen[0]


def unit_objective(model: nn.Module, inputs: torch.Tensor, target: UnitTarget) -> torch.Tensor:
    """Per image ``i``: the mean over space of channel ``units[i]`` of the layer, or output ``units[i]``."""
    units = torch.tensor(target.units, device=inputs.device)
    rows = torch.arange(len(target.units), device=inputs.device)
    if target.layer is None:
        logits = model(inputs)
        logits = logits[0] if isinstance(logits, (tuple, list)) else logits
        chosen: torch.Tensor = logits[rows, units]
        return chosen
    module = resolve_layers(model, [target.layer])[target.layer]
    output = _layer_output(model, module, inputs)
    if output.dim() < 2 or int(units.max()) >= output.shape[1]:
        raise UsageError(
            f"{target.layer} has {output.shape[1] if output.dim() >= 2 else 0} channels; "
            f"asked for channel {int(units.max())}"
        )
    chosen = output[rows, units]
    return chosen.reshape(len(target.units), -1).mean(dim=1)


def _generators(seed: int, units: Sequence[int]) -> list[torch.Generator]:
    """One random stream per image, from the seed and its unit alone."""
    streams = []
    for unit in units:
        state = int(np.random.SeedSequence([seed, unit]).generate_state(1, dtype=np.uint64)[0] >> 1)
        streams.append(torch.Generator().manual_seed(state))
    return streams


def _normaliser(mean: Sequence[float], std: Sequence[float], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return m, s


def visualise(
    model: nn.Module,
    target: UnitTarget,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    settings: FeatvisSettings | None = None,
    colour: torch.Tensor | None = None,
    on_step: Callable[[], None] | None = None,
) -> FeatvisResult:
    """Optimise one image per unit of ``target`` so that the unit's value goes up.

    The images are normalised with ``mean``/``std`` (the model's own input normalisation) before the model
    sees them. The model runs on its own device in eval mode without weight gradients; both are restored.
    The same model, target, settings and colour give the same images (on the same device). A unit's image
    does not depend on the other units of its batch except through rounding (a batch may convolve in
    another order), which the optimisation can amplify into small visible differences.
    ``on_step`` is called after each step (a progress bar).
    """
    settings = settings or FeatvisSettings()
    device = next(iter(model.parameters()), torch.empty(0)).device
    generators = _generators(settings.seed, target.units)
    image = FourierImage(
        len(target.units), settings.size, decay=settings.decay, colour=colour, generators=generators
    ).to(device)
    m, s = _normaliser(mean, std, device)
    optimiser = torch.optim.Adam(image.parameters(), lr=settings.lr)
    started = time.perf_counter()
    with frozen(model):
        with redirected_relus(model):
            for _ in range(settings.steps):
                optimiser.zero_grad(set_to_none=True)
                moved = random_transform(image(), generators, settings)
                loss = -unit_objective(model, (moved - m) / s, target).sum()
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
                if on_step is not None:
                    on_step()
        with torch.no_grad():
            final = image()
            objective = unit_objective(model, (final - m) / s, target)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    if not torch.isfinite(objective).all():
        raise UsageError("feature visualisation diverged (non-finite objective): try a smaller lr")
    return FeatvisResult(final.detach().cpu(), objective.detach().float().cpu(), seconds, settings)


@torch.no_grad()
def mean_channel_activation(
    model: nn.Module, layer: str, inputs: torch.Tensor, *, batch_size: int = 32
) -> torch.Tensor:
    """Every channel's mean activation over space, ``[N, C]``, for normalised ``inputs`` ``[N, 3, H, W]``:
    what :func:`visualise` maximises, measured on any images (dataset images, or other units' pictures)."""
    module = resolve_layers(model, [layer])[layer]
    device = next(iter(model.parameters()), torch.empty(0)).device
    rows = []
    with frozen(model):
        for start in range(0, inputs.shape[0], batch_size):
            output = _layer_output(model, module, inputs[start : start + batch_size].to(device))
            rows.append(output.flatten(2).mean(dim=2).float().cpu())
    return torch.cat(rows) if rows else torch.empty(0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[B, 3, H, W]`` in ``[0, 1]`` -> ``[B, H, W, 3]`` uint8, for saving."""
    return (images.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()

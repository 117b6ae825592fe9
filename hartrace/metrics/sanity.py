"""Does the map depend on what the model learned? Cascading model-parameter randomisation.

Adebayo et al. 2018 ("Sanity checks for saliency maps"): re-initialise the model's
layers cumulatively from the output down and explain again after each step. A map that
explains the model must change as its weights are destroyed; one that stays the same
(an edge detector in disguise) says nothing about the model. Change is measured per
image by the Spearman rank correlation of the map with the original map.

Conventions:

* The *signed* Spearman correlation of the flattened ``[0, 1]`` maps (scipy.stats.spearmanr),
  not Adebayo's absolute-value variant: hartrace maps are already ReLU'd or absolute, so
  a sign flip of the underlying attribution cannot hide in them.
* A constant map (a CAM that died with its layer) has no ranking: scipy gives NaN, which
  is counted as correlation 0 -- the map no longer tells anything the original did.
  The first step ("original") is 1.0 by definition.
* Layers are re-initialised with their own ``reset_parameters()`` (BatchNorm: weight 1,
  bias 0, running statistics reset); parameters of modules without one get
  ``normal(0, 0.02)``. Step ``i`` draws from seed ``seed + i``, so a cascade repeats
  exactly. The copy stays in eval mode throughout.
"""

from __future__ import annotations

import copy
import difflib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from hartrace.base.errors import UsageError

__all__ = ["CascadeStep", "cascade_groups", "cascading_randomisation", "randomise", "sanity_verdict"]

ExplainFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
DEFAULT_THRESHOLD = 0.3


@dataclass
class CascadeStep:
    """One step of the cascade: what was randomised last, and how much each image's map still agrees
    with its original."""

    randomised: str  # the last layer or group randomised, or "original"
    spearman_mean: float
    spearman_std: float
    per_image: list[float]


def _info_groups(model: nn.Module) -> list[tuple[str, tuple[str, ...]]] | None:
    """A hartrace zoo model's groups, top down: the head, then the trunk stages from last to first."""
    info = getattr(model, "info", None)
    if info is None or not hasattr(info, "stages") or not hasattr(info, "head"):
        return None
    names = {tuple(paths): name for name, paths in getattr(info, "layer_groups", {}).items()}
    stages = [(names.get(tuple(stage), "+".join(stage)), tuple(stage)) for stage in reversed(info.stages)]
    return [("head", tuple(info.head)), *stages]


def cascade_groups(model: nn.Module, layers: Sequence[str] | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """The groups randomised in turn, top down, as ``(name, module paths)``.

    ``layers`` None: a zoo model's head and stages (see :func:`_info_groups`), else every
    module that owns parameters, in reverse ``named_modules()`` order. Given ``layers``,
    each is a ``named_modules()`` path or, for a zoo model, a group name ("head", "layer4").
    """
    groups = _info_groups(model)
    if layers is None:
        if groups is not None:
            return groups
        owners = [name for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
        if not owners:
            raise UsageError(f"{type(model).__name__} has no parameters to randomise")
        return [(name, (name,)) for name in reversed(owners)]
    if isinstance(layers, str) or not layers:
        raise UsageError(f"layers must be a non-empty list of module names, not {layers!r}")
    by_name = dict(groups or [])
    modules = dict(model.named_modules())
    out = []
    for name in layers:
        if name in by_name:
            out.append((name, by_name[name]))
        elif name in modules and name != "":
            out.append((name, (name,)))
        else:
            close = difflib.get_close_matches(str(name), [*by_name, *modules], n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise UsageError(
                f"no layer or group named {name!r} in {type(model).__name__}{hint} (`hartrace layers` lists them)"
            )
    return out


def randomise(model: nn.Module, paths: Sequence[str], seed: int) -> None:
    """Re-initialise every parameter (and BatchNorm's running statistics) under ``paths``,
    reproducibly from ``seed``."""
    seen: set[int] = set()
    modules = [
        m for path in paths for m in model.get_submodule(path).modules() if not (id(m) in seen or seen.add(id(m)))
    ]
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        for module in modules:
            if callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()  # BatchNorm's also resets its running statistics
                continue
            if callable(getattr(module, "reset_running_stats", None)):
                module.reset_running_stats()
            for parameter in module.parameters(recurse=False):
                parameter.normal_(0.0, 0.02)


def _as_maps(maps: object, batch: int) -> np.ndarray:
    array = (
        maps.detach().float().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps, dtype=np.float32)
    )
    if array.ndim < 2 or array.shape[0] != batch:
        raise UsageError(f"explain_fn must return one map per image [B, H, W] with B={batch}, got shape {array.shape}")
    return array.reshape(batch, -1)


def _spearman(original: np.ndarray, current: np.ndarray) -> list[float]:
    """Per-image signed Spearman correlation; NaN (a constant map) counts as 0."""
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's ConstantInputWarning: handled as 0 below
        for a, b in zip(original, current, strict=True):
            rho = float(spearmanr(a, b).statistic)
            values.append(0.0 if np.isnan(rho) else rho)
    return values


def _step(name: str, values: list[float]) -> CascadeStep:
    return CascadeStep(name, float(np.mean(values)), float(np.std(values)), values)


def cascading_randomisation(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    explain_fn: ExplainFn,
    layers: Sequence[str] | None = None,
    *,
    seed: int = 0,
) -> list[CascadeStep]:
    """Randomise ``layers`` (default: :func:`cascade_groups`) cumulatively top down; Spearman of each
    re-explained map with the original.

    ``explain_fn(model, images, targets)`` returns maps ``[B, H, W]``; it always gets a deep
    copy, so the caller's model is never changed. The targets stay fixed (the original
    ones), so the question is "does the map of this class change?". Returns the
    ``"original"`` step (1.0) followed by one step per group.
    """
    if not isinstance(images, torch.Tensor) or images.dim() < 3:
        raise UsageError("images must be a tensor [B, C, H, W]")
    targets = torch.as_tensor(targets).to(images.device).long()
    if tuple(targets.shape) != (images.shape[0],):
        raise UsageError(f"targets must be {images.shape[0]} class indices, got shape {tuple(targets.shape)}")
    groups = cascade_groups(model, layers)
    work = copy.deepcopy(model).eval()
    original = _as_maps(explain_fn(work, images, targets), images.shape[0])
    steps = [_step("original", [1.0] * images.shape[0])]
    for index, (name, paths) in enumerate(groups, 1):
        randomise(work, paths, seed + index)
        work.eval()
        current = _as_maps(explain_fn(work, images, targets), images.shape[0])
        if current.shape != original.shape:
            raise UsageError(
                f"explain_fn returned maps of {current.shape[1]} values after randomising {name}, "
                f"{original.shape[1]} before"
            )
        steps.append(_step(name, _spearman(original, current)))
    return steps


def sanity_verdict(steps: Sequence[CascadeStep], threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Passed when the fully randomised model's mean Spearman is below ``threshold``: the map depends on the weights.

    Returns ``{"passed", "final", "threshold", "first_below"}``; ``first_below`` is the first
    randomised group whose mean drops below the threshold (None if none does).
    """
    if not steps:
        raise UsageError("a sanity verdict needs the steps of a cascade")
    final = float(steps[-1].spearman_mean)
    first = next((s.randomised for s in steps if s.randomised != "original" and s.spearman_mean < threshold), None)
    return {"passed": bool(final < threshold), "final": final, "threshold": float(threshold), "first_below": first}

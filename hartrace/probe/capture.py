"""What one pass through a model leaves behind: per-layer activations, gradients, kernels, statistics.

Captures are plain tensors on the CPU (or the model's device) with their metadata, so
renderers, the explorer and JSON exports can use them without the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from hartrace.base.display import result_html
from hartrace.probe.views import ItemView, item_view

#: Histogram bins of every layer's activation values.
HISTOGRAM_BINS = 64


@dataclass(frozen=True)
class LayerStats:
    """Summary of a layer's output over the batch: a fixed-bin histogram and the usual health numbers.

    ``dead_fraction`` is the share of channels that are never positive anywhere in the
    batch (dead ReLUs); ``zero_fraction`` the share of exact zeros among all values.
    """

    counts: list[int]
    edges: list[float]
    mean: float
    std: float
    min: float
    max: float
    zero_fraction: float
    dead_fraction: float

    @classmethod
    def of(cls, activation: torch.Tensor, bins: int = HISTOGRAM_BINS) -> LayerStats:
        values = activation.detach().float()
        low, high = float(values.min()), float(values.max())
        if high <= low:
            high = low + 1e-6
        counts = torch.histc(values, bins=bins, min=low, max=high)
        edges = torch.linspace(low, high, bins + 1)
        if values.dim() >= 2:
            per_channel = values.transpose(0, 1).reshape(values.shape[1], -1)
            dead = float((per_channel.max(dim=1).values <= 0).float().mean())
        else:
            dead = float((values <= 0).float().mean())
        return cls(
            counts=[int(c) for c in counts.tolist()],
            edges=[round(e, 6) for e in edges.tolist()],
            mean=float(values.mean()),
            std=float(values.std()) if values.numel() > 1 else 0.0,
            min=float(values.min()),
            max=float(values.max()),
            zero_fraction=float((values == 0).float().mean()),
            dead_fraction=dead,
        )


@dataclass
class LayerCapture:
    """One named layer after a pass: its output (and gradient, kernel, stats) with metadata.

    ``stats`` is computed from the captured output on first access, so a capture made
    only for a CAM does not pay for histograms it never shows.
    """

    name: str
    kind: str  # the module's class name, e.g. "Conv2d"
    shape: tuple[int, ...]  # output shape, batch included
    activation: torch.Tensor  # detached output, no autograd graph
    kernel: torch.Tensor | None = None  # conv weight [out, in, *kernel], detached
    gradient: torch.Tensor | None = None  # d(target score)/d(output), when asked for
    bins: int = HISTOGRAM_BINS

    @cached_property
    def stats(self) -> LayerStats:
        return LayerStats.of(self.activation, self.bins)

    def __repr__(self) -> str:
        parts = [repr(self.name), self.kind, f"output {list(self.shape)}"]
        parts += [
            f"{what} {list(t.shape)}"
            for what, t in (("kernel", self.kernel), ("gradient", self.gradient))
            if t is not None
        ]
        return f"LayerCapture({', '.join(parts)})"

    def summary(self) -> dict[str, Any]:
        """JSON-ready metadata and statistics (no tensors)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "kernel_shape": list(self.kernel.shape) if self.kernel is not None else None,
            "has_gradient": self.gradient is not None,
            "stats": self.stats.__dict__,
        }


@dataclass
class Capture:
    """Everything one pass captured: layers in the order the model ran them, logits and probabilities."""

    layers: dict[str, LayerCapture]
    logits: torch.Tensor
    probabilities: torch.Tensor
    input_shape: tuple[int, ...]
    classes: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> LayerCapture:
        return self.layers[name]

    def __repr__(self) -> str:
        """One line: the input, the layers (the first three with their shapes) and item 0's top class."""
        named = ", ".join(f"{name} {list(layer.shape)}" for name, layer in list(self.layers.items())[:3])
        more = f" and {len(self.layers) - 3} more" if len(self.layers) > 3 else ""
        index, probability = self.top_k(1)[0]
        top = self.classes[index] if self.classes else str(index)
        return (
            f"Capture(input {list(self.input_shape)}, {len(self.layers)} layers{': ' if named else ''}{named}{more}; "
            f"item 0: {top!r} {probability:.1%})"
        )

    def _repr_html_(self) -> str:
        """In a notebook: item 0's top classes, a table of the layers and a strip of their strongest maps."""
        return result_html("capture_html", self)

    def view(self, name: str, index: int = 0) -> ItemView:
        """Item ``index``'s output of layer ``name`` as what it is: maps, a volume, a sequence or a vector."""
        return item_view(self.layers[name].activation, self.input_shape, index)

    def top_k(self, k: int = 5, index: int = 0) -> list[tuple[int, float]]:
        """The ``k`` most probable classes of batch item ``index`` as (class index, probability)."""
        probs = self.probabilities[index]
        values, indices = probs.topk(min(k, probs.numel()))
        return list(zip(indices.tolist(), values.tolist(), strict=True))

    def summary(self, index: int = 0) -> dict[str, Any]:
        """JSON-ready description (what ``captures.json`` holds)."""
        names = self.classes or [str(i) for i in range(self.probabilities.shape[1])]
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.summary() for layer in self.layers.values()],
            "top_k": [{"class": names[i], "index": i, "probability": p} for i, p in self.top_k(5, index)],
            "probabilities": dict(zip(names, self.probabilities[index].tolist(), strict=True)),
        }

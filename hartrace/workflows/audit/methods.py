"""Which methods an audit compares, and at which layers: ``name`` or ``name@layer`` or ``name@layerA+layerB``.

A method written with layers takes its maps there (several layers: each layer's
normalised map, averaged and normalised again, as ``explain`` fuses them) instead of at
the audit's ``--layer``, so one audit can compare a method at two depths. Such a row is
labelled with its layers (``layercam@layer3+layer4``) wherever the audit shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from hartrace.attribution.registry import method_spec
from hartrace.base.errors import UsageError
from hartrace.probe.layers import resolve_layers


@dataclass(frozen=True)
class AuditMethod:
    """One row of the comparison: a registered method and the layers its maps come from."""

    name: str  # the method's canonical name
    layers: tuple[str, ...]  # where its maps are taken; () for a method that attributes to the input pixels
    label: str  # how the audit shows it: the name, with ``@layers`` where they differ from the audit's layer


def parse_methods(methods: Sequence[str] | str) -> list[tuple[str, tuple[str, ...]]]:
    """``(canonical name, layers written after @)`` per entry, checked before any model is opened.

    A pixel method (saliency, Integrated Gradients, ...) takes no layer, and Guided Grad-CAM one.
    """
    if isinstance(methods, str):
        methods = [methods]
    parsed = []
    for written in methods:
        name, at, after = written.partition("@")
        spec = method_spec(name)
        layers = tuple(dict.fromkeys(after.split("+"))) if at else ()
        if at and not all(layers):
            raise UsageError(f"{written!r}: name the layers after @, joined by + (e.g. {spec.name}@layer3+layer4)")
        if layers and not spec.uses_layer:
            raise UsageError(f"{written!r}: {spec.name} attributes to the input pixels and takes no layer")
        if len(layers) > 1 and spec.family != "cam":
            raise UsageError(f"{written!r}: {spec.name} takes one layer; only the CAM methods fuse several")
        parsed.append((spec.name, layers))
    if not parsed:
        raise UsageError("no methods given: name at least one")
    return parsed


def resolve_methods(
    parsed: Sequence[tuple[str, tuple[str, ...]]], model: nn.Module, layer: str
) -> dict[str, AuditMethod]:
    """Every method by its label, once each, with its layers checked against ``model`` (a one-line error with
    close names for an unknown one); ``layer`` is the audit's, for methods written without layers."""
    resolved: dict[str, AuditMethod] = {}
    for name, written in parsed:
        uses_layer = method_spec(name).uses_layer
        layers = (written or (layer,)) if uses_layer else ()
        if layers:
            resolve_layers(model, list(layers))
        label = f"{name}@{'+'.join(layers)}" if layers and layers != (layer,) else name
        resolved.setdefault(label, AuditMethod(name, layers, label))
    return resolved

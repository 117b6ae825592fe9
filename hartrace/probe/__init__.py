"""Look inside a model: hooks on named layers, captured in one pass."""

from hartrace.probe.capture import Capture, LayerCapture, LayerStats
from hartrace.probe.hooks import GradientSource, HookManager, capture
from hartrace.probe.layers import LayerInfo, layer_table, list_layers, measure_output_shapes, resolve_layers

__all__ = [
    "Capture",
    "GradientSource",
    "HookManager",
    "LayerCapture",
    "LayerInfo",
    "LayerStats",
    "capture",
    "layer_table",
    "list_layers",
    "measure_output_shapes",
    "resolve_layers",
]

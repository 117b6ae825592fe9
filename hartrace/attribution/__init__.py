"""Explanations: the CAM family over one capture, and captum's pixel-level methods, behind one call.

``explain(model, inputs, layer, method, target) -> Explanation`` runs any method;
``maps_from_capture`` turns a capture you already have into maps; ``grad_cam`` is the
short form for a CAM. Every method is described once in :mod:`hartrace.attribution.registry`.

Named ``attribution``, not ``explain``: a subpackage of that name would replace the exported
function ``hartrace.explain`` as soon as it was first imported. Names load on first use, so
reading the method registry (the command line's help) does not import torch.
"""

from __future__ import annotations

from hartrace.base.lazy import lazy_getattr

_EXPORTS = {
    "Explanation": "hartrace.attribution.explanation",
    "explain": "hartrace.attribution.explanation",
    "grad_cam": "hartrace.attribution.explanation",
    "maps_from_capture": "hartrace.attribution.explanation",
    "METHODS": "hartrace.attribution.registry",
    "MethodSpec": "hartrace.attribution.registry",
    "method_names": "hartrace.attribution.registry",
    "method_spec": "hartrace.attribution.registry",
    "resolve_targets": "hartrace.attribution.targets",
    "normalise": "hartrace.attribution.cam",
    "temporal_importance": "hartrace.attribution.temporal",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)

"""hartrace: train human-action-recognition CNNs, then see inside them.

The public API works on any ``nn.Module``::

    import hartrace
    with hartrace.HookManager(model, ["layer3", "layer4"], gradients=["layer4"]) as hooks:
        capture = hooks.forward(images)
    cams = hartrace.grad_cam(model, images, "layer4")          # [B, H, W] in [0, 1]
    result = hartrace.explain(model, images, "layer4", "gradcam++", target="top3")  # .maps [B, 3, H, W]
    model, meta = hartrace.load_checkpoint("checkpoints/run/best.pt")

Names load on first use, so ``import hartrace`` is instant.
"""

from __future__ import annotations

from hartrace.base.lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    "HookManager": "hartrace.probe.hooks",
    "Capture": "hartrace.probe.capture",
    "capture": "hartrace.probe.hooks",
    "list_layers": "hartrace.probe.layers",
    "grad_cam": "hartrace.attribution.explanation",
    "explain": "hartrace.attribution.explanation",
    "Explanation": "hartrace.attribution.explanation",
    "load_checkpoint": "hartrace.runs.checkpoint",
    "get_model": "hartrace.models",
    "list_models": "hartrace.models",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__getattr__ = lazy_getattr(__name__, _EXPORTS)

"""The explanation audit: is a map faithful to the model, does it depend on its weights, does it find the evidence?

Names are imported on first use (PEP 562), so the command line starts without torch.
"""

from __future__ import annotations

from hartrace.base.lazy import lazy_getattr

#: The methods ``hartrace audit`` compares by default: three CAMs and a gradient method.
DEFAULT_METHODS = ("gradcam", "gradcam++", "layercam", "saliency")
#: The tolerant pointing game's margin in pixels, as in Zhang et al. 2016 (the strict one is always 0 px).
#: ``hartrace explain`` and ``hartrace demo`` use it too.
POINTING_TOLERANCE = 15

_EXPORTS = {
    "DEFAULT_STEPS": "hartrace.metrics.faithfulness",
    "average_drop_increase": "hartrace.metrics.faithfulness",
    "curve_auc": "hartrace.metrics.faithfulness",
    "perturbation_curve": "hartrace.metrics.faithfulness",
    "CascadeStep": "hartrace.metrics.sanity",
    "cascade_groups": "hartrace.metrics.sanity",
    "cascading_randomisation": "hartrace.metrics.sanity",
    "sanity_verdict": "hartrace.metrics.sanity",
    "AuditResult": "hartrace.workflows.audit.result",
    "audit": "hartrace.workflows.audit.run",
}

__all__ = sorted(["DEFAULT_METHODS", "POINTING_TOLERANCE", *_EXPORTS])

__getattr__ = lazy_getattr(__name__, _EXPORTS)

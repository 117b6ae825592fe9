"""The explanation audit: is a map faithful to the model, does it depend on its weights, does it find the evidence?

Names are imported on first use (PEP 562), so the command line starts without torch.
"""

from __future__ import annotations

from hartrace._lazy import lazy_getattr

#: The methods ``hartrace audit`` compares by default: three CAMs and a gradient method.
DEFAULT_METHODS = ("gradcam", "gradcam++", "layercam", "saliency")

_EXPORTS = {
    "DEFAULT_STEPS": "hartrace.audit.faithfulness",
    "average_drop_increase": "hartrace.audit.faithfulness",
    "curve_auc": "hartrace.audit.faithfulness",
    "perturbation_curve": "hartrace.audit.faithfulness",
    "CascadeStep": "hartrace.audit.sanity",
    "cascade_groups": "hartrace.audit.sanity",
    "cascading_randomisation": "hartrace.audit.sanity",
    "sanity_verdict": "hartrace.audit.sanity",
    "AuditResult": "hartrace.audit.run",
    "audit": "hartrace.audit.run",
}

__all__ = sorted(["DEFAULT_METHODS", *_EXPORTS])

__getattr__ = lazy_getattr(__name__, _EXPORTS)

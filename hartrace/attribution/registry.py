"""Every explanation method once: its name, aliases, and what it costs and uses.

The command line, the explorer, the audit and the Python API all read this one table,
so a method is added, renamed or described in one place. It imports nothing heavy, so
building ``--help`` stays instant.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from hartrace.base.errors import UsageError

#: Method families: ``cam`` maps come from a layer's captured activations (and gradients);
#: ``pixel`` maps are captum attributions to the input pixels.
FAMILIES = ("cam", "pixel")


@dataclass(frozen=True)
class MethodSpec:
    """One explanation method.

    ``needs_gradients``: its map needs the gradient at the layer, captured in the same pass.
    ``reruns_model``: it runs the model again beyond that one pass (so it is slow to switch to).
    ``uses_layer``: its map depends on the chosen layer (saliency, Integrated Gradients,
    SmoothGrad and occlusion attribute to the input pixels whatever the layer).
    """

    name: str
    family: str
    summary: str
    aliases: tuple[str, ...] = ()
    needs_gradients: bool = False
    reruns_model: bool = False
    uses_layer: bool = True

    @property
    def from_capture(self) -> bool:
        """Whether one captured pass (with gradients where needed) is all its map needs."""
        return self.family == "cam" and not self.reruns_model


_SPECS = (
    MethodSpec("gradcam", "cam", "channel weights = mean gradient (Selvaraju et al. 2017)", needs_gradients=True),
    MethodSpec(
        "gradcam++",
        "cam",
        "weights from higher-order gradient terms",
        ("gradcampp", "gradcamplusplus"),
        needs_gradients=True,
    ),
    MethodSpec("xgradcam", "cam", "gradients weighted by the normalised activations", ("xgrad",), needs_gradients=True),
    MethodSpec("layercam", "cam", "element-wise positive gradient times activation", needs_gradients=True),
    MethodSpec(
        "hirescam",
        "cam",
        "element-wise gradient times activation, faithful to the logit",
        ("hires",),
        needs_gradients=True,
    ),
    MethodSpec("eigencam", "cam", "first principal component of the activations (no gradients)", ("eigen",)),
    MethodSpec("scorecam", "cam", "each channel's mask scored by the model (batched)", ("score",), reruns_model=True),
    MethodSpec("saliency", "pixel", "absolute input gradient (captum)", reruns_model=True, uses_layer=False),
    MethodSpec(
        "integrated_gradients",
        "pixel",
        "path integral of gradients from a black baseline (captum)",
        ("ig",),
        reruns_model=True,
        uses_layer=False,
    ),
    MethodSpec(
        "smoothgrad", "pixel", "saliency averaged over noisy copies (captum)", reruns_model=True, uses_layer=False
    ),
    MethodSpec(
        "occlusion", "pixel", "score drop when a sliding patch is hidden (captum)", reruns_model=True, uses_layer=False
    ),
    MethodSpec(
        "guided_gradcam", "pixel", "guided backpropagation times Grad-CAM at the layer (captum)", reruns_model=True
    ),
)

#: Every method by its canonical name, in the order the help lists them.
METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in _SPECS}
DEFAULT_METHOD = "gradcam"


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")


_BY_KEY = {_key(alias): spec for spec in _SPECS for alias in (spec.name, *spec.aliases)}


def method_spec(name: str | MethodSpec) -> MethodSpec:
    """The method ``name`` names (any case, ``-``/``_`` or an alias), or a one-line error with close names."""
    if isinstance(name, MethodSpec):
        return name
    spec = _BY_KEY.get(_key(name))
    if spec is None:
        close = difflib.get_close_matches(_key(name), list(_BY_KEY), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(dict.fromkeys(_BY_KEY[c].name for c in close))}?)" if close else ""
        raise UsageError(f"unknown method {name!r}{hint}; choose one of: {', '.join(METHODS)}")
    return spec


def method_names(family: str | None = None) -> list[str]:
    """Canonical names, of one family or all."""
    return [spec.name for spec in _SPECS if family is None or spec.family == family]


def method_help() -> str:
    """The methods as a command's ``--method`` help lists them."""
    cams, pixels = method_names("cam"), method_names("pixel")
    return f"{cams[0]} (default), {', '.join(cams[1:])}; {', '.join(pixels)}"

"""The channel atlas: each unit's most activating images, and network dissection against concept maps.

The file side (:mod:`.store`) is imported eagerly, it needs no torch; the pass that
computes an atlas is imported on first use (PEP 562), so the command line starts fast.
"""

from __future__ import annotations

from hartrace.base.lazy import lazy_getattr
from hartrace.workflows.atlas.store import AtlasLayer as AtlasLayer
from hartrace.workflows.atlas.store import TopImage as TopImage
from hartrace.workflows.atlas.store import UnitRow as UnitRow
from hartrace.workflows.atlas.store import atlas_layers as atlas_layers
from hartrace.workflows.atlas.store import read_atlas as read_atlas

_EXPORTS = {
    "AtlasResult": "hartrace.workflows.atlas.run",
    "atlas": "hartrace.workflows.atlas.run",
}

__all__ = sorted(["AtlasLayer", "TopImage", "UnitRow", "atlas_layers", "read_atlas", *_EXPORTS])

__getattr__ = lazy_getattr(__name__, _EXPORTS)

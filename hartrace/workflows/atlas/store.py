"""The atlas as files in a run folder: what the explorer, the other commands and a rerun read back.

``<run>/atlas/<split>/<layer>/units.json`` holds everything (the settings it was made
with, the concept names, and per unit its top images, best concept and IoUs);
``units.csv``, ``contact_sheet.png`` and ``dissection.json``/``.csv`` sit beside it for
people. Reading needs no torch, so the explorer can list an atlas without a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hartrace.base.errors import UsageError

__all__ = [
    "ATLAS_DIR",
    "UNITS_FILE",
    "AtlasLayer",
    "TopImage",
    "UnitRow",
    "atlas_dir",
    "atlas_layers",
    "layer_dir",
    "read_atlas",
]

ATLAS_DIR = "atlas"
UNITS_FILE = "units.json"
#: The version of ``units.json``: a file of another version is recomputed, never misread.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class TopImage:
    """One of a unit's most activating images, and where in it the unit fired."""

    path: str  # the image file
    item_id: str  # the explorer's id of the image: its path relative to the dataset root
    activation: float  # the channel's max over its activation map for this image
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) in the image's own pixels


@dataclass(frozen=True)
class UnitRow:
    """One channel of a layer: its top images and, where the data has concept maps, what it detects."""

    channel: int
    top: list[TopImage]
    best_concept: str | None  # None when the data has no concept maps
    iou: float | None  # the best concept's IoU; None without concept maps
    ious: dict[str, float] = field(default_factory=dict)  # every scored concept's IoU
    threshold: float | None = None  # T_k: the activation above which the unit counts as firing
    shares: dict[str, float] = field(default_factory=dict)  # per scored concept: the share of its top images with it

    @property
    def concept_share(self) -> float | None:
        """The share of its top images that contain its best concept."""
        return None if self.best_concept is None else self.shares.get(self.best_concept)


@dataclass(frozen=True)
class AtlasLayer:
    """A layer's atlas, as ``hartrace atlas`` wrote it."""

    layer: str
    split: str
    top_k: int
    units: list[UnitRow]
    concepts: list[str] | None = None  # the concepts scored (present in the data), None without maps
    settings: dict[str, Any] = field(default_factory=dict)  # what it was computed with (reuse compares these)
    ceilings: dict[str, float] = field(default_factory=dict)  # per concept: a perfect unit's IoU at this resolution


def atlas_dir(run_dir: Path, split: str = "val") -> Path:
    """The folder holding a split's atlas, one subfolder per layer."""
    return Path(run_dir) / ATLAS_DIR / split


def layer_dir(run_dir: Path, layer: str, split: str = "val") -> Path:
    return atlas_dir(run_dir, split) / layer


def atlas_layers(run_dir: Path, split: str = "val") -> list[str]:
    """The layers that have an atlas for ``split``, in the model's order where the file says it, else by name."""
    folder = atlas_dir(run_dir, split)
    if not folder.is_dir():
        return []
    found = [(p.parent.name, _order(p)) for p in folder.glob(f"*/{UNITS_FILE}")]
    return [name for name, _ in sorted(found, key=lambda item: (item[1], item[0]))]


def _order(units_file: Path) -> int:
    try:
        return int(json.loads(units_file.read_text(encoding="utf-8")).get("settings", {}).get("layer_index", 1 << 30))
    except (OSError, ValueError, AttributeError, TypeError):
        return 1 << 30


def read_atlas(run_dir: Path, layer: str, split: str = "val") -> AtlasLayer:
    """A layer's atlas; a one-line error when there is none (it says how to make one)."""
    path = layer_dir(run_dir, layer, split) / UNITS_FILE
    if not path.is_file():
        have = atlas_layers(run_dir, split)
        known = f" (this run has one for: {', '.join(have)})" if have else ""
        raise UsageError(
            f"no atlas of layer {layer!r} on the {split} split{known}: "
            f"run `hartrace atlas --run {Path(run_dir).name} --layers {layer} --split {split}`"
        )
    try:
        return atlas_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not an atlas file ({exc}): rerun `hartrace atlas --force`") from None


def atlas_from_dict(data: dict[str, Any]) -> AtlasLayer:
    units = [
        UnitRow(
            channel=int(u["channel"]),
            top=[
                TopImage(
                    path=str(t["path"]),
                    item_id=str(t["item_id"]),
                    activation=float(t["activation"]),
                    box=(int(t["box"][0]), int(t["box"][1]), int(t["box"][2]), int(t["box"][3])),
                )
                for t in u["top"]
            ],
            best_concept=u.get("best_concept"),
            iou=None if u.get("iou") is None else float(u["iou"]),
            ious={str(k): float(v) for k, v in (u.get("ious") or {}).items()},
            threshold=None if u.get("threshold") is None else float(u["threshold"]),
            shares={str(k): float(v) for k, v in (u.get("shares") or {}).items()},
        )
        for u in data["units"]
    ]
    concepts = data.get("concepts")
    return AtlasLayer(
        layer=str(data["layer"]),
        split=str(data["split"]),
        top_k=int(data["top_k"]),
        units=units,
        concepts=None if concepts is None else [str(c) for c in concepts],
        settings=dict(data.get("settings") or {}),
        ceilings={str(k): float(v) for k, v in (data.get("ceilings") or {}).items()},
    )


def atlas_to_dict(atlas: AtlasLayer) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "layer": atlas.layer,
        "split": atlas.split,
        "top_k": atlas.top_k,
        "concepts": atlas.concepts,
        "settings": atlas.settings,
        "ceilings": atlas.ceilings,
        "units": [
            {
                "channel": u.channel,
                "best_concept": u.best_concept,
                "iou": u.iou,
                "threshold": u.threshold,
                "ious": u.ious,
                "shares": u.shares,
                "top": [
                    {"path": t.path, "item_id": t.item_id, "activation": t.activation, "box": list(t.box)}
                    for t in u.top
                ],
            }
            for u in atlas.units
        ],
    }

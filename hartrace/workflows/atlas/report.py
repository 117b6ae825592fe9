"""What ``hartrace atlas`` writes per layer beside ``units.json``: ``units.csv``, the dissection summary
(``dissection.json``/``.csv``) and the contact sheet."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from hartrace.base.io import save_figure, write_csv, write_json
from hartrace.data.decode import ImageDecodeError, load_rgb
from hartrace.metrics.dissection import DETECTOR_IOU
from hartrace.render.atlas import contact_sheet_figure
from hartrace.workflows.atlas.store import UNITS_FILE, AtlasLayer, TopImage, UnitRow, atlas_to_dict

#: Units shown on a contact sheet: the best by IoU, or the first ones without concept maps.
SHEET_UNITS = 32


def dissection_summary(atlas: AtlasLayer, detector_iou: float = DETECTOR_IOU) -> dict[str, Any]:
    """Per concept: its detectors (units whose best concept it is, with IoU above ``detector_iou``: the
    paper's unique detectors), every unit above ``detector_iou`` for it, its best unit, that unit's IoU and
    the share of its top images that show the concept, the median unit's IoU (what a unit picked at random
    scores), and the ceiling: what a perfect detector could score at this layer's resolution."""
    concepts: dict[str, dict[str, Any]] = {}
    for concept in atlas.concepts or []:
        scores = {u.channel: u.ious[concept] for u in atlas.units if concept in u.ious}
        if not scores:
            continue
        best = max(scores, key=lambda channel: scores[channel])
        best_row = next(u for u in atlas.units if u.channel == best)
        concepts[concept] = {
            "detectors": sum(1 for u in atlas.units if u.best_concept == concept and (u.iou or 0) > detector_iou),
            "units_above": sum(1 for v in scores.values() if v > detector_iou),
            "best_unit": best,
            "best_iou": scores[best],
            "best_unit_top_share": best_row.shares.get(concept),
            "median_iou": statistics.median(scores.values()),
            "ceiling_iou": atlas.ceilings.get(concept),
        }
    detectors = sum(c["detectors"] for c in concepts.values())
    return {
        "layer": atlas.layer,
        "split": atlas.split,
        "units": len(atlas.units),
        "detector_iou": detector_iou,
        "detectors": detectors,
        "concepts_detected": sum(1 for c in concepts.values() if c["detectors"]),
        "concepts": dict(sorted(concepts.items(), key=lambda item: -item[1]["best_iou"])),
    }


def write_layer(folder: Path, atlas: AtlasLayer, sheet_units: int = SHEET_UNITS) -> list[Path]:
    """Every file of one layer's atlas; ``units.json`` last, so a folder that has it is complete."""
    written = [_units_csv(folder / "units.csv", atlas)]
    if atlas.concepts is not None:
        summary = dissection_summary(atlas)
        written.append(write_json(folder / "dissection.json", summary))
        written.append(
            write_csv(
                folder / "dissection.csv",
                [
                    "concept",
                    "detectors",
                    "units_above",
                    "best_unit",
                    "best_iou",
                    "best_unit_top_share",
                    "median_iou",
                    "ceiling_iou",
                ],
                (
                    [
                        name,
                        c["detectors"],
                        c["units_above"],
                        c["best_unit"],
                        round(c["best_iou"], 6),
                        _cell(c["best_unit_top_share"]),
                        round(c["median_iou"], 6),
                        _cell(c["ceiling_iou"]),
                    ]
                    for name, c in summary["concepts"].items()
                ),
            )
        )
    written.append(save_contact_sheet(folder / "contact_sheet.png", atlas, sheet_units))
    written.append(write_json(folder / UNITS_FILE, atlas_to_dict(atlas)))
    return written


def _cell(value: float | None) -> Any:
    return "" if value is None else round(value, 6)


def _units_csv(path: Path, atlas: AtlasLayer) -> Path:
    concepts = atlas.concepts or []
    header = [
        "channel",
        "best_concept",
        "iou",
        "concept_share",
        "threshold",
        "top_items",
        "top_activations",
        "top_boxes",
    ]

    rows = (
        [
            u.channel,
            u.best_concept or "",
            _cell(u.iou),
            _cell(u.concept_share),
            _cell(u.threshold),
            ";".join(t.item_id for t in u.top),
            ";".join(f"{t.activation:.6g}" for t in u.top),
            ";".join(" ".join(str(v) for v in t.box) for t in u.top),
            *(_cell(u.ious.get(c)) for c in concepts),
        ]
        for u in atlas.units
    )
    return write_csv(path, header + [f"iou_{c}" for c in concepts], rows)


def sheet_units(atlas: AtlasLayer, limit: int = SHEET_UNITS) -> tuple[list[UnitRow], str]:
    """The units a contact sheet shows, and how they were chosen, in words."""
    if atlas.concepts is not None:
        ranked = sorted(atlas.units, key=lambda u: (-(u.iou if u.iou is not None else -1.0), u.channel))
        return ranked[:limit], f"the {min(limit, len(ranked))} units of {len(ranked)} with the highest IoU"
    return list(atlas.units[:limit]), f"the first {min(limit, len(atlas.units))} units of {len(atlas.units)}"


def crop_fired(top: TopImage, context: float = 0.25) -> np.ndarray | None:
    """The image cut to where the unit fired: a square around the box, at least ``context`` of the
    image's short side, inside the image; None if the file can no longer be read."""
    try:
        picture = np.asarray(load_rgb(top.path))
    except (ImageDecodeError, OSError):
        return None
    height, width = picture.shape[:2]
    x0, y0, x1, y1 = top.box
    side = min(max(x1 - x0, y1 - y0, round(context * min(width, height)), 1), width, height)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    left = min(max(0, cx - side // 2), width - side)
    top_y = min(max(0, cy - side // 2), height - side)
    return picture[top_y : top_y + side, left : left + side]


def save_contact_sheet(path: Path, atlas: AtlasLayer, limit: int = SHEET_UNITS) -> Path:
    units, chosen = sheet_units(atlas, limit)
    rows = []
    for unit in units:
        caption = f"ch {unit.channel}"
        if unit.best_concept is not None and unit.iou is not None:
            caption += f"\n{unit.best_concept}\nIoU {unit.iou:.2f}"
        crops = [crop for crop in (crop_fired(t) for t in unit.top) if crop is not None]
        rows.append((caption, crops))
    title = f"{atlas.layer}, {atlas.split} split: {chosen}\neach unit's top {atlas.top_k} images, cut to where it fired"
    return save_figure(contact_sheet_figure(rows, title), path)

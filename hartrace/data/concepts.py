"""Concept maps: which concept (head, torso, phone, bicycle...) owns each pixel of an image.

Network dissection scores units against them. The layout works for any image dataset
with segmentation masks, the synthetic sets included: the map of ``<root>/<rel>`` is the
single-channel PNG ``<root>/parts/<rel>`` with the suffix ``.png``, of the image's size,
each pixel the id of its concept; ``<root>/parts/concepts.json`` names the ids
(``{"concepts": ["background", "head", ...]}``, id 0 first). It mirrors where the
evidence masks live (``masks/<split>/<stem>.png``), so a dataset copied with its
folders keeps them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from hartrace.base.errors import DataError
from hartrace.base.io import write_bytes, write_json

__all__ = [
    "LEGEND_FILE",
    "PARTS_DIR",
    "concept_map_path",
    "read_concept_map",
    "read_legend",
    "write_concept_map",
    "write_legend",
]

PARTS_DIR = "parts"
LEGEND_FILE = "concepts.json"
#: A PNG holds 8-bit ids, so at most this many concepts.
MAX_CONCEPTS = 256


def concept_map_path(root: str | Path, image: str | Path) -> Path:
    """Where the concept map of ``image`` (a file under ``root``) lives."""
    root, image = Path(root), Path(image)
    try:
        rel = image.relative_to(root)
    except ValueError:
        raise DataError(f"{image} is not inside the dataset folder {root}") from None
    return root / PARTS_DIR / rel.with_suffix(".png")


def read_legend(root: str | Path) -> tuple[str, ...] | None:
    """The concept names by id (id 0 first), or None when the dataset has no concept maps."""
    path = Path(root) / PARTS_DIR / LEGEND_FILE
    if not path.is_file():
        return None
    try:
        names = json.loads(path.read_text(encoding="utf-8"))["concepts"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f'{path} is not a concept legend ({{"concepts": [names...]}}): {exc}') from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise DataError(f"{path}: 'concepts' must be a list of names, id 0 first")
    if len(set(names)) != len(names) or len(names) > MAX_CONCEPTS:
        raise DataError(f"{path}: concept names must be distinct, and at most {MAX_CONCEPTS}")
    return tuple(names)


def write_legend(root: str | Path, names: Sequence[str]) -> Path:
    """Write the concept names (id 0 first) atomically; returns the legend's path."""
    if len(set(names)) != len(names) or not 0 < len(names) <= MAX_CONCEPTS:
        raise ValueError(f"concept names must be 1 to {MAX_CONCEPTS} distinct names, not {list(names)}")
    return write_json(Path(root) / PARTS_DIR / LEGEND_FILE, {"concepts": list(names)})


def read_concept_map(root: str | Path, image: str | Path, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """The concept ids of ``image``'s pixels, uint8 ``[H, W]``; None when it has no map.

    ``size`` ``(width, height)``: resized to it with nearest neighbours (ids are not blended).
    """
    path = concept_map_path(root, image)
    if not path.is_file():
        return None
    try:
        with Image.open(path) as picture:
            if picture.mode not in ("L", "P"):
                raise DataError(f"{path}: a concept map is a single-channel PNG of ids, not mode {picture.mode}")
            # A palette image's pixels are the ids themselves (Pascal VOC stores its masks so):
            # converting it to grey would turn them into the palette's brightness.
            ids = picture.copy()
            if size is not None and ids.size != tuple(size):
                ids = ids.resize(tuple(size), Image.Resampling.NEAREST)
            return np.asarray(ids, dtype=np.uint8).copy()
    except OSError as exc:
        raise DataError(f"cannot read concept map {path}: {exc}") from None


def write_concept_map(root: str | Path, image: str | Path, ids: np.ndarray) -> Path:
    """Write ``ids`` (``[H, W]``, values below 256) as ``image``'s concept map, atomically."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.size == 0 or ids.min() < 0 or ids.max() >= MAX_CONCEPTS:
        raise ValueError(f"a concept map is [H, W] of ids in 0..{MAX_CONCEPTS - 1}, got shape {ids.shape}")
    buffer = io.BytesIO()
    Image.fromarray(ids.astype(np.uint8), "L").save(buffer, format="PNG")
    return write_bytes(concept_map_path(root, image), buffer.getvalue())

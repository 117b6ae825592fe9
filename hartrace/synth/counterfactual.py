"""Counterfactual renders: an image of a synthetic set drawn again without one of its parts.

An image of ``hartrace synth`` is a pure function of its seed, so its scene can be
sampled again and drawn with one part left out and nothing else changed: the same
wall, clutter, other parts and mirroring, through the same JPEG encoder as the file.
How much a model's confidence drops between the two says how much it relies on that
part: ground truth an explanation map can be scored against, which attribution
alone cannot give.  The scene is sampled once per image; each removal only draws it
again with a shorter part list.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.synth.actions import ACTIONS
from hartrace.synth.draw import Part
from hartrace.synth.parts import CONCEPTS, concept_of
from hartrace.synth.scene import Rendered, Scene, sample_scene
from hartrace.synth.writer import FORMAT, JPEG_QUALITY, MARKER, encode, image_rng, split_labels

_VERSION = 1  # the marker's "version" this module can regenerate
_FILE_NAME = re.compile(r"Image_([1-9][0-9]*)\.jpg")
CLUTTER = "clutter"  # the removal of the wall clutter (it counts as background in the concept maps)
EVIDENCE = "evidence"  # the removal of every evidence part at once


@dataclass(frozen=True, eq=False)
class PartRemoval:
    """One image redrawn without one part (every part of one concept, the clutter, or all the evidence).

    ``mask`` (bool ``[H, W]``) is where the part shows in the original, mirrored like the image;
    ``image`` (uint8 ``[H, W, 3]``) the redrawn picture after the same JPEG round trip as the
    set's files, so its statistics match what a model was trained on; ``changed`` (bool
    ``[H, W]``) where the redrawing differs from the original before encoding: ``mask`` plus the
    part's anti-aliased edges and slivers too thin to own a pixel, never anything else;
    ``rendered`` the redrawing before encoding (its concept map and evidence mask).
    """

    name: str
    mask: np.ndarray
    image: np.ndarray
    changed: np.ndarray
    rendered: Rendered


@dataclass(frozen=True, eq=False)
class Counterfactuals:
    """An image of a synthetic set, regenerated, and one :class:`PartRemoval` per part it shows.

    ``original`` (uint8 ``[H, W, 3]``) is decoded from the same bytes as the file;
    ``removals`` come in the order of :data:`~hartrace.synth.parts.CONCEPTS`, then the clutter;
    ``evidence`` removes every evidence part at once (None when the image has no evidence).
    """

    path: Path
    split: str
    index: int
    action: str
    original: np.ndarray
    rendered: Rendered
    removals: tuple[PartRemoval, ...]
    evidence: PartRemoval | None

    @property
    def names(self) -> tuple[str, ...]:
        """The names of ``removals``: concepts of the legend and ``"clutter"``."""
        return tuple(r.name for r in self.removals)

    def __getitem__(self, name: str) -> PartRemoval:
        for removal in self.removals:
            if removal.name == name:
                return removal
        if name == EVIDENCE and self.evidence is not None:
            return self.evidence
        raise KeyError(f"{self.path.name} has no removable part {name!r}; it has: {', '.join(self.names)}")


def redraw_without(scene: Scene, drop: Callable[[Part], bool]) -> Rendered:
    """``scene`` drawn again without the parts ``drop`` selects; the scene itself is left as it is."""
    return dataclasses.replace(scene, parts=[p for p in scene.parts if not drop(p)]).render()


def _of_concept(name: str) -> Callable[[Part], bool]:
    return lambda part: concept_of(part.name, part.role) == name


def _is_clutter(part: Part) -> bool:
    return part.role == "clutter"


def _is_evidence(part: Part) -> bool:
    return part.evidence


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB")).copy()


def _count(meta: dict[str, object], key: str, low: int, folder: Path) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"the marker {MARKER} in {folder} has no valid {key!r} ({value!r}): write the set again")
    return value


@dataclass(frozen=True, eq=False)
class SyntheticSource:
    """A folder written by ``hartrace synth`` (images): what it takes to regenerate any of its images.

    ``labels`` holds each split's actions in file order (``Image_<i + 1>.jpg`` shows ``labels[split][i]``).
    """

    root: Path
    seed: int
    size: int
    jpeg_quality: int
    labels: dict[str, tuple[str, ...]]

    @classmethod
    def open(cls, root: str | Path) -> SyntheticSource | None:
        """The synthetic image set in ``root``; None when ``root`` holds no such set (a user's own
        data, a synthetic video set, a concept image set), so a caller can skip counterfactuals quietly.

        Raises :class:`UsageError` for a synthetic image set that cannot be regenerated: one whose
        writing did not finish, or one made by a version of hartrace with other actions or format.
        """
        folder = Path(root).expanduser()
        try:
            meta = json.loads((folder / MARKER).read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            return None
        if meta.get("complete") is not True:
            raise UsageError(f"the synthetic set in {folder} was not finished: write it again with hartrace synth")
        if meta.get("version") != _VERSION or meta.get("classes") != list(ACTIONS):
            raise UsageError(
                f"the synthetic set in {folder} was made by another version of hartrace and cannot be "
                "regenerated: write it again with hartrace synth"
            )
        seed = _count(meta, "seed", 0, folder)
        per_split = {"train": _count(meta, "per_class", 1, folder), "test": _count(meta, "test_per_class", 0, folder)}
        labels = {split: tuple(split_labels(seed, split, n)) for split, n in per_split.items()}
        quality = meta.get("jpeg_quality", JPEG_QUALITY)  # sets written before it was recorded used the default
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
            raise UsageError(f"the marker {MARKER} in {folder} has no valid 'jpeg_quality' ({quality!r})")
        return cls(folder.resolve(), seed, _count(meta, "size", 1, folder), quality, labels)

    def locate(self, image_path: str | Path) -> tuple[str, int]:
        """The split and index of ``image_path``, a file ``<split>/Image_<index>.jpg`` of this set."""
        path = Path(image_path).expanduser()
        try:
            rel = path.resolve().relative_to(self.root)
        except ValueError:
            raise UsageError(f"{path} is not inside the synthetic set {self.root}") from None
        match = _FILE_NAME.fullmatch(rel.name) if len(rel.parts) == 2 and rel.parts[0] in self.labels else None
        if match is None or int(match[1]) > len(self.labels[rel.parts[0]]):
            raise UsageError(
                f"{path} is not an image of the synthetic set {self.root} "
                f"(expected train/Image_<n>.jpg or test/Image_<n>.jpg of its {self._counts()})"
            )
        return rel.parts[0], int(match[1])

    def _counts(self) -> str:
        return ", ".join(f"{len(labels)} {split} images" for split, labels in self.labels.items())

    def scene(self, image_path: str | Path) -> Scene:
        """The scene ``image_path`` was drawn from, sampled again from its seed."""
        return self._scene(*self.locate(image_path))

    def _scene(self, split: str, index: int) -> Scene:
        return sample_scene(self.labels[split][index - 1], image_rng(self.seed, split, index), self.size)

    def _encoded(self, image: np.ndarray) -> tuple[bytes, np.ndarray]:
        data = encode(image, "JPEG", quality=self.jpeg_quality)
        return data, _decode(data)

    def counterfactuals(self, image_path: str | Path) -> Counterfactuals:
        """``image_path`` regenerated, checked against the file, and redrawn without each part it shows.

        Raises :class:`UsageError` when the path is not an image of this set, or when the regenerated
        image differs from the file (a set made by another version of hartrace, or an edited file).
        """
        path = Path(image_path).expanduser()
        split, index = self.locate(path)
        scene = self._scene(split, index)
        rendered = scene.render()
        data, original = self._encoded(rendered.image)
        try:
            on_disk = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        if data != on_disk and not _same_pixels(on_disk, original):
            raise UsageError(
                f"{path} differs from its regenerated scene: the set was made by another version of hartrace "
                "(or the file was changed); write it again with hartrace synth"
            )

        def remove(name: str, mask: np.ndarray, drop: Callable[[Part], bool]) -> PartRemoval:
            without = redraw_without(scene, drop)
            changed = np.any(without.image != rendered.image, axis=-1)
            return PartRemoval(name, mask, self._encoded(without.image)[1], changed, without)

        concepts = rendered.concept_map()
        present = [int(i) for i in np.unique(concepts) if i != 0]
        removals = [remove(CONCEPTS[i], concepts == i, _of_concept(CONCEPTS[i])) for i in present]
        clutter = rendered.visible("clutter")
        if clutter.any():
            removals.append(remove(CLUTTER, clutter, _is_clutter))
        evidence = remove(EVIDENCE, rendered.mask, _is_evidence) if rendered.mask.any() else None
        return Counterfactuals(path, split, index, scene.action, original, rendered, tuple(removals), evidence)


def _same_pixels(data: bytes, pixels: np.ndarray) -> bool:
    """Whether the image file ``data`` decodes to ``pixels`` (another encoder may write other bytes)."""
    try:
        decoded = _decode(data)
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    return decoded.shape == pixels.shape and bool(np.array_equal(decoded, pixels))


__all__ = ["CLUTTER", "EVIDENCE", "Counterfactuals", "PartRemoval", "SyntheticSource", "redraw_without"]

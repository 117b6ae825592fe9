"""Images as the model sees them at test time, each with its concept map cut the same way.

Network dissection compares a unit's map with the concepts under it, so both must be in
the same pixels: the map is resized and centre-cropped together with the image (nearest
neighbours, ids are never blended). :func:`crop_box_to_image` goes the other way, from
the model's crop back to the image's own pixels, so a region can be shown on the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torchvision import tv_tensors

from hartrace.base.errors import DataError
from hartrace.data.concepts import read_concept_map
from hartrace.data.decode import ImageDecodeError, load_rgb
from hartrace.data.samples import Sample
from hartrace.data.transforms import EVAL_CROP_RATIO, eval_transform

#: The id of a pixel whose image has no concept map (real ids are 0..255).
NO_CONCEPT = -1


class ConceptImageDataset(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor, int, tuple[int, int]]]):
    """Items ``(image [3, S, S], concept ids [S, S] int16 (-1 without a map), position, (width, height))``.

    ``root`` is the dataset folder whose ``parts/`` holds the maps; None reads none.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        size: int,
        mean: Sequence[float],
        std: Sequence[float],
        root: str | Path | None = None,
    ) -> None:
        self.samples = list(samples)
        self.size = size
        self.root = None if root is None else Path(root)
        self.transform = eval_transform(size, mean, std)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int, tuple[int, int]]:
        sample = self.samples[index]
        try:
            image = load_rgb(sample.path)
        except ImageDecodeError as exc:
            raise DataError(f"{sample.path}: {exc} (it changed after the dataset was checked)") from None
        ids = None if self.root is None else read_concept_map(self.root, sample.path, size=image.size)
        if ids is None:
            return (
                self.transform(image),
                torch.full((self.size, self.size), NO_CONCEPT, dtype=torch.int16),
                index,
                image.size,
            )
        picture, mask = self.transform(image, tv_tensors.Mask(torch.from_numpy(ids.astype(np.int16))[None]))
        return picture, mask.as_subclass(torch.Tensor)[0], index, image.size


def crop_box_to_image(
    box: tuple[int, int, int, int], image_size: tuple[int, int], size: int
) -> tuple[int, int, int, int]:
    """A box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) in the ``size`` px test crop, in the image's own pixels.

    Undoes the evaluation transform's geometry (short side resized to ``size / EVAL_CROP_RATIO``,
    then a centre crop), the same arithmetic torchvision uses, and rounds outwards.
    """
    width, height = image_size
    short, long = min(width, height), max(width, height)
    new_short = round(size / EVAL_CROP_RATIO)
    new_long = int(new_short * long / short)
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    left, top = int(round((new_w - size) / 2.0)), int(round((new_h - size) / 2.0))
    sx, sy = width / new_w, height / new_h
    x0, y0, x1, y1 = box
    return (
        max(0, math.floor((x0 + left) * sx)),
        max(0, math.floor((y0 + top) * sy)),
        min(width, math.ceil((x1 + left) * sx)),
        min(height, math.ceil((y1 + top) * sy)),
    )

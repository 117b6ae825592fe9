"""A torch ``Dataset`` over :class:`Sample` lists, with evidence masks on request."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torchvision import tv_tensors

from hartrace.base.errors import DataError
from hartrace.data.decode import ImageDecodeError, load_rgb
from hartrace.data.samples import Sample

#: Label given to unlabelled samples (the Kaggle test set), so batches stay tensors.
UNLABELLED = -1


def evidence_mask(sample: Sample, size: tuple[int, int]) -> np.ndarray | None:
    """The sample's evidence as a bool ``[H, W]`` mask: its mask file, or its boxes filled in.

    ``size`` is the decoded image's ``(width, height)``. None when the sample has no evidence.
    """
    if sample.mask_path is not None:
        with Image.open(sample.mask_path) as mask:
            mask = mask.convert("L")
            if mask.size != size:
                mask = mask.resize(size, Image.Resampling.NEAREST)
            return np.asarray(mask) > 127
    if sample.boxes:
        canvas = Image.new("L", size, 0)
        draw = ImageDraw.Draw(canvas)
        for x0, y0, x1, y1 in sample.boxes:
            draw.rectangle((x0, y0, x1, y1), fill=255)
        return np.asarray(canvas) > 127
    return None


class ImageDataset(torch.utils.data.Dataset):
    """Decoded, transformed images with their labels (and evidence masks with ``with_evidence``).

    Items are ``(image, label)``, or ``(image, label, mask)`` where ``mask`` is a
    ``[1, H, W]`` bool tensor transformed together with the image (all False when
    the sample has no evidence).
    """

    def __init__(self, samples: Sequence[Sample], transform: Callable, with_evidence: bool = False) -> None:
        self.samples = list(samples)
        self.transform = transform
        self.with_evidence = with_evidence

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        try:
            image = load_rgb(sample.path)
        except ImageDecodeError as exc:
            raise DataError(f"{sample.path}: {exc} (it changed after the dataset was checked)") from None
        label = UNLABELLED if sample.label is None else sample.label
        if not self.with_evidence:
            return self.transform(image), label
        mask = evidence_mask(sample, image.size)
        if mask is None:
            mask = np.zeros((image.height, image.width), dtype=bool)
        image_t, mask_t = self.transform(image, tv_tensors.Mask(torch.from_numpy(mask)[None]))
        return image_t, label, mask_t.as_subclass(torch.Tensor).bool()

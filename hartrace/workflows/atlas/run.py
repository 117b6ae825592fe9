"""``hartrace atlas``: one pass over a split gives, per unit of the chosen layers, its top images and
where it fired in them (:mod:`hartrace.probe.units`) and its network-dissection scores against
the dataset's concept maps (:mod:`hartrace.metrics.dissection`).

Everything comes from that single pass: the top-k, the threshold and the IoUs stream
together, so the cost is one forward pass plus the bookkeeping. The result is stored in
the run folder and read back by a rerun with the same settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from hartrace.base.device import autocast, autocast_dtype
from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder
from hartrace.base.progress import Progress, progress_bar
from hartrace.data.concept_dataset import ConceptImageDataset, crop_box_to_image
from hartrace.data.concepts import read_legend
from hartrace.data.pipeline import InputSpec, loader_context, release_stops
from hartrace.data.samples import DatasetIndex, Sample
from hartrace.metrics.dissection import BINS, DETECTOR_IOU, QUANTILE, DissectionTally, IoUCeiling
from hartrace.probe import HookManager
from hartrace.probe.layers import measure_output_shapes, resolve_layers
from hartrace.probe.units import REGION_SHARE, TopActivations, fired_boxes
from hartrace.runs.loading import open_dataset, open_model
from hartrace.runs.tasks import IMAGE, task_of
from hartrace.workflows.atlas.report import SHEET_UNITS, write_layer
from hartrace.workflows.atlas.store import (
    FORMAT_VERSION,
    UNITS_FILE,
    AtlasLayer,
    TopImage,
    UnitRow,
    atlas_dir,
    atlas_from_dict,
)

#: The concept id that means "no concept" (clutter, empty floor); it is never a unit's best concept.
BACKGROUND = 0
#: Settings stored with an atlas that do not decide its content (a rerun that differs only in them reuses it).
_NOT_COMPARED = ("layer_index", "seconds", "binned_share", "images_with_maps")


@dataclass
class AtlasResult:
    """The layers' atlases, where they are, which were read back instead of computed, and what to know."""

    out_dir: Path
    layers: dict[str, AtlasLayer]
    reused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the pass (0 when every layer was read back)
    images: int = 0

    def __repr__(self) -> str:
        return f"AtlasResult({str(self.out_dir)!r}: {', '.join(self.layers)} over {self.images} images)"


def atlas(
    run: str | Path | None = None,
    *,
    layers: Sequence[str],
    checkpoint: str | Path | None = None,
    runs_dir: str | Path = "checkpoints",
    data: str | Path | None = None,
    split: str = "val",
    top_k: int = 16,
    out: str | Path | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    force: bool = False,
    quantile: float = QUANTILE,
    mask_size: int | None = None,
    sheet_units: int = SHEET_UNITS,
    progress: Progress = True,
) -> AtlasResult:
    """The atlas of ``layers`` over ``split``: written to ``out`` (default ``<run>/atlas/<split>/``), one folder
    per layer, and read back instead of recomputed when a layer's folder holds one made with the same settings
    (``force`` recomputes). Without concept maps in the dataset (``parts/concepts.json``) there is no IoU.

    ``quantile``: the share of a unit's activations over the split above its threshold (the paper's 0.5 %);
    a split too small to have a few positions in that share gives every unit an empty mask.
    ``mask_size``: the side at which masks and concepts are compared (default: half the input's, as the paper's
    Broden masks are 112 px for 224 px images; concept maps are taken at it by nearest neighbours).
    """
    for label, value in (("top_k", top_k), ("batch_size", batch_size), ("sheet_units", sheet_units)):
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"{label} must be a whole number >= 1, got {value!r}")
    if not 0 < quantile < 1:
        raise UsageError(f"quantile must be between 0 and 1 (the paper's is {QUANTILE}), got {quantile!r}")
    if mask_size is not None and (not isinstance(mask_size, int) or mask_size < 1):
        raise UsageError(f"mask_size must be a whole number >= 1, got {mask_size!r}")
    if isinstance(layers, str):
        layers = [layers]
    opened = open_model(run, checkpoint, runs_dir)
    spec = opened.spec.input
    if task_of(spec) is not IMAGE:
        raise UsageError(f"atlas works on image runs; {opened.checkpoint} is a {spec.task} model")
    model = opened.model.eval()
    names = list(resolve_layers(model, layers))
    out_dir = require_writable_folder(Path(out) if out else atlas_dir(opened.checkpoint.parent, split))
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    shapes = measure_output_shapes(model, (1, 3, spec.size, spec.size))
    flat = [f"{name} {list(shapes[name])}" for name in names if len(shapes.get(name, ())) != 4]
    if flat:
        raise UsageError(
            f"layer {', '.join(flat)} has no channel maps [B, C, h, w]: "
            "pick convolutional layers (see `hartrace layers`)"
        )
    index = open_dataset(opened, data, progress=progress is True)
    if split not in index.splits:
        raise UsageError(f"{index.root} has no {split!r} split (it has: {', '.join(index.splits)})")
    samples = index.splits[split]
    if not samples:
        raise UsageError(f"the {split!r} split of {index.root} is empty")
    legend = read_legend(index.root)
    mask_size = mask_size or max(1, spec.size // 2)
    key = _settings(opened.checkpoint, index, samples, legend, spec.size, top_k, quantile)
    key["mask_size"] = mask_size

    result = AtlasResult(out_dir, {}, images=len(samples))
    todo = []
    for name in names:
        stored = None if force else _stored(out_dir / name, key)
        if stored is not None:
            result.layers[name] = stored
            result.reused.append(name)
        else:
            todo.append(name)
    if legend is None:
        result.notes.append(
            f"{index.root} has no concept maps (parts/concepts.json): the atlas has top images but no IoU"
        )
    if todo:
        started = time.perf_counter()
        streams = _stream(
            model,
            samples,
            spec,
            {n: shapes[n] for n in todo},
            index.root,
            legend,
            top_k=top_k,
            quantile=quantile,
            mask_size=mask_size,
            batch_size=batch_size,
            workers=workers,
            progress=progress,
        )
        result.seconds = time.perf_counter() - started
        if legend is not None and streams.with_maps < len(samples):
            result.notes.append(
                f"{streams.with_maps} of {len(samples)} images have a concept map: the IoUs are over those"
            )
        for name in todo:
            settings = {
                **key,
                "layer_index": order[name],
                "seconds": round(result.seconds, 3),
                "images_with_maps": streams.with_maps,
                "binned_share": round(streams.binned_share(name), 6),
            }
            layer = _layer(name, split, top_k, streams, samples, index, legend, spec.size, settings)
            write_layer(out_dir / name, layer, sheet_units)
            result.layers[name] = layer
    result.layers = {name: result.layers[name] for name in names}
    return result


def _settings(
    checkpoint: Path,
    index: DatasetIndex,
    samples: Sequence[Sample],
    legend: tuple[str, ...] | None,
    size: int,
    top_k: int,
    quantile: float,
) -> dict[str, Any]:
    """What an atlas depends on: the same model file, images, concepts and options give the same atlas."""
    stat = checkpoint.stat()
    listed = "\n".join(index.relative(s.path) for s in samples).encode()
    return {
        "format": FORMAT_VERSION,
        "checkpoint": str(checkpoint.resolve()),
        "checkpoint_bytes": stat.st_size,
        "checkpoint_mtime_ns": stat.st_mtime_ns,
        "dataset": str(index.root.resolve()),
        "images": len(samples),
        "images_sha1": hashlib.sha1(listed).hexdigest(),
        "input_size": size,
        "top_k": top_k,
        "legend": None if legend is None else list(legend),
        "quantile": quantile,
        "bins": BINS,
        "detector_iou": DETECTOR_IOU,
        "region": f"the connected region above {REGION_SHARE} of the upsampled map's maximum, holding the peak",
    }


def _stored(folder: Path, key: dict[str, Any]) -> AtlasLayer | None:
    """The layer's atlas in ``folder`` if it was made with the settings ``key``; None to recompute it."""
    path = folder / UNITS_FILE
    if not path.is_file():
        return None
    try:
        stored = atlas_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    same = {k: v for k, v in stored.settings.items() if k not in _NOT_COMPARED} == key
    return stored if same else None


@dataclass
class _Streams:
    """What the pass kept: per layer the top-k collector and the dissection tally; per image where its
    concepts are (in the model's crop) and its size; all in the pass's order (``order``)."""

    order: list[int]
    tops: dict[str, TopActivations]
    tallies: dict[str, DissectionTally]
    ceilings: dict[str, IoUCeiling]  # empty without concept maps
    present: np.ndarray  # [N, concepts] bool
    sizes: np.ndarray  # [N, 2] (width, height)
    with_maps: int

    def binned_share(self, name: str) -> float:
        """The share of upsampled values the tally binned (what its lower bound on T_u spared is the rest)."""
        tally = self.tallies[name]
        total = len(self.order) * tally.mask_size**2 * tally.units
        return tally.binned / total if tally.concepts else 0.0


def _stream(
    model: nn.Module,
    samples: Sequence[Sample],
    spec: InputSpec,
    shapes: dict[str, tuple[int, ...]],
    root: Path,
    legend: tuple[str, ...] | None,
    *,
    top_k: int,
    quantile: float,
    mask_size: int,
    batch_size: int,
    workers: int | None,
    progress: Progress,
) -> _Streams:
    """The one pass. Images go in a fixed shuffled order: the tally's lower bound on T_u rises sooner
    when a unit's favourite images are not all at the end of a class-sorted split (results do not depend on it)."""
    device = next(model.parameters()).device
    concepts = len(legend) if legend is not None else 0
    order = np.random.default_rng(0).permutation(len(samples)).tolist()
    ordered = [samples[i] for i in order]
    tops = {name: TopActivations(shape[1], top_k) for name, shape in shapes.items()}
    tallies = {
        name: DissectionTally(
            shape[1], len(samples) * shape[2] * shape[3], concepts, mask_size, quantile=quantile, device=device
        )
        for name, shape in shapes.items()
    }
    ceilings = (
        {
            name: IoUCeiling(concepts, (shape[2], shape[3]), mask_size, quantile=quantile, device=device)
            for name, shape in shapes.items()
        }
        if concepts
        else {}
    )
    present = np.zeros((len(samples), max(concepts, 1)), dtype=bool)
    sizes = np.zeros((len(samples), 2), dtype=np.int64)
    with_maps = 0
    if workers is None:  # a split of one batch is read in this thread: starting processes would cost more
        workers = 0 if len(samples) <= batch_size else min(4, os.cpu_count() or 1)
    loader = DataLoader(
        ConceptImageDataset(ordered, spec.size, spec.mean, spec.std, root if concepts else None),
        batch_size=batch_size,
        num_workers=workers,
        multiprocessing_context=loader_context(spec.task) if workers else None,
        worker_init_fn=release_stops if workers else None,
    )
    dtype = autocast_dtype(device, "auto")
    start = 0
    with (
        HookManager(model, list(shapes)) as hooks,
        progress_bar(total=len(samples), desc="atlas", enabled=progress) as bar,
    ):
        for images, ids, _positions, (widths, heights) in loader:
            with autocast(device, dtype):
                capture = hooks.forward(images.to(device))
            ids = ids.to(device)
            small = ids if mask_size == spec.size else _resize_ids(ids, mask_size)
            for name in shapes:
                activation = capture[name].activation.float()
                tops[name].add(activation, start)
                tallies[name].add(activation, small if concepts else None)
                if concepts:
                    ceilings[name].add(small)
            batch = len(images)
            sizes[start : start + batch] = torch.stack([widths, heights], 1).numpy()
            if concepts:
                mapped = (ids >= 0).flatten(1).all(1)
                with_maps += int(mapped.sum())
                for k in range(concepts):
                    present[start : start + batch, k] = (ids == k).flatten(1).any(1).cpu().numpy()
            start += batch
            bar.update(batch)
    return _Streams(order, tops, tallies, ceilings, present, sizes, with_maps)


def _resize_ids(ids: torch.Tensor, size: int) -> torch.Tensor:
    """Concept ids ``[B, S, S]`` at ``size`` x ``size``, by nearest neighbours (ids are never blended)."""
    return F.interpolate(ids[:, None].float(), size=(size, size), mode="nearest")[:, 0].to(ids.dtype)


def _layer(
    name: str,
    split: str,
    top_k: int,
    streams: _Streams,
    samples: Sequence[Sample],
    index: DatasetIndex,
    legend: tuple[str, ...] | None,
    size: int,
    settings: dict[str, Any],
) -> AtlasLayer:
    """A layer's rows from the pass: per unit its top images (file, id, activation, box in the file's
    pixels), and with concept maps its IoU per concept that appears (background excluded) and its best."""
    top, tally = streams.tops[name], streams.tallies[name]
    thresholds = tally.thresholds().cpu().tolist()
    scored: list[int] = []
    ious = np.zeros((tally.units, 0))
    ceilings: dict[str, float] = {}
    if legend is not None:
        ious = tally.ious().numpy()
        scored = [k for k in range(len(legend)) if k != BACKGROUND and not np.isnan(ious[0, k])]
        ceiling = streams.ceilings[name].ious().numpy()
        ceilings = {legend[k]: float(ceiling[k]) for k in scored}
    scores, items = top.scores.cpu(), top.items.cpu()
    maps = top.maps if top.maps is not None else torch.zeros(tally.units, top_k, 1, 1)
    boxes = fired_boxes(maps.flatten(0, 1), size)  # [units * k], in the model's crop
    units = []
    for unit in range(tally.units):
        tops_of_unit = []
        ranked = [int(i) for i in items[unit] if i >= 0]
        for rank, position in enumerate(ranked):
            sample = samples[streams.order[position]]
            width, height = (int(v) for v in streams.sizes[position])
            box = crop_box_to_image(boxes[unit * top_k + rank], (width, height), size)
            tops_of_unit.append(
                TopImage(os.path.abspath(sample.path), index.relative(sample.path), float(scores[unit, rank]), box)
            )
        best = max(scored, key=lambda k: ious[unit, k]) if scored else None
        shares = {legend[k]: float(streams.present[ranked, k].mean()) for k in scored} if legend and ranked else {}
        units.append(
            UnitRow(
                channel=unit,
                top=tops_of_unit,
                best_concept=None if best is None or legend is None else legend[best],
                iou=None if best is None else float(ious[unit, best]),
                ious={legend[k]: float(ious[unit, k]) for k in scored} if legend is not None else {},
                threshold=float(thresholds[unit]),
                shares=shares,
            )
        )
    concepts = None if legend is None else [legend[k] for k in scored]
    return AtlasLayer(name, split, top_k, units, concepts, settings, ceilings)

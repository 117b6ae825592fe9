"""Feature visualisations of a run's units, cached in the run folder beside its atlas.

``<run>/atlas/featvis/<layer>/<channel>.png`` is the picture that maximises the channel's mean
activation, and ``<channel>.json`` beside it says how it was made (the settings, the colour
statistics, the checkpoint it came from) and the objective it reached. A picture is reused while
all of that matches, so the explorer and a rerun show it at once; a class's picture (its logit
maximised) is kept the same way under ``featvis/class/<class>.png``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hartrace.attribution.featvis import (
    FeatvisSettings,
    UnitTarget,
    colour_sqrt,
    prior_colour_sqrt,
    to_uint8,
    visualise,
)
from hartrace.base.errors import UsageError
from hartrace.base.io import atomic_path, write_json
from hartrace.base.progress import Progress, progress_bar
from hartrace.runs.loading import Opened, open_dataset, open_model

__all__ = [
    "CLASS_FOLDER",
    "FEATVIS_DIR",
    "STEPS",
    "class_visualisation",
    "feature_visualisation",
    "featvis_path",
]

FEATVIS_DIR = Path("atlas") / "featvis"
#: The folder a class's picture goes to, in place of a layer name.
CLASS_FOLDER = "class"
STEPS = 256
#: Images optimised together (one per unit): bounds memory for a long channel list.
BATCH = 16
#: Training images the colour statistics are estimated from.
COLOUR_IMAGES = 32
#: Version of the JSON beside each picture: another version is recomputed, never misread.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class _Unit:
    index: int  # the channel, or the class index
    stem: str  # the file name without suffix


def featvis_path(run_dir: Path, layer: str, channel: int) -> Path:
    """Where channel ``channel`` of ``layer`` has its picture (it may not be made yet)."""
    return Path(run_dir) / FEATVIS_DIR / layer / f"{channel}.png"


def _class_stem(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name) or "_"


def feature_visualisation(
    run_dir: Path,
    layer: str,
    channels: list[int],
    *,
    steps: int = STEPS,
    size: int | None = None,
    seed: int = 0,
    force: bool = False,
    batch_size: int = BATCH,
    progress: Progress = False,
) -> list[Path]:
    """The pictures that maximise each of ``channels`` of ``layer`` (in that order), made where not cached.

    ``size`` defaults to the run's input size. The channels still to make are optimised together, up to
    ``batch_size`` at a time. ``force`` remakes cached pictures.
    """
    opened = _open(run_dir)
    from hartrace.probe.layers import measure_output_shapes, resolve_layers

    resolve_layers(opened.model, [layer])
    shape = measure_output_shapes(opened.model, opened.spec.input.input_shape())[layer]
    if len(shape) < 3:
        raise UsageError(f"{layer} has no channels (output {list(shape)}): pick a convolutional layer")
    bad = [c for c in channels if not 0 <= c < shape[1]]
    if bad:
        raise UsageError(f"{layer} has {shape[1]} channels (0 to {shape[1] - 1}); no channel {bad[0]}")
    units = [_Unit(c, str(c)) for c in dict.fromkeys(channels)]
    done = _make(opened, Path(run_dir), layer, units, steps, size, seed, force, batch_size, progress)
    return [done[c] for c in channels]


def class_visualisation(
    run_dir: Path,
    classes: list[str],
    *,
    steps: int = STEPS,
    size: int | None = None,
    seed: int = 0,
    force: bool = False,
    batch_size: int = BATCH,
    progress: Progress = False,
) -> list[Path]:
    """The pictures that maximise each class's logit, cached under ``featvis/class/<class>.png``."""
    import difflib

    opened = _open(run_dir)
    opened.require_class_scores("feature visualisation of a class")
    known = opened.classes
    for name in classes:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(f"unknown class {name!r}{hint}; the run's classes: {', '.join(known)}")
    units = [_Unit(known.index(name), _class_stem(name)) for name in dict.fromkeys(classes)]
    done = _make(opened, Path(run_dir), None, units, steps, size, seed, force, batch_size, progress)
    return [done[known.index(name)] for name in classes]


def _open(run_dir: Path) -> Opened:
    opened = open_model(Path(run_dir))
    if opened.spec.task != "image":
        raise UsageError("feature visualisation works on image models; this run is a video model")
    return opened


def _colour(opened: Opened) -> tuple[torch.Tensor, str]:
    """The colour square root from the run's training images, or the prior when its data is not at hand."""
    from hartrace.data import load_rgb
    from hartrace.data.decode import ImageDecodeError

    try:
        samples = open_dataset(opened, check_images=False).splits.get("train", [])
        chosen = [samples[i] for i in np.linspace(0, len(samples) - 1, min(COLOUR_IMAGES, len(samples)), dtype=int)]
        pictures = [np.asarray(load_rgb(s.path).resize((64, 64)), dtype=np.float32) / 255 for s in chosen]
    except (UsageError, ImageDecodeError, OSError):
        pictures = []
    if not pictures:
        return prior_colour_sqrt(opened.spec.input.std), "prior (the run's data is not at hand)"
    images = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2)
    return colour_sqrt(images), f"{len(pictures)} training images"


def _checkpoint_stamp(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"file": path.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _key(
    target: dict[str, Any], settings: FeatvisSettings, colour: torch.Tensor, source: str, checkpoint: dict[str, Any]
) -> dict[str, Any]:
    """What decides a picture: a cached one is reused only when all of it matches."""
    return {
        "version": FORMAT_VERSION,
        "target": target,
        "settings": settings.to_json(),
        "colour": {"from": source, "matrix": np.round(colour.numpy(), 4).tolist()},
        "checkpoint": checkpoint,
    }


def _cached(json_path: Path, key: dict[str, Any]) -> bool:
    if not json_path.is_file() or not json_path.with_suffix(".png").is_file():
        return False
    try:
        saved = json.loads(json_path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return isinstance(saved, dict) and saved.get("key") == json.loads(json.dumps(key))


def _make(
    opened: Opened,
    run_dir: Path,
    layer: str | None,
    units: Sequence[_Unit],
    steps: int,
    size: int | None,
    seed: int,
    force: bool,
    batch_size: int,
    progress: Progress,
) -> dict[int, Path]:
    """Each unit's picture path, optimising (in batches) those not cached with these settings."""
    settings = FeatvisSettings(size=size or opened.spec.input.size, steps=steps, seed=seed)
    folder = run_dir / FEATVIS_DIR / (layer if layer is not None else CLASS_FOLDER)
    checkpoint = _checkpoint_stamp(opened.checkpoint)
    colour, colour_source = _colour(opened)

    def target_of(unit: _Unit) -> dict[str, Any]:
        if layer is None:
            return {"class": opened.classes[unit.index], "index": unit.index}
        return {"layer": layer, "channel": unit.index}

    keys = {unit.index: _key(target_of(unit), settings, colour, colour_source, checkpoint) for unit in units}
    paths = {unit.index: folder / f"{unit.stem}.png" for unit in units}
    todo = [u for u in units if force or not _cached(paths[u.index].with_suffix(".json"), keys[u.index])]
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    what = f"{layer} channels" if layer is not None else "classes"
    with progress_bar(
        total=steps * len(batches), desc=f"feature visualisation of {what}", enabled=progress, unit="step"
    ) as bar:
        for batch in batches:
            result = visualise(
                opened.model,
                UnitTarget(layer, tuple(u.index for u in batch)),
                mean=opened.spec.input.mean,
                std=opened.spec.input.std,
                settings=settings,
                colour=colour,
                on_step=lambda: bar.update(1),
            )
            pictures = to_uint8(result.images)
            for unit, picture, objective in zip(batch, pictures, result.objective.tolist(), strict=True):
                png = paths[unit.index]
                with atomic_path(png) as tmp:
                    Image.fromarray(picture).save(tmp, format="PNG")
                write_json(
                    png.with_suffix(".json"),
                    {
                        "key": keys[unit.index],
                        "objective": objective,
                        "batch": [u.index for u in batch],
                        "batch_seconds": round(result.seconds, 3),
                        "device": str(next(opened.model.parameters()).device),
                    },
                )
    return paths

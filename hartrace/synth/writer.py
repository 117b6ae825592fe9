"""``generate()``: the synthetic set on disk in the Kaggle HAR layout, fast and reproducible.

Each image draws all its randomness from its own generator seeded with
``(seed, split, index)``, so the output is byte-identical whatever the number
of worker processes or the order they finish in.  Every file is written
atomically (temporary file in the same folder, then ``os.replace``).  Beside
each image go its evidence mask and its concept map (which concept, from the
fixed legend :data:`~hartrace.synth.parts.CONCEPTS`, each pixel shows), the
maps in the layout of :mod:`hartrace.data.concepts`.
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.base.io import write_bytes, write_csv, write_text
from hartrace.data.concepts import LEGEND_FILE, PARTS_DIR, write_concept_map, write_legend
from hartrace.synth.actions import ACTIONS
from hartrace.synth.parts import CONCEPTS
from hartrace.synth.scene import sample_scene

MARKER = ".hartrace-synth.json"  # marks a folder as ours, so regenerating may overwrite it
FORMAT = "hartrace-synth"  # the marker's format: what makes a folder a synthetic image set
_SPLIT_KEYS = {"train": 0, "test": 1}
JPEG_QUALITY = 90  # recorded in the marker, so a counterfactual is encoded as its original was
_IMAGE_DIRS = ("train", "test", "masks/train", "masks/test")
_MAP_DIRS = (f"{PARTS_DIR}/train", f"{PARTS_DIR}/test")

T = TypeVar("T")
Job = tuple[str, int, int, bool, list[tuple[str, int, str]]]  # root, size, seed, maps?, [(split, index, action)]


@dataclass(frozen=True)
class SynthReport:
    """What :func:`generate` wrote and how fast."""

    root: Path
    n_train: int
    n_test: int
    seconds: float
    images_per_second: float


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator for one image: independent of every other image and of the worker that draws it."""
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_KEYS[split], index]))


def split_labels(seed: int, split: str, per_class: int) -> list[str]:
    """``per_class`` of every action in a seeded shuffled order (image ``i + 1`` gets label ``i``)."""
    labels = [a for a in ACTIONS for _ in range(per_class)]
    order = np.random.default_rng(np.random.SeedSequence([seed, 100 + _SPLIT_KEYS[split]])).permutation(len(labels))
    return [labels[i] for i in order]


def encode(image: np.ndarray, fmt: str, **kw) -> bytes:
    """``image`` as the bytes of a ``fmt`` (PIL's name: PNG, JPEG) file."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kw)
    return buf.getvalue()


def _render_job(job: Job) -> int:
    root_s, size, seed, concept_maps, items = job
    root = Path(root_s)
    for split, index, action in items:
        out = sample_scene(action, image_rng(seed, split, index), size).render()
        name = f"Image_{index}"
        image = root / split / f"{name}.jpg"
        write_bytes(image, encode(out.image, "JPEG", quality=JPEG_QUALITY))
        write_bytes(root / "masks" / split / f"{name}.png", encode(out.mask.astype(np.uint8) * 255, "PNG"))
        if concept_maps:
            write_concept_map(root, image, out.concept_map())
    return len(items)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; OpenCV threads would only fight over them


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UsageError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise UsageError(f"{name} must be {bound}, got {value}")
    return int(value)


def claim_folder(
    root: Path, meta: dict, clear: Callable[[Path], None], what: str = "synthetic set", *, overwrite: bool = False
) -> None:
    """Refuse a foreign non-empty folder, and an earlier set of ``meta["format"]`` unless ``overwrite``
    (then ``clear`` removes it); mark the folder ours.

    A folder is ours when its marker file names the same format, so an image
    set is never overwritten by a video set or the other way round.
    """
    if root.exists() and not root.is_dir():
        raise UsageError(f"output {root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        marker = root / MARKER
        try:
            ours = json.loads(marker.read_text("utf-8")).get("format") == meta["format"]
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise UsageError(f"output folder {root} is not empty and is not a {what}; choose an empty or new folder")
        if not overwrite:
            raise UsageError(f"{root} already holds a {what}: add --overwrite to replace it, or choose another folder")
        shutil.rmtree(root / ".hartrace", ignore_errors=True)  # a saved split of the old files is stale
        clear(root)
    write_marker(root, meta, complete=False)


def write_marker(root: Path, meta: dict, *, complete: bool) -> None:
    """The marker file that makes ``root`` ours; ``complete`` once every file is written."""
    write_text(root / MARKER, json.dumps({**meta, "complete": complete}, indent=2) + "\n")


def _clear_images(root: Path) -> None:
    for sub in _IMAGE_DIRS + _MAP_DIRS:
        folder = root / sub
        if folder.is_dir():
            for f in folder.iterdir():
                if f.is_file() and f.name.startswith(("Image_", ".Image_")):
                    f.unlink()
    (root / PARTS_DIR / LEGEND_FILE).unlink(missing_ok=True)


def run_jobs(
    render: Callable[[Any], int], jobs: list[Any], n_workers: int, *, total: int, desc: str, progress: bool
) -> None:
    """``render(job)`` for every job, in worker processes when there are several, with one progress bar.

    ``render`` returns how many items the job drew. Each item seeds its own generator,
    so the output does not depend on which worker draws it or in which order.
    """
    from hartrace.base.progress import progress_bar

    with progress_bar(total=total, desc=desc, enabled=progress) as bar:
        if n_workers == 1:
            for job in jobs:
                bar.update(render(job))
        else:
            with _context().Pool(n_workers, initializer=_init_worker) as pool:
                for done in pool.imap_unordered(render, jobs):
                    bar.update(done)


def share_out(items: list[T], n_workers: int) -> tuple[int, list[list[T]]]:
    """How many workers image ``items`` are worth (a few dozen images each at least) and the chunks they take:
    several per worker, so all finish at about the same time."""
    n_workers = max(1, min(n_workers, len(items) // 8 or 1))
    size = max(4, min(48, len(items) // (n_workers * 6) or 1))
    return n_workers, [items[i : i + size] for i in range(0, len(items), size)]


def _context() -> mp.context.BaseContext:
    # fork is fastest, but forking a process that has started torch's threads can hang
    if "fork" in mp.get_all_start_methods() and "torch" not in sys.modules:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def generate(
    out_dir: Path | str,
    *,
    per_class: int = 60,
    test_per_class: int = 10,
    size: int = 128,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    concept_maps: bool = True,
) -> SynthReport:
    """Write the synthetic action dataset to ``out_dir`` in the Kaggle HAR layout, with evidence masks.

    Layout: ``Training_set.csv`` (filename,label) + ``train/``, ``Testing_set.csv``
    (filename) + ``test/``, ``Testing_set_labels.csv`` (the test answer key),
    ``masks/{train,test}/Image_N.png`` (0/255) and ``classes.txt``; with ``concept_maps``,
    ``parts/{train,test}/Image_N.png`` (concept ids) and the legend ``parts/concepts.json``.
    The same ``seed`` gives byte-identical files for any ``workers``, and the same images and
    masks with or without concept maps. An earlier set in ``out_dir`` is replaced only with ``overwrite``.
    """
    per_class = _check_int("per_class", per_class, 1)
    test_per_class = _check_int("test_per_class", test_per_class, 0)
    size = _check_int("size", size, 64, 2048)
    seed = _check_int("seed", seed, 0)
    n_workers = (os.cpu_count() or 1) if workers is None else _check_int("workers", workers, 1)
    root = Path(out_dir).expanduser()
    meta = {
        "format": FORMAT,
        "version": 1,
        "seed": seed,
        "per_class": per_class,
        "test_per_class": test_per_class,
        "size": size,
        "jpeg_quality": JPEG_QUALITY,
        "classes": list(ACTIONS),
        "concept_maps": bool(concept_maps),
    }
    claim_folder(root, meta, _clear_images, overwrite=overwrite)
    for sub in _IMAGE_DIRS + (_MAP_DIRS if concept_maps else ()):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if concept_maps:
        write_legend(root, CONCEPTS)

    start = time.perf_counter()
    labels = {"train": split_labels(seed, "train", per_class), "test": split_labels(seed, "test", test_per_class)}
    items = [(split, i + 1, a) for split in ("train", "test") for i, a in enumerate(labels[split])]
    n_workers, chunks = share_out(items, n_workers)
    jobs: list[Job] = [(str(root), size, seed, bool(concept_maps), chunk) for chunk in chunks]

    run_jobs(_render_job, jobs, n_workers, total=len(items), desc="synth", progress=progress)

    names = {split: [f"Image_{i + 1}.jpg" for i in range(len(labels[split]))] for split in labels}
    write_csv(root / "Training_set.csv", ("filename", "label"), zip(names["train"], labels["train"], strict=False))
    write_csv(root / "Testing_set.csv", ("filename",), ([n] for n in names["test"]))
    write_csv(root / "Testing_set_labels.csv", ("filename", "label"), zip(names["test"], labels["test"], strict=False))
    write_text(root / "classes.txt", "\n".join(ACTIONS) + "\n")
    write_marker(root, meta, complete=True)
    seconds = time.perf_counter() - start
    n = len(items)
    return SynthReport(root, len(labels["train"]), len(labels["test"]), seconds, n / seconds if seconds > 0 else 0.0)


__all__ = [
    "FORMAT",
    "JPEG_QUALITY",
    "MARKER",
    "SynthReport",
    "claim_folder",
    "encode",
    "generate",
    "image_rng",
    "run_jobs",
    "share_out",
    "split_labels",
    "write_marker",
]

"""``hartrace tcav``: does a run's class depend on a concept? TCAV with random runs and a significance test.

The class's images come from the run's own split; the concept's and the random sets' images from
folders (``hartrace synth --concepts DIR`` writes ``DIR/<concept>/`` and ``DIR/random_<k>/``, and
any folder of images works), each read with the run's evaluation transform. Writes ``tcav.json``
(everything), ``tcav.csv`` (a row per layer), ``runs.csv`` (a row per layer and random run) and
``tcav.png`` (the scores per layer, concept beside random, with their spread and p-values) to
``<run>/tcav/<class>/<concept>/`` or ``out``.
"""

from __future__ import annotations

import difflib
import glob
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hartrace.attribution.concepts import ConceptImages, tcav_test
from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder, save_figure, write_csv, write_json
from hartrace.base.progress import progress_bar
from hartrace.data.decode import ImageDecodeError, load_rgb
from hartrace.data.layouts import files_in
from hartrace.data.transforms import eval_transform
from hartrace.render.tcav import tcav_figure
from hartrace.runs.loading import Opened, open_dataset, open_model
from hartrace.runs.tasks import IMAGE

__all__ = ["TcavRun", "default_layers", "random_folders", "tcav"]

TCAV_DIR = "tcav"
#: What `synth --concepts` lists its folders in (format 2 of the concept folders).
LISTING = "concepts.json"
#: The random folders' names when a folder has no listing.
RANDOM_PATTERN = "random_*"
#: tcav.csv: a row per layer.
SUMMARY_COLUMNS = (
    *("layer", "concept_mean", "concept_std", "random_mean", "random_std"),
    *("concept_magnitude", "concept_magnitude_std", "random_magnitude", "random_magnitude_std", "saturated"),
    *("statistic", "t", "p", "p_corrected", "significant", "direction"),
    *("magnitude_p_corrected", "sign_count_p_corrected", "concept_cav_accuracy", "random_cav_accuracy"),
)


@dataclass
class TcavRun:
    out_dir: Path
    summary: dict[str, Any]


def default_layers(opened: Opened) -> list[str]:
    """The model's CAM layer and the trunk stage before it (for a CAM layer in the head: the trunk's last stage)."""
    from hartrace.models import model_info

    cam = opened.spec.cam_layer
    stages = model_info(opened.spec.architecture).stages
    holding = [i for i, stage in enumerate(stages) if any(cam == p or cam.startswith(p + ".") for p in stage)]
    if not holding:
        return [stages[-1][-1], cam]
    return [cam] if holding[0] == 0 else [stages[holding[0] - 1][-1], cam]


def random_folders(listing_dir: Path | None = None, given: list[str] | None = None) -> list[Path]:
    """The random folders: those ``given`` (folders or glob patterns), else those ``listing_dir`` lists in its
    ``concepts.json``, else its ``random_*`` subfolders."""
    if given:
        found: list[Path] = []
        for item in given:
            matches = sorted(glob.glob(item)) if glob.has_magic(item) else [item]
            if not matches:
                raise UsageError(f"--random {item}: no folder matches")
            found.extend(Path(m) for m in matches)
        return list(dict.fromkeys(found))
    if listing_dir is None:
        raise UsageError("give the random folders: --random DIR1,DIR2,... (or a glob) or --random-dir DIR")
    if not listing_dir.is_dir():
        raise UsageError(f"--random-dir {listing_dir} is not a folder")
    listing = listing_dir / LISTING
    if listing.is_file():
        try:
            names = json.loads(listing.read_text(encoding="utf-8"))["random"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f'{listing} does not list random folders ({{"random": [names...]}}): {exc}') from None
        return [listing_dir / str(name) for name in names]
    return sorted(p for p in listing_dir.glob(RANDOM_PATTERN) if p.is_dir())


def _class_index(opened: Opened, name: str) -> int:
    if name in opened.classes:
        return opened.classes.index(name)
    close = difflib.get_close_matches(name, opened.classes, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"unknown class {name!r}{hint}; the run's classes: {', '.join(opened.classes)}")


def _folder_images(folder: Path, what: str, opened: Opened, limit: int | None) -> ConceptImages:
    """A folder's images (any depth, sorted, at most ``limit``) as model inputs, read with the run's transform."""
    if not folder.is_dir():
        raise UsageError(f"{what} folder not found: {folder}")
    files = files_in(folder, IMAGE.is_member)[:limit]
    if len(files) < 2:
        raise UsageError(
            f"{what} folder {folder} has {len(files) or 'no'} image{'s' * (len(files) != 1)}: it needs 2 or more"
        )
    return ConceptImages(folder.name, _read(files, opened, what))


def _class_images(opened: Opened, index: int, split: str, data: str | Path | None, limit: int | None) -> torch.Tensor:
    dataset = open_dataset(opened, data, check_images=False)  # only the class's images are read, below
    if split not in dataset.splits:
        raise UsageError(f"the run's dataset has no {split!r} split (it has: {', '.join(dataset.splits)})")
    paths = [s.path for s in dataset.splits[split] if s.label == index][:limit]
    if not paths:
        raise UsageError(f"the {split} split has no images of class {opened.classes[index]!r}")
    return _read(paths, opened, "class")


def _read(paths: list[Path], opened: Opened, what: str) -> torch.Tensor:
    """Images as model inputs, read with the run's evaluation transform."""
    spec = opened.spec.input
    transform = eval_transform(spec.size, spec.mean, spec.std)
    pictures = []
    for path in paths:
        try:
            pictures.append(transform(load_rgb(path)))
        except ImageDecodeError as exc:
            raise UsageError(f"{what} image {path}: {exc}") from None
    return torch.stack(pictures)


def tcav(
    run: str | Path | None = None,
    *,
    target_class: str,
    concept: str | Path,
    randoms: list[str] | None = None,
    random_dir: str | Path | None = None,
    layers: list[str] | None = None,
    checkpoint: str | Path | None = None,
    runs_dir: str | Path = "checkpoints",
    data: str | Path | None = None,
    split: str = "val",
    limit: int | None = None,
    concept_limit: int | None = None,
    alpha: float = 0.05,
    bonferroni: bool = True,
    seed: int = 0,
    cav: str = "flat",
    statistic: str = "magnitude",
    out: str | Path | None = None,
    progress: bool = True,
) -> TcavRun:
    """Test ``concept`` (a folder of images) for ``target_class`` against the random folders, at ``layers``
    (default: :func:`default_layers`). ``limit`` caps the class's images, ``concept_limit`` each folder's.
    ``cav``: the paper's ``"flat"`` or ``"channel"`` (:func:`~hartrace.attribution.concepts.linear_concept_classifier`).
    ``statistic``: what the verdict tests, ``"magnitude"`` or ``"sign_count"`` (:mod:`hartrace.attribution.concepts`).

    ``concept`` may also be a concept's name inside ``random_dir`` (the folder ``synth --concepts`` wrote).
    A concept folder that is also among the random folders is left out of them.
    """
    started = time.perf_counter()
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1, got {alpha}")
    opened = open_model(run, checkpoint, runs_dir)
    opened.require_class_scores("hartrace tcav")
    if opened.spec.task != "image":
        raise UsageError("hartrace tcav works on image models; this run is a video model")
    index = _class_index(opened, target_class)
    concept_dir = Path(concept)
    if not concept_dir.is_dir() and random_dir is not None and (Path(random_dir) / concept_dir).is_dir():
        concept_dir = Path(random_dir) / concept_dir
    folders = [
        f
        for f in random_folders(None if random_dir is None else Path(random_dir), randoms)
        if f.resolve() != concept_dir.resolve()
    ]
    if len(folders) < 3:
        raise UsageError(
            f"a concept test needs at least 3 random folders (each poses as the concept against the next), "
            f"got {len(folders)}: "
            "make them with `hartrace synth --concepts DIR`"
        )
    layers = list(layers) if layers else default_layers(opened)
    from hartrace.probe.layers import resolve_layers

    resolve_layers(opened.model, layers)
    out_dir = Path(out) if out is not None else _default_out(opened, target_class, concept_dir)
    require_writable_folder(out_dir, "--out")

    inputs = _class_images(opened, index, split, data, limit)
    concept_images = _folder_images(concept_dir, "concept", opened, concept_limit)
    random_images = []
    for folder in progress_bar(folders, desc="reading random folders", enabled=progress, unit="folder"):
        random_images.append(_folder_images(folder, "random", opened, concept_limit))
    result = tcav_test(
        opened.model,
        inputs,
        index,
        concept_images,
        random_images,
        layers,
        alpha=alpha,
        bonferroni=bonferroni,
        seed=seed,
        cav=cav,
        statistic=statistic,
        progress=progress,
    )
    summary = {
        "run": str(opened.run_dir or opened.checkpoint),
        "class": target_class,
        "split": split,
        "class_images": int(inputs.shape[0]),
        "concept_folder": str(concept_dir),
        "concept_images": int(concept_images.images.shape[0]),
        "random_folders": [str(f) for f in folders],
        "random_images": [int(r.images.shape[0]) for r in random_images],
        "runs": len(folders),
        "seed": seed,
        "cav": cav,
        "statistic": statistic,
        "scores": {
            "sign_count": "the TCAV score: the share of the class's images whose logit rises along the concept's CAV",
            "magnitude": "the mean over the class's images of the logit's derivative along the (unit) CAV",
        },
        "test": "two-sided prediction-interval t-test of the concept's mean against the means of each random "
        "folder posing as the concept against all the others, for each statistic; the verdict reads "
        f"{statistic}",
        **result.to_json(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    _write(out_dir, summary)
    return TcavRun(out_dir, summary)


def _default_out(opened: Opened, target_class: str, concept_dir: Path) -> Path:
    base = opened.run_dir if opened.run_dir is not None else opened.checkpoint.parent
    return base / TCAV_DIR / target_class / concept_dir.name


def _write(out_dir: Path, summary: dict[str, Any]) -> None:
    write_json(out_dir / "tcav.json", summary)
    write_csv(out_dir / "tcav.csv", SUMMARY_COLUMNS, ([row[c] for c in SUMMARY_COLUMNS] for row in summary["layers"]))
    rows = []
    for row in summary["layers"]:
        for i, against in enumerate(summary["randoms"]):
            rows.append(
                (
                    row["layer"],
                    against,
                    row["concept_scores"][i],
                    row["random_scores"][i],
                    row["concept_magnitudes"][i],
                    row["random_magnitudes"][i],
                    row["concept_accuracy"][i],
                    row["random_accuracy"][i],
                )
            )
    header = ("layer", "random_set", "concept_score", "random_score", "concept_magnitude", "random_magnitude")
    write_csv(out_dir / "runs.csv", (*header, "concept_cav_accuracy", "random_cav_accuracy"), rows)
    title = f"TCAV: class {summary['class']} vs concept {summary['concept']} ({summary['runs']} random runs)"
    figure = tcav_figure(summary["layers"], title=title, alpha=summary["alpha"], statistic=summary["statistic"])
    save_figure(figure, out_dir / "tcav.png")

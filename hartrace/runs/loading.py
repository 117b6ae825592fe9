"""Open what a command works on: a run or checkpoint, its model, and the dataset it was trained on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from hartrace.base.device import default_device
from hartrace.base.errors import UsageError
from hartrace.data import DatasetIndex, load_dataset
from hartrace.runs.checkpoint import load_checkpoint
from hartrace.runs.discovery import BEST, SPLIT, find_run
from hartrace.runs.spec import DataPaths, RunSpec
from hartrace.zeroshot.objectives import UNSEEN


@dataclass
class Opened:
    """A model ready to use, what its checkpoint says about its run, and where it came from.

    ``meta`` is the checkpoint's raw metadata, kept for display; read the run through ``spec``.
    ``from_run`` says it was opened as a run (``--run``), not as a bare ``--checkpoint``: then a
    ``--data`` folder is the run's own dataset moved elsewhere, read with the run's format, fold and split.
    """

    model: nn.Module
    meta: dict[str, Any]
    checkpoint: Path
    run_dir: Path | None
    spec: RunSpec
    from_run: bool = False

    @property
    def classes(self) -> list[str]:
        return list(self.spec.classes)

    @property
    def zero_shot(self) -> bool:
        """Whether the model regresses class-name embeddings instead of scoring classes."""
        return self.spec.zero_shot is not None

    @property
    def evaluated_split(self) -> str:
        """The split `hartrace evaluate` scores by default: the validation split,
        or a zero-shot run's unseen classes."""
        return UNSEEN if self.zero_shot else "val"

    def require_class_scores(self, command: str) -> None:
        """Refuse, in one line that says what works instead, to explain a model that has no class scores."""
        if self.zero_shot:
            raise UsageError(
                f"{command} needs a model that scores classes, and {self.checkpoint} is a zero-shot model (it "
                "outputs a class-name embedding); `hartrace evaluate`, `predict` and `layers` work on it"
            )


def open_model(
    run: str | Path | None = None, checkpoint: str | Path | None = None, runs_dir: str | Path = "checkpoints"
) -> Opened:
    """The model of ``checkpoint``, or of ``run``'s best checkpoint (default: the latest run)."""
    from_run = checkpoint is None
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        run_dir = checkpoint.parent if (checkpoint.parent / SPLIT).is_file() else None
    else:
        run_dir = find_run(run, runs_dir)
        checkpoint = run_dir / BEST
    model, meta = load_checkpoint(checkpoint, default_device())
    return Opened(model, meta, checkpoint, run_dir, RunSpec.from_meta(meta, checkpoint), from_run=from_run)


def dataset_root(recorded: DataPaths, run_dir: str | Path | None, data: str | Path | None = None) -> Path:
    """Where a run's dataset is now, from any working folder.

    In order: ``data`` if given; the absolute path the run recorded; the run folder joined with the
    path it recorded relative to itself (a project folder moved whole); for a run saved before those
    two were recorded, its config's ``data`` from the current folder, then from the run folder. The
    first that is a folder wins; if none is, a one-line :class:`UsageError` names the places tried.
    """
    if data is not None:
        return Path(data).expanduser()
    candidates: list[Path] = []
    if recorded.absolute:
        candidates.append(Path(recorded.absolute))
    if recorded.from_run is not None and run_dir is not None:
        candidates.append(Path(os.path.abspath(Path(run_dir) / recorded.from_run)))
    if recorded.from_run is None and recorded.given:  # saved before both paths were recorded
        given = Path(recorded.given).expanduser()
        candidates.append(given)
        if run_dir is not None and not given.is_absolute():
            candidates.append(Path(run_dir) / given)
    if not candidates:
        raise UsageError("this checkpoint does not say which dataset it was trained on: pass --data <folder>")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(dict.fromkeys(str(c) for c in candidates))
    raise UsageError(f"the run's dataset is not where it was ({tried}): pass --data <folder> where it is now")


def open_dataset(
    opened: Opened, data: str | Path | None = None, progress: bool = False, check_images: bool = True
) -> DatasetIndex:
    """The dataset a model was trained on, wherever it is now (:func:`dataset_root`), with the run's own saved split.

    ``data`` with a run (``opened.from_run``) is that run's dataset moved elsewhere: read it as the run does (its
    format, fold and saved split). With a bare checkpoint, ``data`` is any dataset, read in its own layout and
    scored with the checkpoint's classes. ``check_images=False`` skips decoding every file, for a look-up only.
    """
    config = opened.spec.config
    root = dataset_root(opened.spec.data_paths, opened.run_dir or opened.checkpoint.parent, data)
    as_run = data is None or opened.from_run
    split_file = opened.run_dir / SPLIT if opened.run_dir is not None and as_run else None
    return load_dataset(
        root,
        format=config.get("format", "auto") if as_run else "auto",
        val_fraction=config.get("val_fraction", 0.2),
        seed=config.get("seed", 0),
        split_file=split_file,
        fold=int(config.get("fold") or 1) if as_run else 1,
        classes=opened.classes,
        check_images=check_images,
        progress=progress,
    )

"""Open what a command works on: a run or checkpoint, its model, and the dataset it was trained on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from hartrace.base.device import default_device
from hartrace.base.errors import UsageError
from hartrace.data import DatasetIndex, load_dataset
from hartrace.runs.checkpoint import load_checkpoint
from hartrace.runs.discovery import BEST, SPLIT, find_run
from hartrace.runs.spec import RunSpec
from hartrace.zeroshot.objectives import UNSEEN


@dataclass
class Opened:
    """A model ready to use, what its checkpoint says about its run, and where it came from.

    ``meta`` is the checkpoint's raw metadata, kept for display; read the run through ``spec``.
    """

    model: nn.Module
    meta: dict[str, Any]
    checkpoint: Path
    run_dir: Path | None
    spec: RunSpec

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
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        run_dir = checkpoint.parent if (checkpoint.parent / SPLIT).is_file() else None
    else:
        run_dir = find_run(run, runs_dir)
        checkpoint = run_dir / BEST
    model, meta = load_checkpoint(checkpoint, default_device())
    return Opened(model, meta, checkpoint, run_dir, RunSpec.from_meta(meta, checkpoint))


def open_dataset(opened: Opened, data: str | Path | None = None, progress: bool = False) -> DatasetIndex:
    """The dataset a model was trained on (with the run's own saved split), or ``data`` read with its classes."""
    config = opened.spec.config
    root = data or config.get("data")
    if root is None:
        raise UsageError("this checkpoint does not say which dataset it was trained on: pass --data")
    split_file = opened.run_dir / SPLIT if opened.run_dir is not None and data is None else None
    return load_dataset(
        root,
        format=config.get("format", "auto") if data is None else "auto",
        val_fraction=config.get("val_fraction", 0.2),
        seed=config.get("seed", 0),
        split_file=split_file,
        fold=int(config.get("fold") or 1) if data is None else 1,
        classes=opened.classes,
        progress=progress,
    )

"""What the explorer keeps of one loaded run, shared by its image, video and audit views."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from hartrace.data import DatasetIndex
from hartrace.explorer.rows import ItemRow, LayerRow
from hartrace.runs.loading import Opened


@dataclass
class RunState:
    """A loaded run: model, dataset, the image ids it may serve, and what was derived from them."""

    opened: Opened
    index: DatasetIndex
    files: dict[str, Path]  # image id (dataset-relative path) -> file
    lock: threading.Lock = field(default_factory=threading.Lock)  # one quick pass at a time per model
    # the first evaluation opens its own copy of the model: it never holds ``lock`` (quick passes go on meanwhile)
    evaluation_lock: threading.Lock = field(default_factory=threading.Lock)
    predictions: list[ItemRow] | None = None
    labels: dict[str, str] | None = None  # item id -> true class, from the dataset index
    tree: list[LayerRow] | None = None

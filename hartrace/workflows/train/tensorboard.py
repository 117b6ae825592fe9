"""``hartrace train --tensorboard``: each epoch's metrics, confusion matrix and Grad-CAM overlays as TensorBoard events.

The run's own per-epoch row is what is logged (nothing is recomputed), so TensorBoard and ``metrics.csv`` agree.
The overlays explain a fixed set of validation images, chosen once, so their pictures can be compared epoch by
epoch. Events go to ``<run>/tensorboard/``; a resumed run appends there, and ``purge_step`` drops whatever an
earlier process logged past the epoch it resumes from, so no epoch shows twice.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.data.pipeline import InputSpec
from hartrace.data.samples import Sample

#: The folder of the run that holds the event files.
LOGDIR = "tensorboard"
INSTALL = "pip install 'hartrace[tensorboard]'"
#: Validation images whose Grad-CAM overlays are shown every epoch.
CAM_IMAGES = 8
#: What the HPARAMS tab shows beside a run's settings: the best epoch's validation numbers, and the last epoch's.
HPARAM_METRICS = ("best/val_loss", "best/val_accuracy", "best/val_f1", "loss/val", "accuracy/val")
_OTHER_TAGS = {"lr": "lr", "seconds": "time/seconds_per_epoch", "images_per_second": "time/items_per_second"}


def require_tensorboard() -> None:
    """Refuse ``--tensorboard`` before any work where the optional package is missing."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise UsageError(f"--tensorboard needs the tensorboard package: {INSTALL}") from None


def scalar_tag(column: str) -> str:
    """A metrics column as a TensorBoard tag: ``val_loss`` -> ``loss/val``, so train and val sit side by side."""
    split, _, metric = column.partition("_")
    if split in ("train", "val") and metric:
        return f"{metric}/{split}"
    return _OTHER_TAGS.get(column, column)


def hparams_of(config: Mapping[str, Any]) -> dict[str, int | float | str]:
    """The resolved config as the HPARAMS tab takes it: numbers and text (lists joined, None as "none", booleans as
    "true"/"false": torch's writer would store them as the numbers 1 and 0)."""
    flat: dict[str, int | float | str] = {}
    for name, value in config.items():
        if isinstance(value, bool):
            flat[name] = str(value).lower()
        elif isinstance(value, (int, float, str)):
            flat[name] = value
        elif isinstance(value, (list, tuple)):
            flat[name] = ",".join(map(str, value))
        else:
            flat[name] = "none" if value is None else str(value)
    return flat


def cam_samples(samples: Sequence[Sample], limit: int = CAM_IMAGES) -> list[Sample]:
    """Up to ``limit`` samples, one per class in turn (the first of each class, then the second...): no randomness,
    so the same run always shows the same images, and training's random streams are not touched."""
    by_class: dict[int | None, list[Sample]] = {}
    for sample in samples:
        by_class.setdefault(sample.label, []).append(sample)
    chosen: list[Sample] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(group) for group in by_class.values()):
        chosen.extend(group[depth] for group in by_class.values() if depth < len(group))
        depth += 1
    return chosen[:limit]


def _figure_rgb(fig: Any) -> np.ndarray:
    """A hartrace figure as the ``[H, W, 3]`` uint8 picture its PNG shows."""
    from hartrace.render.report import figure_png_bytes

    with Image.open(io.BytesIO(figure_png_bytes(fig))) as picture:
        return np.asarray(picture.convert("RGB"))


class TrainingBoard:
    """One run's event writer: scalars, a confusion matrix and CAM overlays per epoch, hyperparameters once."""

    def __init__(
        self,
        run_dir: Path,
        *,
        config: Mapping[str, Any],
        classes: Sequence[str],
        model: nn.Module,
        spec: InputSpec,
        train_samples: Sequence[Sample],
        val_samples: Sequence[Sample],
        device: torch.device,
        first_epoch: int,
        explains: bool,
        log: Callable[[str], None] = print,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        from hartrace.runs.tasks import task_of

        self.logdir = run_dir / LOGDIR
        fresh = not any(self.logdir.glob("events.out.tfevents.*"))
        # Epochs are the steps; whatever an interrupted process logged from first_epoch on is replaced.
        self.writer = SummaryWriter(str(self.logdir), purge_step=first_epoch)
        self.classes = list(classes)
        # The classes this run learns (a zero-shot run: its seen ones), the rows and columns of the confusion matrix.
        self.labels = sorted({s.label for s in (*train_samples, *val_samples) if s.label is not None})
        self.model, self.spec, self.device = model, spec, device
        self.task = task_of(spec)
        self.layer = str(model.info.cam_layer)
        self.shown = cam_samples(val_samples) if explains else []
        # Read once, as the model is shown them at test time (a video: its centre clip).
        self.inputs = (
            torch.cat([self.task.read(sample.path, spec).batch for sample in self.shown]) if self.shown else None
        )
        if fresh:
            self._write_hparams(config)
        note = "" if explains else " (no CAM overlays: this objective has no class logits to explain)"
        log(f"tensorboard: {self.logdir} (view with: tensorboard --logdir {self.logdir}){note}")

    def _write_hparams(self, config: Mapping[str, Any]) -> None:
        """The hparams plugin's records in this run's own event file (``add_hparams`` would start a second run
        folder); its metrics are scalar tags this writer fills every epoch, so the table shows their latest values.
        TensorBoard keeps a run's first record, so they are written once, when the folder is new."""
        from torch.utils.tensorboard.summary import hparams

        experiment, session_start, _ = hparams(hparams_of(config), {tag: 0.0 for tag in HPARAM_METRICS})
        self.writer.file_writer.add_summary(experiment)
        self.writer.file_writer.add_summary(session_start)

    def log_epoch(
        self, row: Mapping[str, float], best: Mapping[str, float], y_true: Sequence[int], y_pred: Sequence[int]
    ) -> None:
        """Epoch ``row["epoch"]``: its metrics row, the best epoch's so far, the validation confusion matrix
        (from every rank's predictions) and the overlays."""
        step = int(row["epoch"])
        for column, value in row.items():
            if column != "epoch":
                self.writer.add_scalar(scalar_tag(column), value, step)
        for column in ("val_loss", "val_accuracy", "val_f1", "epoch"):
            self.writer.add_scalar(f"best/{column}", best[column], step)
        self.writer.add_image("confusion_matrix/val", self._confusion(y_true, y_pred, row), step, dataformats="HWC")
        if self.inputs is not None:
            self.writer.add_image("cam/val", self._overlays(step), step, dataformats="HWC")
        self.writer.flush()

    def _confusion(self, y_true: Sequence[int], y_pred: Sequence[int], row: Mapping[str, float]) -> np.ndarray:
        from sklearn.metrics import confusion_matrix

        from hartrace.render import confusion_matrix_figure

        matrix = np.nan_to_num(confusion_matrix(y_true, y_pred, labels=self.labels, normalize="true"))
        title = f"validation, epoch {int(row['epoch'])}: accuracy {row['val_accuracy']:.1%} (row-normalised)"
        return _figure_rgb(confusion_matrix_figure(matrix, [self.classes[i] for i in self.labels], title))

    def _overlays(self, step: int) -> np.ndarray:
        """Grad-CAM of the predicted class over each fixed image (a clip: its middle frame), captioned with the true
        and predicted class. The model runs in eval mode (restored after) and the random streams are restored, so
        training goes on exactly as without TensorBoard."""
        from hartrace.attribution.explanation import explain
        from hartrace.render import image_gallery_figure
        from hartrace.render.charts import verdict

        assert self.inputs is not None
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            explained = explain(self.model, self.inputs.to(self.device), self.layer, "gradcam")
        probabilities = explained.probabilities.float().cpu()
        pictures, captions = [], []
        for i, sample in enumerate(self.shown):
            frames = self.task.frames(self.inputs[i], self.spec)
            overlay = self.task.overlay(frames, explained.maps[i, 0].float().cpu().numpy())
            pictures.append(overlay[len(overlay) // 2])
            predicted = int(probabilities[i].argmax())
            true = self.classes[sample.label] if sample.label is not None else None
            caption = verdict(true, self.classes[predicted], float(probabilities[i, predicted]))
            captions.append(caption.replace(" · ", "\n"))  # two short lines fit a tile where one long one overlaps
        title = f"Grad-CAM at {self.layer}, epoch {step}" + (" (middle frame)" if self.task.is_video else "")
        return _figure_rgb(image_gallery_figure(pictures, captions, columns=4, title=title))

    def close(self) -> None:
        self.writer.close()


@contextmanager
def training_board(enabled: bool, run_dir: Path, **options: Any) -> Iterator[TrainingBoard | None]:
    """A :class:`TrainingBoard` while the epochs run (None when ``enabled`` is False), closed however they end."""
    if not enabled:
        yield None
        return
    board = TrainingBoard(run_dir, **options)
    try:
        yield board
    finally:
        board.close()

"""The training configuration: defaults < config file (YAML/JSON) < command line, saved with the run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder

if TYPE_CHECKING:
    from hartrace.data import DatasetIndex
from hartrace.data.augment import AugmentConfig

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "step", "none")
AMP_MODES = ("auto", "off", "bf16", "fp16")
TASK_CHOICES = ("auto", "image", "video")


@dataclass
class TrainConfig:
    """Every knob of a training run. Field names are the command-line options with ``_`` for ``-``."""

    data: str = "data/synthetic"
    format: str = "auto"
    task: str = "auto"  # "image" or "video"; auto: judged from the dataset's layout
    fold: int = 1  # UCF101 / HMDB51 official split 1..3
    val_fraction: float = 0.2
    test_fraction: float = 0.0  # layouts without a labelled test split: hold this share out as one, before val
    split_file: str | None = None
    classes: str | None = None  # a file of class names, one a line: the class list and order (else classes.txt)
    backbone: str | None = None  # None: harnet for images, r2plus1d_18 for video
    weights: str | None = None  # None: "imagenet" where the model has ImageNet weights, else "none"
    freeze: str | None = None  # "trunk", "none", or a number of last stages to train; None: the model's default
    dropout: float | None = None  # drop probability of the model's dropout layers; None: the model's own
    init: str = "default"  # layers that start from random weights: default (the model's own), xavier or kaiming
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD's momentum; adam/adamw: beta1, the same running average of the gradient
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    step_size: int = 10
    step_gamma: float = 0.1  # --gamma
    milestones: list[int] | None = None  # step schedule: multiply by step_gamma from each of these epochs on
    label_smoothing: float = 0.0
    image_size: int | None = None  # None: the model's default input size
    clip_length: int | None = None  # video: frames per clip; None: the model's default
    clip_stride: int = 1  # video: take every N-th frame
    test_clips: int = 5  # video: clips averaged per video at evaluation
    augment: str | bool = "on"  # on, off, or parts: crop[=MIN_SCALE],flip,rotate[=DEGREES],jitter[=AMOUNT]
    augment_strength: float = 1.0
    amp: str = "auto"
    channels_last: bool = True
    early_stop: int = 0  # stop after this many epochs without a better val loss; 0 = never
    seed: int = 0
    workers: int | None = None
    cache_features: bool = True  # frozen trunk + no augmentation: compute trunk features once
    out: str | None = None
    runs_dir: str = "checkpoints"
    tensorboard: bool = False  # also log each epoch to <run>/tensorboard/ (the optional tensorboard package)
    max_batches: int | None = None  # cap batches per epoch (smoke tests, quick looks)
    zero_shot: bool = False  # regress class-name embeddings (MSE); name unseen classes by the nearest one
    embeddings: str = "minilm"  # zero-shot class-name embeddings: minilm, or a word2vec .txt / .npy file
    unseen_fraction: float = 0.5  # zero-shot: share of the classes held out as unseen
    zs_splits: int = 1  # zero-shot: random seen/unseen class splits, one run each (mean +- std reported)
    zs_split: int = 0  # zero-shot: which of those splits this run trains (set by the protocol)
    zs_test_data: str | None = None  # cross-dataset zero-shot: train on --data, test on every class of this folder
    zs_test_format: str = "auto"  # the layout of zs_test_data
    zs_overlap_threshold: float = 0.9  # cross-dataset: drop training classes whose name has this cosine to a test class

    def validate(self) -> TrainConfig:
        """Check values a user can get wrong, with one-line messages."""
        checks = [
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (
                self.optimizer in OPTIMIZERS,
                f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}",
            ),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}"),
            (self.amp in AMP_MODES, f"--amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}"),
            (0.0 <= self.label_smoothing < 1.0, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}"),
            (self.image_size is None or self.image_size >= 32, f"--image-size must be >= 32, got {self.image_size}"),
            (self.warmup_epochs >= 0, f"--warmup-epochs must be >= 0, got {self.warmup_epochs}"),
            (self.early_stop >= 0, f"--early-stop must be >= 0, got {self.early_stop}"),
            (self.task in TASK_CHOICES, f"--task must be one of {', '.join(TASK_CHOICES)}, got {self.task!r}"),
            (self.fold in (1, 2, 3), f"--fold must be 1, 2 or 3 (the official splits), got {self.fold}"),
            (self.classes is None or isinstance(self.classes, str), f"--classes must be a file, got {self.classes!r}"),
            (self.clip_length is None or self.clip_length >= 1, f"--clip-length must be >= 1, got {self.clip_length}"),
            (self.clip_stride >= 1, f"--clip-stride must be >= 1, got {self.clip_stride}"),
            (self.test_clips >= 1, f"--test-clips must be >= 1, got {self.test_clips}"),
            (
                0.0 < self.unseen_fraction < 1.0,
                f"--unseen-fraction must be between 0 and 1, got {self.unseen_fraction}",
            ),
            (self.zs_splits >= 1, f"--zs-splits must be >= 1, got {self.zs_splits}"),
            (self.zs_test_data is None or self.zero_shot, "--zs-test-data is a zero-shot test set: add --zero-shot"),
            (
                self.zs_test_data is None or self.unseen_fraction == 0.5,
                "--unseen-fraction splits one dataset's classes; with --zs-test-data every test class is unseen",
            ),
            (
                0.0 < self.zs_overlap_threshold <= 1.0,
                f"--zs-overlap-threshold is a cosine similarity in (0, 1], got {self.zs_overlap_threshold}",
            ),
            (self.workers is None or self.workers >= 0, f"--workers must be 0 or more, got {self.workers}"),
            (0.0 < self.val_fraction < 1.0, f"--val-fraction must be between 0 and 1, got {self.val_fraction}"),
            (
                0.0 <= self.test_fraction < 1.0,
                f"--test-fraction must be at least 0 and below 1, got {self.test_fraction}",
            ),
            (self.augment_strength >= 0, f"--augment-strength must be >= 0, got {self.augment_strength}"),
            (self.max_batches is None or self.max_batches >= 1, f"--max-batches must be >= 1, got {self.max_batches}"),
            (0 <= self.zs_split < self.zs_splits, f"zs_split must be in [0, {self.zs_splits}), got {self.zs_split}"),
            (0.0 <= self.momentum < 1.0, f"--momentum must be in [0, 1), got {self.momentum}"),
            (self.step_size >= 1, f"--step-size must be >= 1, got {self.step_size}"),
            (self.step_gamma > 0, f"--gamma must be > 0, got {self.step_gamma}"),
            *_milestone_checks(self.milestones, self.schedule),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        AugmentConfig.parse(self.augment, self.augment_strength)  # its own one-line message
        return self

    def check_paths(self) -> TrainConfig:
        """Before a new run does any work: its inputs exist, its output folder can be written, and the optional
        package it asks for (``--tensorboard``) is installed.

        Kept apart from :meth:`validate` because a resumed run re-reads its config
        wherever it now is, and finds its data through the run folder instead.
        """
        if not Path(self.data).expanduser().is_dir():
            raise UsageError(f"dataset folder not found: {self.data} (give --data, or make one with `hartrace synth`)")
        for option, file in (("--split-file", self.split_file), ("--classes", self.classes)):
            if file is not None and not Path(file).is_file():
                raise UsageError(f"{option} {file}: no such file")
        if self.zs_test_data is not None and not Path(self.zs_test_data).expanduser().is_dir():
            raise UsageError(f"--zs-test-data {self.zs_test_data}: no such dataset folder")
        if self.out:
            require_writable_folder(self.out, "--out")
        else:
            require_writable_folder(self.runs_dir, "--runs-dir")
        if self.tensorboard:
            from hartrace.workflows.train.tensorboard import require_tensorboard

            require_tensorboard()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
# Config-file keys that name a field by its command-line option (--gamma sets step_gamma).
ALIASES = {"gamma": "step_gamma"}


def parse_milestones(value: Any) -> list[int]:
    """Epochs from ``"41,62"`` (the command line), ``[41, 62]`` or ``41`` (a config file)."""
    parts = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    try:
        return [_whole(part) for part in parts]
    except (TypeError, ValueError):
        raise UsageError(f"--milestones must be epochs separated by commas, e.g. 41,62; got {value!r}") from None


def _whole(part: Any) -> int:
    if isinstance(part, bool) or isinstance(part, float) and not part.is_integer():
        raise ValueError(part)
    return int(part.strip()) if isinstance(part, str) else int(part)


def _milestone_checks(milestones: list[int] | None, schedule: str) -> list[tuple[bool, str]]:
    """Milestones are epochs counted from 1, strictly increasing, for the step schedule."""
    if milestones is None:
        return []
    given = ",".join(map(str, milestones))
    return [
        (bool(milestones), "--milestones needs at least one epoch, e.g. 41,62"),
        (all(m >= 1 for m in milestones), f"--milestones are epochs counted from 1, got {given}"),
        (
            all(a < b for a, b in zip(milestones, milestones[1:], strict=False)),
            f"--milestones must be strictly increasing, got {given}",
        ),
        (schedule == "step", f"--milestones apply to --schedule step, not {schedule}"),
    ]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Options from a YAML or JSON file; keys may use ``-`` or ``_``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"config file {path} does not parse: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _field_kind(name: str) -> type | None:
    """The scalar type of a field, from its default or, for ``X | None`` fields, its annotation."""
    default = FIELDS[name].default
    if default is not None:
        return type(default)
    annotation = str(FIELDS[name].type)
    return next((kind for kind in (int, float) if annotation.startswith(kind.__name__)), None)


def _coerce(name: str, value: Any) -> Any:
    """Config files are typed loosely (YAML "1e-3" is a string); convert to the field's type."""
    default = FIELDS[name].default
    if name == "milestones" and value is not None:
        return parse_milestones(value)
    if name == "augment" and value is not None:
        return AugmentConfig.parse(value).text  # true/false of older configs too
    if value is None or isinstance(default, str) and name != "freeze":
        return value
    kind = _field_kind(name)
    try:
        if kind is bool and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if kind in (int, float):
            return kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"option {name} must be a {kind.__name__}, got {value!r}") from None
    return value


def resolve_config(file_options: dict[str, Any] | None = None, **overrides: Any) -> TrainConfig:
    """Merge defaults, then ``file_options``, then explicit ``overrides`` (None means "not given")."""
    merged: dict[str, Any] = {}
    for source in (file_options or {}, {k: v for k, v in overrides.items() if v is not None}):
        for key, value in source.items():
            key = ALIASES.get(key, key)
            if key not in FIELDS:
                raise UsageError(f"unknown training option {key!r}")
            merged[key] = _coerce(key, value)
    if merged.get("freeze") is not None:
        merged["freeze"] = str(merged["freeze"])
    return TrainConfig(**merged).validate()


def configured_dataset(
    config: TrainConfig,
    *,
    split_file: str | Path | None = None,
    check_images: bool = True,
    progress: bool = True,
    min_classes: int = 2,
) -> DatasetIndex:
    """The dataset ``config`` names, read as training reads it (layout, fold, classes, test and validation split).

    Checks made before training (compare's test split, a cross-dataset plan) read it here too, so they see
    what training will. ``split_file``: a saved split to use instead of ``config.split_file`` (a resumed run's).
    """
    from hartrace.data import load_dataset

    return load_dataset(
        config.data,
        format=config.format,
        val_fraction=config.val_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
        split_file=split_file if split_file is not None else config.split_file,
        fold=config.fold,
        classes=config.classes,
        check_images=check_images,
        progress=progress,
        min_classes=min_classes,
    )

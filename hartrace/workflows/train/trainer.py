"""``hartrace train``: a run folder from a config, and ``--resume`` that continues it exactly."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from hartrace.base.device import autocast_dtype, model_memory_format
from hartrace.base.errors import UsageError
from hartrace.base.io import save_figure, write_csv, write_json, write_text
from hartrace.base.progress import progress_bar
from hartrace.data import DatasetIndex
from hartrace.data.augment import AugmentConfig
from hartrace.data.index import save_index_split
from hartrace.data.pipeline import InputSpec, dataset_task, evaluation_dataset, training_dataset
from hartrace.data.samples import Sample
from hartrace.data.summary import write_skipped_report
from hartrace.metrics.classification import epoch_metrics
from hartrace.models import ModelInfo, get_model, list_models, model_info, parse_dropout, parse_init
from hartrace.render import training_curves_figure
from hartrace.runs.checkpoint import model_arguments, read_checkpoint, save_checkpoint
from hartrace.runs.discovery import (
    BEST,
    CONFIG,
    CURVES,
    LAST,
    METRICS_CSV,
    METRICS_JSONL,
    SKIPPED,
    SPLIT,
    find_run,
    new_run_dir,
)
from hartrace.runs.distributed import Distributed, setup_distributed, teardown_distributed
from hartrace.runs.tasks import task_of
from hartrace.workflows.train.config import TrainConfig, configured_dataset, resolve_config
from hartrace.workflows.train.features import cache_bytes, extract_features
from hartrace.workflows.train.loop import (
    EpochOutcome,
    StepTarget,
    TrainingInterrupted,
    make_loader,
    seed_epoch,
    stop_requests,
    train_one_epoch,
    validate,
    wrap_for_training,
)
from hartrace.workflows.train.sampler import EpochSampler, SeededItems
from hartrace.workflows.train.schedule import build_optimizer, build_scheduler, lr_at_epoch_start
from hartrace.workflows.train.tensorboard import require_tensorboard, training_board
from hartrace.zeroshot.objectives import Criteria, Objective, training_objective

METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "train_precision",
    "train_recall",
    "train_f1",
    "val_loss",
    "val_accuracy",
    "val_precision",
    "val_recall",
    "val_f1",
    "lr",
    "seconds",
    "images_per_second",
)

EpochCallback = Callable[[dict[str, float]], bool]


@dataclass
class TrainResult:
    """Where the run is and how it went."""

    run_dir: Path
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    seconds: float

    @property
    def best(self) -> dict[str, float]:
        return self.history[self.best_epoch - 1] if self.history else {}

    def __repr__(self) -> str:
        scores = ", ".join(f"{k} {self.best[k]:.4g}" for k in ("val_loss", "val_accuracy") if k in self.best)
        return f"TrainResult({str(self.run_dir)!r}: best epoch {self.best_epoch} of {len(self.history)}, {scores})"

    def _repr_html_(self) -> str:
        """In a notebook: the epochs' numbers and the training curves."""
        from hartrace.render.notebook import training_html

        return training_html(self.history, self.best_epoch, f"Training run {self.run_dir}, {self.seconds:.0f} s")


DEFAULT_BACKBONES = {"image": "harnet", "video": "r2plus1d_18"}


def resolved(config: TrainConfig) -> TrainConfig:
    """Fill in the task- and model-dependent defaults so the saved config says what ran.

    The task comes from the dataset's layout (images or videos), the backbone from the
    task, and weights, freezing, dropout, input size and clip length from the model.
    A dropout or init the model cannot take is refused here, before any work.
    """
    task = config.task if config.task != "auto" else dataset_task(config.data, config.format)
    backbone = config.backbone or DEFAULT_BACKBONES[task]
    info = model_info(backbone)
    if info.task != task:
        others = ", ".join(list_models(task=task))
        raise UsageError(f"{backbone} is an {info.task} model but {config.data} holds {task}s; choose one of: {others}")
    weights = config.weights or (
        ("imagenet" if task == "image" else "pretrained") if info.pretrained_weights else "none"
    )
    freeze = config.freeze if config.freeze is not None else info.default_freeze
    return dataclasses.replace(
        config,
        task=task,
        backbone=backbone,
        weights=weights,
        freeze=str(freeze),
        dropout=parse_dropout(config.dropout, info),
        init=parse_init(config.init),
        image_size=config.image_size or info.input_size,
        clip_length=(config.clip_length or info.clip_length) if task_of(task).is_video else None,
    )


def input_spec(config: TrainConfig, info: ModelInfo) -> InputSpec:
    """How this run's model inputs are made (saved in every checkpoint, so evaluation makes them alike)."""
    return InputSpec(
        config.task,
        int(config.image_size),
        info.mean,
        info.std,
        config.clip_length,
        config.clip_stride,
        config.test_clips,
    )


def train(
    config: TrainConfig,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    on_epoch_end: EpochCallback | None = None,
) -> TrainResult:
    """Train a new run. ``on_epoch_end(row)`` may return False to stop after that epoch (resumable).

    ``--classes`` and ``--split-file`` are saved as absolute paths, so a resumed run finds them from any folder.
    """
    config = config.validate().check_paths()
    given_files = {name: getattr(config, name) for name in ("classes", "split_file") if getattr(config, name)}
    config = dataclasses.replace(config, **{name: os.path.abspath(path) for name, path in given_files.items()})
    return _with_distributed(lambda ctx: _fit(resolved(config), None, ctx, progress, log, on_epoch_end))


def resume(
    run: str | Path,
    *,
    epochs: int | None = None,
    runs_dir: str | Path = "checkpoints",
    data: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    on_epoch_end: EpochCallback | None = None,
    tensorboard: bool | None = None,
) -> TrainResult:
    """Continue a run from its ``last.pt``: model, optimizer, scheduler, RNG and position; ``epochs`` extends it.

    The dataset is found from any working folder as :func:`hartrace.runs.loading.dataset_root` finds it, or is
    ``data`` (the run's dataset, moved there); the resumed config names it by its absolute path.
    ``tensorboard=True`` logs to TensorBoard from the resumed epoch on (a run that did keeps doing so).
    """
    from hartrace.runs.loading import dataset_root
    from hartrace.runs.spec import DataPaths

    run_dir = find_run(run, runs_dir)
    if not (run_dir / LAST).is_file():
        raise UsageError(f"{run_dir} has no {LAST} to resume from")
    state = read_checkpoint(run_dir / LAST)
    model_arguments(run_dir / LAST, state)  # a model this hartrace cannot build is refused before any work
    root = os.path.abspath(dataset_root(DataPaths.from_meta(state["meta"]), run_dir, data))
    config = dataclasses.replace(
        resolve_config(state["meta"]["config"], epochs=epochs, tensorboard=tensorboard or None), data=root
    )
    if config.tensorboard:
        require_tensorboard()
    return _with_distributed(lambda ctx: _fit(config, (run_dir, state), ctx, progress, log, on_epoch_end))


def _with_distributed(body: Callable[[Distributed], TrainResult]) -> TrainResult:
    ctx = setup_distributed()
    try:
        return body(ctx)
    finally:
        teardown_distributed(ctx)


def _checkpoint_meta(
    config: TrainConfig,
    index: DatasetIndex,
    model: nn.Module,
    row: dict[str, float] | None,
    objective: Objective,
    run_dir: Path | None = None,
) -> dict[str, Any]:
    """What a checkpoint says about its run. The dataset is recorded both absolute and relative to ``run_dir``
    (the run folder), so the run finds its data from any working folder, and after a project folder moves whole
    (:func:`hartrace.runs.loading.dataset_root`)."""
    info = model.info
    outputs = objective.head_width(len(index.classes))
    root = os.path.abspath(index.root)
    dataset: dict[str, Any] = {"root": root, "layout": index.layout}
    if run_dir is not None:
        try:
            dataset["root_from_run"] = Path(os.path.relpath(root, os.path.abspath(run_dir))).as_posix()
        except ValueError:  # another drive (Windows): there is no relative path
            pass
    return {
        **input_spec(config, info).to_meta(),
        "model": {
            "name": config.backbone,
            "num_classes": outputs,
            "freeze": str(model.freeze),
            "dropout": config.dropout,
            "init": config.init,
        },
        "classes": list(index.classes),
        "cam_layer": info.cam_layer,
        "config": config.to_dict(),
        "dataset": dataset,
        "metrics": row or {},
        "epoch": int(row["epoch"]) if row else 0,
        **objective.meta(),
    }


def _write_history(run_dir: Path, history: list[dict[str, float]], title: str) -> None:
    write_text(run_dir / METRICS_JSONL, "".join(json.dumps(row) + "\n" for row in history))
    write_csv(run_dir / METRICS_CSV, METRIC_COLUMNS, ([r[c] for c in METRIC_COLUMNS] for r in history))
    save_figure(training_curves_figure(history, title), run_dir / CURVES)


def _epoch_row(
    epoch: int, ctx: Distributed, fitted: EpochOutcome, validated: EpochOutcome, lr: float
) -> dict[str, float]:
    """One line of metrics.jsonl, over every rank's predictions (scikit-learn's weighted P/R/F1).

    ``lr`` is the rate of the epoch's first step (cosine and warm-up move it every step).
    """
    row: dict[str, float] = {"epoch": epoch + 1}
    seen = {}
    for split, outcome in (("train", fitted), ("val", validated)):
        shares = ctx.gather((outcome.loss_sum, outcome.y_true, outcome.y_pred))
        y_true = [y for _, labels, _ in shares for y in labels]
        y_pred = [y for _, _, predicted in shares for y in predicted]
        seen[split] = len(y_true)
        row[f"{split}_loss"] = sum(loss for loss, _, _ in shares) / max(1, len(y_true))
        row.update({f"{split}_{k}": v for k, v in epoch_metrics(y_true, y_pred).items()})
    row["lr"] = lr
    row["seconds"] = round(fitted.seconds + validated.seconds, 3)
    row["images_per_second"] = round(seen["train"] / max(fitted.seconds, 1e-9), 1)
    return row


@dataclass
class RunSetup:
    """What :func:`_set_up` settles before a model exists: the run folder, the dataset and its split, the objective."""

    run_dir: Path
    index: DatasetIndex
    objective: Objective
    train_samples: list[Sample]  # what the objective trains on (a zero-shot run: the seen classes only)
    val_samples: list[Sample]
    found_in_folder: frozenset[str] | None = None  # what --out held before this run; None: the run made the folder


@dataclass
class Built:
    """What :func:`_build` makes: the model and what trains it, the data it reads, and where training starts."""

    model: nn.Module
    target: StepTarget  # what a training batch runs through (the head alone, DDP-wrapped, ...)
    spec: InputSpec
    train_data: Any
    val_data: Any
    workers: int
    cached: bool  # the frozen trunk's features were computed once: the data are features, not images
    channels_last: bool
    amp_dtype: torch.dtype | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    criteria: Criteria
    steps_per_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    start_epoch: int = 0
    start_step: int = 0
    resume_rng: dict[str, Any] | None = None  # resuming mid-epoch: the interrupted random streams, to continue them
    resume_partial: EpochOutcome | None = None  # resuming mid-epoch: what the interrupted epoch had already seen


def _fit(
    config: TrainConfig,
    resuming: tuple[Path, dict[str, Any]] | None,
    ctx: Distributed,
    progress: bool,
    log: Callable[[str], None],
    on_epoch_end: EpochCallback | None,
) -> TrainResult:
    """Set up the run, build what trains it, run its epochs. Only rank 0 writes files and logs."""
    started = time.perf_counter()
    progress = progress and ctx.is_main
    if not ctx.is_main:
        log = lambda message: None  # noqa: E731
    run_dir, state = resuming if resuming is not None else (None, None)
    run = _set_up(config, run_dir, ctx, progress, log)
    try:
        if ctx.is_main:
            _write_run_files(config, run, log)
        built = _build(config, run, state, ctx, progress, log)
        history, best_epoch, stopped_early = _run_epochs(config, run, built, ctx, progress, log, on_epoch_end)
    except BaseException as exc:
        if ctx.is_main and resuming is None and not isinstance(exc, TrainingInterrupted):
            _discard_unfinished(run)
        raise
    ctx.barrier()
    return TrainResult(run.run_dir, history, best_epoch, stopped_early, time.perf_counter() - started)


def _set_up(
    config: TrainConfig, resumed: Path | None, ctx: Distributed, progress: bool, log: Callable[[str], None]
) -> RunSetup:
    """The dataset with its saved or new split and the objective, checked; then the run folder (new, or
    ``resumed``'s), claimed only once nothing is left to refuse. :func:`_write_run_files` fills it."""
    if resumed is None:
        split_file = Path(config.split_file) if config.split_file else None
        if config.out and ((Path(config.out) / BEST).exists() or (Path(config.out) / LAST).exists()):
            raise UsageError(f"{config.out} already holds a run: resume it with --resume, or choose another --out")
    else:
        split_file = resumed / SPLIT
    index = configured_dataset(config, split_file=split_file, progress=progress)
    if index.task != config.task:
        raise UsageError(f"{config.data} holds {index.task}s but this run was set up for {config.task}s")
    objective = training_objective(config, index)
    train_samples = objective.trains_on(index.splits["train"])
    val_samples = objective.trains_on(index.splits.get("val", []))
    if not val_samples:
        raise UsageError(f"no validation {index.task}s in {config.data}: add some or lower --val-fraction")
    if resumed is not None:
        run = RunSetup(resumed, index, objective, train_samples, val_samples, frozenset())
    else:
        run_dir, found = ctx.broadcast(_claim_run_folder(config) if ctx.is_main else None)
        run = RunSetup(run_dir, index, objective, train_samples, val_samples, found)
    return run


def _claim_run_folder(config: TrainConfig) -> tuple[Path, frozenset[str] | None]:
    """The run folder and what it already held: ``--out`` (made if missing), else a new one claimed atomically."""
    if not config.out:
        return new_run_dir(config.runs_dir, config.backbone), None
    run_dir = Path(config.out)
    try:
        run_dir.mkdir(parents=True)
        return run_dir, None
    except FileExistsError:
        return run_dir, frozenset(p.name for p in run_dir.iterdir())


def _write_run_files(config: TrainConfig, run: RunSetup, log: Callable[[str], None]) -> None:
    """Rank 0's files: the split, the objective's files, the skipped-files report and the config."""
    index, run_dir = run.index, run.run_dir
    save_index_split(run_dir / SPLIT, index, config.val_fraction, config.seed)
    for name, content in run.objective.run_files(index, run.train_samples, run.val_samples).items():
        write_json(run_dir / name, content)
    write_skipped_report(index, run_dir / SKIPPED)
    write_text(run_dir / CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False))
    for skipped in index.skipped:
        log(f"skipped {index.relative(skipped.path)} ({skipped.reason})")


def _discard_unfinished(run: RunSetup) -> None:
    """A new run that failed before its first checkpoint leaves nothing behind: the folder it made goes,
    or, for an ``--out`` that existed, what it wrote there. A run with ``last.pt`` stays, to be resumed."""
    if (run.run_dir / LAST).exists():
        return
    if run.found_in_folder is None:
        shutil.rmtree(run.run_dir, ignore_errors=True)
        return
    for entry in run.run_dir.iterdir():
        if entry.name in run.found_in_folder:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _build(
    config: TrainConfig,
    run: RunSetup,
    state: dict[str, Any] | None,
    ctx: Distributed,
    progress: bool,
    log: Callable[[str], None],
) -> Built:
    """The model (seeded, or ``state``'s weights), its data (trunk features cached where they can be), optimizer,
    scheduler, scaler and losses, and where training starts: from ``state`` when resuming, else epoch 1."""
    index, objective, device = run.index, run.objective, ctx.device
    torch.manual_seed(config.seed)  # the same seed builds the same initial weights (on every DDP rank too)
    outputs = objective.head_width(len(index.classes))
    # Resuming: the saved weights replace any initialisation, so none is drawn.
    weights, init = ("none", "default") if state is not None else (config.weights, config.init)
    if not ctx.is_main:
        ctx.barrier()  # rank 0 downloads any published weights first; the others then read its copy
    model = get_model(
        config.backbone,
        outputs,
        weights=weights,
        freeze=config.freeze,
        dropout=config.dropout,
        init=init,
        progress=progress and ctx.is_main,
    )
    if ctx.is_main:
        ctx.barrier()
    if state is not None:
        model.load_state_dict(state["state_dict"])
    model.to(device)
    memory_format = model_memory_format(model)
    input_rank = task_of(config.task).input_rank
    channels_last = (
        config.channels_last
        and device.type in ("cpu", "cuda")
        and memory_format is not None
        and (memory_format == torch.channels_last_3d) == (input_rank == 5)
    )
    if channels_last:
        model.to(memory_format=memory_format)
    amp_dtype = autocast_dtype(device, config.amp)
    spec = input_spec(config, model.info)
    augment = AugmentConfig.parse(config.augment, config.augment_strength)
    frozen_trunk = model.freeze == "trunk"
    cached = frozen_trunk and config.cache_features and not (augment.enabled and augment.strength > 0)
    workers = config.workers if config.workers is not None else min(4, os.cpu_count() or 1)

    train_data: Any = training_dataset(run.train_samples, spec, augment, index.frame_counts)
    val_data: Any = evaluation_dataset(run.val_samples, spec, frame_counts=index.frame_counts)
    if cached:
        t0 = time.perf_counter()
        common = dict(
            ctx=ctx,
            batch_size=config.batch_size,
            workers=workers,
            amp_dtype=amp_dtype,
            channels_last=channels_last,
            progress=progress,
            task=spec.task,
        )
        train_data = extract_features(model, train_data, desc="caching train features", **common)
        val_data = extract_features(model, val_data, desc="caching val features", **common)
        megabytes = (cache_bytes(train_data) + cache_bytes(val_data)) / 2**20
        log(
            f"cached frozen-trunk features of {len(train_data) + len(val_data)} images ({megabytes:.0f} MB) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        workers = 0
    clip = f" x {spec.clip_length} frames (stride {spec.clip_stride})" if task_of(spec).is_video else ""
    log(
        f"run {run.run_dir} | {config.backbone} freeze={model.freeze} | {len(index.classes)} classes"
        + objective.note()
        + f" | train {len(run.train_samples)} val {len(run.val_samples)}"
        + (f" test {len(index.splits.get('test', []))} (held out)" if config.test_fraction else "")
        + f" | {spec.size}px{clip} | "
        f"amp={amp_dtype and str(amp_dtype).replace('torch.', '') or 'off'} | device={device}"
        + (f" x{ctx.world}" if ctx.enabled else "")
    )

    target = wrap_for_training(model, frozen_trunk, cached, ctx.enabled, device)
    shard = math.ceil(len(train_data) / ctx.world)
    steps_per_epoch = math.ceil(shard / config.batch_size)
    if config.max_batches:
        steps_per_epoch = min(steps_per_epoch, config.max_batches)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    built = Built(
        model=model,
        target=target,
        spec=spec,
        train_data=train_data,
        val_data=val_data,
        workers=workers,
        cached=cached,
        channels_last=channels_last,
        amp_dtype=amp_dtype,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        criteria=objective.criteria().to(device),
        steps_per_epoch=steps_per_epoch,
    )
    if state is not None:
        _restore(built, state, log)
    return built


def _restore(built: Built, state: dict[str, Any], log: Callable[[str], None]) -> None:
    """Resuming: the optimizer, scheduler and scaler as ``last.pt`` saved them, the history, and where to go on."""
    built.optimizer.load_state_dict(state["optimizer"])
    built.scheduler.load_state_dict(state["scheduler"])
    built.scaler.load_state_dict(state["scaler"])
    built.history, built.best_epoch = list(state["history"]), int(state["best_epoch"])
    built.start_epoch, built.start_step = int(state["position"]["epoch"]), int(state["position"]["step"])
    if built.start_step:
        built.resume_rng = state["rng"]
        partial = state.get("partial")  # absent from checkpoints written before it was kept
        if partial is not None:
            built.resume_partial = EpochOutcome(
                float(partial["loss_sum"]), list(partial["y_true"]), list(partial["y_pred"]), float(partial["seconds"])
            )
    batch = f", batch {built.start_step + 1}" if built.start_step else ""
    log(f"resuming at epoch {built.start_epoch + 1}{batch}")


def _random_streams(device: torch.device) -> dict[str, Any]:
    """The main process's random state mid-epoch (dropout draws from it; augmentation is seeded per item)."""
    streams: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        streams["cuda"] = torch.cuda.get_rng_state(device)
    return streams


def _continue_random_streams(streams: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(streams["torch"])
    if device.type == "cuda" and "cuda" in streams:
        torch.cuda.set_rng_state(streams["cuda"], device)


def _merged(shares: list[EpochOutcome]) -> dict[str, Any]:
    """Every rank's part of an interrupted epoch as one record, kept in ``last.pt`` so the resumed epoch's
    metrics cover all of it."""
    return {
        "loss_sum": sum(share.loss_sum for share in shares),
        "y_true": [y for share in shares for y in share.y_true],
        "y_pred": [y for share in shares for y in share.y_pred],
        "seconds": max(share.seconds for share in shares),
    }


def _run_epochs(
    config: TrainConfig,
    run: RunSetup,
    built: Built,
    ctx: Distributed,
    progress: bool,
    log: Callable[[str], None],
    on_epoch_end: EpochCallback | None,
) -> tuple[list[dict[str, float]], int, bool]:
    """Train and validate epoch by epoch from where ``built`` starts; returns the history, best epoch and early stop.

    Rank 0 saves ``best.pt`` when the validation loss improves and ``last.pt`` after every
    epoch, and on Ctrl-C or SIGTERM in mid-epoch (then :class:`TrainingInterrupted` is raised).
    """
    run_dir, model, device, spec, workers = run.run_dir, built.model, ctx.device, built.spec, built.workers
    val_data = built.val_data
    optimizer, scheduler, scaler, criteria = built.optimizer, built.scheduler, built.scaler, built.criteria
    channels_last = built.channels_last and not built.cached
    pin = device.type == "cuda"
    history, best_epoch = list(built.history), built.best_epoch
    start_epoch, start_step = built.start_epoch, built.start_step

    def meta(row: dict[str, float] | None) -> dict[str, Any]:
        return _checkpoint_meta(config, run.index, model, row, run.objective, run.run_dir)

    def save_last(epoch: int, step: int, partial: EpochOutcome | None = None) -> None:
        shares = ctx.gather(partial) if partial is not None else []  # every rank's share of the interrupted epoch
        if ctx.is_main:
            save_checkpoint(
                run_dir / LAST,
                model,
                meta(history[-1] if history else None),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict(),
                history=history,
                best_epoch=best_epoch,
                position={"epoch": epoch, "step": step},
                rng=_random_streams(device),
                **({"partial": _merged(shares)} if shares else {}),
            )

    stopped_early = False
    train_data = SeededItems(built.train_data, config.seed)
    board = training_board(
        config.tensorboard and ctx.is_main,
        run_dir,
        config=config.to_dict(),
        classes=run.index.classes,
        model=model,
        spec=spec,
        train_samples=run.train_samples,
        val_samples=run.val_samples,
        device=device,
        first_epoch=start_epoch + 1,
        explains=run.objective.softmax,
        log=log,
    )
    with stop_requests() as stop, board as tensorboard:
        for epoch in range(start_epoch, config.epochs):
            seed_epoch(config.seed, epoch)
            interrupted_streams = built.resume_rng if epoch == start_epoch else None
            if interrupted_streams is not None:  # resuming mid-epoch: go on where it was interrupted
                _continue_random_streams(interrupted_streams, device)
            skip = start_step * config.batch_size if epoch == start_epoch else 0
            sampler = EpochSampler(
                len(train_data), shuffle=True, seed=config.seed, epoch=epoch, rank=ctx.rank, world=ctx.world, skip=skip
            )
            train_data.set_epoch(epoch)
            loader = make_loader(train_data, config.batch_size, sampler, workers, config.seed, pin, spec.task)
            already = start_step if epoch == start_epoch else 0
            carried = built.resume_partial if interrupted_streams is not None and ctx.is_main else None

            def on_stop(steps_done: int, so_far: EpochOutcome, epoch: int = epoch, already: int = already) -> None:
                save_last(epoch, already + steps_done, so_far)
                raise TrainingInterrupted(
                    f"interrupted in epoch {epoch + 1}; resume with: hartrace train --resume {run_dir}"
                )

            model.train()
            batches = min(len(sampler), (built.steps_per_epoch - already) * config.batch_size)
            with progress_bar(total=batches, desc=f"epoch {epoch + 1}/{config.epochs}", enabled=progress) as bar:
                outcome = train_one_epoch(
                    built.target,
                    loader,
                    criteria=criteria,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    scaler=scaler,
                    device=device,
                    amp_dtype=built.amp_dtype,
                    channels_last=channels_last,
                    stop=stop,
                    should_stop=lambda flag: bool(ctx.all_sum([float(flag)])[0]),
                    max_batches=None if config.max_batches is None else config.max_batches - already,
                    on_stop=on_stop,
                    bar=bar,
                    carried=carried,
                )
            val_sampler = EpochSampler(len(val_data), shuffle=False, rank=ctx.rank, world=ctx.world, pad=False)
            val_loader = make_loader(val_data, config.batch_size, val_sampler, workers, config.seed, pin, spec.task)
            val = validate(
                model,
                val_loader,
                criteria=criteria,
                device=device,
                amp_dtype=built.amp_dtype,
                channels_last=channels_last,
                cached=built.cached,
            )
            row = _epoch_row(epoch, ctx, outcome, val, lr_at_epoch_start(config, epoch + 1, built.steps_per_epoch))
            history.append(row)
            improved = best_epoch == 0 or row["val_loss"] < history[best_epoch - 1]["val_loss"]
            if improved:
                best_epoch = epoch + 1
            if ctx.is_main:
                if improved:
                    save_checkpoint(run_dir / BEST, model, meta(row))
                save_last(epoch + 1, 0)
                _write_history(run_dir, history, f"{run_dir.name}: {config.backbone}")
            if config.tensorboard:  # every rank's validation predictions, for rank 0's confusion matrix
                shares = ctx.gather((val.y_true, val.y_pred))
                if tensorboard is not None:
                    truth = [y for labels, _ in shares for y in labels]
                    predicted = [y for _, guesses in shares for y in guesses]
                    tensorboard.log_epoch(row, history[best_epoch - 1], truth, predicted)
            log(
                f"epoch {epoch + 1:>3}/{config.epochs}  "
                f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f}  "
                f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f} f1 {row['val_f1']:.3f}  "
                f"{row['seconds']:.1f}s {row['images_per_second']:.0f} {task_of(spec).rate_unit}/s"
                + ("  *best" if improved else "")
            )
            if config.early_stop and epoch + 1 - best_epoch >= config.early_stop:
                log(f"early stop: no better val loss for {config.early_stop} epochs")
                stopped_early = True
                break
            if on_epoch_end is not None and on_epoch_end(row) is False:
                break
    return history, best_epoch, stopped_early

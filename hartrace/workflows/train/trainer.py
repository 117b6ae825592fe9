"""``hartrace train``: a run folder from a config, and ``--resume`` that continues it exactly."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from hartrace.runs.checkpoint import read_checkpoint, save_checkpoint
from hartrace.data import DatasetIndex, load_dataset
from hartrace.data.pipeline import InputSpec, dataset_task, evaluation_dataset, training_dataset
from hartrace.data.splits import save_split
from hartrace.data.summary import write_skipped_report
from hartrace.base.errors import UsageError
from hartrace.data.transforms import AugmentConfig
from hartrace.base.io import save_figure, write_csv, write_json, write_text
from hartrace.metrics.classification import epoch_metrics
from hartrace.models import ModelInfo, get_model, list_models, model_info
from hartrace.render import training_curves_figure
from hartrace.base.progress import progress_bar
from hartrace.runs.discovery import BEST, CONFIG, CURVES, LAST, METRICS_CSV, METRICS_JSONL, SKIPPED, SPLIT, find_run, new_run_dir
from hartrace.workflows.train.config import TrainConfig, resolve_config
from hartrace.base.device import autocast_dtype, model_memory_format
from hartrace.runs.distributed import Distributed, setup_distributed, teardown_distributed
from hartrace.workflows.train.features import cache_bytes, extract_features
from hartrace.workflows.train.loop import (
    EpochOutcome,
    TrainingInterrupted,
    make_loader,
    seed_epoch,
    stop_requests,
    train_one_epoch,
    validate,
    wrap_for_training,
)
from hartrace.workflows.train.sampler import EpochSampler
from hartrace.zeroshot.training import ZERO_SHOT_CLASSES, ZeroShotSetup, prepare_zero_shot
from hartrace.workflows.train.schedule import build_optimizer, build_scheduler

METRIC_COLUMNS = (
    "epoch", "train_loss", "train_accuracy", "train_precision", "train_recall", "train_f1",
    "val_loss", "val_accuracy", "val_precision", "val_recall", "val_f1", "lr", "seconds", "images_per_second",
)  # fmt: skip

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


DEFAULT_BACKBONES = {"image": "harnet", "video": "r2plus1d_18"}


def resolved(config: TrainConfig) -> TrainConfig:
    """Fill in the task- and model-dependent defaults so the saved config says what ran.

    The task comes from the dataset's layout (images or videos), the backbone from the
    task, and weights, freezing, input size and clip length from the model.
    """
    task = config.task if config.task != "auto" else dataset_task(config.data, config.format)
    backbone = config.backbone or DEFAULT_BACKBONES[task]
    info = model_info(backbone)
    if info.task != task:
        others = ", ".join(list_models(task=task))
        raise UsageError(f"{backbone} is an {info.task} model but {config.data} holds {task}s; choose one of: {others}")
    weights = config.weights or (("imagenet" if task == "image" else "pretrained") if info.pretrained_weights else "none")
    freeze = config.freeze if config.freeze is not None else info.default_freeze
    return dataclasses.replace(
        config, task=task, backbone=backbone, weights=weights, freeze=str(freeze),
        image_size=config.image_size or info.input_size,
        clip_length=(config.clip_length or info.clip_length) if task == "video" else None,
    )  # fmt: skip


def input_spec(config: TrainConfig, info: ModelInfo) -> InputSpec:
    """How this run's model inputs are made (saved in every checkpoint, so evaluation makes them alike)."""
    return InputSpec(
        config.task, int(config.image_size), info.mean, info.std, config.clip_length, config.clip_stride, config.test_clips
    )


def train(
    config: TrainConfig, *, progress: bool = True, log: Callable[[str], None] = print, on_epoch_end: EpochCallback | None = None
) -> TrainResult:
    """Train a new run. ``on_epoch_end(row)`` may return False to stop after that epoch (resumable)."""
    return _with_distributed(lambda ctx: _fit(resolved(config.validate()), None, ctx, progress, log, on_epoch_end))


def resume(
    run: str | Path,
    *,
    epochs: int | None = None,
    runs_dir: str | Path = "checkpoints",
    progress: bool = True,
    log: Callable[[str], None] = print,
    on_epoch_end: EpochCallback | None = None,
) -> TrainResult:
    """Continue a run from its ``last.pt``: model, optimizer, scheduler, RNG and position; ``epochs`` extends it."""
    run_dir = find_run(run, runs_dir)
    if not (run_dir / LAST).is_file():
        raise UsageError(f"{run_dir} has no {LAST} to resume from")
    state = read_checkpoint(run_dir / LAST)
    config = resolve_config(state["meta"]["config"], epochs=epochs)
    return _with_distributed(lambda ctx: _fit(config, (run_dir, state), ctx, progress, log, on_epoch_end))


def _with_distributed(body: Callable[[Distributed], TrainResult]) -> TrainResult:
    ctx = setup_distributed()
    try:
        return body(ctx)
    finally:
        teardown_distributed(ctx)


def _checkpoint_meta(
    config: TrainConfig, index: DatasetIndex, model: nn.Module, row: dict[str, float] | None, zero_shot: ZeroShotSetup | None
) -> dict[str, Any]:
    info = model.info
    outputs = zero_shot.dim if zero_shot else len(index.classes)
    return {
        **input_spec(config, info).to_meta(),
        "model": {"name": config.backbone, "num_classes": outputs, "freeze": str(model.freeze)},
        "classes": list(index.classes),
        "cam_layer": info.cam_layer,
        "config": config.to_dict(),
        "dataset": {"root": str(index.root), "layout": index.layout},
        "metrics": row or {},
        "epoch": int(row["epoch"]) if row else 0,
        **({"zero_shot": zero_shot.to_meta()} if zero_shot else {}),
    }


def _write_history(run_dir: Path, history: list[dict[str, float]], title: str) -> None:
    write_text(run_dir / METRICS_JSONL, "".join(json.dumps(row) + "\n" for row in history))
    write_csv(run_dir / METRICS_CSV, METRIC_COLUMNS, ([r[c] for c in METRIC_COLUMNS] for r in history))
    save_figure(training_curves_figure(history, title), run_dir / CURVES)


def _epoch_row(epoch: int, ctx: Distributed, fitted: EpochOutcome, validated: EpochOutcome, lr: float) -> dict[str, float]:
    """One line of metrics.jsonl, over every rank's predictions (scikit-learn's weighted P/R/F1)."""
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


def _fit(
    config: TrainConfig,
    resuming: tuple[Path, dict[str, Any]] | None,
    ctx: Distributed,
    progress: bool,
    log: Callable[[str], None],
    on_epoch_end: EpochCallback | None,
) -> TrainResult:
    started = time.perf_counter()
    progress = progress and ctx.is_main
    if not ctx.is_main:
        log = lambda message: None  # noqa: E731
    if resuming is None:
        run_dir = ctx.broadcast(
            Path(config.out) if config.out else new_run_dir(config.runs_dir, config.backbone) if ctx.is_main else None
        )
        split_file = Path(config.split_file) if config.split_file else None
        if (run_dir / BEST).exists() or (run_dir / LAST).exists():
            raise UsageError(f"{run_dir} already holds a run: resume it with --resume, or choose another --out")
    else:
        run_dir, state = resuming
        split_file = run_dir / SPLIT
    index = load_dataset(
        config.data, format=config.format, val_fraction=config.val_fraction, seed=config.seed,
        split_file=split_file, fold=config.fold, classes=config.classes, progress=progress,
    )  # fmt: skip
    if index.task != config.task:
        raise UsageError(f"{config.data} holds {index.task}s but this run was set up for {config.task}s")
    zero_shot = prepare_zero_shot(config, index) if config.zero_shot else None
    train_samples = zero_shot.seen_samples(index.splits["train"]) if zero_shot else index.splits["train"]
    val_samples = zero_shot.seen_samples(index.splits.get("val", [])) if zero_shot else index.splits.get("val", [])
    if not val_samples:
        raise UsageError(f"no validation {index.task}s in {config.data}: add some or lower --val-fraction")
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_split(run_dir / SPLIT, [index.relative(s.path) for s in index.splits["train"]],
                   [index.relative(s.path) for s in index.splits["val"]], config.val_fraction, config.seed)  # fmt: skip
        if zero_shot:
            write_json(run_dir / ZERO_SHOT_CLASSES, zero_shot.describe(index, train_samples, val_samples))
        write_skipped_report(index, run_dir / SKIPPED)
        write_text(run_dir / CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False))
        for skipped in index.skipped:
            log(f"skipped {index.relative(skipped.path)} ({skipped.reason})")

    device = ctx.device
    torch.manual_seed(config.seed)  # the same seed builds the same initial weights (on every DDP rank too)
    outputs = zero_shot.dim if zero_shot else len(index.classes)
    model = get_model(config.backbone, outputs, weights="none" if resuming else config.weights, freeze=config.freeze)
    if resuming:
        model.load_state_dict(state["state_dict"])
    model.to(device)
    memory_format = model_memory_format(model)
    input_rank = 5 if config.task == "video" else 4
    channels_last = (
        config.channels_last and device.type in ("cpu", "cuda") and memory_format is not None
        and (memory_format == torch.channels_last_3d) == (input_rank == 5)
    )  # fmt: skip
    if channels_last:
        model.to(memory_format=memory_format)
    amp_dtype = autocast_dtype(device, config.amp)
    spec = input_spec(config, model.info)
    augment = AugmentConfig(enabled=config.augment, strength=config.augment_strength)
    frozen_trunk = model.freeze == "trunk"
    cached = frozen_trunk and config.cache_features and not (augment.enabled and augment.strength > 0)
    workers = config.workers if config.workers is not None else min(4, os.cpu_count() or 1)

    train_data: Any = training_dataset(train_samples, spec, augment, index.frame_counts)
    val_data: Any = evaluation_dataset(val_samples, spec, frame_counts=index.frame_counts)
    if cached:
        t0 = time.perf_counter()
        common = dict(ctx=ctx, batch_size=config.batch_size, workers=workers, amp_dtype=amp_dtype, channels_last=channels_last,
                      progress=progress, task=spec.task)  # fmt: skip
        train_data = extract_features(model, train_data, desc="caching train features", **common)
        val_data = extract_features(model, val_data, desc="caching val features", **common)
        megabytes = (cache_bytes(train_data) + cache_bytes(val_data)) / 2**20
        log(f"cached frozen-trunk features of {len(train_data) + len(val_data)} images ({megabytes:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        workers = 0
    clip = f" x {spec.clip_length} frames (stride {spec.clip_stride})" if spec.task == "video" else ""
    log(
        f"run {run_dir} | {config.backbone} freeze={model.freeze} | {len(index.classes)} classes"
        + (f" ({len(zero_shot.seen)} seen, {len(zero_shot.unseen)} unseen: zero-shot)" if zero_shot else "")
        + f" | train {len(train_samples)} val {len(val_samples)} | {spec.size}px{clip} | "
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
    if zero_shot:
        criterion = val_criterion = zero_shot.objective().to(device)
    else:
        criterion, val_criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing), nn.CrossEntropyLoss()

    history: list[dict[str, float]] = []
    best_epoch, start_epoch, start_step = 0, 0, 0
    if resuming:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        history, best_epoch = list(state["history"]), int(state["best_epoch"])
        start_epoch, start_step = int(state["position"]["epoch"]), int(state["position"]["step"])
        log(f"resuming at epoch {start_epoch + 1}" + (f", batch {start_step + 1}" if start_step else ""))

    def save_last(epoch: int, step: int) -> None:
        if ctx.is_main:
            row = history[-1] if history else None
            save_checkpoint(
                run_dir / LAST, model, _checkpoint_meta(config, index, model, row, zero_shot),
                optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), scaler=scaler.state_dict(),
                history=history, best_epoch=best_epoch, position={"epoch": epoch, "step": step},
                rng={"torch": torch.get_rng_state()},
            )  # fmt: skip

    stopped_early = False
    with stop_requests() as stop:
        for epoch in range(start_epoch, config.epochs):
            seed_epoch(config.seed, epoch)
            if resuming and epoch == start_epoch and start_step:
                torch.set_rng_state(state["rng"]["torch"])  # mid-epoch: continue the interrupted random stream
            skip = start_step * config.batch_size if epoch == start_epoch else 0
            sampler = EpochSampler(len(train_data), shuffle=True, seed=config.seed, epoch=epoch, rank=ctx.rank, world=ctx.world, skip=skip)
            loader = make_loader(train_data, config.batch_size, sampler, workers, config.seed, device.type == "cuda", spec.task)
            already = start_step if epoch == start_epoch else 0

            def on_stop(steps_done: int, epoch: int = epoch, already: int = already) -> None:
                save_last(epoch, already + steps_done)
                raise TrainingInterrupted(
                    f"interrupted in epoch {epoch + 1}; resume with: hartrace train --resume {run_dir}"
                )

            model.train()
            batches = min(len(sampler), (steps_per_epoch - already) * config.batch_size)
            with progress_bar(total=batches, desc=f"epoch {epoch + 1}/{config.epochs}", enabled=progress) as bar:
                outcome = train_one_epoch(
                    target, loader, criterion=criterion, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                    device=device, amp_dtype=amp_dtype, channels_last=channels_last and not cached, stop=stop,
                    should_stop=lambda flag: bool(ctx.all_sum([float(flag)])[0]),
                    max_batches=None if config.max_batches is None else config.max_batches - already,
                    on_step=on_stop, bar=bar,
                )  # fmt: skip
            val_sampler = EpochSampler(len(val_data), shuffle=False, rank=ctx.rank, world=ctx.world, pad=False)
            val_loader = make_loader(val_data, config.batch_size, val_sampler, workers, config.seed, device.type == "cuda", spec.task)
            val = validate(
                model, val_loader, criterion=val_criterion, device=device, amp_dtype=amp_dtype,
                channels_last=channels_last and not cached, cached=cached,
            )  # fmt: skip
            row = _epoch_row(epoch, ctx, outcome, val, optimizer.param_groups[0]["lr"])
            history.append(row)
            improved = best_epoch == 0 or row["val_loss"] < history[best_epoch - 1]["val_loss"]
            if improved:
                best_epoch = epoch + 1
            if ctx.is_main:
                if improved:
                    save_checkpoint(run_dir / BEST, model, _checkpoint_meta(config, index, model, row, zero_shot))
                save_last(epoch + 1, 0)
                _write_history(run_dir, history, f"{run_dir.name}: {config.backbone}")
            log(
                f"epoch {epoch + 1:>3}/{config.epochs}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f}  "
                f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f} f1 {row['val_f1']:.3f}  "
                f"{row['seconds']:.1f}s {row['images_per_second']:.0f} {'clips' if spec.task == 'video' else 'img'}/s"
                + ("  *best" if improved else "")
            )
            if config.early_stop and epoch + 1 - best_epoch >= config.early_stop:
                log(f"early stop: no better val loss for {config.early_stop} epochs")
                stopped_early = True
                break
            if on_epoch_end is not None and on_epoch_end(row) is False:
                break
    ctx.barrier()
    return TrainResult(run_dir, history, best_epoch, stopped_early, time.perf_counter() - started)

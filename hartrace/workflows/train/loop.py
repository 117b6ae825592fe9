"""The fit loop: epochs of train + validate, best/last checkpoints, resume, Ctrl-C, DDP.

The loop is written once for three ways of feeding the model:
- the whole network trains (``model(x)``);
- the trunk is frozen: it runs in eval mode under ``no_grad`` and only the head learns;
- the trunk is frozen and augmentation is off: trunk features are computed once
  (:mod:`hartrace.workflows.train.features`) and every epoch trains the head on the cache.

and once for every objective: the losses and how an output names a class come as
:class:`~hartrace.zeroshot.objectives.Criteria` (classify, or zero-shot).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from hartrace.base.device import autocast, to_memory_format
from hartrace.base.errors import HartraceError
from hartrace.data.pipeline import loader_context
from hartrace.workflows.train.sampler import EpochSampler, epoch_seed
from hartrace.zeroshot.objectives import Criteria


class TrainingInterrupted(HartraceError):
    """Ctrl-C or SIGTERM: a resumable checkpoint was written; exit like an interrupted shell command."""

    exit_code = 130


class TrainingDiverged(HartraceError):
    """The loss stopped being a number: nothing more can be learnt from this run's settings."""


class HeadOnly(nn.Module):
    """``model.forward_head`` as a module, so DDP can wrap just the part that trains."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(features)


@dataclass
class StepTarget:
    """What a batch goes through: the trunk under ``no_grad`` (if frozen) and the trainable part."""

    trainable: nn.Module
    frozen_trunk: Callable[[torch.Tensor], torch.Tensor] | None


@dataclass
class EpochOutcome:
    """One rank's pass: summed loss, true and predicted labels, and the time it took."""

    loss_sum: float
    y_true: list[int] = field(default_factory=list)
    y_pred: list[int] = field(default_factory=list)
    seconds: float = 0.0


@contextmanager
def stop_requests() -> Iterator[list[bool]]:
    """Turn SIGINT/SIGTERM into a flag the loop checks between batches (so it can save first)."""
    flag = [False]

    def request_stop(signum: int, frame: Any) -> None:
        flag[0] = True

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, request_stop)
        except ValueError:  # not the main thread: no handlers, the loop just runs
            pass
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def seed_epoch(seed: int, epoch: int) -> None:
    """Seed every RNG from (seed, epoch): dropout and augmentation replay exactly on resume."""
    s = epoch_seed(seed, epoch)
    torch.manual_seed(s)
    np.random.seed(s % 2**32)
    import random

    random.seed(s)


_STOPS = {signal.SIGINT, signal.SIGTERM}


def _leave_stops_to_the_main_process(worker_id: int) -> None:
    """DataLoader workers ignore Ctrl-C and SIGTERM, which reach the whole process group (a terminal, a
    scheduler): the main process saves a checkpoint first, then shuts the workers down itself.

    They start with both signals blocked (:class:`StopSafeLoader`): one that came before this ran is
    still pending, and is dropped here instead of killing the worker.
    """
    for sig in _STOPS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)


class StopSafeLoader(DataLoader):
    """A DataLoader whose workers are started with Ctrl-C and SIGTERM blocked (a forked child inherits the
    mask). torch's worker installs a SIGTERM handler that exits before ``worker_init_fn`` can ignore it, so
    without the block a signal to the process group in that moment kills a worker, and the trainer with it.
    The main process's own signals are held only while the workers start, then delivered."""

    def __iter__(self) -> Any:
        if self.num_workers == 0 or threading.current_thread() is not threading.main_thread():
            return super().__iter__()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
        try:
            return super().__iter__()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def make_loader(
    dataset: Dataset, batch_size: int, sampler: EpochSampler, workers: int, seed: int, pin: bool, task: str = "image"
) -> DataLoader:
    generator = torch.Generator().manual_seed(epoch_seed(seed, sampler.epoch) + 1)
    return StopSafeLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin,
        generator=generator,
        worker_init_fn=_leave_stops_to_the_main_process if workers else None,
        multiprocessing_context=loader_context(task) if workers else None,
        persistent_workers=False,
    )


def _to_device(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    return to_memory_format(images.to(device, non_blocking=True), channels_last)


def forward(target: StepTarget, images: torch.Tensor) -> torch.Tensor:
    if target.frozen_trunk is not None:
        with torch.no_grad():
            images = target.frozen_trunk(images)
    return target.trainable(images)


def wrap_for_training(
    model: nn.Module, frozen_trunk: bool, cached: bool, ddp: bool, device: torch.device
) -> StepTarget:
    """The modules a batch runs through, DDP-wrapped where the job has several processes."""
    trainable: nn.Module = HeadOnly(model) if frozen_trunk else model
    if ddp:
        trainable = DistributedDataParallel(trainable, device_ids=[device.index] if device.type == "cuda" else None)
    trunk = None if (cached or not frozen_trunk) else model.forward_trunk
    return StepTarget(trainable, trunk)


def train_one_epoch(
    target: StepTarget,
    loader: DataLoader,
    *,
    criteria: Criteria,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    channels_last: bool,
    stop: list[bool],
    should_stop: Callable[[bool], bool],
    max_batches: int | None,
    on_stop: Callable[[int, EpochOutcome], None],
    bar: Any,
    carried: EpochOutcome | None = None,
) -> EpochOutcome:
    """One pass over the training batches; ``on_stop(batches_done, outcome_so_far)`` saves state when a stop
    is asked. ``carried`` is what an interrupted pass over this epoch had already seen: the outcome covers both."""
    start = time.perf_counter()
    carried = carried or EpochOutcome(0.0)
    earlier = carried.seconds
    outcome = EpochOutcome(carried.loss_sum, list(carried.y_true), list(carried.y_pred))
    for step, (images, labels) in enumerate(loader):
        if max_batches is not None and step >= max_batches:
            break
        images, labels = _to_device(images, device, channels_last), labels.to(device)
        with autocast(device, amp_dtype):
            logits = forward(target, images)
        loss = criteria.train(logits.float(), labels)
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"the training loss became {loss.item()} at batch {step + 1}: lower --lr, or try --amp off"
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        outcome.loss_sum += loss.item() * len(labels)
        outcome.y_true.extend(labels.tolist())
        outcome.y_pred.extend(criteria.predict(logits).tolist())
        bar.update(len(labels))
        bar.set_postfix(
            loss=f"{outcome.loss_sum / len(outcome.y_true):.3f}",
            acc=f"{np.mean(np.equal(outcome.y_true, outcome.y_pred)):.3f}",
        )
        if should_stop(stop[0]):
            outcome.seconds = earlier + time.perf_counter() - start
            on_stop(step + 1, outcome)
    outcome.seconds = earlier + time.perf_counter() - start
    return outcome


@torch.no_grad()
def validate(
    model: nn.Module,
    loader: DataLoader,
    *,
    criteria: Criteria,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    channels_last: bool,
    cached: bool,
) -> EpochOutcome:
    """Loss and predictions on this rank's share of the validation set (model in eval mode)."""
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    outcome = EpochOutcome(0.0)
    for images, labels in loader:
        images, labels = _to_device(images, device, channels_last), labels.to(device)
        with autocast(device, amp_dtype):
            logits = model.forward_head(images) if cached else model(images)
        outcome.loss_sum += criteria.val(logits.float(), labels).item() * len(labels)
        outcome.y_true.extend(labels.tolist())
        outcome.y_pred.extend(criteria.predict(logits).tolist())
    model.train(was_training)
    outcome.seconds = time.perf_counter() - start
    return outcome

"""Optimizers and learning-rate schedules (per step, with linear warm-up)."""

from __future__ import annotations

import math

import torch
from torch import nn

from hartrace.workflows.train.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD over the parameters that train (frozen ones are left out).

    ``momentum`` is SGD's momentum and Adam's beta1: both are the running average of the gradient
    that a step follows, and both default to 0.9, so a config that names neither trains as before.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    adam = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return adam(params, lr=config.lr, betas=(config.momentum, 0.999), weight_decay=config.weight_decay)


def lr_factor(step: int, config: TrainConfig, steps_per_epoch: int) -> float:
    """The multiplier of the base learning rate at optimizer step ``step`` (counted from 0).

    Warm-up comes first. The step schedule multiplies by ``step_gamma`` from each milestone epoch on
    (epochs counted from 1, as the trainer prints them), or every ``step_size`` epochs without milestones.
    """
    warmup = round(config.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "cosine":
        total = max(1, config.epochs * steps_per_epoch - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / total)))
    if config.schedule == "step":
        epoch = step // steps_per_epoch + 1
        if config.milestones is None:
            return config.step_gamma ** ((epoch - 1) // config.step_size)
        return config.step_gamma ** sum(epoch >= m for m in config.milestones)
    return 1.0


def lr_at_epoch_start(config: TrainConfig, epoch: int, steps_per_epoch: int) -> float:
    """The rate of epoch ``epoch``'s (counted from 1) first step: what metrics.csv records for the epoch.

    From the schedule, not the optimizer, so it is the same for an epoch that was interrupted and resumed.
    """
    steps_per_epoch = max(1, steps_per_epoch)
    return config.lr * lr_factor((epoch - 1) * steps_per_epoch, config, steps_per_epoch)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, config, max(1, steps_per_epoch)))

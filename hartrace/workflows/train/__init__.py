"""Training: ``train(config)`` makes a run folder, ``resume(run)`` continues one exactly.

Names are imported on first use (PEP 562), so reading a config does not import torch.
"""

from __future__ import annotations

from hartrace.base.lazy import lazy_getattr

_EXPORTS = {
    "TrainConfig": "hartrace.workflows.train.config",
    "read_config_file": "hartrace.workflows.train.config",
    "resolve_config": "hartrace.workflows.train.config",
    "TrainingInterrupted": "hartrace.workflows.train.loop",
    "TrainResult": "hartrace.workflows.train.trainer",
    "resume": "hartrace.workflows.train.trainer",
    "train": "hartrace.workflows.train.trainer",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)

"""Training: ``train(config)`` makes a run folder, ``resume(run)`` continues one exactly.

Names are imported on first use (PEP 562), so reading a config does not import torch.
"""

from __future__ import annotations

from hartrace._lazy import lazy_getattr

_EXPORTS = {
    "TrainConfig": "hartrace.train.config",
    "read_config_file": "hartrace.train.config",
    "resolve_config": "hartrace.train.config",
    "TrainingInterrupted": "hartrace.train.loop",
    "TrainResult": "hartrace.train.trainer",
    "resume": "hartrace.train.trainer",
    "train": "hartrace.train.trainer",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)

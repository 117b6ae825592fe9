"""Training: ``train(config)`` makes a run folder, ``resume(run)`` continues one exactly."""

from hartrace.train.config import TrainConfig, read_config_file, resolve_config
from hartrace.train.loop import TrainingInterrupted
from hartrace.train.trainer import TrainResult, resume, train

__all__ = ["TrainConfig", "TrainResult", "TrainingInterrupted", "read_config_file", "resolve_config", "resume", "train"]

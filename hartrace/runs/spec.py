"""What a checkpoint says about its run, read once and typed: nobody above this module indexes the raw metadata.

A checkpoint's ``meta`` dict is its on-disk contract (see :func:`hartrace.runs.checkpoint.save_checkpoint`);
:class:`RunSpec` is how the rest of hartrace reads it: the architecture, the task and input spec, the
classes, the CAM layer, the objective (classify, or zero-shot with its class-name embeddings), the
training configuration and where its data was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hartrace.base.errors import UsageError
from hartrace.data.pipeline import InputSpec
from hartrace.zeroshot.training import ZeroShotSetup


@dataclass(frozen=True)
class DataPaths:
    """Where a run's dataset was: as its config gave it, absolute, and relative to the run folder.

    The last two are recorded since runs travel; a checkpoint saved before has only ``given``.
    """

    given: str | None = None
    absolute: str | None = None
    from_run: str | None = None

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> DataPaths:
        recorded, config = meta.get("dataset") or {}, meta.get("config") or {}
        root = recorded.get("root")
        given = config.get("data") or (root if root and not Path(root).is_absolute() else None)
        return cls(
            given=None if given is None else str(given),
            absolute=str(root) if root and Path(root).is_absolute() else None,
            from_run=recorded.get("root_from_run"),
        )


@dataclass(frozen=True)
class RunSpec:
    """One run, as its checkpoint describes it."""

    architecture: str  # the zoo name get_model builds
    outputs: int  # the head's width: classes, or the embedding size of a zero-shot model
    freeze: str | None
    classes: tuple[str, ...]
    input: InputSpec
    cam_layer: str
    config: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    zero_shot: ZeroShotSetup | None = field(default=None, hash=False, compare=False)
    data_paths: DataPaths = field(default_factory=DataPaths, hash=False, compare=False)

    @classmethod
    def from_meta(cls, meta: dict[str, Any], source: object = "checkpoint") -> RunSpec:
        """Read ``meta`` once; a missing or malformed field is a one-line error naming ``source``."""
        from hartrace.models import model_info

        try:
            model = meta["model"]
            architecture = str(model["name"])
            cam_layer = meta.get("cam_layer") or model_info(architecture).cam_layer
            return cls(
                architecture=architecture,
                outputs=int(model["num_classes"]),
                freeze=model.get("freeze"),
                classes=tuple(meta["classes"]),
                input=InputSpec.from_meta(meta),
                cam_layer=str(cam_layer),
                config=dict(meta.get("config") or {}),
                zero_shot=ZeroShotSetup.from_meta(meta["zero_shot"]) if "zero_shot" in meta else None,
                data_paths=DataPaths.from_meta(meta),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{source} does not describe its run ({type(exc).__name__}: {exc})") from None

    @property
    def task(self) -> str:
        """``image`` or ``video``: what the model takes."""
        return self.input.task

    @property
    def objective(self) -> str:
        """``classify`` (one score per class) or ``zero-shot`` (a class-name embedding)."""
        return "zero-shot" if self.zero_shot is not None else "classify"

    @property
    def data(self) -> str | None:
        """The dataset folder the run was trained on, as its configuration gave it."""
        value = self.config.get("data")
        return None if value is None else str(value)

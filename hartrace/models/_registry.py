"""The model registry: names -> (builder, :class:`ModelInfo`).

Shaped like torchvision's ``models/_api.py`` so adding a model is one decorated
function, and so the CLI, the trainer and the explainers all read the same facts
(input size, normalisation, Grad-CAM layer, stages) from one place.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from hartrace.base.errors import UsageError

__all__ = ["ModelInfo", "register_model", "register_family", "list_models", "model_info", "get_builder"]

Builder = Callable[[int], nn.Module]

TASKS = ("image", "video")
FREEZE_MODES = ("trunk", "none")


@dataclass(frozen=True)
class ModelInfo:
    """What the rest of hartrace needs to know about a model without building it.

    All module paths are ``named_modules()`` paths of the built model.
    """

    name: str
    task: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    cam_layer: str
    # dicts are unhashable: leave it out of the hash so ModelInfo stays hashable.
    layer_groups: dict[str, tuple[str, ...]] = field(hash=False)
    stages: tuple[tuple[str, ...], ...]
    head: tuple[str, ...]
    # torchvision's name of its ImageNet weights; for a timm model, the Hugging Face repo of timm's pretrained ones.
    imagenet_weights: str | None
    default_freeze: str
    # Video models: the frames per clip they are built for (None for image models).
    clip_length: int | None = None
    # torchvision weights trained on Kinetics-400 (the video models' published weights).
    kinetics_weights: str | None = None
    # The module the published weights load into ("" = the whole model), for a model that
    # wraps a published net (cnn_lstm_resnet18's per-frame ResNet-18 is "backbone").
    weights_under: str = ""
    # The drop probability of its dropout layers as built; None: it has none, and ``get_model(dropout=...)``
    # refuses it before building anything.
    dropout: float | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: task must be one of {TASKS}, not {self.task!r}")
        if (self.task == "video") != (self.clip_length is not None):
            raise ValueError(f"{self.name}: video models (and only they) have a clip_length")
        if self.clip_length is not None and self.clip_length < 1:
            raise ValueError(f"{self.name}: clip_length must be positive, not {self.clip_length}")
        if self.default_freeze not in FREEZE_MODES:
            raise ValueError(f"{self.name}: default_freeze must be one of {FREEZE_MODES}")
        if not self.stages or not self.head:
            raise ValueError(f"{self.name}: a model needs at least one trunk stage and a head")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{self.name}: dropout must be in [0, 1), not {self.dropout}")

    @classmethod
    def staged(
        cls,
        name: str,
        *,
        cam_layer: str,
        groups: dict[str, tuple[str, ...]],
        head: tuple[str, ...],
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        imagenet_weights: str | None,
        dropout: float | None = None,
    ) -> ModelInfo:
        """An image classifier whose trunk stages are its display groups, in order, plus the head."""
        return cls(
            name=name,
            task="image",
            input_size=input_size,
            mean=mean,
            std=std,
            cam_layer=cam_layer,
            layer_groups={**groups, "head": head},
            stages=tuple(groups.values()),
            head=head,
            imagenet_weights=imagenet_weights,
            default_freeze="none",
            dropout=dropout,
        )

    @classmethod
    def video(
        cls,
        name: str,
        *,
        clip_length: int,
        cam_layer: str,
        groups: dict[str, tuple[str, ...]],
        head: tuple[str, ...],
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        kinetics_weights: str | None = None,
        imagenet_weights: str | None = None,
        weights_under: str = "",
        dropout: float | None = None,
    ) -> ModelInfo:
        """A clip classifier (input ``[B, C, T, H, W]``), staged like :meth:`staged`."""
        staged = cls.staged(
            name,
            cam_layer=cam_layer,
            groups=groups,
            head=head,
            input_size=input_size,
            mean=mean,
            std=std,
            imagenet_weights=imagenet_weights,
            dropout=dropout,
        )
        return dataclasses.replace(
            staged,
            task="video",
            clip_length=clip_length,
            kinetics_weights=kinetics_weights,
            weights_under=weights_under,
        )

    @property
    def pretrained_weights(self) -> str | None:
        """The published weights ``weights="pretrained"`` loads: Kinetics if any, else ImageNet."""
        return self.kinetics_weights or self.imagenet_weights

    @property
    def trunk(self) -> tuple[str, ...]:
        """Every trunk module path, shallow to deep (what ``freeze="trunk"`` freezes)."""
        return tuple(path for stage in self.stages for path in stage)


_MODELS: dict[str, tuple[Builder, ModelInfo]] = {}
# A family's resolver: full name -> (builder, info); an unknown name is a UsageError.
Resolver = Callable[[str], tuple[Builder, ModelInfo]]
_FAMILIES: dict[str, Resolver] = {}


def register_model(info: ModelInfo) -> Callable[[Builder], Builder]:
    """Decorator: register ``builder(num_classes) -> nn.Module`` under ``info.name``."""

    def wrapper(builder: Builder) -> Builder:
        if info.name in _MODELS:
            raise ValueError(f"a model named {info.name!r} is already registered")
        _MODELS[info.name] = (builder, info)
        return builder

    return wrapper


def register_family(prefix: str, resolve: Resolver) -> None:
    """Every name starting with ``prefix`` (``timm/``) is a model another library builds: ``resolve(name)`` says
    how, when such a name is first asked for. There are too many to register one by one, and asking only then
    keeps that library out of ``import hartrace``."""
    if prefix in _FAMILIES:
        raise ValueError(f"a model family with prefix {prefix!r} is already registered")
    _FAMILIES[prefix] = resolve


def list_models(task: str | None = None, *, with_dropout: bool = False) -> list[str]:
    """Names of the registered models (sorted), optionally only those of one task, or only those with dropout.

    A family's models (``timm/<name>``) are not listed: they are named by their own library's list.
    """
    return sorted(
        n
        for n, (_, info) in _MODELS.items()
        if (task is None or info.task == task) and (info.dropout is not None or not with_dropout)
    )


def _lookup(name: str) -> tuple[Builder, ModelInfo]:
    try:
        return _MODELS[name]
    except (KeyError, TypeError):
        pass
    for prefix, resolve in _FAMILIES.items():
        if isinstance(name, str) and name.startswith(prefix):
            return resolve(name)
    close = difflib.get_close_matches(str(name), list(_MODELS), n=3)
    close += [prefix + name for prefix in _FAMILIES if isinstance(name, str) and _resolves(prefix + name)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise UsageError(f"unknown model {name!r}; {hint}run `hartrace models` to list them")


def _resolves(name: str) -> bool:
    """Whether a family builds ``name`` (``resnet18`` is not in the zoo, but ``timm/resnet18`` is a model)."""
    try:
        _lookup(name)
    except UsageError:
        return False
    return True


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model or a family's (``timm/<name>``); ``UsageError`` if there is none."""
    return _lookup(name)[1]


def get_builder(name: str) -> Builder:
    """The raw builder of a registered model (no weights, no freezing)."""
    return _lookup(name)[0]

"""Any timm model as a backbone: ``timm/<name>`` for every name ``timm.list_models()`` gives.

Nothing is registered one by one: the registry asks :func:`resolve` when a ``timm/`` name
comes up, and only then is timm imported (it costs most of a second), so ``import hartrace``
stays as quick as before. A model's facts come from timm's own metadata, read off a copy
built on the ``meta`` device (no memory, no weights): input size and normalisation from its
data config, the Grad-CAM layer from ``feature_info``, the head from ``pretrained_cfg["classifier"]``.

timm builds the model; its ``__class__`` is then swapped to a subclass adding
:class:`FreezableMixin`, so module names and state-dict keys stay timm's. Two methods share a
name: timm's ``forward_head(x, pre_logits=False)`` (pooling + classifier) and the mixin's
``forward_head(features)`` (the trainable head). The subclass keeps the mixin's meaning and
calls timm's through :attr:`FreezableTimm.timm_class`: its trunk is timm's ``forward_features``
followed by timm's ``forward_head(pre_logits=True)``, its head the classifier alone, so a
frozen trunk caches one pooled vector per image.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.models._freeze import FreezableMixin
from hartrace.models._registry import ModelInfo, register_family

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["TIMM_PREFIX", "FreezableTimm", "build_timm", "is_timm_model", "timm_architecture", "timm_model_count"]

TIMM_PREFIX = "timm/"

# How a model splits into the mixin's trunk and head (see FreezableTimm).
PRE_LOGITS = "pre_logits"  # trunk: features + timm's pooling; head: dropout + the classifier
FEATURES = "features"  # trunk: forward_features; head: timm's forward_head (a head of several classifiers)
WHOLE = "whole"  # no forward_features: the trunk passes the input on, the head is timm's forward


def is_timm_model(name: str) -> bool:
    """Whether ``name`` names a timm model (``timm/<name>``); decided without importing timm."""
    return isinstance(name, str) and name.startswith(TIMM_PREFIX)


def timm_architecture(name: str) -> str:
    """``timm/resnet18`` -> ``resnet18``: the name timm itself takes (a pretrained tag, ``.a1_in1k``, kept)."""
    return name[len(TIMM_PREFIX) :]


def timm_model_count() -> int:
    """How many model names timm has (``timm.list_models()``), for ``hartrace models``."""
    import timm

    return len(timm.list_models())


@dataclass(frozen=True)
class _Resolved:
    """What :func:`build_timm` needs beyond the :class:`ModelInfo`: how the forward pass splits."""

    info: ModelInfo
    split: str
    classifier: str  # the one classifier module (PRE_LOGITS only)
    fixed_size: bool  # it takes only info.input_size (a ViT's position embeddings)


class FreezableTimm(FreezableMixin, nn.Module):
    """A timm model with the trunk/head split. Built by :func:`build_timm`, which makes the concrete
    subclass of this and the timm class (``FreezableTimm[ResNet]``)."""

    timm_class: ClassVar[Any]  # the timm model class it extends
    # Set by build_timm: the split, the classifier's path, and the dropout before it (PRE_LOGITS only;
    # timm's own is built off so that a frozen trunk's output does not depend on it).
    timm_split: str
    timm_classifier: str
    head_dropout: float
    timm_input_size: int | None  # the one input size it takes; None: any

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        size = self.timm_input_size
        if size is not None and tuple(x.shape[-2:]) != (size, size):
            raise UsageError(
                f"timm builds {self.info.name} for {size}x{size} inputs only, not {x.shape[-2]}x{x.shape[-1]}: "
                f"use --image-size {size} (its default)"
            )
        if self.timm_split == WHOLE:
            return x
        features = self.forward_features(x)  # type: ignore[operator]
        if self.timm_split == PRE_LOGITS:
            return self.timm_class.forward_head(self, features, pre_logits=True)  # type: ignore[no-any-return]
        return features  # type: ignore[no-any-return]

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        if self.timm_split == PRE_LOGITS:
            features = F.dropout(features, self.head_dropout, self.training)
            return self.get_submodule(self.timm_classifier)(features)  # type: ignore[no-any-return]
        if self.timm_split == FEATURES:
            return self.timm_class.forward_head(self, features)  # type: ignore[no-any-return]
        return self.timm_class.forward(self, features)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Callable[..., FreezableTimm], tuple[type[nn.Module], dict[str, Any]]]:
        # The concrete class is made at run time, so pickle cannot find it by name: rebuild it from the timm class.
        return _restore, (self.timm_class, self.__dict__.copy())


@functools.cache
def freezable_class(timm_class: type[nn.Module]) -> type[FreezableTimm]:
    """The one ``FreezableTimm`` subclass of a timm model class (made once, so instances share it)."""
    name = f"FreezableTimm[{timm_class.__name__}]"
    cls = type(name, (FreezableTimm, timm_class), {"timm_class": timm_class, "__module__": __name__})
    cls.__qualname__ = name
    return cls


def _restore(timm_class: type[nn.Module], state: dict[str, Any]) -> FreezableTimm:
    """Unpickle (and deepcopy) a :class:`FreezableTimm`."""
    cls = freezable_class(timm_class)  # type: ignore[arg-type]
    model = cls.__new__(cls)
    model.__setstate__(state)  # type: ignore[no-untyped-call]
    return model


def build_timm(name: str, num_classes: int, *, dropout: float | None = None) -> FreezableTimm:
    """timm's ``name`` with an ``num_classes``-way classifier (timm's own ``num_classes``), random weights.

    ``dropout``: the drop probability before the classifier (None: the model's own, ``drop_rate``).
    """
    import timm

    resolved = _resolve(name)
    p = resolved.info.dropout if dropout is None else dropout
    # PRE_LOGITS: the dropout is ours, in the head; otherwise timm's own, which is in the head already.
    drop_rate = 0.0 if resolved.split == PRE_LOGITS else p
    model: Any = timm.create_model(
        timm_architecture(name), pretrained=False, num_classes=num_classes, drop_rate=drop_rate
    )
    model.__class__ = freezable_class(type(model))  # type: ignore[arg-type]
    model.timm_split = resolved.split
    model.timm_classifier = resolved.classifier
    model.head_dropout = float(p or 0.0)
    model.timm_input_size = resolved.info.input_size if resolved.fixed_size else None
    return model  # type: ignore[no-any-return]


def resolve(name: str) -> tuple[Callable[[int], nn.Module], ModelInfo]:
    """The registry's hook for ``timm/<name>``: its builder and info; an unknown name is a :class:`UsageError`."""
    info = _resolve(name).info
    return functools.partial(build_timm, name), info


@functools.lru_cache(maxsize=64)
def _resolve(name: str) -> _Resolved:
    arch = _checked_architecture(name)
    model = _meta_model(arch)
    modules = dict(model.named_modules())
    classifiers = _classifier_paths(model, modules)
    if not classifiers:
        raise UsageError(f"{name}: timm names no classifier for it, so hartrace cannot give it an N-way head")
    features = _feature_modules(model, modules, classifiers)
    shapes, split, fixed = _probe(model, classifiers)
    stages = _stages(model, features, classifiers)
    data = _data_config(model)
    info = ModelInfo(
        name=name,
        task="image",
        input_size=data[0],
        mean=data[1],
        std=data[2],
        cam_layer=_cam_layer(model, features, shapes, stages),
        layer_groups={**{_group_name(stage, features): stage for stage in stages}, "head": classifiers},
        stages=tuple(stages),
        head=classifiers,
        imagenet_weights=_weights_repo(model),
        default_freeze="none",
        dropout=float(getattr(model, "drop_rate", 0.0) or 0.0),
    )
    return _Resolved(info, split, classifiers[0] if split == PRE_LOGITS else "", fixed)


def _checked_architecture(name: str) -> str:
    """The timm name in ``timm/<name>``, checked: an unknown model or pretrained tag is one line with close matches."""
    import timm
    from timm.models import split_model_name_tag

    arch = timm_architecture(name)
    base, tag = split_model_name_tag(arch)
    if not base or not timm.is_model(base):
        close = difflib.get_close_matches(base, timm.list_models(), n=3)
        hint = f"did you mean {' or '.join(TIMM_PREFIX + c for c in close)}? " if close else ""
        raise UsageError(f"timm has no model {base!r}; {hint}`timm.list_models()` lists its {len(timm.list_models())}")
    if tag:
        tags = [t.split(".", 1)[1] for t in timm.list_pretrained(f"{base}.*")]
        if tag not in tags:
            known = f"its tags are {', '.join(tags)}" if tags else "it has no pretrained weights"
            raise UsageError(f"timm's {base} has no pretrained tag {tag!r}: {known}")
    return arch


def _meta_model(arch: str) -> nn.Module:
    """The model built on the meta device (instant, no memory); on the CPU if its constructor needs real values."""
    import timm

    try:
        with torch.device("meta"):
            return timm.create_model(arch, pretrained=False)
    except Exception:  # noqa: BLE001 - a constructor that reads tensor values cannot run on meta
        return timm.create_model(arch, pretrained=False)


def _classifier_paths(model: nn.Module, modules: dict[str, nn.Module]) -> tuple[str, ...]:
    """``pretrained_cfg["classifier"]``: one path (``fc``, ``head.fc``) or several (a distilled model's two heads)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    named = cfg.get("classifier")
    paths = (named,) if isinstance(named, str) else tuple(named or ())
    return tuple(p for p in paths if p in modules)


def _feature_modules(model: nn.Module, modules: dict[str, nn.Module], head: tuple[str, ...]) -> list[str]:
    """``feature_info``'s module paths, shallow to deep: where timm says its stages end."""
    info = getattr(model, "feature_info", None) or []
    paths = [str(entry.get("module") or "") for entry in info if isinstance(entry, dict)]
    return list(dict.fromkeys(p for p in paths if p in modules and p and not _under(p, head)))


def _under(path: str, roots: tuple[str, ...] | list[str]) -> bool:
    return any(path == root or path.startswith(root + ".") for root in roots)


def _probe(model: nn.Module, classifiers: tuple[str, ...]) -> tuple[dict[str, tuple[int, ...]], str, bool]:
    """Forward passes on the meta device (shapes only): every module's output shape, how the model splits, and
    whether it takes only its own input size.

    ``PRE_LOGITS`` only where timm's pre-logits output, fed to the classifier, gives what timm's forward does
    (a distilled model's two heads, or a conv classifier, do not); a model the probe cannot run (built on the
    CPU) keeps ``PRE_LOGITS`` if it has one classifier and the two methods.
    """
    has_methods = hasattr(model, "forward_features") and hasattr(model, "forward_head")
    split = PRE_LOGITS if len(classifiers) == 1 and has_methods else (FEATURES if has_methods else WHOLE)
    parameter = next(model.parameters(), None)
    if parameter is None or parameter.device.type != "meta":
        return {}, split, False
    shapes: dict[str, tuple[int, ...]] = {}

    def keep(path: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                shapes[path] = tuple(output.shape)

        return hook

    handles = [module.register_forward_hook(keep(path)) for path, module in model.named_modules() if path]
    size = _data_config(model)[0]
    x = torch.empty(2, 3, size, size, device="meta")
    try:
        with torch.no_grad():
            logits = model.eval()(x)
    except Exception:  # noqa: BLE001 - shapes are a hint; the model's own forward is what runs
        return shapes, split, False
    finally:
        for handle in handles:
            handle.remove()
    try:  # a ViT's position embeddings (and the like) fit one input size only
        with torch.no_grad():
            model(torch.empty(2, 3, size + 32, size + 32, device="meta"))
        fixed = False
    except Exception:  # noqa: BLE001
        fixed = True
    if split == PRE_LOGITS:
        try:
            with torch.no_grad():
                timm_class: Any = type(model)
                pooled = timm_class.forward_head(model, timm_class.forward_features(model, x), pre_logits=True)
                ours = model.get_submodule(classifiers[0])(pooled)
            fits = pooled.dim() == 2 and tuple(ours.shape) == tuple(logits.shape)
        except Exception:  # noqa: BLE001 - a forward_head without pre_logits, or a classifier that needs a map
            fits = False
        split = PRE_LOGITS if fits else FEATURES
    return shapes, split, fixed


def _cam_layer(
    model: nn.Module, features: list[str], shapes: dict[str, tuple[int, ...]], stages: list[tuple[str, ...]]
) -> str:
    """The deepest ``feature_info`` module whose output is a channels-first map (``[B, C, H, W]``, ``C`` timm's
    ``num_chs``). A model whose stages give channels-last maps or tokens (Swin, ViT), which Grad-CAM cannot read,
    gets its deepest convolution instead (the patch embedding); with no shapes to go on, the deepest entry."""
    channels = {e.get("module"): e.get("num_chs") for e in getattr(model, "feature_info", None) or []}
    for path in reversed(features):
        shape = shapes.get(path)
        if shape is not None and len(shape) == 4 and shape[1] == channels.get(path):
            return path
    trunk = [p for stage in stages for p in stage]
    convs: list[str] = [
        path
        for path, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and _under(path, trunk) and len(shapes.get(path, ())) == 4
    ]
    if convs:
        return convs[-1]
    return features[-1] if features else stages[-1][-1]


def _stages(model: nn.Module, features: list[str], head: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The trunk's modules cut after each ``feature_info`` module: what ``--freeze N`` counts.

    Walks the modules in the order the model registers them, opening only those that hold a feature module
    or the classifier. What comes after the deepest feature module (a final conv or norm) joins the last stage
    if it has weights; parameter-free pooling and dropout belong to no stage.
    """
    opened = [*features, *head]
    pieces: list[str] = []

    def walk(module: nn.Module, prefix: str) -> None:
        for child, sub in module.named_children():
            path = prefix + child
            if _under(path, head):
                continue
            if any(p.startswith(path + ".") for p in opened):
                walk(sub, path + ".")
            else:
                pieces.append(path)

    walk(model, "")
    stages: list[tuple[str, ...]] = []
    current: list[str] = []
    for path in pieces:
        current.append(path)
        if path in features:
            stages.append(tuple(current))
            current = []
    rest = [p for p in current if any(True for _ in model.get_submodule(p).parameters())]
    if not stages:
        return [tuple(rest or current)]
    if rest:
        stages[-1] = (*stages[-1], *rest)
    return stages


def _group_name(stage: tuple[str, ...], features: list[str]) -> str:
    """A stage is named after the feature module that ends it (``layer3``, ``stages.2``)."""
    return next((p for p in stage if p in features), stage[-1])


def _data_config(model: nn.Module) -> tuple[int, tuple[float, float, float], tuple[float, float, float]]:
    """(input size, mean, std) from timm's data config: what the model's pretrained weights were trained on."""
    from timm.data.config import resolve_model_data_config

    config = resolve_model_data_config(model)  # type: ignore[no-untyped-call]
    size = int(max(config["input_size"][1:]))

    def three(values: Any) -> tuple[float, float, float]:
        floats = [float(v) for v in values] * 3  # one value stands for all three channels
        return floats[0], floats[1 % len(values)], floats[2 % len(values)]

    return size, three(config["mean"]), three(config["std"])


def _weights_repo(model: nn.Module) -> str | None:
    """Where timm's pretrained weights of this model are published (a Hugging Face repo, else a URL); None: none."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return cfg.get("hf_hub_id") or cfg.get("url") or None


register_family(TIMM_PREFIX, resolve)

"""The model zoo: ``get_model(name, num_classes, weights=..., freeze=..., dropout=..., init=...)``.

``harnet`` (the default) is a ResNet-50 trunk with a conv head; the torchvision
ImageNet classifiers and two small from-scratch nets are also here, and the video
models (``task="video"``: torchvision's Kinetics ResNets, a CNN+LSTM and a small
3-D CNN). Run ``hartrace models`` to list them. Any timm model is also a backbone, as
``timm/<name>`` (``timm.list_models()``). Infrastructure lives in the private modules.
"""

from __future__ import annotations

from pathlib import Path

from hartrace.models import harnet as _harnet  # noqa: F401  (registers models)
from hartrace.models import scratch as _scratch  # noqa: F401
from hartrace.models import timm_zoo as _timm_zoo  # noqa: F401  (registers timm/<name>; timm loads when asked for)
from hartrace.models import torchvision_zoo as _torchvision_zoo  # noqa: F401
from hartrace.models import video as _video  # noqa: F401
from hartrace.models._build_options import INITS, dropout_layers, parse_dropout, parse_init
from hartrace.models._factory import get_model
from hartrace.models._freeze import FreezableMixin
from hartrace.models._registry import ModelInfo, list_models, model_info, register_model
from hartrace.models._timm_weights import timm_weights_file
from hartrace.models._weights import LoadReport
from hartrace.models._weights import imagenet_weights_file as _imagenet_weights_file
from hartrace.models._weights import published_weights_file as _published_weights_file

__all__ = [
    "DEFAULT_MODEL",
    "INITS",
    "FreezableMixin",
    "LoadReport",
    "ModelInfo",
    "dropout_layers",
    "get_model",
    "imagenet_weights_file",
    "list_models",
    "model_info",
    "parse_dropout",
    "parse_init",
    "published_weights_file",
    "register_model",
]

DEFAULT_MODEL = "harnet"


def imagenet_weights_file(name: str) -> Path | None:
    """Where ``weights="imagenet"`` looks for ``name``'s file; None if it has none.

    For ``hartrace models`` to show which ImageNet weights are on this machine. A timm model's is
    its pretrained weights' file in timm's cache, None until it is there.
    """
    info = model_info(name)
    if _timm_zoo.is_timm_model(name):
        return timm_weights_file(info)
    return None if info.imagenet_weights is None else _imagenet_weights_file(info)


def published_weights_file(name: str) -> Path | None:
    """Where ``weights="pretrained"`` looks for ``name``'s file (Kinetics for video models); None if it has none.

    A timm model's is the file in timm's cache, None until it is there (the cache's folders name a revision).
    """
    info = model_info(name)
    if _timm_zoo.is_timm_model(name):
        return timm_weights_file(info)
    return None if info.pretrained_weights is None else _published_weights_file(info)

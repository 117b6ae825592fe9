"""``get_model``: validate everything, then build, load weights, freeze."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from hartrace.base.errors import UsageError
from hartrace.models._build_options import dropout_layers, initialise, parse_dropout, parse_init, set_dropout
from hartrace.models._freeze import FreezableMixin, parse_freeze
from hartrace.models._registry import get_builder, model_info
from hartrace.models._timm_weights import read_timm_weights
from hartrace.models._weights import (
    DATASET_LABELS,
    WEIGHTS_KEYWORDS,
    apply_state_dict,
    published_weights,
    read_published_state_dict,
    read_weights_file,
)
from hartrace.models.timm_zoo import build_timm, is_timm_model

__all__ = ["get_model"]


def get_model(
    name: str,
    num_classes: int,
    *,
    weights: str | Path | None = "none",
    freeze: str | int | None = None,
    dropout: float | None = None,
    init: str = "default",
    progress: bool = True,
) -> nn.Module:
    """Build a registered model, or any timm model as ``timm/<name>``, with an N-way classifier.

    ``weights``: ``"none"`` (random init), ``"pretrained"`` (the model's published
    torchvision weights from the torch hub cache, downloaded there on first use unless
    ``HARTRACE_OFFLINE=1``; ``progress`` shows the download's bar), ``"imagenet"``
    or ``"kinetics"`` (those published weights by name: a model without them is refused)
    or a path to a state dict or hartrace checkpoint; for a timm model ``"imagenet"`` and ``"pretrained"``
    both mean timm's pretrained weights, from timm's cache or downloaded there. ``freeze``: ``"trunk"``, ``"none"``,
    N (train the last N trunk stages and the head) or None for the model's default.
    ``dropout``: the drop probability of every dropout layer (None: the model's own; a model
    without one refuses any other value). ``init``: ``"default"`` (the model's own),
    ``"xavier"`` or ``"kaiming"`` for the conv and linear layers that start from random
    weights: all of them with ``weights="none"``, only the new head when weights are loaded.

    Every argument is checked, and any weights file read, before the (possibly
    slow) build, so mistakes fail fast with a :class:`~hartrace.base.errors.UsageError`.
    The result is a :class:`FreezableMixin`: it has ``forward_trunk``,
    ``forward_head``, ``set_freeze``, ``frozen_modules`` and ``info``.
    """
    info = model_info(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise UsageError(f"num_classes must be a positive integer, not {num_classes!r}")
    setting = parse_freeze(freeze, info)
    init = parse_init(init)
    if dropout is not None:
        dropout = parse_dropout(dropout, info)

    keyword = weights.strip().lower() if isinstance(weights, str) else None
    published = keyword in WEIGHTS_KEYWORDS and keyword != "none"
    if weights is None or keyword == "none":
        state, source = None, ""
        meta: dict[str, Any] = {}
    elif published:
        dataset, weights_name = published_weights(info, None if keyword == "pretrained" else keyword)
        if is_timm_model(name):  # "imagenet" and "pretrained" both mean timm's pretrained weights
            state, meta, source = read_timm_weights(info, progress=progress), {}, f"timm weights {weights_name}"
        else:
            state, meta = read_published_state_dict(info, dataset, progress=progress), {}
            source = f"{DATASET_LABELS[dataset]} weights {weights_name}"
    elif isinstance(weights, (str, Path)):
        state, meta = read_weights_file(weights)
        source = str(weights)
    else:
        choices = ", ".join(repr(k) for k in WEIGHTS_KEYWORDS)
        raise UsageError(f"weights must be one of {choices} or a file path, not {weights!r}")

    # timm takes the dropout as it builds (before the classifier, as timm's drop_rate); the zoo's is set after.
    model = build_timm(name, num_classes, dropout=dropout) if is_timm_model(name) else get_builder(name)(num_classes)
    if not isinstance(model, FreezableMixin):
        raise TypeError(f"the builder of {name} must return a FreezableMixin, got {type(model).__name__}")
    model._setup_freezable(info)
    if dropout is not None and not is_timm_model(name):
        if not dropout_layers(model):
            raise RuntimeError(f"{name}: its ModelInfo says it has dropout, but it has no dropout layer")
        set_dropout(model, dropout)
    loaded: list[str] = []
    if state is not None:
        loaded = apply_state_dict(model, state, info, source, expect_new_head=published, meta=meta).loaded
    initialise(model, init, loaded=set(loaded))
    model.set_freeze(setting)
    return model

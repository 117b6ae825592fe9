"""Two knobs of how a model is built: its dropout probability and how its random layers start.

``get_model`` applies both after the builder has run, so every model of the zoo takes them the same
way, whoever built it (torchvision, or hartrace's own classes).
"""

from __future__ import annotations

from collections.abc import Collection

from torch import nn
from torch.nn.modules.dropout import _DropoutNd  # the base of every dropout layer: nn.Dropout, Dropout2d, ...

from hartrace.base.errors import UsageError
from hartrace.models._registry import ModelInfo, list_models

__all__ = ["INITS", "dropout_layers", "parse_dropout", "parse_init", "set_dropout", "initialise"]

# "default": each model's own (torchvision's for its models, Xavier for vgg_bn_small, He for the ResNets).
INITS = ("default", "xavier", "kaiming")

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def parse_dropout(dropout: float | None, info: ModelInfo) -> float | None:
    """The drop probability ``info``'s model is built with: ``dropout``, or its own when None.

    Checked before anything is built: a value outside [0, 1), or any value for a model without a
    dropout layer, is a one-line :class:`UsageError` (the latter naming the models that have one).
    """
    if dropout is None:
        return info.dropout
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise UsageError(f"dropout must be a probability in [0, 1), not {dropout!r}")
    if info.dropout is None:
        raise UsageError(
            f"dropout {dropout}: {info.name} has no dropout layer; "
            f"the models that have one are {', '.join(list_models(with_dropout=True))}"
        )
    return float(dropout)


def parse_init(init: str | None) -> str:
    """``init`` checked: one of :data:`INITS` (None means ``"default"``)."""
    if init is None:
        return "default"
    if init not in INITS:
        raise UsageError(f"init must be one of {', '.join(INITS)}, not {init!r}")
    return init


def dropout_layers(model: nn.Module) -> list[_DropoutNd]:
    """Every dropout module of ``model``, in ``named_modules()`` order."""
    return [m for m in model.modules() if isinstance(m, _DropoutNd)]


def set_dropout(model: nn.Module, p: float) -> None:
    """Give every dropout layer of ``model`` the drop probability ``p``."""
    for layer in dropout_layers(model):
        layer.p = p


def initialise(model: nn.Module, init: str, loaded: Collection[str] = ()) -> list[str]:
    """Re-draw the conv and linear layers that start from random weights; returns their module paths.

    A layer whose weight is in ``loaded`` (state-dict keys a weights file or published weights filled)
    is left alone, so with pretrained weights only the new head is re-drawn. ``xavier``: Xavier-uniform
    weights. ``kaiming``: He-normal, fan-out for convolutions (as torchvision's ResNets start) and fan-in
    for linear layers (the forward-pass variance He et al. derive). Biases start at zero; BatchNorm and
    recurrent layers keep their own initialisation. ``default`` changes nothing.
    """
    if parse_init(init) == "default":
        return []
    done = []
    for name, module in model.named_modules():
        if not isinstance(module, (*_CONVS, nn.Linear)) or f"{name}.weight" in loaded:
            continue
        if init == "xavier":
            nn.init.xavier_uniform_(module.weight)
        else:
            mode = "fan_out" if isinstance(module, _CONVS) else "fan_in"
            nn.init.kaiming_normal_(module.weight, mode=mode, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
        done.append(name)
    return done

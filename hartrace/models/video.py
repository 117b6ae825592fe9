"""Clip classifiers: input ``[B, C, T, H, W]``, logits ``[B, N]``.

Three kinds, from heavy to light:

- ``r2plus1d_18``, ``r3d_18``, ``mc3_18``: torchvision's video ResNets, with their
  Kinetics-400 weights from the torch hub cache (``weights="kinetics"``);
- ``cnn_lstm`` (and ``cnn_lstm_resnet18``): a 2-D CNN on every frame, an LSTM over the
  per-frame features, a linear layer on its last output -- the classic tutorial model;
- ``c3d_small``: a small 3-D CNN that trains from scratch on a CPU.

Every one is a :class:`FreezableMixin`, so freezing, trunk-feature caching and CAMs
work as they do for the image models.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision.models as tvm
import torchvision.models.video as tvv
from torch import nn
from torchvision.models.video.resnet import VideoResNet

from hartrace.base.errors import UsageError
from hartrace.models._freeze import FreezableMixin
from hartrace.models._registry import ModelInfo, register_model
from hartrace.models._weights import imagenet_preset
from hartrace.models.scratch import ResNetSmall, he_init
from hartrace.models.torchvision_zoo import _register

__all__ = ["FreezableVideoResNet", "CNNLSTM", "C3DSmall", "check_clip"]

_KINETICS_WEIGHTS = "R2Plus1D_18_Weights.KINETICS400_V1"
# Kinetics-400 statistics: the from-scratch video nets normalise like the pretrained
# ones, so one clip pipeline fits every video model.
_SIZE, _MEAN, _STD = imagenet_preset(_KINETICS_WEIGHTS)


def check_clip(x: torch.Tensor) -> None:
    """A clear error for an image batch (or anything else) given to a video model."""
    if x.dim() != 5:
        raise UsageError(f"video models take clips shaped [B, C, T, H, W]; got a tensor of shape {list(x.shape)}")


def _layer_groups(stem: tuple[str, ...], prefix: str = "") -> dict[str, tuple[str, ...]]:
    """The stages of a ResNet-like net: ``stem``, then ``{prefix}layer1`` .. ``{prefix}layer4``."""
    return {"stem": stem, **{f"layer{i}": (f"{prefix}layer{i}",) for i in range(1, 5)}}


# -- torchvision's video ResNets -------------------------------------------------------------
class FreezableVideoResNet(FreezableMixin, VideoResNet):
    """R(2+1)D / R3D / MC3; trunk ends with the pooled 512-d clip features, head is ``fc``."""

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return torch.flatten(self.avgpool(x), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)


for _name, _weights in [
    ("r2plus1d_18", "R2Plus1D_18_Weights.KINETICS400_V1"),
    ("r3d_18", "R3D_18_Weights.KINETICS400_V1"),
    ("mc3_18", "MC3_18_Weights.KINETICS400_V1"),
]:
    _size, _mean, _std = imagenet_preset(_weights)
    _register(
        ModelInfo.video(
            _name,
            clip_length=16,  # what the Kinetics weights were trained on
            cam_layer="layer4",
            groups=_layer_groups(("stem",)),
            head=("fc",),
            input_size=_size,
            mean=_mean,
            std=_std,
            kinetics_weights=_weights,
        ),
        getattr(tvv, _name),
        FreezableVideoResNet,
    )


# -- CNN + LSTM ------------------------------------------------------------------------------
class CNNLSTM(FreezableMixin, nn.Module):
    """A 2-D CNN on every frame, an LSTM over time, a linear layer on its summary.

    The trunk is the per-frame CNN alone: ``forward_trunk`` gives ``[B, T, F]``, the
    features a frozen trunk caches, and the LSTM stays in the (trainable) head. The
    CNN's layers see ``[B*T, C, H, W]`` frame batches, so a CAM at ``backbone.layer4``
    is one map per frame.

    ``readout="last"`` classifies from the LSTM's last output, as the tutorial does;
    ``"mean"`` averages all outputs, which gives every frame a direct path to the loss
    (the last output alone must carry the whole clip through the recurrence).
    """

    def __init__(
        self,
        num_classes: int,
        backbone: nn.Module,
        features: int,
        *,
        hidden: int = 256,
        dropout: float = 0.3,
        readout: str = "last",
    ) -> None:
        super().__init__()
        if readout not in ("last", "mean"):
            raise ValueError(f"readout must be 'last' or 'mean', not {readout!r}")
        self.backbone = backbone  # frames [N, C, H, W] -> features [N, features]
        self.lstm = nn.LSTM(features, hidden, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_classes)
        self.readout = readout

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x)
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        return self.backbone(frames).view(b, t, -1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(features)
        summary = outputs[:, -1] if self.readout == "last" else outputs.mean(1)
        return self.fc(self.dropout(summary))


def _feature_extractor(net: nn.Module) -> nn.Module:
    """A ResNet whose forward stops at the pooled features (its dropout and fc become identities)."""
    if hasattr(net, "dropout"):
        net.dropout = nn.Identity()
    net.fc = nn.Identity()
    return net


_CNN_LSTM_HEAD = ("lstm", "dropout", "fc")


@register_model(
    ModelInfo.video(
        "cnn_lstm",
        clip_length=8,
        cam_layer="backbone.layer4",
        groups=_layer_groups(("backbone.conv1", "backbone.bn1"), "backbone."),
        head=_CNN_LSTM_HEAD,
        input_size=_SIZE,
        mean=_MEAN,
        std=_STD,
        dropout=0.3,
    )
)
def cnn_lstm(num_classes: int) -> CNNLSTM:
    """hartrace's from-scratch ResNetSmall on every frame, LSTM(256), linear on the last output."""
    backbone = _feature_extractor(ResNetSmall(1))
    return CNNLSTM(num_classes, backbone, backbone.layer4[-1].conv2.out_channels)


_RESNET18_WEIGHTS = "ResNet18_Weights.IMAGENET1K_V1"
_R18_MEAN, _R18_STD = imagenet_preset(_RESNET18_WEIGHTS)[1:]


@register_model(
    ModelInfo.video(
        "cnn_lstm_resnet18",
        clip_length=8,
        cam_layer="backbone.layer4",
        groups=_layer_groups(("backbone.conv1", "backbone.bn1"), "backbone."),
        head=_CNN_LSTM_HEAD,
        # 112, not ImageNet's 224: eight frames at 224 px cost as much as eight images.
        input_size=_SIZE,
        mean=_R18_MEAN,
        std=_R18_STD,
        imagenet_weights=_RESNET18_WEIGHTS,
        weights_under="backbone",
        dropout=0.3,
    )
)
def cnn_lstm_resnet18(num_classes: int) -> CNNLSTM:
    """torchvision's ResNet-18 (ImageNet weights with ``weights="imagenet"``) on every frame, then the LSTM."""
    backbone = _feature_extractor(tvm.resnet18(weights=None))
    return CNNLSTM(num_classes, backbone, 512)


# -- a small 3-D CNN from scratch -------------------------------------------------------------
_C3D_WIDTHS = (32, 64, 128, 256)
# Pooling after each layer: space twice, then space and time, then none, so layer4 keeps
# T/2 x H/8 (4 x 14 x 14 for 8 frames at 112 px) for CAMs that can point at a moment and a limb.
_C3D_POOLS: tuple[tuple[int, int, int] | None, ...] = ((1, 2, 2), (2, 2, 2), None, None)


def _conv3d_block(c_in: int, c_out: int, pool: tuple[int, int, int] | None) -> nn.Sequential:
    layers: list[tuple[str, nn.Module]] = [
        ("conv", nn.Conv3d(c_in, c_out, 3, padding=1, bias=False)),
        ("bn", nn.BatchNorm3d(c_out)),
        ("relu", nn.ReLU()),  # out-of-place: any layer can take a backward hook
    ]
    if pool is not None:
        # ceil_mode: a window hanging over the end still gives an output, so a 1-frame
        # (or odd-length) clip pools to 1 frame instead of 0.
        layers.append(("pool", nn.MaxPool3d(pool, ceil_mode=True)))
    return nn.Sequential(OrderedDict(layers))


class C3DSmall(FreezableMixin, nn.Module):
    """Stem (3x5x5 conv, spatial stride 2), four 3x3x3 conv+BN+ReLU layers, global pooling, dropout, fc.

    About 2.9M parameters. Works for any clip length, down to a single frame (the
    same architecture as a per-frame baseline), and any size from 32 px up.
    """

    def __init__(self, num_classes: int, widths: tuple[int, ...] = _C3D_WIDTHS, dropout: float = 0.5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            OrderedDict(
                [
                    ("conv", nn.Conv3d(3, widths[0], (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), bias=False)),
                    ("bn", nn.BatchNorm3d(widths[0])),
                    ("relu", nn.ReLU()),
                ]
            )
        )
        c_in = widths[0]
        for i, (width, pool) in enumerate(zip((*widths[1:], widths[-1]), _C3D_POOLS, strict=True), 1):
            setattr(self, f"layer{i}", _conv3d_block(c_in, width, pool))
            c_in = width
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, num_classes)
        he_init(self)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return torch.flatten(self.avgpool(x), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(features))


@register_model(
    ModelInfo.video(
        "c3d_small",
        clip_length=8,
        cam_layer="layer4",
        groups=_layer_groups(("stem",)),
        head=("dropout", "fc"),
        input_size=_SIZE,
        mean=_MEAN,
        std=_STD,
        dropout=0.5,
    )
)
def c3d_small(num_classes: int) -> C3DSmall:
    """A small 3-D CNN (32-64-128-256-256 channels) that trains from scratch on a CPU."""
    return C3DSmall(num_classes)

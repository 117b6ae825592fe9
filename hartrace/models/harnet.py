"""HARNet: a ResNet-50 trunk with a small convolutional head (the default model).

The head adds two 3x3 conv blocks on the 2048-channel layer4 map before pooling,
so a frozen ImageNet trunk still gets trainable spatial layers -- and a Grad-CAM
layer (``head.relu2``) that has gradients even when the trunk is frozen.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models import resnet50

from hartrace.models._freeze import FreezableMixin
from hartrace.models._registry import ModelInfo, register_model
from hartrace.models._weights import imagenet_preset
from hartrace.models.scratch import he_init

__all__ = ["HARNet", "HARNET_INFO"]

_TRUNK = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


class HARNet(FreezableMixin, nn.Module):
    """ResNet-50 trunk (torchvision names at the top level) + ``head`` Sequential."""

    def __init__(self, num_classes: int, width: tuple[int, int] = (512, 256)) -> None:
        super().__init__()
        trunk = resnet50()
        for name in _TRUNK:  # same names as torchvision: ImageNet state dicts load as-is
            setattr(self, name, getattr(trunk, name))
        c1, c2 = width
        self.head = nn.Sequential(
            OrderedDict(
                [
                    ("conv1", nn.Conv2d(2048, c1, kernel_size=3, padding=1, bias=False)),
                    ("bn1", nn.BatchNorm2d(c1)),
                    ("relu1", nn.ReLU()),  # not in-place: safe for backward hooks
                    ("conv2", nn.Conv2d(c1, c2, kernel_size=3, padding=1, bias=False)),
                    ("bn2", nn.BatchNorm2d(c2)),
                    ("relu2", nn.ReLU()),
                    ("pool", nn.AdaptiveAvgPool2d(1)),
                    ("flatten", nn.Flatten(1)),
                    ("fc", nn.Linear(c2, num_classes)),
                ]
            )
        )
        he_init(self.head)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Image batch -> layer4 feature map [B, 2048, H/32, W/32]."""
        for name in _TRUNK:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)


_SIZE, _MEAN, _STD = imagenet_preset("ResNet50_Weights.IMAGENET1K_V2")

HARNET_INFO = ModelInfo(
    name="harnet",
    task="image",
    input_size=_SIZE,
    mean=_MEAN,
    std=_STD,
    cam_layer="head.relu2",
    layer_groups={
        "stem": ("conv1", "bn1"),
        "layer1": ("layer1",),
        "layer2": ("layer2",),
        "layer3": ("layer3",),
        "layer4": ("layer4",),
        "head": ("head",),
    },
    stages=(("conv1", "bn1"), ("layer1",), ("layer2",), ("layer3",), ("layer4",)),
    head=("head",),
    imagenet_weights="ResNet50_Weights.IMAGENET1K_V2",
    default_freeze="trunk",
)


@register_model(HARNET_INFO)
def harnet(num_classes: int) -> HARNet:
    """ResNet-50 trunk, conv head; frozen trunk by default."""
    return HARNet(num_classes)

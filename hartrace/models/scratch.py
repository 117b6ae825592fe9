"""Small nets trained from scratch: what a HAR notebook builds when there is no GPU.

Both train in minutes on a CPU at 128 px (their default) and still work at 64 px,
thanks to global average pooling before the classifier. They have no ImageNet
weights, and nothing is frozen by default.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

from hartrace.models._freeze import FreezableMixin
from hartrace.models._registry import ModelInfo, register_model

__all__ = ["VGGBNSmall", "ResNetSmall"]

# Natural-image statistics: as good a normalisation as any for a net trained from scratch,
# and the same as the pretrained models, so one data pipeline fits all.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_WIDTHS = (32, 64, 128, 256)


def he_init(module: nn.Module) -> None:
    """He (fan-out, ReLU) init for every convolution, identity BatchNorm: how a ResNet starts from scratch."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
                ("bn1", nn.BatchNorm2d(c_out)),
                ("relu1", nn.ReLU()),  # out-of-place ReLUs: any of them can take a backward hook
                ("conv2", nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)),
                ("bn2", nn.BatchNorm2d(c_out)),
                ("relu2", nn.ReLU()),
                ("pool", nn.MaxPool2d(2)),
            ]
        )
    )


class VGGBNSmall(FreezableMixin, nn.Module):
    """Four VGG blocks (2 x conv3x3+BN+ReLU, max-pool), global pooling, MLP with dropout."""

    def __init__(
        self, num_classes: int, widths: tuple[int, ...] = _WIDTHS, hidden: int = 256, dropout: float = 0.5
    ) -> None:
        super().__init__()
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        c_in = 3
        for i, width in enumerate(widths, 1):
            blocks[f"block{i}"] = _conv_block(c_in, width)
            c_in = width
        self.features = nn.Sequential(blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc1", nn.Linear(c_in, hidden)),
                    ("relu", nn.ReLU()),
                    ("dropout", nn.Dropout(dropout)),
                    ("fc2", nn.Linear(hidden, num_classes)),
                ]
            )
        )
        for m in self.modules():  # Xavier, as the notebooks do
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features)


class ResNetSmall(FreezableMixin, nn.Module):
    """ResNet-18 layout (basic blocks [2, 2, 2, 2]) at 32..256 channels, dropout before fc.

    Module names follow torchvision's ResNet (conv1, bn1, layer1..layer4, fc). layer4
    keeps its input's resolution (output stride 16, as in dilated ResNets): at 112 px its
    map is 7x7 instead of 4x4, so Grad-CAM can point at a hand or a phone rather than a
    quarter of the image, for about 1.5x the compute.
    """

    def __init__(
        self,
        num_classes: int,
        layers: tuple[int, ...] = (2, 2, 2, 2),
        widths: tuple[int, ...] = _WIDTHS,
        strides: tuple[int, ...] = (1, 2, 2, 1),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c_in = widths[0]
        for i, (n_blocks, width, stride) in enumerate(zip(layers, widths, strides, strict=True), 1):
            downsample = None
            if stride != 1 or c_in != width:
                downsample = nn.Sequential(nn.Conv2d(c_in, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width))
            blocks = [BasicBlock(c_in, width, stride, downsample)]
            blocks += [BasicBlock(width, width) for _ in range(n_blocks - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
            c_in = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, num_classes)
        he_init(self)
        self._n_layers = len(layers)

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, self._n_layers + 1):
            x = getattr(self, f"layer{i}")(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(features))


def _info(
    name: str, cam_layer: str, groups: dict[str, tuple[str, ...]], head: tuple[str, ...], dropout: float
) -> ModelInfo:
    return ModelInfo.staged(
        name,
        cam_layer=cam_layer,
        groups=groups,
        head=head,
        input_size=128,
        mean=_MEAN,
        std=_STD,
        imagenet_weights=None,
        dropout=dropout,
    )


@register_model(
    _info(
        "vgg_bn_small",
        "features.block4.relu2",
        {f"block{i}": (f"features.block{i}",) for i in range(1, 5)},
        ("classifier",),
        dropout=0.5,
    )
)
def vgg_bn_small(num_classes: int) -> VGGBNSmall:
    """Compact VGG with BatchNorm, 32-64-128-256 channels, Xavier init."""
    return VGGBNSmall(num_classes)


@register_model(
    _info(
        "resnet_small",
        "layer4",
        {"stem": ("conv1", "bn1"), **{f"layer{i}": (f"layer{i}",) for i in range(1, 5)}},
        ("dropout", "fc"),
        dropout=0.3,
    )
)
def resnet_small(num_classes: int) -> ResNetSmall:
    """ResNet-18-style basic blocks at 32..256 channels."""
    return ResNetSmall(num_classes)

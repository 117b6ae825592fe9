"""torchvision's ImageNet classifiers, with an N-way classifier and freezing.

torchvision builds each model; we then swap its ``__class__`` to a module-level
subclass that adds :class:`FreezableMixin`. Module names, state-dict keys and
weights loading stay torchvision's, and the models still pickle and deepcopy.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn
from torchvision.models.densenet import DenseNet
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.resnet import ResNet
from torchvision.models.vgg import VGG
from torchvision.models.vgg import cfgs as _VGG_CFGS

from hartrace.models._freeze import FreezableMixin
from hartrace.models._registry import ModelInfo, register_model
from hartrace.models._weights import imagenet_preset

__all__ = ["FreezableResNet", "FreezableVGG", "FreezableMobileNetV2", "FreezableDenseNet"]


class FreezableResNet(FreezableMixin, ResNet):
    """ResNet / ResNeXt; trunk ends with the pooled 2048-d features, head is ``fc``."""

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)


class FreezableVGG(FreezableMixin, VGG):
    """VGG; the trunk includes the two pretrained FC layers, the head is ``classifier.6``."""

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        for layer in list(self.classifier)[:-1]:
            x = layer(x)
        return x

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier[-1](features)


class FreezableMobileNetV2(FreezableMixin, MobileNetV2):
    """MobileNetV2; trunk ends with the pooled 1280-d features, head is ``classifier``."""

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features)


class FreezableDenseNet(FreezableMixin, DenseNet):
    """DenseNet; trunk ends with the pooled features, head is ``classifier``."""

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        # Not in-place (torchvision's is): a hook on features.norm5 keeps its output.
        x = F.relu(self.features(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features)


def _info(
    name: str,
    weights: str,
    cam_layer: str,
    groups: dict[str, tuple[str, ...]],
    head: tuple[str, ...],
    dropout: float | None = None,
) -> ModelInfo:
    """ModelInfo whose stages are the groups, in order; normalisation from the weights.

    ``dropout``: the p of torchvision's dropout layers (None: the model has none).
    """
    size, mean, std = imagenet_preset(weights)
    return ModelInfo.staged(
        name,
        cam_layer=cam_layer,
        groups=groups,
        head=head,
        input_size=size,
        mean=mean,
        std=std,
        imagenet_weights=weights,
        dropout=dropout,
    )


def _register(info: ModelInfo, build: Callable[..., nn.Module], cls: type) -> None:
    """Register ``build(num_classes=N)`` wrapped so the result is a ``cls``."""

    def builder(num_classes: int) -> nn.Module:
        model = build(weights=None, num_classes=num_classes)
        model.__class__ = cls
        return model

    builder.__name__ = builder.__qualname__ = info.name
    builder.__doc__ = f"torchvision {info.name} with an N-way classifier."
    register_model(info)(builder)


# -- ResNet / ResNeXt ------------------------------------------------------------------
_RESNET_GROUPS = {
    "stem": ("conv1", "bn1"),
    "layer1": ("layer1",),
    "layer2": ("layer2",),
    "layer3": ("layer3",),
    "layer4": ("layer4",),
}
for _name, _wname in [
    ("resnet50", "ResNet50_Weights.IMAGENET1K_V2"),
    ("resnext50_32x4d", "ResNeXt50_32X4D_Weights.IMAGENET1K_V2"),
    ("resnext101_32x8d", "ResNeXt101_32X8D_Weights.IMAGENET1K_V2"),
]:
    _register(
        _info(_name, _wname, "layer4", _RESNET_GROUPS, ("fc",)),
        getattr(tvm, _name),
        FreezableResNet,
    )


# -- VGG -------------------------------------------------------------------------------
def _vgg_groups(cfg: list[int | str], batch_norm: bool) -> tuple[dict[str, tuple[str, ...]], str]:
    """Conv blocks of ``features`` split after each MaxPool, then the two FC layers.

    Also returns the last ReLU of ``features`` (relu5_3 for VGG-16: the Grad-CAM
    paper's layer, 14x14 at 224 px).
    """
    groups: dict[str, tuple[str, ...]] = {}
    block: list[str] = []
    index = 0
    last_relu = ""
    for item in cfg:
        n = 1 if item == "M" else (3 if batch_norm else 2)
        block += [f"features.{i}" for i in range(index, index + n)]
        index += n
        if item == "M":
            groups[f"block{len(groups) + 1}"] = tuple(block)
            block = []
        else:
            last_relu = f"features.{index - 1}"
    groups["fc6"] = ("classifier.0", "classifier.1", "classifier.2")
    groups["fc7"] = ("classifier.3", "classifier.4", "classifier.5")
    return groups, last_relu


def _vgg_builder(name: str, cam_layer: str) -> Callable[..., nn.Module]:
    build = getattr(tvm, name)

    def wrapped(**kwargs: object) -> nn.Module:
        model = build(**kwargs)
        # torchvision's ReLUs are in-place; full backward hooks on an in-place
        # module fail, so the Grad-CAM layer gets an out-of-place one.
        model.get_submodule(cam_layer).inplace = False
        return model

    return wrapped


for _name, _cfg, _bn, _wname in [
    ("vgg16", "D", False, "VGG16_Weights.IMAGENET1K_V1"),
    ("vgg19", "E", False, "VGG19_Weights.IMAGENET1K_V1"),
    ("vgg16_bn", "D", True, "VGG16_BN_Weights.IMAGENET1K_V1"),
]:
    _groups, _cam = _vgg_groups(_VGG_CFGS[_cfg], _bn)
    _register(
        _info(_name, _wname, _cam, _groups, ("classifier.6",), dropout=0.5),
        _vgg_builder(_name, _cam),
        FreezableVGG,
    )


# -- MobileNetV2: features.* grouped by the paper's (t, c, n, s) rows (stem with row 1, ---
# -- the final 1x1 conv with row 7) ----------------------------------------------------
_MOBILENET_GROUPS = {
    f"stage{i + 1}": tuple(f"features.{j}" for j in idx)
    for i, idx in enumerate([(0, 1), (2, 3), (4, 5, 6), (7, 8, 9, 10), (11, 12, 13), (14, 15, 16), (17, 18)])
}
_register(
    _info(
        "mobilenet_v2",
        "MobileNet_V2_Weights.IMAGENET1K_V2",
        "features.18",
        _MOBILENET_GROUPS,
        ("classifier",),
        dropout=0.2,
    ),
    tvm.mobilenet_v2,
    FreezableMobileNetV2,
)


# -- DenseNet-121 ------------------------------------------------------------------------
_DENSENET_GROUPS = {
    "stem": ("features.conv0", "features.norm0"),
    "block1": ("features.denseblock1", "features.transition1"),
    "block2": ("features.denseblock2", "features.transition2"),
    "block3": ("features.denseblock3", "features.transition3"),
    "block4": ("features.denseblock4", "features.norm5"),
}
_register(
    _info(
        "densenet121",
        "DenseNet121_Weights.IMAGENET1K_V1",
        "features.norm5",
        _DENSENET_GROUPS,
        ("classifier",),
    ),
    tvm.densenet121,
    FreezableDenseNet,
)

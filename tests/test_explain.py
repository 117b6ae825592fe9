"""Explanations against references: captum's LayerGradCam and pytorch-grad-cam, on the same inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

import hartrace
from hartrace.attribution import explain, grad_cam
from hartrace.base.errors import UsageError
from hartrace.models import get_model

MODELS = {
    "resnet50": (lambda: torchvision.models.resnet50(), ["layer2", "layer3.5", "layer4"]),
    "densenet121": (lambda: torchvision.models.densenet121(), ["features.denseblock2", "features.denseblock3"]),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(), ["features.7", "features.14", "features.18"]),
    "vgg16": (lambda: torchvision.models.vgg16(), ["features.21", "features.28"]),
    "harnet": (lambda: get_model("harnet", 15, weights="none"), ["layer3", "layer4", "head.relu2"]),
}


@pytest.fixture(scope="module")
def built() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {name: make().eval() for name, (make, _) in MODELS.items()}


def _pearson(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    a, b = (t.detach().numpy() if isinstance(t, torch.Tensor) else t for t in (a, b))
    return float(np.corrcoef(np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel())[0, 1])


def _captum_gradcam(model: nn.Module, x: torch.Tensor, layer: str, target: torch.Tensor) -> torch.Tensor:
    reference = copy.deepcopy(model)
    for p in reference.parameters():
        p.requires_grad_(True)  # captum needs a graph through a frozen trunk
    attr = LayerGradCam(reference, reference.get_submodule(layer)).attribute(x, target=target, relu_attributions=True)
    attr = LayerAttribution.interpolate(attr, tuple(x.shape[2:]), "bilinear").squeeze(1)
    flat = attr.flatten(1)
    low, high = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
    return (attr - low) / (high - low)


@pytest.mark.parametrize("name", list(MODELS))
def test_gradcam_equals_captum(built: dict[str, nn.Module], name: str) -> None:
    model = built[name]
    x = torch.randn(2, 3, 64, 64)
    target = model(x).argmax(1)
    for layer in MODELS[name][1]:
        ours = grad_cam(model, x, layer)
        assert ours.shape == (2, 64, 64) and ours.min() >= 0 and ours.max() <= 1
        assert _pearson(ours, _captum_gradcam(model, x, layer, target)) >= 0.999, layer


def _pgc_reference(model: nn.Module) -> nn.Module:
    """A copy pytorch-grad-cam can explain correctly: no in-place activations (its hooks keep a tensor
    that an in-place ReLU then overwrites) and a graph through frozen parts."""
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if isinstance(module, (nn.ReLU, nn.ReLU6)):
            module.inplace = False
    for p in reference.parameters():
        p.requires_grad_(True)
    return reference


@pytest.mark.parametrize("name", list(MODELS))
def test_cam_family_equals_pytorch_grad_cam(built: dict[str, nn.Module], name: str) -> None:
    from pytorch_grad_cam import EigenCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = built[name]
    reference = _pgc_reference(model)
    x = torch.randn(2, 3, 64, 64)
    targets = [ClassifierOutputTarget(int(t)) for t in model(x).argmax(1)]
    methods = {
        "gradcam++": GradCAMPlusPlus,
        "xgradcam": XGradCAM,
        "layercam": LayerCAM,
        "eigencam": EigenCAM,
        "hirescam": HiResCAM,
    }
    for layer in MODELS[name][1]:
        for method, cls in methods.items():
            ours = explain(model, x, layer, method=method).maps[:, 0]
            with cls(model=reference, target_layers=[reference.get_submodule(layer)]) as cam:
                theirs = cam(input_tensor=x, targets=targets)
            assert _pearson(ours, theirs) >= 0.999, (layer, method)


def test_scorecam_equals_pytorch_grad_cam() -> None:
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(1)
    model = torchvision.models.mobilenet_v2().eval()
    x = torch.randn(2, 3, 64, 64)
    targets = model(x).argmax(1)
    reference = _pgc_reference(model)
    for layer in ("features.14", "features.7"):
        ours = explain(model, x, layer, method="scorecam").maps[:, 0]
        with ScoreCAM(model=reference, target_layers=[reference.get_submodule(layer)]) as cam:
            cam.batch_size = 64
            theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])
        assert _pearson(ours, theirs) >= 0.999, layer


def test_several_classes_from_one_pass_match_one_at_a_time(built: dict[str, nn.Module]) -> None:
    model = built["resnet50"]
    x = torch.randn(2, 3, 64, 64)
    top3 = grad_cam(model, x, "layer4", target="top3")
    assert top3.shape == (2, 3, 64, 64)
    indices = model(x).topk(3).indices
    for k in range(3):
        single = grad_cam(model, x, "layer4", target=indices[:, k])
        assert torch.allclose(top3[:, k], single, atol=1e-5)


def test_targets_by_name_and_index() -> None:
    torch.manual_seed(0)
    model = get_model("resnet_small", 3, weights="none").eval()
    x = torch.randn(1, 3, 64, 64)
    by_name = grad_cam(model, x, "layer4", target="green", classes=["red", "green", "blue"])
    assert torch.allclose(by_name, grad_cam(model, x, "layer4", target=1))
    with pytest.raises(UsageError, match="unknown target class 'purple'"):
        grad_cam(model, x, "layer4", target="purple", classes=["red", "green", "blue"])
    with pytest.raises(UsageError, match="out of range"):
        grad_cam(model, x, "layer4", target=7)


def test_layer_fusion_averages_normalised_maps(built: dict[str, nn.Module]) -> None:
    model = built["resnet50"]
    x = torch.randn(1, 3, 64, 64)
    fused = grad_cam(model, x, ["layer3", "layer4"])
    parts = (grad_cam(model, x, "layer3") + grad_cam(model, x, "layer4")) / 2
    expected = (parts - parts.min()) / (parts.max() - parts.min())
    assert torch.allclose(fused, expected, atol=1e-5)


def test_a_cam_points_at_the_evidence_by_hand() -> None:
    """conv picks channel 0 = the image; the class-1 weight is on channel 0: the map is the image itself."""
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0]).view(2, 1, 1, 1))
    head = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    model = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 2:4, 5:7] = 1.0
    cam = grad_cam(model, x, "0", target=1)
    assert torch.equal(cam[0] > 0.5, x[0, 0] > 0.5)


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "smoothgrad", "occlusion", "guided_gradcam"])
def test_pixel_methods_give_normalised_maps(built: dict[str, nn.Module], method: str) -> None:
    model = built["resnet50"]
    inplace_before = [m.inplace for m in model.modules() if isinstance(m, nn.ReLU)]
    x = torch.randn(2, 3, 64, 64)
    maps = explain(model, x, "layer4", method=method, steps=8, samples=4).maps
    assert maps.shape == (2, 1, 64, 64) and maps.min() >= 0 and maps.max() == pytest.approx(1.0)
    assert [m.inplace for m in model.modules() if isinstance(m, nn.ReLU)] == inplace_before, "in-place flags restored"


def test_saliency_by_hand() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False)).eval()
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[0.0, 2.0, 0.0, -4.0], [1.0, 1.0, 1.0, 1.0]]))
    maps = explain(model, torch.ones(1, 1, 2, 2), None, method="saliency", target=0).maps
    assert torch.allclose(maps[0, 0], torch.tensor([[0.0, 0.5], [0.0, 1.0]]))


def test_video_cams_are_four_dimensional() -> None:
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3)
    ).eval()
    cams = hartrace.grad_cam(model, torch.randn(2, 3, 4, 16, 16), "1")
    assert cams.shape == (2, 4, 16, 16) and cams.max() <= 1 and cams.min() >= 0


def test_unknown_method_and_missing_layer() -> None:
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(UsageError, match="unknown method 'magiccam'"):
        explain(model, torch.randn(1, 3, 8, 8), "0", method="magiccam")
    with pytest.raises(UsageError, match="unknown layer '9'"):
        grad_cam(model, torch.randn(1, 3, 8, 8), "9")


def test_pointing_game_energy_and_random_baseline_by_hand() -> None:
    from hartrace.metrics.evidence import energy_inside, pointing_hits, random_baseline

    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[:, 0, 0:2] = True  # two of sixteen pixels
    cams = torch.zeros(2, 4, 4)
    cams[0, 0, 1] = 1.0  # peak inside
    cams[0, 3, 3] = 0.5
    cams[1, 2, 2] = 1.0  # peak outside, sqrt(5) = 2.24 px from the nearest evidence pixel (0, 1)
    assert pointing_hits(cams, masks).tolist() == [True, False]
    assert pointing_hits(cams, masks, tolerance=2).tolist() == [True, False]  # the margin is Euclidean
    assert pointing_hits(cams, masks, tolerance=3).tolist() == [True, True]
    assert torch.allclose(energy_inside(cams, masks), torch.tensor([1.0 / 1.5, 0.0]))
    assert torch.allclose(random_baseline(masks), torch.tensor([2 / 16, 2 / 16]))


def test_strict_and_tolerant_pointing_game_against_a_distance_transform() -> None:
    """Both pointing-game figures and their random baselines, recounted from scratch: a peak is a hit when its
    Euclidean distance to the evidence (scipy's distance transform) is 0 (strict) or at most the tolerance; a
    random map hits as often as the pixels that near cover the image. No margin makes the two figures one."""
    from scipy.ndimage import distance_transform_edt

    from hartrace.metrics.evidence import pointing_game

    generator = torch.Generator().manual_seed(0)
    cams = torch.rand(40, 24, 20, generator=generator)
    masks = torch.zeros(40, 24, 20, dtype=torch.bool)
    corners = torch.randint(0, 16, (40, 2), generator=generator).tolist()
    sides = torch.randint(1, 8, (40, 2), generator=generator).tolist()
    for mask, (y, x), (h, w) in zip(masks, corners, sides, strict=True):
        mask[y : y + h, x : x + w] = True
    cams[:10] += 2 * masks[:10]  # a quarter of the maps peak on their evidence
    distances = [distance_transform_edt(~mask.numpy()) for mask in masks]  # 0 on the evidence
    peaks = [np.unravel_index(int(cam.argmax()), cam.shape) for cam in cams]
    for tolerance in (0, 1, 4, 15):
        game = pointing_game(cams, masks, tolerance)
        assert game.strict.tolist() == [bool(d[p] == 0) for d, p in zip(distances, peaks, strict=True)]
        assert game.tolerant.tolist() == [bool(d[p] <= tolerance) for d, p in zip(distances, peaks, strict=True)]
        assert game.strict_random.tolist() == pytest.approx([float((d == 0).mean()) for d in distances])
        assert game.tolerant_random.tolist() == pytest.approx([float((d <= tolerance).mean()) for d in distances])
        if tolerance == 4:  # the margin turns some misses into hits, and widens a random map's target as much
            assert 0 < int(game.strict.sum()) < int(game.tolerant.sum()) < len(cams)
            assert bool((game.tolerant_random > game.strict_random).all())
    no_margin = pointing_game(cams, masks, 0)
    assert torch.equal(no_margin.strict, no_margin.tolerant)
    assert torch.equal(no_margin.strict_random, no_margin.tolerant_random)
    # clips: each frame scored alone is each image scored alone
    frames = pointing_game(cams.view(8, 5, 24, 20), masks.view(8, 5, 24, 20), 4, per_frame=True)
    assert frames.tolerant.flatten().tolist() == pointing_game(cams, masks, 4).tolerant.tolist()

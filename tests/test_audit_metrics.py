"""The audit's metrics on cases small enough to work out by hand.

Most tests use :class:`PixelLogit`: two classes, logit_0 = sum over channels and pixels of
w * x, logit_1 = 0, so p_0 = sigmoid(sum w * x). With weights in units of L = ln 3 the
probabilities are fractions: sigmoid(k L) = 3^k / (3^k + 1), i.e.
k = -1: 1/4, 0: 1/2, 1: 3/4, 2: 9/10, 3: 27/28.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from hartrace.attribution import explain
from hartrace.base.errors import UsageError
from hartrace.metrics import faithfulness as F
from hartrace.metrics import sanity as S
from hartrace.metrics.faithfulness import average_drop_increase, curve_auc, perturbation_curve
from hartrace.metrics.sanity import cascading_randomisation, sanity_verdict
from hartrace.models import get_model

L = math.log(3.0)


class PixelLogit(nn.Module):
    """logit_0 = sum(w * x), logit_1 = 0; records every call's batch size, mode and grad state."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.float())
        self.calls: list[int] = []
        self.modes: list[bool] = []
        self.grad: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        self.modes.append(self.training)
        self.grad.append(torch.is_grad_enabled())
        logit = (x * self.weight).flatten(1).sum(1)
        return torch.stack([logit, torch.zeros_like(logit)], dim=1)


def grid(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


# -- deletion and insertion ---------------------------------------------------------------


def test_deletion_and_insertion_with_zero_baseline_by_hand() -> None:
    # Two channels of ones; per pixel (both channels together) the contributions are
    # p0: 2L, p1: L, p2: 0, p3: -L, so the image scores s = 2L -> 9/10.
    # The map ranks p0 > p1 > p2 > p3. Deletion (zeros), one pixel per step:
    #   s = 2L, 0, -L, -L, 0  ->  9/10, 1/2, 1/4, 1/4, 1/2
    #   AUC = 1/4 * (9/20 + 1/2 + 1/4 + 1/4 + 1/4) = 0.425
    # Insertion (from zeros): s = 0, 2L, 3L, 3L, 2L -> 1/2, 9/10, 27/28, 27/28, 9/10
    #   AUC = 1/4 * (1/4 + 9/10 + 27/28 + 27/28 + 9/20) = 0.4 + 27/56
    # Image 2 is the same with target class 1: every value is 1 - p_0.
    per_channel = grid([L, L / 2], [0.0, -L / 2])
    model = PixelLogit(torch.stack([per_channel, per_channel]))
    images = torch.ones(2, 2, 2, 2)
    maps = grid([0.9, 0.5], [0.1, 0.0]).expand(2, 2, 2)
    targets = torch.tensor([0, 1])

    deletion = perturbation_curve(model, images, maps, targets, mode="deletion", steps=4, baseline="zero")
    expected = np.array([9 / 10, 1 / 2, 1 / 4, 1 / 4, 1 / 2])
    np.testing.assert_allclose(deletion, [expected, 1 - expected], atol=1e-6)
    np.testing.assert_allclose(curve_auc(deletion[0]), 0.425, atol=1e-6)

    insertion = perturbation_curve(model, images, maps, targets, mode="insertion", steps=4, baseline="zero")
    expected = np.array([1 / 2, 9 / 10, 27 / 28, 27 / 28, 9 / 10])
    np.testing.assert_allclose(insertion, [expected, 1 - expected], atol=1e-6)
    np.testing.assert_allclose(curve_auc(insertion[0]), 0.4 + 27 / 56, atol=1e-6)
    assert deletion.shape == (2, 5) and deletion.dtype == np.float64


def test_mean_baseline_floor_counts_and_stable_ties_by_hand() -> None:
    # One channel, x = [[2, 2], [0, 0]] (mean 1), w = L * [[1, -1], [1, 1]]: contributions
    # 2L, -2L, 0, 0 -> s = 0 -> 1/2. Replaced by the mean 1, a pixel contributes w.
    # Map [[0, 0], [1, 0.5]]: order p2, p3, then the tie p0, p1 in row-major order.
    model = PixelLogit(L * grid([1, -1], [1, 1])[None])
    images = grid([2, 2], [0, 0])[None, None]
    maps = grid([0, 0], [1, 0.5])[None]
    target = torch.tensor([0])

    def curve(mode: str, steps: int) -> np.ndarray:
        return perturbation_curve(model, images, maps, target, mode=mode, steps=steps, baseline="mean")[0]

    # steps=4: s = 0, L (p2 -> 1), 2L (p3), L (p0 -> 1: 2L -> L), 2L (p1: -2L -> -L).
    # Breaking the tie the other way (p1 before p0) would give 3L -> 27/28 at step 3.
    np.testing.assert_allclose(curve("deletion", 4), [1 / 2, 3 / 4, 9 / 10, 3 / 4, 9 / 10], atol=1e-6)
    # steps=3 on 4 pixels: floor(k * 4 / 3) = 0, 1, 2, 4 pixels.
    np.testing.assert_allclose(curve("deletion", 3), [1 / 2, 3 / 4, 9 / 10, 9 / 10], atol=1e-6)
    # steps=2: 0, 2, 4 pixels; AUC = 1/2 * (1/4 + 9/10 + 9/20) = 0.8.
    np.testing.assert_allclose(curve_auc(curve("deletion", 2)), 0.8, atol=1e-6)
    # Insertion from the mean image (s = 2L), restoring p2 (0), p3 (0), p0 (2), p1 (2):
    # s = 2L, L, 0, L, 0.
    np.testing.assert_allclose(curve("insertion", 4), [9 / 10, 3 / 4, 1 / 2, 3 / 4, 1 / 2], atol=1e-6)


def test_blur_baseline_by_hand() -> None:
    # 16 x 16 zeros with one bright centre pixel; the model looks only at the centre.
    # The kernel is 16 // 4 = 4 -> odd 5, sigma = 0.3 * ((5 - 1) / 2 - 1) + 0.8 = 1.1, so the
    # blurred centre is g0^2, g0 = 1 / sum_{i=-2..2} exp(-i^2 / (2 * 1.1^2)) (far from the border).
    weight = torch.zeros(1, 16, 16)
    weight[0, 8, 8] = 2.0
    image = torch.zeros(1, 1, 16, 16)
    image[0, 0, 8, 8] = 1.0
    g0 = 1 / sum(math.exp(-(i**2) / (2 * 1.1**2)) for i in range(-2, 3))
    blurred = 1 / (1 + math.exp(-2.0 * g0**2))
    sharp = 1 / (1 + math.exp(-2.0))
    model = PixelLogit(weight)
    maps = image[:, 0]  # the centre first, then row-major
    deletion = perturbation_curve(model, image, maps, torch.tensor([0]), mode="deletion", steps=4, baseline="blur")
    np.testing.assert_allclose(deletion[0], [sharp, blurred, blurred, blurred, blurred], atol=1e-6)
    insertion = perturbation_curve(model, image, maps, torch.tensor([0]), mode="insertion", steps=4, baseline="blur")
    np.testing.assert_allclose(insertion[0], [blurred, sharp, sharp, sharp, sharp], atol=1e-6)
    assert F.blur_kernel_size(16, 16) == 5 and F.blur_kernel_size(64, 48) == 13 and F.blur_kernel_size(2, 2) == 1

    # A constant image is its own blur: every step scores the same.
    flat = torch.full((1, 1, 16, 16), 0.3)
    curve = perturbation_curve(model, flat, torch.rand(1, 16, 16), torch.tensor([0]), mode="deletion", steps=5)
    np.testing.assert_allclose(curve[0], np.full(6, 1 / (1 + math.exp(-0.6))), atol=1e-6)


def test_random_order_is_seeded_and_a_permutation() -> None:
    # 4 x 4 pixels with distinct contributions c = w (x = ones). With steps = N = 16 each step
    # removes one pixel, so the logit differences must be the contributions in some order.
    torch.manual_seed(0)
    weight = (torch.randperm(16).float() - 7.5).view(1, 4, 4) / 8
    model = PixelLogit(weight)
    images, target = torch.ones(1, 1, 4, 4), torch.tensor([0])
    maps = weight[:, :, :]  # the true contributions: map order = most positive first

    def run(order: str, seed: int = 0) -> np.ndarray:
        generator = torch.Generator().manual_seed(seed)
        return perturbation_curve(
            model, images, maps, target, mode="deletion", steps=16, order=order, generator=generator, baseline="zero"
        )[0]

    by_map, random = run("map"), run("random")
    np.testing.assert_array_equal(random, run("random"))  # same seed, same order
    assert not np.allclose(random, by_map) and not np.allclose(random, run("random", seed=1))
    logits = np.log(random / (1 - random))
    np.testing.assert_allclose(np.sort(-np.diff(logits)), np.sort(weight.flatten().numpy()), atol=1e-4)
    np.testing.assert_allclose([random[0], random[-1]], [by_map[0], by_map[-1]], atol=1e-7)
    # Removing the truly most important pixels first falls fastest: the lowest deletion AUC.
    assert curve_auc(by_map) < curve_auc(random)
    np.testing.assert_allclose(
        -np.diff(np.log(by_map / (1 - by_map))), np.sort(weight.flatten().numpy())[::-1], atol=1e-4
    )


def test_clips_mask_the_same_pixel_in_every_channel_and_frame() -> None:
    # Clip [1, 1, T=2, 1, 2] of ones; contributions frame 0: L, 0; frame 1: 2L, -L (s = 2L).
    # The map ranks (t1, w0) > (t0, w1) > (t0, w0) > (t1, w1): s = 2L, 0, 0, -L, 0.
    weight = torch.tensor([[[[L, 0.0]], [[2 * L, -L]]]])
    maps = torch.tensor([[[[0.1, 0.2]], [[0.9, 0.0]]]])
    curve = perturbation_curve(
        PixelLogit(weight),
        torch.ones(1, 1, 2, 1, 2),
        maps,
        torch.tensor([0]),
        mode="deletion",
        steps=4,
        baseline="zero",
    )
    np.testing.assert_allclose(curve[0], [9 / 10, 1 / 2, 1 / 2, 1 / 4, 1 / 2], atol=1e-6)


def test_curve_auc() -> None:
    np.testing.assert_allclose(curve_auc(np.linspace(1, 0, 21)), 0.5)
    np.testing.assert_allclose(curve_auc(np.full((2, 3, 7), 0.3)), np.full((2, 3), 0.3))
    np.testing.assert_allclose(curve_auc([0.0, 1.0, 0.0]), 0.5)  # a triangle of base 1, height 1


def test_forward_passes_batched_in_eval_mode_without_gradients() -> None:
    # 3 images x (4 + 1) steps = 15 inputs in chunks of 4: calls of 4, 4, 4, 3.
    model = PixelLogit(torch.ones(1, 2, 2)).train()
    images, maps = torch.rand(3, 1, 2, 2), torch.rand(3, 2, 2)
    perturbation_curve(model, images, maps, torch.zeros(3, dtype=torch.long), mode="insertion", steps=4, batch_size=4)
    assert model.calls == [4, 4, 4, 3]
    assert not any(model.modes) and not any(model.grad)
    assert model.training  # restored

    # A frozen (eval-mode) part of a training model stays in eval mode afterwards.
    outer = nn.Sequential(model, nn.Identity()).train()
    outer[1].eval()
    average_drop_increase(outer, images, maps, torch.zeros(3, dtype=torch.long), batch_size=64)
    assert outer.training and model.training and not outer[1].training
    assert model.calls[-1] == 6  # the images and the masked images in one call


def test_resnet_small_deletion_is_fast_and_counted() -> None:
    torch.manual_seed(0)
    model = get_model("resnet_small", 4).eval()
    images = torch.randn(16, 3, 64, 64)
    maps = explain(model, images, "layer4").maps[:, 0]
    targets = torch.zeros(16, dtype=torch.long)
    sizes: list[int] = []
    handle = model.register_forward_hook(lambda _m, inputs, _o: sizes.append(inputs[0].shape[0]))
    try:
        perturbation_curve(model, images[:2], maps[:2], targets[:2], mode="deletion", steps=2)  # warm-up
        sizes.clear()
        start = time.perf_counter()
        curves = perturbation_curve(model, images, maps, targets, mode="deletion", steps=20, batch_size=64)
        seconds = time.perf_counter() - start
    finally:
        handle.remove()
    assert sum(sizes) == 16 * 21 and max(sizes) <= 64 and len(sizes) == math.ceil(16 * 21 / 64)
    assert curves.shape == (16, 21) and np.all((curves >= 0) & (curves <= 1))
    print(f"deletion, 16 images at 64 px, 20 steps, resnet_small: {seconds:.2f} s")


# -- average drop and increase ------------------------------------------------------------


def test_average_drop_and_increase_by_hand() -> None:
    # x = ones (1 x 2 x 2), contributions w = L * [2, 1, 0, -1]: Y = p(2L) = 9/10 for each image.
    #   map [0.5, 0, 0, 0] -> x' = [0.5, 0, 0, 0], s = L, O = 3/4: drop (9/10 - 3/4) / (9/10) = 1/6, no increase
    #   map [1, 1, 0, 0]   -> s = 3L, O = 27/28 > 9/10: drop 0, increase
    #   map ones           -> O = Y: drop 0, no increase (strictly higher only)
    model = PixelLogit(L * grid([2, 1], [0, -1])[None])
    images = torch.ones(3, 1, 2, 2)
    maps = torch.stack([grid([0.5, 0], [0, 0]), grid([1, 1], [0, 0]), torch.ones(2, 2)])
    drop, increase = average_drop_increase(model, images, maps, torch.zeros(3, dtype=torch.long))
    np.testing.assert_allclose(drop, [1 / 6, 0, 0], atol=1e-6)
    np.testing.assert_array_equal(increase, [0.0, 1.0, 0.0])


def test_average_drop_masks_the_normalised_tensor_like_the_zero_baseline() -> None:
    # A zero map leaves zeros: exactly the fully deleted input of the "zero" baseline.
    torch.manual_seed(0)
    model = get_model("resnet_small", 3).eval()
    images, targets = torch.randn(2, 3, 32, 32), torch.tensor([0, 2])
    drop, _ = average_drop_increase(model, images, torch.zeros(2, 32, 32), targets)
    curve = perturbation_curve(model, images, torch.rand(2, 32, 32), targets, mode="deletion", steps=1, baseline="zero")
    np.testing.assert_allclose(drop, np.maximum(0, curve[:, 0] - curve[:, 1]) / curve[:, 0], rtol=1e-5)


def test_average_drop_equals_pytorch_grad_cam() -> None:
    # pytorch-grad-cam's DropInConfidence is max(0, Y - O) (not divided by Y), with the same masking.
    from pytorch_grad_cam.metrics.cam_mult_image import DropInConfidence, IncreaseInConfidence
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    torch.manual_seed(1)
    model = get_model("resnet_small", 3).eval()
    images, maps = torch.randn(4, 3, 32, 32), torch.rand(4, 32, 32)
    targets = torch.tensor([0, 1, 2, 1])
    drop, increase = average_drop_increase(model, images, maps, targets)
    wanted = [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    with torch.no_grad():
        full = model(images).softmax(1)[torch.arange(4), targets].numpy()
    np.testing.assert_allclose(drop * full, DropInConfidence()(images, maps.numpy(), wanted, model), atol=1e-5)
    np.testing.assert_array_equal(increase, IncreaseInConfidence()(images, maps.numpy(), wanted, model))


# -- cascading randomisation --------------------------------------------------------------


def _brightness(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """An "explanation" that ignores the model: the image's brightness."""
    return images.mean(1)


def _gradcam(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return explain(model, images, "layer4", target=targets).maps[:, 0]


@pytest.fixture
def small() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    model = get_model("resnet_small", 5).eval()
    with torch.no_grad():  # BatchNorm away from its defaults, as after training, so resetting it shows
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.1)
            bn.running_mean.normal_(0.0, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
    images = torch.randn(6, 3, 64, 64)
    with torch.no_grad():
        targets = model(images).argmax(1)
    return model, images, targets


def test_cascade_leaves_the_callers_model_alone_and_goes_head_first(small) -> None:
    model, images, targets = small
    before = {k: v.clone() for k, v in model.state_dict().items()}
    original = model.state_dict()
    changed_at_each_call: list[set[str]] = []

    def spy(copy: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        assert copy is not model and not copy.training
        changed = {name.split(".")[0] for name, t in copy.state_dict().items() if not torch.equal(t, original[name])}
        changed_at_each_call.append(changed)
        return _gradcam(copy, images, targets)

    steps = cascading_randomisation(model, images, targets, spy)
    assert [s.randomised for s in steps] == ["original", "head", "layer4", "layer3", "layer2", "layer1", "stem"]
    # Cumulative, top down: nothing, then fc, then fc + layer4, ..., then everything.
    assert changed_at_each_call == [
        set(),
        {"fc"},
        {"fc", "layer4"},
        {"fc", "layer4", "layer3"},
        {"fc", "layer4", "layer3", "layer2"},
        {"fc", "layer4", "layer3", "layer2", "layer1"},
        {"fc", "layer4", "layer3", "layer2", "layer1", "conv1", "bn1"},
    ]
    assert steps[0].spearman_mean == 1.0 and steps[0].per_image == [1.0] * 6 and steps[0].spearman_std == 0.0
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training


def test_gradcam_passes_on_resnet_small(small) -> None:
    # Grad-CAM of this random network decorrelates once the head is randomised: the final
    # means for cascade seeds 0-5 are -0.03, 0.0, -0.35, 0.0, 0.0, 0.0 (0.0: every map went
    # flat, which counts as 0). Seed 0 keeps real rankings to the end (no flat map), so the
    # test guards that the cascade reaches the weights Grad-CAM depends on, not only the NaN rule.
    model, images, targets = small
    steps = cascading_randomisation(model, images, targets, _gradcam, seed=0)
    assert all(s.spearman_mean < 0.5 for s in steps[1:])
    assert all(value != 0.0 for value in steps[-1].per_image)
    verdict = sanity_verdict(steps)
    assert verdict["passed"] and verdict["final"] == steps[-1].spearman_mean < 0.3
    assert verdict["first_below"] in [s.randomised for s in steps[1:]]
    again = cascading_randomisation(model, images, targets, _gradcam, seed=0)
    assert [s.per_image for s in again] == [s.per_image for s in steps]  # reproducible


def test_a_map_that_ignores_the_weights_fails(small) -> None:
    model, images, targets = small
    steps = cascading_randomisation(model, images, targets, _brightness)
    assert all(s.per_image == pytest.approx([1.0] * 6) for s in steps)
    verdict = sanity_verdict(steps)
    assert not verdict["passed"] and verdict["final"] == pytest.approx(1.0) and verdict["first_below"] is None


def test_spearman_per_step_by_hand() -> None:
    # Three Linear layers (no model info): groups "2", "1", "0". The explanation is scripted:
    # image 0: [0,1,2,3] then [0,1,3,2] (rho = 1 - 6*2/(4*15) = 0.8), [3,2,1,0] (-1), constant (NaN -> 0)
    # image 1: [0,1,2,3] then [0,1,4,9] (1), [1,0,2,3] (0.8), [3,2,1,0] (-1)
    # means 0.9, -0.1, -0.5; population std 0.1, 0.9, 0.5.
    script = iter(
        [
            [[0, 1, 2, 3], [0, 1, 2, 3]],
            [[0, 1, 3, 2], [0, 1, 4, 9]],
            [[3, 2, 1, 0], [1, 0, 2, 3]],
            [[5, 5, 5, 5], [3, 2, 1, 0]],
        ]
    )
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2))
    steps = cascading_randomisation(
        model,
        torch.zeros(2, 1, 2, 2),
        torch.zeros(2),
        lambda *_: torch.tensor(next(script), dtype=torch.float32).view(2, 2, 2),
    )
    assert [s.randomised for s in steps] == ["original", "2", "1", "0"]
    np.testing.assert_allclose([s.per_image for s in steps[1:]], [[0.8, 1.0], [-1.0, 0.8], [0.0, -1.0]], atol=1e-12)
    np.testing.assert_allclose([s.spearman_mean for s in steps], [1.0, 0.9, -0.1, -0.5], atol=1e-12)
    np.testing.assert_allclose([s.spearman_std for s in steps], [0.0, 0.1, 0.9, 0.5], atol=1e-12)
    verdict = sanity_verdict(steps)
    assert verdict == {"passed": True, "final": pytest.approx(-0.5), "threshold": 0.3, "first_below": "1"}
    assert sanity_verdict(steps, threshold=-0.6)["passed"] is False


def test_default_groups_without_model_info_and_given_layers(small) -> None:
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    assert [name for name, _ in S.cascade_groups(plain)] == ["4", "1", "0"]
    model = small[0]
    assert S.cascade_groups(model, ["head", "layer4.1"]) == [("head", ("dropout", "fc")), ("layer4.1", ("layer4.1",))]
    assert S.cascade_groups(model)[-1] == ("stem", ("conv1", "bn1"))
    with pytest.raises(UsageError, match="layer4"):
        S.cascade_groups(model, ["layer44"])


def test_randomise_resets_batchnorm_and_is_seeded() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with torch.no_grad():
        net[1].weight.fill_(3.0)
        net[1].bias.fill_(2.0)
        net[1].running_mean.fill_(5.0)
        net[1].running_var.fill_(7.0)
    twin = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    S.randomise(net, ["0", "1"], seed=4)
    S.randomise(twin, ["0", "1"], seed=4)
    bn = net[1]
    assert torch.equal(bn.weight, torch.ones(2)) and torch.equal(bn.bias, torch.zeros(2))
    assert torch.equal(bn.running_mean, torch.zeros(2)) and torch.equal(bn.running_var, torch.ones(2))
    assert torch.equal(net[0].weight, twin[0].weight)

    class Raw(nn.Module):  # parameters but no reset_parameters: normal(0, 0.02)
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.full((4000,), 9.0))

    raw = Raw()
    S.randomise(raw, [""], seed=0)
    scale = raw.scale.detach()
    assert abs(float(scale.std()) - 0.02) < 0.002 and abs(float(scale.mean())) < 0.002


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"maps": torch.rand(2, 1, 4, 4)},
        {"maps": torch.rand(2, 4, 5)},
        {"maps": torch.rand(3, 4, 4)},
        {"maps": torch.full((2, 4, 4), float("nan"))},
        {"steps": 0},
        {"steps": 2.5},
        {"mode": "removal"},
        {"order": "best"},
        {"baseline": "noise"},
        {"batch_size": 0},
        {"targets": torch.tensor([0.0, 1.0])},
        {"targets": torch.tensor([0, 5])},
        {"images": torch.rand(4, 4)},
    ],
)
def test_bad_input_is_a_usage_error(change: dict) -> None:
    args = {
        "images": torch.rand(2, 1, 4, 4),
        "maps": torch.rand(2, 4, 4),
        "targets": torch.tensor([0, 1]),
        "mode": "deletion",
        "steps": 4,
    }
    args.update(change)
    model = PixelLogit(torch.ones(1, 4, 4))
    with pytest.raises(UsageError):
        perturbation_curve(model, args.pop("images"), args.pop("maps"), args.pop("targets"), **args)


def test_bad_input_elsewhere_is_a_usage_error(small) -> None:
    model = PixelLogit(torch.ones(1, 2, 2))
    with pytest.raises(UsageError, match="0, 1"):
        average_drop_increase(model, torch.ones(1, 1, 2, 2), torch.full((1, 2, 2), 2.0), torch.tensor([0]))
    with pytest.raises(UsageError):
        curve_auc([0.5])
    with pytest.raises(UsageError):
        sanity_verdict([])
    resnet, images, targets = small
    with pytest.raises(UsageError, match="B=6"):
        cascading_randomisation(resnet, images, targets, lambda m, x, t: _brightness(m, x, t)[:2])
    with pytest.raises(UsageError):
        cascading_randomisation(resnet, images, targets[:2], _brightness)

"""HookManager: what it captures, that it never leaks hooks, and the awkward modules."""

from __future__ import annotations

import gc
import resource

import pytest
import torch
import torchvision
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.probe import GradientSource, HookManager, LayerStats, capture, layer_table, list_layers


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


class TinyNet(nn.Module):
    """conv(1->2, 3x3) -> ReLU(inplace) -> global mean -> linear: small enough to check by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, 1, 1] = 1.0  # channel 0 = the input
            self.conv.weight[1, 0, 1, 1] = -1.0  # channel 1 = minus the input
            self.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)).mean(dim=(2, 3)))


def test_activations_gradients_kernels_and_stats_by_hand() -> None:
    model = TinyNet()
    x = torch.tensor([[[[1.0, -2.0], [3.0, 0.0]]]])
    with HookManager(model, ["conv", "relu"], gradients=["conv"]) as hooks:
        result = hooks.forward(x)
        hooks.backward(torch.tensor([1]))
    conv = result["conv"]
    # the conv output is captured before the in-place ReLU changes it
    assert torch.equal(conv.activation[0, 1], torch.tensor([[-1.0, 2.0], [-3.0, 0.0]]))
    assert torch.equal(result["relu"].activation[0, 1], torch.tensor([[0.0, 2.0], [0.0, 0.0]]))
    # d logit_1 / d conv_1 = 2 * relu'(conv_1) / 4 pixels
    assert torch.allclose(conv.gradient[0, 0, 1], torch.tensor([[0.0, 0.5], [0.0, 0.0]]))
    assert torch.equal(conv.gradient[0, 0, 0], torch.zeros(2, 2))
    assert conv.kernel is not None and conv.kernel.shape == (2, 1, 3, 3) and result["relu"].kernel is None
    assert conv.kind == "Conv2d" and conv.shape == (1, 2, 2, 2)
    stats = result["relu"].stats
    assert stats.zero_fraction == pytest.approx(5 / 8) and stats.max == 3.0
    assert stats.dead_fraction == 0.0 and sum(stats.counts) == 8
    assert torch.allclose(result.probabilities.sum(1), torch.ones(1))
    assert list(result.layers) == ["conv", "relu"], "layers in the order the model ran them"
    assert not conv.activation.requires_grad and conv.activation.grad_fn is None


def test_dead_channel_statistic() -> None:
    stats = LayerStats.of(torch.tensor([[[[1.0]], [[-1.0]], [[0.0]], [[2.0]]]]))
    assert stats.dead_fraction == pytest.approx(0.5)


def test_unknown_layer_fails_before_any_work_with_suggestions() -> None:
    model = torchvision.models.resnet18()
    with pytest.raises(UsageError, match=r"'layer1.0.con1' \(did you mean layer1.0.conv1.*hartrace layers"):
        HookManager(model, ["layer1.0.con1"])
    assert _hook_count(model) == 0


def test_hooks_are_removed_even_when_the_forward_pass_raises() -> None:
    model = torchvision.models.resnet18()
    with pytest.raises(RuntimeError):
        with HookManager(model, ["layer1", "layer4"], gradients=["layer4"]) as hooks:
            hooks.forward(torch.zeros(1, 5, 32, 32))  # wrong channel count: conv1 raises
    assert _hook_count(model) == 0
    assert torch.is_grad_enabled(), "grad mode is restored"


def test_exceptions_inside_the_block_are_not_swallowed() -> None:
    model = TinyNet()
    with pytest.raises(IndexError):
        with HookManager(model, ["conv"]):
            raise IndexError("mine")
    assert _hook_count(model) == 0


def test_a_thousand_cycles_leave_no_hooks_and_flat_memory() -> None:
    model = torchvision.models.resnet18()
    x = torch.randn(1, 3, 32, 32)

    def cycle(i: int) -> None:
        try:
            with HookManager(model, ["layer2", "layer4"], gradients=["layer4"]) as hooks:
                result = hooks.forward(x)
                hooks.backward(result.logits.argmax(1))
                if i % 3 == 0:
                    raise KeyError(i)
        except KeyError:
            pass

    for i in range(50):
        cycle(i)
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(1000):
        cycle(i)
    gc.collect()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert _hook_count(model) == 0
    assert grown_mb < 50, f"peak memory grew by {grown_mb:.0f} MB over 1,000 cycles"


def test_independent_managers_on_one_model_do_not_interfere() -> None:
    model = torchvision.models.resnet18().eval()
    a, b = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    with (
        HookManager(model, ["layer3"]) as first,
        HookManager(model, ["layer3", "layer4"], gradients=["layer4"]) as second,
    ):
        capture_a = first.forward(a)
        capture_b = second.forward(b)
        second.backward(capture_b.logits.argmax(1))
    alone = capture(model, a, ["layer3"])
    assert torch.allclose(capture_a["layer3"].activation, alone["layer3"].activation)
    assert not torch.allclose(capture_a["layer3"].activation, capture_b["layer3"].activation)
    assert _hook_count(model) == 0


def test_mode_is_restored_and_frozen_trunks_still_give_gradients() -> None:
    from hartrace.models import get_model

    model = get_model("harnet", 3, weights="none", freeze="trunk").train()
    result = capture(model, torch.randn(2, 3, 64, 64), ["layer3", "layer4"], gradient_layers=["layer4"])
    assert model.training and model.layer1.training is False, "train mode restored, frozen parts stay eval"
    assert result["layer4"].gradient.shape == (2, 1, 2048, 2, 2)
    assert result["layer4"].gradient.abs().sum() > 0
    assert result["layer3"].gradient is None


@pytest.mark.parametrize("name", ["densenet121", "mobilenet_v2", "vgg16"])
def test_torchvision_families_with_inplace_activations(name: str) -> None:
    model = getattr(torchvision.models, name)().eval()
    layer = {"densenet121": "features.denseblock2", "mobilenet_v2": "features.7", "vgg16": "features.15"}[name]
    x = torch.randn(1, 3, 64, 64)
    result = capture(model, x, [layer], gradient_layers=[layer], targets=torch.tensor([[3, 7]]))
    assert result[layer].gradient.shape[:2] == (1, 2) and torch.isfinite(result[layer].gradient).all()
    with torch.no_grad():
        assert torch.allclose(result.logits, model(x), atol=1e-5), "capturing does not change the output"


def test_five_dimensional_activations() -> None:
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 5)
    )
    result = capture(model, torch.randn(2, 3, 4, 8, 8), ["0", "1"], gradient_layers=["0"])
    assert result["0"].activation.shape == (2, 4, 4, 8, 8)
    assert result["0"].gradient.shape == (2, 1, 4, 4, 8, 8)
    assert result["0"].kernel.shape == (4, 3, 3, 3, 3)
    assert (result["0"].activation < 0).any(), "captured before the in-place ReLU"


def test_layer_listing_and_table() -> None:
    model = torchvision.models.resnet18()
    names = [row.name for row in list_layers(model)]
    assert names[:2] == ["conv1", "bn1"] and "layer1.0.conv1" in names
    table = {row.name: row for row in layer_table(model, (1, 3, 64, 64), pattern="layer4.1")}
    assert table["layer4.1.conv2"].output_shape == (1, 512, 2, 2)
    assert table["layer4.1.conv2"].parameters == 512 * 512 * 9
    assert "conv1" not in table


def test_concurrent_managers_in_threads_capture_their_own_pass() -> None:
    from concurrent.futures import ThreadPoolExecutor

    model = torchvision.models.resnet18().eval()
    inputs = [torch.randn(1, 3, 48, 48) for _ in range(8)]
    expected = [capture(model, x, ["layer3"])["layer3"].activation for x in inputs]

    def run(i: int) -> torch.Tensor:
        with HookManager(model, ["layer3", "layer4"], gradients=["layer4"]) as hooks:
            result = hooks.forward(inputs[i])
            hooks.backward(result.logits.argmax(1))
        return result["layer3"].activation

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(run, list(range(8)) * 3))
    for i, activation in enumerate(got):
        assert torch.allclose(activation, expected[i % 8], atol=1e-5), i
    assert _hook_count(model) == 0


def test_batched_and_per_class_gradients_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    model = torchvision.models.resnet18().eval()
    x = torch.randn(2, 3, 48, 48)
    targets = torch.tensor([[1, 5, 9], [0, 2, 4]])
    batched = capture(model, x, ["layer3", "layer4"], gradient_layers=["layer3", "layer4"], targets=targets)

    def no_batching_rule(*args: object) -> None:
        raise RuntimeError("no batching rule")

    monkeypatch.setattr(GradientSource, "_batched", no_batching_rule)
    looped = capture(model, x, ["layer3", "layer4"], gradient_layers=["layer3", "layer4"], targets=targets)
    for name in ("layer3", "layer4"):
        assert batched[name].gradient.shape == (2, 3, *batched[name].shape[1:])
        assert torch.allclose(batched[name].gradient, looped[name].gradient, atol=1e-6)

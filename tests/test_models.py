"""hartrace.models: the zoo builds, freezes, and loads weights as a user expects."""

from __future__ import annotations

import copy
import pickle
import socket
import urllib.request
import warnings
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from hartrace.base.errors import UsageError, WeightsNotFoundError
from hartrace.models import get_model, imagenet_weights_file, list_models, model_info
from hartrace.models._freeze import FreezableMixin

SIZE = 64  # small inputs keep the file fast; every model must cope with them
RESNET50_FILE = "resnet50-11ad3fa6.pth"  # basename of ResNet50_Weights.IMAGENET1K_V2.url


@pytest.fixture(autouse=True, scope="module")
def _few_threads():
    """The test machine is small and shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    torch.manual_seed(0)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub dir, and a network that fails loudly if anything touches it."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)  # in case set_dir was called

    def no_network(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    assert Path(torch.hub.get_dir()) / "checkpoints" == checkpoints
    return checkpoints


@pytest.fixture(scope="module")
def resnet50_imagenet_like(tmp_path_factory):
    """A randomly initialised torchvision ResNet-50 state dict (1000-way fc), saved once."""
    path = tmp_path_factory.mktemp("tv") / RESNET50_FILE
    torch.save(torchvision.models.resnet50().state_dict(), path)
    return path


def _x(n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, SIZE, SIZE)


def _under(key: str, paths) -> bool:
    return any(key == p or key.startswith(p + ".") for p in paths)


def _train_step(model: nn.Module) -> None:
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.1)
    loss = nn.functional.cross_entropy(model(_x(4)), torch.tensor([0, 1, 2, 0]))
    opt.zero_grad()
    loss.backward()
    opt.step()


# -- every model builds and its ModelInfo is true to it ---------------------------------------
@pytest.mark.parametrize("name", list_models(task="image"))
def test_every_model_builds_and_classifies(name):
    model = get_model(name, 3).eval()
    info = model.info
    with torch.no_grad():
        x = _x()
        out = model(x)
        assert out.shape == (2, 3)
        assert torch.allclose(out, model.forward_head(model.forward_trunk(x)), atol=1e-5)
        if type(model).__module__.endswith("torchvision_zoo"):
            # our trunk/head split computes exactly what torchvision's own forward does
            torch_forward = super(FreezableMixin, model).forward
            assert torch.allclose(out, torch_forward(x), atol=1e-5)

    names = {n for n, _ in model.named_modules()}
    grouped = [p for group in info.layer_groups.values() for p in group]
    for path in (info.cam_layer, *info.head, *info.trunk, *grouped):
        assert path in names, f"{name}: {path} is not a module"
    # the stages plus the head cover every parameter, so freeze="none"/"trunk"/N mean what they say
    uncovered = [k for k, _ in model.named_parameters() if not _under(k, info.trunk + info.head)]
    assert uncovered == []
    # the new head is N-way
    head_linears = [m for n, m in model.named_modules() if isinstance(m, nn.Linear) and _under(n, info.head)]
    assert head_linears[-1].out_features == 3
    expected_freeze = ["trunk"] if name == "harnet" else ["none"]
    assert [info.default_freeze] == expected_freeze
    assert (info.imagenet_weights is None) == (name in ("vgg_bn_small", "resnet_small"))


def test_list_models_has_the_promised_zoo():
    expected = {
        "harnet",
        "resnet50",
        "resnext50_32x4d",
        "resnext101_32x8d",
        "vgg16",
        "vgg19",
        "vgg16_bn",
        "mobilenet_v2",
        "densenet121",
        "vgg_bn_small",
        "resnet_small",
    }
    assert expected <= set(list_models())


def test_imagenet_normalisation_comes_from_torchvision():
    info = model_info("resnet50")
    assert info.input_size == 224
    assert info.mean == pytest.approx((0.485, 0.456, 0.406))
    assert info.std == pytest.approx((0.229, 0.224, 0.225))
    assert model_info("resnet_small").input_size == 128


def test_scratch_nets_work_at_their_default_size():
    for name in ("vgg_bn_small", "resnet_small"):
        size = model_info(name).input_size
        with torch.no_grad():
            assert get_model(name, 4).eval()(torch.randn(1, 3, size, size)).shape == (1, 4)


def test_harnet_layer_names():
    model = get_model("harnet", 5)
    names = dict(model.named_modules())
    for path in (
        "conv1",
        "layer1.0.conv1",
        "layer4",
        "head.conv1",
        "head.bn1",
        "head.relu1",
        "head.conv2",
        "head.pool",
        "head.fc",
    ):
        assert path in names
    assert "fc" not in names and "avgpool" not in names
    assert names["head.conv1"].in_channels == 2048 and names["head.conv1"].out_channels == 512
    assert names["head.conv2"].out_channels == 256 and names["head.fc"].in_features == 256
    assert names["head.conv1"].padding == (1, 1)
    # trunk keys are torchvision's, so ImageNet ResNet-50 state dicts fit
    assert "layer1.0.conv1.weight" in model.state_dict()
    assert model.forward_trunk(_x()).shape == (2, 2048, SIZE // 32, SIZE // 32)


# -- freezing -------------------------------------------------------------------------------
def test_frozen_trunk_gets_no_gradients_and_keeps_batchnorm_statistics():
    model = get_model("harnet", 3)  # default: freeze="trunk"
    assert model.freeze == "trunk"
    assert model.frozen_modules() == ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _train_step(model)

    assert model.training and model.head.training
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d) and not name.startswith("head."):
            assert not module.training, f"{name} went back to train mode"
    for name, param in model.named_parameters():
        if name.startswith("head."):
            assert param.requires_grad and param.grad is not None
        else:
            assert not param.requires_grad and param.grad is None, name
    after = model.state_dict()
    trunk_keys = [k for k in after if not k.startswith("head.")]
    assert any(k.endswith("running_mean") for k in trunk_keys)
    for key in trunk_keys:  # weights AND running_mean/var/num_batches_tracked
        assert torch.equal(before[key], after[key]), f"{key} changed"
    assert not torch.equal(before["head.fc.weight"], after["head.fc.weight"])
    assert not torch.equal(before["head.conv1.weight"], after["head.conv1.weight"])
    assert not torch.equal(before["head.bn1.running_mean"], after["head.bn1.running_mean"])


def test_frozen_trunk_is_deterministic_in_train_mode():
    # VGG's trunk holds two Dropout layers: frozen, they must be off so cached features are valid
    model = get_model("vgg_bn_small", 3, freeze="trunk").train()
    x = _x()
    with torch.no_grad():
        assert torch.equal(model.forward_trunk(x), model.forward_trunk(x))
    model = get_model("vgg16", 3, freeze="trunk").train()
    with torch.no_grad():
        assert torch.equal(model.forward_trunk(x), model.forward_trunk(x))


def test_freeze_none_trains_everything():
    model = get_model("harnet", 3, freeze="none")
    assert model.frozen_modules() == []
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _train_step(model)
    assert all(p.grad is not None for p in model.parameters())
    assert all(m.training for m in model.modules())
    after = model.state_dict()
    assert not torch.equal(before["conv1.weight"], after["conv1.weight"])
    assert not torch.equal(before["bn1.running_mean"], after["bn1.running_mean"])


def test_freeze_last_n_stages():
    model = get_model("resnet50", 3, freeze=2)
    assert model.frozen_modules() == ["conv1", "bn1", "layer1", "layer2"]
    _train_step(model)
    for name, param in model.named_parameters():
        trainable = _under(name, ("layer3", "layer4", "fc"))
        assert param.requires_grad == trainable, name
        assert (param.grad is not None) == trainable, name
    assert not model.layer2[0].bn1.training and model.layer3[0].bn1.training

    # a number as it comes from the command line; 0 is the frozen trunk, all stages is "none"
    last_one = get_model("resnet_small", 3, freeze="1")
    assert last_one.frozen_modules() == ["conv1", "bn1", "layer1", "layer2", "layer3"]
    small = model_info("resnet_small")
    assert get_model("resnet_small", 3, freeze=0).frozen_modules() == list(small.trunk)
    assert get_model("resnet_small", 3, freeze=len(small.stages)).frozen_modules() == []


def test_set_freeze_can_unfreeze_later():
    model = get_model("resnet_small", 3, freeze="trunk").train()
    assert not model.layer1.training
    model.set_freeze("none")
    assert model.layer1.training and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("bad", ["all", -1, 99, 1.5, True])
def test_bad_freeze_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="freeze"):
        get_model("resnet_small", 3, freeze=bad)


def test_swapped_torchvision_models_pickle_and_deepcopy():
    model = get_model("mobilenet_v2", 3, freeze=2)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert type(clone) is type(model) and isinstance(clone, torchvision.models.MobileNetV2)
        assert clone.frozen_modules() == model.frozen_modules()
        clone.train()
        assert not clone.features[0].training and clone.classifier.training


# -- ImageNet weights from the hub cache (downloads are off in the tests: test_weights_download) --------
def test_missing_imagenet_weights_explain_where_to_put_them(hub):
    with pytest.raises(WeightsNotFoundError) as err:
        get_model("resnet50", 5, weights="imagenet")
    message = str(err.value)
    assert RESNET50_FILE in message
    assert str(hub) in message
    assert "https://download.pytorch.org/models/" + RESNET50_FILE in message
    assert "--weights none" in message and "--weights PATH" in message
    assert "\n" not in message
    assert not hub.exists() or not any(hub.iterdir())  # nothing was downloaded
    assert imagenet_weights_file("resnet50") == hub / RESNET50_FILE


def test_scratch_nets_have_no_imagenet_weights():
    with pytest.raises(UsageError, match="from scratch"):
        get_model("resnet_small", 3, weights="imagenet")


def test_imagenet_weights_load_from_the_cache(hub, resnet50_imagenet_like):
    hub.mkdir(parents=True)
    (hub / RESNET50_FILE).symlink_to(resnet50_imagenet_like)
    saved = torch.load(resnet50_imagenet_like, weights_only=True)
    # Our stand-in is not the published file, whose sha256 starts with the digits in its name.
    # torch.hub only checks that on download; hartrace checks it and warns, then loads anyway.
    with pytest.warns(UserWarning, match="sha256"):
        model = get_model("resnet50", 5, weights="imagenet")
    assert torch.equal(model.layer1[0].conv1.weight, saved["layer1.0.conv1.weight"])
    assert torch.equal(model.bn1.running_var, saved["bn1.running_var"])
    assert model.fc.weight.shape == (5, 2048)  # the 1000-way head was skipped
    assert model.frozen_modules() == []

    with pytest.warns(UserWarning, match="sha256"):
        harnet = get_model("harnet", 5, weights="imagenet")  # ResNet-50 weights into the trunk
    assert torch.equal(harnet.layer4[2].conv3.weight, saved["layer4.2.conv3.weight"])
    assert harnet.frozen_modules()[-1] == "layer4"


# -- weights from a file -------------------------------------------------------------------
def test_load_plain_state_dict_and_checkpoint(tmp_path):
    source = get_model("resnet_small", 4)
    state = source.state_dict()
    torch.save(state, tmp_path / "plain.pt")
    torch.save(
        {"state_dict": state, "model": "resnet_small", "epoch": 3, "classes": ["a", "b", "c", "d"]},
        tmp_path / "ckpt.pt",
    )
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "ddp.pt")
    for file in ("plain.pt", "ckpt.pt", "ddp.pt"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an exact fit loads silently
            loaded = get_model("resnet_small", 4, weights=tmp_path / file)
        assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items()), file
    # the same string path works too
    loaded = get_model("resnet_small", 4, weights=str(tmp_path / "plain.pt"))
    assert torch.equal(loaded.fc.weight, source.fc.weight)


def test_torchvision_imagenet_file_loads_into_trunk_and_says_what_it_skipped(resnet50_imagenet_like):
    saved = torch.load(resnet50_imagenet_like, weights_only=True)
    with pytest.warns(UserWarning, match=r"fc\.weight.*fc\.bias"):
        model = get_model("resnet50", 7, weights=resnet50_imagenet_like)
    assert torch.equal(model.layer3[1].conv2.weight, saved["layer3.1.conv2.weight"])
    assert model.fc.out_features == 7


def test_old_torchvision_densenet_keys_are_renamed(tmp_path):
    # densenet121-a639ec97.pth says "denselayer1.norm.1.weight" where the module is "norm1"
    state = get_model("densenet121", 3).state_dict()
    old = {k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v for k, v in state.items()}
    assert old.keys() != state.keys()
    torch.save(old, tmp_path / "densenet.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # everything fits: nothing to warn about
        loaded = get_model("densenet121", 3, weights=tmp_path / "densenet.pth")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())


def test_missing_weights_file_is_a_usage_error(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(UsageError, match="not found") as err:
        get_model("resnet_small", 3, weights=missing)
    assert str(missing) in str(err.value)


def test_weights_of_another_model_are_a_usage_error(tmp_path):
    torch.save({"state_dict": get_model("vgg_bn_small", 3).state_dict(), "model": "vgg_bn_small"}, tmp_path / "vgg.pt")
    with pytest.raises(UsageError, match="does not fit model resnet_small") as err:
        get_model("resnet_small", 3, weights=tmp_path / "vgg.pt")
    assert "vgg_bn_small" in str(err.value)  # the checkpoint's own claim is repeated


def test_trunk_shape_mismatch_is_a_usage_error(tmp_path):
    state = get_model("resnet_small", 3).state_dict()
    state["layer1.0.conv1.weight"] = torch.zeros(1, 1, 3, 3)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(UsageError, match=r"layer1\.0\.conv1\.weight"):
        get_model("resnet_small", 3, weights=tmp_path / "bad.pt")


@pytest.mark.parametrize("content", [{"lr": 0.1}, [1, 2, 3], "text"])
def test_not_a_state_dict_is_a_usage_error(tmp_path, content):
    torch.save(content, tmp_path / "odd.pt")
    with pytest.raises(UsageError, match="not a state dict"):
        get_model("resnet_small", 3, weights=tmp_path / "odd.pt")


def test_garbage_file_is_a_usage_error(tmp_path):
    (tmp_path / "garbage.pt").write_bytes(b"this is not a checkpoint")
    with pytest.raises(UsageError, match="cannot read weights file"):
        get_model("resnet_small", 3, weights=tmp_path / "garbage.pt")


# -- names ---------------------------------------------------------------------------------
def test_unknown_model_suggests_close_names():
    with pytest.raises(UsageError) as err:
        get_model("resnet5", 3)
    message = str(err.value)
    assert "did you mean" in message and "'resnet50'" in message
    assert "hartrace models" in message
    with pytest.raises(UsageError, match="did you mean 'harnet'"):
        model_info("hartnet")


def test_bad_num_classes_is_a_usage_error():
    with pytest.raises(UsageError, match="num_classes"):
        get_model("resnet_small", 0)

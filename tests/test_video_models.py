"""hartrace.models.video: clip classifiers build, freeze, load Kinetics weights and explain like image models."""

from __future__ import annotations

import argparse
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

import hartrace
from hartrace.base.errors import UsageError, WeightsNotFoundError
from hartrace.cli import models_cmd
from hartrace.models import ModelInfo, get_model, list_models, model_info, published_weights_file
from hartrace.models.video import CNNLSTM
from hartrace.probe.layers import measure_output_shapes
from tests.test_models import hub  # noqa: F401  (an empty torch hub dir, network off)

VIDEO_MODELS = {"r2plus1d_18", "r3d_18", "mc3_18", "cnn_lstm", "cnn_lstm_resnet18", "c3d_small"}
IMAGE_MODELS = {
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
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
R2PLUS1D_FILE = "r2plus1d_18-91a641e6.pth"  # basenames of the torchvision weights URLs
MC3_FILE = "mc3_18-a90a0ba3.pth"
RESNET18_FILE = "resnet18-f37072fd.pth"
URL = "https://download.pytorch.org/models/"


@pytest.fixture(autouse=True, scope="module")
def _few_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)


def _clip(b: int = 2, t: int = 8, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, 3, t, size, size, generator=torch.Generator().manual_seed(seed))


def _under(key: str, paths) -> bool:
    return any(key == p or key.startswith(p + ".") for p in paths)


# -- the zoo ---------------------------------------------------------------------------------
def test_video_models_are_listed_apart_from_image_models():
    assert set(list_models(task="video")) == VIDEO_MODELS
    assert set(list_models(task="image")) == IMAGE_MODELS
    assert set(list_models()) == VIDEO_MODELS | IMAGE_MODELS
    assert all(model_info(n).clip_length is None for n in IMAGE_MODELS)


def test_model_info_of_video_models():
    r2 = model_info("r2plus1d_18")
    assert (r2.task, r2.input_size, r2.clip_length, r2.cam_layer) == ("video", 112, 16, "layer4")
    assert r2.mean == pytest.approx(KINETICS_MEAN)  # from torchvision's Kinetics preset
    assert r2.stages == (("stem",), ("layer1",), ("layer2",), ("layer3",), ("layer4",)) and r2.head == ("fc",)
    assert r2.kinetics_weights == "R2Plus1D_18_Weights.KINETICS400_V1" and r2.imagenet_weights is None
    assert r2.pretrained_weights == r2.kinetics_weights
    lstm = model_info("cnn_lstm")
    assert (lstm.clip_length, lstm.cam_layer, lstm.head) == (8, "backbone.layer4", ("lstm", "dropout", "fc"))
    assert lstm.pretrained_weights is None
    assert model_info("cnn_lstm_resnet18").pretrained_weights == "ResNet18_Weights.IMAGENET1K_V1"
    c3d = model_info("c3d_small")
    assert (c3d.clip_length, c3d.input_size, c3d.cam_layer) == (8, 112, "layer4")


def test_model_info_insists_on_a_clip_length_for_video_only():
    info = model_info("c3d_small")
    fields = {k: getattr(info, k) for k in info.__dataclass_fields__}
    with pytest.raises(ValueError, match="clip_length"):
        ModelInfo(**{**fields, "clip_length": None})
    with pytest.raises(ValueError, match="clip_length"):
        ModelInfo(**{**fields, "task": "image"})
    with pytest.raises(ValueError, match="clip_length"):
        ModelInfo(**{**fields, "clip_length": 0})


@pytest.mark.parametrize("name", sorted(VIDEO_MODELS))
def test_every_video_model_builds_and_classifies_clips(name):
    model = get_model(name, 3).eval()
    info = model.info
    assert info.task == "video" and isinstance(info.clip_length, int)
    x = _clip()
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 3)
        assert torch.allclose(out, model.forward_head(model.forward_trunk(x)), atol=1e-5)
        if isinstance(model, torchvision.models.video.VideoResNet):
            assert torch.allclose(out, torchvision.models.video.VideoResNet.forward(model, x), atol=1e-5)
    names = {n for n, _ in model.named_modules()}
    grouped = [p for group in info.layer_groups.values() for p in group]
    for path in (info.cam_layer, *info.head, *info.trunk, *grouped):
        assert path in names, f"{name}: {path} is not a module"
    uncovered = [k for k, _ in model.named_parameters() if not _under(k, info.trunk + info.head)]
    assert uncovered == []
    head_linears = [m for n, m in model.named_modules() if isinstance(m, nn.Linear) and _under(n, info.head)]
    assert head_linears[-1].out_features == 3


@pytest.mark.parametrize("name", sorted(VIDEO_MODELS))
def test_frozen_trunk_trains_only_the_head_and_keeps_batchnorm_in_eval(name):
    model = get_model(name, 3, freeze="trunk")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    loss = nn.functional.cross_entropy(model(_clip(t=4, size=32)), torch.tensor([0, 2]))
    loss.backward()
    torch.optim.SGD(params, lr=0.1).step()

    head = model.info.head
    for key, param in model.named_parameters():
        assert param.requires_grad == _under(key, head), key
        assert (param.grad is not None) == _under(key, head), key
    norms = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms and all(not m.training for _, m in norms)
    after = model.state_dict()
    for key in after:
        if not _under(key, head):
            assert torch.equal(before[key], after[key]), f"{key} changed"
    assert not torch.equal(before["fc.weight"], after["fc.weight"])


def test_video_models_pickle_and_deepcopy_with_their_freeze():
    for name in ("mc3_18", "cnn_lstm"):
        model = get_model(name, 3, freeze=1)
        for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            assert type(clone) is type(model) and clone.frozen_modules() == model.frozen_modules()
            clone.train()
            assert not clone.get_submodule(model.info.stages[0][0]).training
            assert clone.get_submodule(model.info.stages[-1][0]).training


def test_an_image_batch_is_a_clear_error():
    with pytest.raises(UsageError, match=r"\[B, C, T, H, W\]"):
        get_model("c3d_small", 3)(torch.randn(2, 3, 64, 64))


# -- c3d_small and cnn_lstm ----------------------------------------------------------------------
def test_c3d_small_runs_on_one_frame_and_small_clips_and_keeps_resolution_at_layer4():
    model = get_model("c3d_small", 4).eval()
    with torch.no_grad():
        assert model(_clip(1, t=1, size=64)).shape == (1, 4)  # a single-frame baseline of the same net
        assert model(_clip(1, t=3, size=36)).shape == (1, 4)  # odd length and size
    shapes = measure_output_shapes(model, (1, 3, 8, 64, 64))
    assert shapes["layer4"] == (1, 256, 4, 8, 8)  # T/2 x H/8
    assert measure_output_shapes(model, (1, 3, 8, 112, 112))["layer4"] == (1, 256, 4, 14, 14)
    assert measure_output_shapes(model, (1, 3, 1, 64, 64))["layer4"] == (1, 256, 1, 8, 8)


def test_cnn_lstm_sees_frames_one_by_one_and_their_order():
    model = get_model("cnn_lstm", 3).eval()
    x = _clip(2, t=6, size=32)
    shapes = measure_output_shapes(model, tuple(x.shape))
    assert shapes["backbone.layer4"][0] == 2 * 6  # per-frame maps [B*T, C, h, w]
    with torch.no_grad():
        features = model.forward_trunk(x)
        assert features.shape == (2, 6, 256)
        # the CNN treats frames independently; only the LSTM knows their order
        assert torch.allclose(model.forward_trunk(x.flip(2)), features.flip(1), atol=1e-5)
        assert not torch.allclose(model(x.flip(2)), model(x), atol=1e-4)
        # a clip is classified from the LSTM's last output: the classifier sees every frame
        changed = x.clone()
        changed[:, :, 0] = 0
        assert not torch.allclose(model(changed), model(x), atol=1e-5)


def test_cnn_lstm_mean_readout_and_bad_readout():
    backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model = CNNLSTM(5, backbone, 4, hidden=8, readout="mean").eval()
    with torch.no_grad():
        assert model(_clip(2, t=3, size=16)).shape == (2, 5)
    with pytest.raises(ValueError, match="readout"):
        CNNLSTM(5, backbone, 4, readout="first")


# -- published weights, from the hub cache only ----------------------------------------------------
def test_missing_kinetics_weights_say_which_file_where_and_from_where(hub):  # noqa: F811
    for keyword in ("kinetics", "pretrained", "Kinetics"):
        with pytest.raises(WeightsNotFoundError) as err:
            get_model("r2plus1d_18", 5, weights=keyword)
        message = str(err.value)
        assert "Kinetics-400 weights for r2plus1d_18" in message
        assert R2PLUS1D_FILE in message and str(hub) in message and URL + R2PLUS1D_FILE in message
        assert "--weights none" in message and "--weights PATH" in message and "\n" not in message
    assert published_weights_file("r2plus1d_18") == hub / R2PLUS1D_FILE
    assert not hub.exists() or not any(hub.iterdir())


def test_fake_kinetics_weights_load_from_the_hub_cache(hub):  # noqa: F811
    hub.mkdir(parents=True)
    saved = torchvision.models.video.mc3_18(num_classes=400).state_dict()
    torch.save(saved, hub / MC3_FILE)
    for keyword in ("kinetics", "pretrained"):
        with pytest.warns(UserWarning, match="sha256"):  # not the published file, so its hash differs
            model = get_model("mc3_18", 5, weights=keyword)
        assert torch.equal(model.layer3[0].conv1[0].weight, saved["layer3.0.conv1.0.weight"])
        assert torch.equal(model.stem[1].running_var, saved["stem.1.running_var"])
        assert model.fc.weight.shape == (5, 512)  # the 400-way Kinetics head was skipped


def test_imagenet_weights_load_into_the_cnn_lstm_backbone(hub):  # noqa: F811
    with pytest.raises(WeightsNotFoundError, match=RESNET18_FILE):
        get_model("cnn_lstm_resnet18", 5, weights="imagenet")
    hub.mkdir(parents=True)
    saved = torchvision.models.resnet18().state_dict()
    torch.save(saved, hub / RESNET18_FILE)
    with pytest.warns(UserWarning, match="sha256"):
        model = get_model("cnn_lstm_resnet18", 5, weights="pretrained")
    assert torch.equal(model.backbone.layer4[1].conv2.weight, saved["layer4.1.conv2.weight"])
    assert torch.equal(model.backbone.bn1.running_mean, saved["bn1.running_mean"])


def test_published_weights_of_the_wrong_kind_are_refused_with_the_right_keyword():
    with pytest.raises(UsageError, match="no ImageNet weights.*Kinetics-400.*--weights kinetics"):
        get_model("r2plus1d_18", 3, weights="imagenet")
    with pytest.raises(UsageError, match="no Kinetics-400 weights.*--weights imagenet"):
        get_model("resnet50", 3, weights="kinetics")
    with pytest.raises(UsageError, match="no Kinetics-400 weights.*--weights imagenet"):
        get_model("cnn_lstm_resnet18", 3, weights="kinetics")
    for name in ("c3d_small", "cnn_lstm"):
        for keyword in ("imagenet", "kinetics", "pretrained"):
            with pytest.raises(UsageError, match="from scratch"):
                get_model(name, 3, weights=keyword)
    with pytest.raises(UsageError, match="'kinetics'"):
        get_model("c3d_small", 3, weights=3)


def test_a_saved_video_model_loads_back_silently(tmp_path):
    source = get_model("c3d_small", 4)
    torch.save({"state_dict": source.state_dict(), "model": "c3d_small"}, tmp_path / "c3d.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = get_model("c3d_small", 4, weights=tmp_path / "c3d.pt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in source.state_dict().items())


# -- Grad-CAM on a 3-D net equals captum's ------------------------------------------------------------
def test_grad_cam_on_r2plus1d_equals_captum_layer_grad_cam():
    torch.manual_seed(0)
    model = get_model("r2plus1d_18", 5).eval()
    clip = _clip(2, t=16, size=64, seed=1)  # layer4 is 2 x 4 x 4: the map varies in time and space
    with torch.no_grad():
        predicted = model(clip).argmax(1)
    for target in (predicted, (predicted + 1) % 5):
        ours = hartrace.grad_cam(model, clip, "layer4", target=target)
        assert ours.shape == (2, 16, 64, 64)
        assert ours.min() >= 0 and ours.max() <= 1
        theirs = LayerGradCam(model, model.layer4).attribute(clip, target=target, relu_attributions=True)
        theirs = LayerAttribution.interpolate(theirs, (16, 64, 64), interpolate_mode="trilinear")[:, 0].detach()
        for b in range(2):
            flat = theirs[b].flatten().numpy()
            flat = (flat - flat.min()) / (flat.max() - flat.min())  # min-max per video
            r = np.corrcoef(flat, ours[b].flatten().numpy())[0, 1]
            assert r >= 0.999, (b, r)
            assert ours[b].std() > 0.05  # a real map, not a constant one that trivially matches


def test_grad_cam_on_c3d_small_is_one_map_per_frame():
    model = get_model("c3d_small", 3).eval()
    cams = hartrace.grad_cam(model, _clip(2, t=8, size=64), model.info.cam_layer)
    assert cams.shape == (2, 8, 64, 64)
    assert torch.allclose(cams.flatten(1).amax(1), torch.ones(2))  # normalised per video


# -- the CLI ------------------------------------------------------------------------------------------
def test_models_command_shows_task_and_clip_length(capsys, hub):  # noqa: F811
    assert models_cmd.run(argparse.Namespace()) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert "task" in header and "clip" in header
    assert rows["r2plus1d_18"][3:] == ["R2Plus1D_18_Weights.KINETICS400_V1", "no", "video", "16", "layer4"]
    assert rows["c3d_small"][3:] == ["-", "-", "video", "8", "layer4"]
    assert rows["resnet50"][5:7] == ["image", "-"]
    order = [line.split()[0] for line in lines[1:]]
    assert max(order.index(n) for n in IMAGE_MODELS) < min(order.index(n) for n in VIDEO_MODELS)

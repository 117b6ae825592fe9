"""Feature visualisation: the Fourier image, reproducibility, that each picture drives its own unit, the cache
in the run folder and ``hartrace featvis``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from hartrace.attribution.featvis import (
    FeatvisSettings,
    FourierImage,
    UnitTarget,
    colour_sqrt,
    frequency_scale,
    mean_channel_activation,
    visualise,
)
from hartrace.cli import main
from hartrace.workflows.atlas.featvis import feature_visualisation, featvis_path
from hartrace.workflows.train import train
from tests.conftest import colour_folder, quick_config

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def hand_model() -> nn.Sequential:
    """Five units whose best input is known: channels 0-2 see colour c against the other two, 3 horizontal and
    4 vertical edges of the grey image (ReLU'd, at layer "1"); the head's class k is channel k's mean."""
    conv = nn.Conv2d(3, 5, 5, padding=2, bias=False)
    w = torch.zeros(5, 3, 5, 5)
    for c in range(3):
        w[c, :, 2, 2] = -0.5
        w[c, c, 2, 2] = 1.0
    sobel = torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]) / 24
    w[3, :, 1:4, 1:4] = sobel
    w[4, :, 1:4, 1:4] = sobel.T
    conv.weight.data = w
    head = nn.Linear(5, 3, bias=False)
    head.weight.data = torch.eye(5)[:3]
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)


def _normalised(images: torch.Tensor) -> torch.Tensor:
    return (images - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def test_the_fourier_image_is_a_valid_image_with_a_one_over_f_spectrum() -> None:
    scale = frequency_scale(32, 32)
    assert scale.shape == (32, 17)
    assert scale[0, 0] == pytest.approx(32)  # the mean colour: capped at 1 / max(H, W)
    assert scale[0, 16] == pytest.approx(2) and scale[8, 0] == pytest.approx(4)  # 1 / f at f = 1/2 and 1/4
    generators = [torch.Generator().manual_seed(k) for k in range(2)]
    picture = FourierImage(2, 32, generators=generators)
    images = picture()
    assert images.shape == (2, 3, 32, 32) and torch.isfinite(images).all()
    assert 0 < images.min() and images.max() < 1
    images.sum().backward()
    assert picture.spectrum.grad is not None and picture.spectrum.grad.abs().sum() > 0

    # colour statistics: independent channels of spread 0.3, 0.15, 0.075 -> their square root is diag(1, 1/2, 1/4)
    rng = torch.Generator().manual_seed(0)
    pixels = torch.rand(64, 3, 16, 16, generator=rng) * torch.tensor([0.3, 0.15, 0.075]).view(1, 3, 1, 1)
    np.testing.assert_allclose(colour_sqrt(pixels).numpy(), np.diag([1, 0.5, 0.25]), atol=0.02)


def test_feature_visualisation_repeats_exactly_and_leaves_the_model_as_it_was() -> None:
    model = hand_model().train()
    model[0].weight.requires_grad_(True)
    settings = FeatvisSettings(size=24, steps=6)
    first = visualise(model, UnitTarget("1", (0, 3)), mean=MEAN, std=STD, settings=settings)
    again = visualise(model, UnitTarget("1", (0, 3)), mean=MEAN, std=STD, settings=settings)
    other = visualise(model, UnitTarget("1", (0, 3)), mean=MEAN, std=STD, settings=FeatvisSettings(24, 6, seed=1))
    assert torch.equal(first.images, again.images) and torch.equal(first.objective, again.objective)
    assert not torch.allclose(first.images, other.images)
    assert model.training and all(m.training for m in model.modules())
    assert model[0].weight.requires_grad and model[0].weight.grad is None  # no gradient reached the weights
    assert all(not m._forward_hooks for m in model.modules())


def test_each_picture_drives_its_own_unit_far_more_than_other_pictures_and_noise() -> None:
    model = hand_model()
    result = visualise(
        model, UnitTarget("1", (0, 1, 2, 3, 4)), mean=MEAN, std=STD, settings=FeatvisSettings(size=24, steps=48)
    )
    activations = mean_channel_activation(model, "1", _normalised(result.images))  # [picture, channel]
    torch.testing.assert_close(activations.diagonal(), result.objective)
    for c in range(5):
        others = torch.cat([activations[:c, c], activations[c + 1 :, c]])
        assert activations[c, c] > others.max() * 1.5, (c, activations[:, c])
    noise = torch.rand(32, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    typical = mean_channel_activation(model, "1", _normalised(noise)).mean(0)
    assert (activations.diagonal() > 1.5 * typical).all(), (activations.diagonal(), typical)
    red, green, blue = result.images[0].mean(dim=(1, 2))
    assert red > max(green, blue) + 0.08  # the red unit's picture is red

    start = visualise(model, UnitTarget(None, (2,)), mean=MEAN, std=STD, settings=FeatvisSettings(size=24, steps=1))
    logit = visualise(model, UnitTarget(None, (2,)), mean=MEAN, std=STD, settings=FeatvisSettings(size=24, steps=32))
    red, green, blue = logit.images[0].mean(dim=(1, 2))
    assert logit.objective[0] > 3 * start.objective[0] and blue > max(red, green) + 0.05  # class 2 is blue


def test_a_unit_shut_for_the_grey_start_still_rises_and_the_relus_are_restored() -> None:
    model = hand_model()
    model[1].inplace = True
    model[0].bias = nn.Parameter(torch.tensor([-0.5, 0, 0, 0, 0]))  # red unit: 0 for grey, and no gradient
    start = visualise(model, UnitTarget("1", (0,)), mean=MEAN, std=STD, settings=FeatvisSettings(size=16, steps=1))
    grown = visualise(model, UnitTarget("1", (0,)), mean=MEAN, std=STD, settings=FeatvisSettings(size=16, steps=24))
    assert start.objective[0] == 0 and grown.objective[0] > 0.05
    assert model[1].inplace and not model[1]._forward_hooks


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("featvis")
    data = colour_folder(root / "colours", per_class=6)
    return train(quick_config(data, root / "run", epochs=1), progress=False, log=lambda m: None).run_dir


def test_pictures_are_cached_in_the_run_folder_with_their_settings_and_reused(run: Path, capsys) -> None:
    paths = feature_visualisation(run, "layer4", [3, 1], steps=3)
    assert paths == [featvis_path(run, "layer4", 3), featvis_path(run, "layer4", 1)]
    assert paths[0] == run / "atlas" / "featvis" / "layer4" / "3.png"
    with Image.open(paths[0]) as picture:
        assert picture.size == (32, 32) and picture.mode == "RGB"  # the run's input size
    saved = json.loads(paths[0].with_suffix(".json").read_text())
    assert saved["key"]["target"] == {"layer": "layer4", "channel": 3}
    assert saved["key"]["settings"]["steps"] == 3 and saved["key"]["settings"]["seed"] == 0
    assert saved["key"]["colour"]["from"].endswith("training images")
    assert saved["batch"] == [3, 1] and np.isfinite(saved["objective"])
    stamps = [p.stat().st_mtime_ns for p in paths]

    assert feature_visualisation(run, "layer4", [1, 3], steps=3) == paths[::-1]
    assert [p.stat().st_mtime_ns for p in paths] == stamps  # reused: nothing rewritten
    feature_visualisation(run, "layer4", [3], steps=3, seed=1)  # other settings: made again
    assert paths[0].stat().st_mtime_ns != stamps[0] and paths[1].stat().st_mtime_ns == stamps[1]

    assert main(["featvis", "--run", str(run), "--target", "class:green", "--steps", "2", "--quiet"]) == 0
    assert (run / "atlas" / "featvis" / "class" / "green.png").is_file()
    assert "class green: objective" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--layer", "layer9", "--channels", "0"], "did you mean layer"),
        (["--layer", "layer4", "--channels", "999"], "256 channels"),
        (["--layer", "layer4", "--channels", "a,b"], "channel numbers"),
        (["--target", "class:purple"], "unknown class 'purple'"),
        (["--target", "purple"], "class:NAME"),
        (["--target", "class:red", "--layer", "layer4"], "not both"),
        ([], "--layer and --channels"),
    ],
)
def test_featvis_bad_input_is_one_line(run: Path, arguments: list[str], words: str, capsys) -> None:
    assert main(["featvis", "--run", str(run), "--quiet", *arguments]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hartrace featvis: error:") and words in lines[0], lines

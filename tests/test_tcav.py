"""Concept tests (TCAV): a toy whose answer is known, the scores checked against captum called directly, the
t-test by hand, and ``hartrace tcav`` end to end with its one-line errors."""

from __future__ import annotations

import csv
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from hartrace.attribution.concepts import ConceptImages, linear_concept_classifier, significance, tcav_test
from hartrace.cli import main
from hartrace.runs.loading import open_dataset, open_model
from hartrace.workflows.train import train
from tests.conftest import colour_folder, quick_config

RANDOM_SETS = 12  # 12 concept runs, 66 random pairs


class Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


def red_model() -> nn.Sequential:
    """Class 0 is the mean of red squared (through two ReLU'd units at layer "1", +red and -red), class 1 the same
    for blue; green reaches no class. Squaring makes the gradient at layer "1" differ from image to image."""
    conv = nn.Conv2d(3, 6, 1, bias=False)
    weights = torch.zeros(6, 3, 1, 1)
    for unit in range(6):
        weights[unit, unit // 2] = 1.0 if unit % 2 == 0 else -1.0  # units 2c, 2c+1: +colour c, -colour c
    conv.weight.data = weights
    head = nn.Linear(6, 2, bias=False)
    head.weight.data = torch.tensor([[1.0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]])
    return nn.Sequential(conv, nn.ReLU(), Square(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)


def _noise(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8, generator=generator) * 2 - 1


def _strong(images: torch.Tensor, channel: int) -> torch.Tensor:
    """``images`` with ``channel`` made strong (0.5 to 1 in size, its own sign): nothing else differs."""
    images = images.clone()
    images[:, channel] = images[:, channel].sign() * (images[:, channel].abs() * 0.5 + 0.5)
    return images


def test_significance_asks_whether_the_concept_mean_is_outside_one_more_random_mean() -> None:
    means = [0.4, 0.6, 0.5, 0.3, 0.7]
    spread = np.std(means, ddof=1) * math.sqrt(1 + 1 / 5)
    t = (0.95 - 0.5) / spread
    assert significance(0.95, means)[0] == pytest.approx(t)
    from scipy.stats import t as student

    assert significance(0.95, means)[1] == pytest.approx(2 * student.sf(t, df=4))  # two-sided, n - 1 = 4 dof
    assert significance(0.05, means)[0] == pytest.approx(-t)  # below random: the same p
    assert significance(0.5, [0.5, 0.5]) == (0.0, 1.0)  # no spread, no difference: no evidence
    assert significance(0.9, [0.5, 0.5]) == (float("inf"), 0.0)


def test_a_concept_the_class_uses_is_significant_one_it_ignores_is_not_and_captum_agrees() -> None:
    model = red_model()
    generator = torch.Generator().manual_seed(0)
    inputs = _noise(16, generator)
    randoms = [ConceptImages(f"random_{k}", _noise(12, generator)) for k in range(RANDOM_SETS)]
    # The concepts are a random set's images with one colour made strong, so that colour is all that differs
    # from a random set.
    red = ConceptImages("red", _strong(randoms[0].images, 0))
    green = ConceptImages("green", _strong(randoms[0].images, 1))

    reports: list[tuple[int, int | None]] = []
    used = tcav_test(  # the class's images in 3 chunks
        model, inputs, 0, red, randoms, ["1"], batch_size=6, cav="flat", progress=lambda *r: reports.append(r)
    )
    pairs = RANDOM_SETS + RANDOM_SETS * (RANDOM_SETS - 1) // 2  # every CAV trained once, counted as it is
    assert reports[0] == (0, pairs) and reports[-1] == (pairs, pairs) and len(reports) > 3
    ignored = tcav_test(model, inputs, 0, green, randoms, ["1"], cav="flat")
    (used_layer,) = used.layers
    (ignored_layer,) = ignored.layers
    assert used_layer.concept_scores == [1.0] * RANDOM_SETS  # every red CAV raises |red|
    assert used_layer.statistic == "magnitude" and used_layer.summary()["direction"] == "above random"
    for statistic in ("magnitude", "sign_count"):  # the gradients differ from image to image: both tests see it
        assert used_layer.tests[statistic].significant and used_layer.tests[statistic].p < 0.01
        assert not ignored_layer.tests[statistic].significant and ignored_layer.tests[statistic].p > 0.05
    assert used_layer.random_scores == ignored_layer.random_scores  # the same random pairs
    assert len(used_layer.random_scores) == RANDOM_SETS
    assert used.randoms == [f"random_{k}" for k in range(RANDOM_SETS)]
    assert used.correction == "bonferroni over 1 layers" and used_layer.verdict.p_corrected == used_layer.verdict.p
    assert all(0 <= a <= 1 for a in used_layer.concept_accuracy + used_layer.random_accuracy)

    # captum itself, on the same images, sets and classifier
    from captum.concept import TCAV, Concept

    def concept(index: int, images: ConceptImages) -> Concept:
        return Concept(index, images.name, torch.utils.data.DataLoader(images.images, batch_size=32))

    tested, *others = [concept(0, red)] + [concept(i + 1, r) for i, r in enumerate(randoms)]
    null = [[a, b] for i, a in enumerate(others) for b in others[i + 1 :]]  # every pair of random sets
    with tempfile.TemporaryDirectory() as folder:
        direct = TCAV(model, ["1"], classifier=linear_concept_classifier(0), save_path=folder + "/").interpret(
            inputs, [[tested, r] for r in others] + null, target=0
        )
    concept_scores = [float(direct[f"0-{r.id}"]["1"]["sign_count"][0]) for r in others]
    posing: dict[int, list[float]] = {r.id: [] for r in others}  # each random set's scores as the concept
    for a, b in null:
        counts = direct[f"{a.id}-{b.id}"]["1"]["sign_count"]
        posing[a.id].append(float(counts[0]))
        posing[b.id].append(float(counts[1]))
    random_scores = [float(np.mean(posing[r.id])) for r in others]
    assert concept_scores == pytest.approx(used_layer.concept_scores)
    assert random_scores == pytest.approx(used_layer.random_scores)
    magnitudes = [float(direct[f"0-{r.id}"]["1"]["magnitude"][0]) for r in others]
    assert magnitudes == pytest.approx(used_layer.concept_magnitudes, rel=1e-5)
    posing_magnitudes: dict[int, list[float]] = {r.id: [] for r in others}
    for a, b in null:
        pair = direct[f"{a.id}-{b.id}"]["1"]["magnitude"]
        posing_magnitudes[a.id].append(float(pair[0]))
        posing_magnitudes[b.id].append(float(pair[1]))
    random_magnitudes = [float(np.mean(posing_magnitudes[r.id])) for r in others]
    assert random_magnitudes == pytest.approx(used_layer.random_magnitudes, rel=1e-5, abs=1e-7)


def test_where_every_image_has_the_same_gradient_only_the_magnitude_can_tell_the_concept_apart() -> None:
    """Without the square, class 0's gradient at layer "1" is its head's weights, the same for every image. Every
    CAV then scores 0 or 1, a random folder's mean score only ranks its direction among the others, and red's
    perfect 1.0 is no outlier; the mean derivative keeps how far the logit moves along red, and stands out."""
    model = red_model()
    model[2] = nn.Identity()
    generator = torch.Generator().manual_seed(2)
    inputs = _noise(16, generator)
    randoms = [ConceptImages(f"random_{k}", _noise(12, generator)) for k in range(RANDOM_SETS)]
    red = ConceptImages("red", _strong(randoms[0].images, 0))

    (layer,) = tcav_test(model, inputs, 0, red, randoms, ["1"], cav="flat").layers
    assert layer.saturated == 1.0 and set(layer.concept_scores) == {1.0}
    assert layer.tests["magnitude"].significant and layer.verdict.significant  # the default verdict reads the magnitude
    assert not layer.tests["sign_count"].significant
    (by_count,) = tcav_test(model, inputs, 0, red, randoms, ["1"], cav="flat", statistic="sign_count").layers
    assert by_count.statistic == "sign_count" and not by_count.verdict.significant
    assert by_count.tests == layer.tests  # the same runs, read by the other statistic


def test_each_folder_goes_through_the_model_once_per_layer() -> None:
    """captum alone runs both folders of every experimental set through the model again (it looks for their saved
    activations under swapped names): 4 random sets would read each folder 4 or 5 times."""
    model = red_model()
    generator = torch.Generator().manual_seed(3)
    inputs = _noise(5, generator)
    randoms = [ConceptImages(f"random_{k}", _noise(7, generator)) for k in range(4)]
    seen: list[int] = []
    model.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[0]))
    tcav_test(model, inputs, 0, ConceptImages("red", _strong(randoms[0].images, 0)), randoms, ["0", "1"])
    assert sum(seen) == 2 * (5 * 7 + 5)  # per layer: the 5 folders' images once, and the class's 5 for gradients


class Corner(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., 4:, 4:]


def test_a_channel_cav_carries_a_concept_seen_in_one_place_to_where_the_class_uses_it() -> None:
    """The class reads red in the bottom-right corner only; the concept's images are red in the top-left one.
    A flat CAV weighs only the positions where it saw red, where the class's gradient is zero: its scores are
    chance. A channel CAV is "red, wherever": every class image's logit rises along every one of them."""
    model = red_model()
    model.insert(3, Corner())  # after the ReLU ("1") and the square: only the corner reaches the classes
    generator = torch.Generator().manual_seed(1)
    inputs = _noise(16, generator)
    randoms = [ConceptImages(f"random_{k}", _noise(48, generator)) for k in range(RANDOM_SETS)]  # small leanings
    red = randoms[0].images.clone()
    red[:, :, :4, :4] = _strong(red, 0)[:, :, :4, :4]  # strong red in the top-left quarter only
    concept = ConceptImages("red_top_left", red)

    channel = tcav_test(model, inputs, 0, concept, randoms, ["1"], cav="channel").layers[0]
    flat = tcav_test(model, inputs, 0, concept, randoms, ["1"]).layers[0]  # "flat", the paper's, is the default
    assert channel.concept_scores == [1.0] * RANDOM_SETS and channel.verdict.t > 0  # every channel CAV raises the class
    assert (
        np.mean(flat.concept_scores) < 0.7 and not flat.verdict.significant
    )  # the flat ones point nowhere in particular

    classifier = linear_concept_classifier(0, channels=6)  # its CAV is one direction repeated at all 64 positions
    labels = torch.cat([torch.zeros(12), torch.ones(12)]).long()
    activations = torch.relu(torch.cat([randoms[1].images[:12], red[:12]]).repeat(1, 2, 1, 1)).flatten(1)
    classifier.train_and_eval([(activations, labels)])
    cav = classifier.weights()[1].view(6, 64)
    assert torch.allclose(cav, cav[:, :1].expand(6, 64)) and cav.norm() == pytest.approx(1.0)


def _noise_folder(folder: Path, n: int, seed: int, colour: tuple[int, int, int] | None = None) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = rng.integers(0, 256, size=(32, 32, 3))
        if colour is not None:
            pixels = np.clip(pixels * 0.3 + np.array(colour) * 0.7, 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A colour run and concept folders as `synth --concepts` lays them out: red/, random_0..2/, concepts.json."""
    root = tmp_path_factory.mktemp("tcav")
    data = colour_folder(root / "colours", per_class=6)
    run = train(quick_config(data, root / "run", epochs=1), progress=False, log=lambda m: None).run_dir
    concepts = root / "concepts"
    _noise_folder(concepts / "red", 10, seed=1, colour=(220, 20, 20))
    for k in range(3):
        _noise_folder(concepts / f"random_{k}", 10, seed=10 + k)
    (concepts / "empty").mkdir()
    (concepts / "concepts.json").write_text(
        json.dumps({"concepts": ["red"], "random": ["random_0", "random_1", "random_2"]})
    )
    return run, concepts


def test_tcav_command_writes_scores_chart_and_csvs(project: tuple[Path, Path], capsys) -> None:
    run, concepts = project
    code = main(["tcav", "--run", str(run), "--class", "red", "--concept", "red", "--random-dir", str(concepts), "-q"])
    assert code == 0
    out = run / "tcav" / "red" / "red"
    printed = capsys.readouterr().out
    assert f"to {out}/" in printed
    saved = json.loads((out / "tcav.json").read_text())
    assert saved["class"] == "red" and saved["target"] == 2 and saved["runs"] == 3
    val = open_dataset(open_model(run), check_images=False).splits["val"]
    assert saved["class_images"] == saved["inputs"] == sum(s.label == 2 for s in val) > 0
    assert saved["concept_images"] == 10 and saved["random_images"] == [10, 10, 10]
    assert [layer["layer"] for layer in saved["layers"]] == ["layer3", "layer4"]  # the CAM layer and the one before
    assert saved["statistic"] == "magnitude"  # the default
    for layer in saved["layers"]:
        for statistic, concept, random in (
            ("magnitude", "concept_magnitudes", "random_magnitudes"),
            ("sign_count", "concept_scores", "random_scores"),
        ):
            t, p = significance(float(np.mean(layer[concept])), layer[random])
            test = layer["tests"][statistic]
            assert test["p"] == pytest.approx(p) and test["p_corrected"] == pytest.approx(min(1.0, 2 * p))
            assert layer[f"{statistic}_p_corrected"] == test["p_corrected"]
        assert layer["p"] == layer["tests"]["magnitude"]["p"]  # the verdict reads the magnitude
        # a concept the layer cannot tell from random images makes a weak CAV: the printout says how well it does
        assert f"held-out CAV accuracy {np.mean(layer['concept_accuracy']):.2f}" in printed
        assert layer["concept_mean"] == pytest.approx(np.mean(layer["concept_scores"]))
        assert all(0 <= s <= 1 for s in layer["concept_scores"] + layer["random_scores"])
    with open(out / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {r["random_set"] for r in rows} == {"random_0", "random_1", "random_2"}
    with open(out / "tcav.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["layer"] for r in table] == ["layer3", "layer4"]
    for row, layer in zip(table, saved["layers"], strict=True):
        assert float(row["sign_count_p_corrected"]) == pytest.approx(layer["tests"]["sign_count"]["p_corrected"])
        assert float(row["concept_magnitude"]) == pytest.approx(np.mean(layer["concept_magnitudes"]))
    with Image.open(out / "tcav.png") as chart:
        assert chart.size[0] > 300 and chart.size[1] > 200


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--class", "rde", "--concept", "red"], "unknown class 'rde' (did you mean red"),
        (["--class", "red", "--concept", "empty"], "has no images"),
        (["--class", "red", "--concept", "nowhere"], "concept folder not found"),
        (["--class", "red", "--concept", "red", "--layers", "layer9"], "unknown layer 'layer9'"),
        (
            ["--class", "red", "--concept", "red", "--random", "{concepts}/random_0,{concepts}/random_1"],
            "at least 3 random",
        ),
        (["--class", "red", "--concept", "red", "--random", "{concepts}/nothing_*"], "no folder matches"),
    ],
)
def test_tcav_bad_input_is_one_line(project: tuple[Path, Path], arguments: list[str], words: str, capsys) -> None:
    run, concepts = project
    arguments = [a.format(concepts=concepts) for a in arguments]
    if "--random" not in arguments:
        arguments += ["--random-dir", str(concepts)]
    assert main(["tcav", "--run", str(run), "-q", *arguments]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hartrace tcav: error:") and words in lines[0], lines

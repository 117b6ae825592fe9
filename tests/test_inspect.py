"""layers, visualize and explain as a user runs them, on runs trained in seconds."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hartrace.cli import main
from hartrace.runs.loading import open_dataset, open_model
from hartrace.synth import generate
from hartrace.workflows.explain import explain_split
from hartrace.workflows.train import train
from hartrace.workflows.visualize.truth import pick_validation
from tests.conftest import ROOT, colour_folder, quick_config, run_cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with checkpoints/<run> (resnet_small on three colours) and an img.jpg, as a user has."""
    root = tmp_path_factory.mktemp("workspace")
    data = colour_folder(root / "colours")
    train(quick_config(data, root / "checkpoints" / "colours"), progress=False, log=lambda m: None)
    shutil.copy(data / "red" / "red_03.png", root / "img.jpg")  # a PNG named .jpg, as happens
    return root


def test_the_design_card_command_works_verbatim(workspace: Path) -> None:
    result = run_cli("visualize", "--image", "img.jpg", "--layers", "layer1.0.conv1,conv1", cwd=workspace)
    assert result.returncode == 0, result.stderr
    out = workspace / "checkpoints" / "colours" / "visualize" / "img"
    for name in (
        "activations_conv1.png",
        "activations_layer1_0_conv1.png",
        "kernels_conv1.png",
        "kernels_layer1_0_conv1.png",
        "histograms.png",
        "probabilities.png",
        "cam.png",
        "flow.png",
        "report.html",
        "captures.json",
        "cam.npy",
    ):
        assert (out / name).is_file(), name
    captures = json.loads((out / "captures.json").read_text())
    assert captures["true_class"] is None and captures["correct"] is None  # img.jpg is not one of the dataset's
    assert [layer["name"] for layer in captures["layers"]][:2] == ["conv1", "layer1.0.conv1"], "model order"
    assert captures["layers"][0]["shape"] == [1, 32, 16, 16] and captures["layers"][0]["kernel_shape"] == [32, 3, 3, 3]
    assert abs(sum(captures["probabilities"].values()) - 1) < 1e-4 and captures["top_k"][0]["class"] in (
        "red",
        "green",
        "blue",
    )
    cam = np.load(out / "cam.npy")
    assert cam.shape == (32, 32) and cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 8 and "layer1.0.conv1" in report
    with Image.open(out / "flow.png") as flow:
        assert flow.size[0] > flow.size[1] and np.asarray(flow.convert("L")).std() > 10


def test_a_mistyped_layer_exits_2_with_suggestions(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workspace)  # the latest run of ./checkpoints
    assert main(["visualize", "--image", "img.jpg", "--layers", "layer1.0.conv_1,conv1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "did you mean layer1.0.conv1" in err and "hartrace layers" in err
    assert len(err.strip().splitlines()) == 1


def test_a_bad_image_is_a_one_line_error(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workspace)
    (workspace / "empty.jpg").write_bytes(b"")
    assert main(["visualize", "--image", "empty.jpg"]) == 2
    assert capsys.readouterr().err.strip().endswith("empty file")


def test_layers_lists_names_types_shapes_and_parameters(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workspace)
    assert main(["layers", "--filter", "layer4.1.conv"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(lines) == {"layer4.1.conv1", "layer4.1.conv2"}
    assert lines["layer4.1.conv1"][1:] == ["Conv2d", "1x256x2x2", f"{256 * 256 * 9:,}"]


def _visualize(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["visualize", *args])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_visualize_names_the_true_class_of_a_dataset_image_and_picks_random_ones(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(workspace / "checkpoints" / "colours")
    image = workspace / "colours" / "green" / "green_05.png"
    code, out, _ = _visualize(
        capsys, "--run", run, "--image", str(image), "--layers", "conv1", "--out", f"{tmp_path}/o"
    )
    assert code == 0 and "green_05.png (true: green): " in out
    captures = json.loads((tmp_path / "o" / "captures.json").read_text())
    assert captures["true_class"] == "green" and captures["true_class_note"].endswith(f"split of {workspace}/colours")
    assert captures["predicted"] == captures["top_k"][0]["class"] and captures["correct"] == (
        captures["predicted"] == "green"
    )
    assert captures["probabilities_shown"] == 3 and captures["kernels"]["conv1"]["mode"] == "rgb"
    title = f"hartrace: green_05.png, true: green · predicted: {captures['predicted']} ("
    assert f"<title>{title}" in (tmp_path / "o" / "report.html").read_text()

    code, out, err = _visualize(
        capsys, "--run", run, "--random-val", "2", "--layers", "conv1", "--out", f"{tmp_path}/r"
    )
    assert code == 0 and out.startswith("random validation images (seed 0, 2 of "), err
    first = out.splitlines()[0].split(": ", 1)[1].split(", ")
    index = open_dataset(open_model(run))
    picks = [[index.relative(s.path) for s in pick_validation(index, 2, seed)] for seed in (0, 0, 1)]
    assert picks[0] == picks[1] == first and picks[2] != first  # the seed decides, nothing else
    assert set(first) <= set(json.loads((Path(run) / "split.json").read_text())["val"])
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted(Path(name).stem for name in first)
    for name in first:  # an ImageFolder labels by folder: each picture knows its class
        captures = json.loads((tmp_path / "r" / Path(name).stem / "captures.json").read_text())
        assert captures["true_class"] == Path(name).parent.name

    with pytest.raises(SystemExit) as exited:  # argparse's own usage error
        main(["visualize", "--run", run, "--image", str(image), "--random-val"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and "not allowed with argument --image/--video" in err
    code, _, err = _visualize(capsys, "--run", run, "--random-val", "50")
    assert code == 2 and "the validation split has" in err and err.count("\n") == 1
    code, _, err = _visualize(capsys, "--run", run, "--image", str(image), "--seed", "3")
    assert code == 2 and "--seed chooses --random-val's images" in err


def test_default_layers_show_harnets_head_and_each_stage_of_the_others() -> None:
    from hartrace.models import get_model, model_info
    from hartrace.probe.layers import default_layers, layers_skipped_between

    harnet, info = get_model("harnet", 15, weights="none"), model_info("harnet")
    layers = default_layers(harnet, info.stages, info.head)
    assert layers == ["conv1", "layer1", "layer2", "layer3", "layer4", "head.conv1", "head.conv2"]
    assert layers_skipped_between(harnet, layers) == [3, 0, 0, 0, 0, 2]  # bn1, relu, maxpool | head.bn1, relu1
    small, info = get_model("resnet_small", 15, weights="none"), model_info("resnet_small")
    assert default_layers(small, info.stages, info.head) == ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]


def test_layers_builds_a_backbone_for_the_classes_asked(colours: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def head(*args: str) -> str:
        assert main(["layers", *args]) == 0
        printed = capsys.readouterr().out
        return printed.splitlines()[0] + " / " + [line for line in printed.splitlines() if "Linear" in line][0]

    assert main(["layers", "--backbone", "harnet", "--depth", "1", "--image-size", "64"]) == 0
    top_level = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
    assert top_level[-2:] == ["layer4", "head"], "the trunk's stages, then the head"
    harnet = head("--backbone", "harnet", "--filter", "head.fc", "--image-size", "64", "--num-classes", "40")
    assert harnet.startswith("harnet (40 classes)") and harnet.split()[-2] == "1x40"
    assert head("--backbone", "resnet_small", "--filter", "fc", "--image-size", "32").split()[-2] == "1x15"
    with_data = head("--backbone", "resnet_small", "--data", str(colours), "--filter", "fc", "--image-size", "32")
    assert with_data.startswith("resnet_small (3 classes)") and with_data.split()[-2] == "1x3"
    assert main(["layers", "--run", "nowhere", "--num-classes", "4"]) == 2
    assert "--num-classes and --data size a --backbone's head" in capsys.readouterr().err


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    data = generate(root / "synthetic", per_class=4, test_per_class=1, progress=False).root
    result = train(quick_config(data, root / "run", image_size=64, epochs=1), progress=False, log=lambda m: None)
    return result.run_dir


def test_explain_a_split_scores_the_evidence(synthetic_run: Path, tmp_path: Path) -> None:
    result = explain_split(synthetic_run, split="val", out=tmp_path / "x", progress=False)
    with open(tmp_path / "x" / "explanations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    val = json.loads((synthetic_run / "split.json").read_text())["val"]
    assert sorted(r["path"] for r in rows) == sorted(val)
    for kind in ("strict", "tolerant"):
        assert all(r[f"pointing_hit_{kind}"] in ("True", "False") for r in rows)
        assert all(0 < float(r[f"pointing_{kind}_random"]) <= 1 for r in rows)
    assert all((tmp_path / "x" / r["overlay"]).is_file() for r in rows)
    summary = json.loads((tmp_path / "x" / "summary.json").read_text())
    assert summary["images"] == len(val) and summary["tolerance"] == 15  # the tolerant figure's default margin
    for kind in ("strict", "tolerant"):
        hits = np.mean([r[f"pointing_hit_{kind}"] == "True" for r in rows])
        assert summary[f"pointing_{kind}"] == pytest.approx(hits)
        chance = np.mean([float(r[f"pointing_{kind}_random"]) for r in rows])
        assert summary[f"pointing_{kind}_random"] == pytest.approx(chance)
    assert summary["pointing_strict_random"] < summary["pointing_tolerant_random"]
    assert summary["pointing_game"] == summary["pointing_tolerant"] and result.summary == summary  # the earlier key


def test_explain_shards_across_processes_under_torchrun(synthetic_run: Path, tmp_path: Path) -> None:
    # --checkpoint, not --run: torchrun's own parser would take --run for its --run-path
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "hartrace",
        "explain",
        "--checkpoint",
        str(synthetic_run / "best.pt"),
        "--method",
        "gradcam++",
        "--no-overlays",
        "--out",
        str(tmp_path / "ddp"),
        "--quiet",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("pointing game") == 1, "only rank 0 reports"
    with open(tmp_path / "ddp" / "explanations.csv", newline="") as f:
        paths = [row["path"] for row in csv.DictReader(f)]
    assert sorted(paths) == sorted(json.loads((synthetic_run / "split.json").read_text())["val"])
    assert json.loads((tmp_path / "ddp" / "summary.json").read_text())["processes"] == 2

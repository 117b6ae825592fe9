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

from hartrace.synth import generate
from hartrace.workflows.explain import explain_split
from hartrace.workflows.train import train
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


def test_a_mistyped_layer_exits_2_with_suggestions(workspace: Path) -> None:
    result = run_cli("visualize", "--image", "img.jpg", "--layers", "layer1.0.conv_1,conv1", cwd=workspace)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "did you mean layer1.0.conv1" in result.stderr and "hartrace layers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_image_is_a_one_line_error(workspace: Path) -> None:
    (workspace / "empty.jpg").write_bytes(b"")
    result = run_cli("visualize", "--image", "empty.jpg", cwd=workspace)
    assert result.returncode == 2 and result.stderr.strip().endswith("empty file")


def test_layers_lists_names_types_shapes_and_parameters(workspace: Path) -> None:
    result = run_cli("layers", "--filter", "layer4.1.conv", cwd=workspace)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:]}
    assert set(lines) == {"layer4.1.conv1", "layer4.1.conv2"}
    assert lines["layer4.1.conv1"][1:] == ["Conv2d", "1x256x2x2", f"{256 * 256 * 9:,}"]
    backbone = run_cli("layers", "--backbone", "harnet", "--depth", "1")
    assert backbone.returncode == 0 and "head" in backbone.stdout and "layer4" in backbone.stdout


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
    assert all(r["pointing_hit"] in ("True", "False") and 0 < float(r["random_baseline"]) < 1 for r in rows)
    assert all((tmp_path / "x" / r["overlay"]).is_file() for r in rows)
    summary = json.loads((tmp_path / "x" / "summary.json").read_text())
    assert summary["images"] == len(val) and 0 <= summary["pointing_game"] <= 1
    hits = np.mean([r["pointing_hit"] == "True" for r in rows])
    assert summary["pointing_game"] == pytest.approx(hits) and result.summary == summary


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

"""Every command on every kind of run: it works, or it refuses in one line (exit 2) and writes nothing.

Six kinds of run, trained once on the synthetic sets: a scratch image CNN, harnet, a
torchvision image backbone, a 3-D CNN, a CNN+LSTM and a zero-shot video run. Each
(command, kind) cell is one test, run in-process through the command line a user types.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hartrace.base.errors import UsageError
from hartrace.cli import main

IMAGE_KINDS = ("scratch", "harnet", "torchvision")
VIDEO_KINDS = ("c3d", "cnn_lstm", "zero_shot")
KINDS = IMAGE_KINDS + VIDEO_KINDS
COMMANDS = ("layers", "visualize", "explain", "evaluate", "predict", "audit")

#: The cells that refuse, and the words their one line must say (why, and what to do instead).
REFUSALS = {
    ("audit", "c3d"): "audit works on image runs",
    ("audit", "cnn_lstm"): "audit works on image runs",
    ("visualize", "zero_shot"): "zero-shot model",
    ("explain", "zero_shot"): "zero-shot model",
    ("audit", "zero_shot"): "zero-shot model",
}
INSTEAD = {"audit works on image runs": "hartrace explain", "zero-shot model": "hartrace evaluate"}


@dataclass(frozen=True)
class Kind:
    run: Path
    media: Path  # an image or a video the model takes
    layers: str  # for visualize: spatial layers and at least one that is not (a vector, a sequence)
    video: bool


def _train(argv: list[str]) -> None:
    assert main(["train", *argv, "--epochs", "1", "--batch-size", "8", "--workers", "0", "-q"]) == 0


@pytest.fixture(scope="session")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Kind]:
    from hartrace.synth import generate, generate_video_set

    root = tmp_path_factory.mktemp("acceptance")
    images = generate(root / "images", per_class=4, test_per_class=1, size=64, workers=1, progress=False).root
    videos = generate_video_set(
        root / "videos", per_class=2, test_per_class=1, size=48, frames=12, workers=1, progress=False
    ).root
    runs = root / "runs"
    image = ["--data", str(images), "--weights", "none", "--image-size", "32"]
    video = [
        "--data",
        str(videos),
        "--weights",
        "none",
        "--image-size",
        "32",
        "--clip-length",
        "4",
        "--clip-stride",
        "2",
        "--test-clips",
        "2",
    ]
    _train([*image, "--backbone", "resnet_small", "--out", str(runs / "scratch")])
    _train([*image[:-1], "64", "--backbone", "harnet", "--out", str(runs / "harnet")])
    _train([*image, "--backbone", "mobilenet_v2", "--out", str(runs / "torchvision")])
    _train([*video, "--backbone", "c3d_small", "--out", str(runs / "c3d")])
    _train([*video, "--backbone", "cnn_lstm", "--out", str(runs / "cnn_lstm")])
    _train([*video, "--backbone", "c3d_small", "--zero-shot", "--zs-splits", "2", "--out", str(runs / "zero_shot")])
    picture = images / "test" / "Image_1.jpg"
    clip = sorted(videos.rglob("*.avi"))[0]
    return {
        "scratch": Kind(runs / "scratch", picture, "conv1,layer4,avgpool,fc", False),
        "harnet": Kind(runs / "harnet", picture, "layer1.0.conv1,conv1,head.pool,head.fc", False),
        "torchvision": Kind(runs / "torchvision", picture, "features.0,features.18,classifier.1", False),
        "c3d": Kind(runs / "c3d", clip, "stem,layer1,avgpool,fc", True),
        "cnn_lstm": Kind(runs / "cnn_lstm", clip, "backbone.layer1,backbone,lstm,fc", True),
        "zero_shot": Kind(runs / "zero_shot" / "split1", clip, "stem,layer1", True),
    }


def _argv(command: str, kind: Kind, out: Path) -> list[str]:
    run = ["--run", str(kind.run)]
    return {
        "layers": ["layers", *run, "--depth", "2"],
        "visualize": ["visualize", "--image", str(kind.media), *run, "--layers", kind.layers, "--out", str(out)],
        "explain": ["explain", *run, "--split", "val", "--limit", "4", "-q", "--out", str(out)],
        "evaluate": ["evaluate", *run, "-q", "--out", str(out)],
        "predict": ["predict", str(kind.media), "--checkpoint", str(kind.run / "best.pt"), "-q", "--out", str(out)],
        "audit": ["audit", *run, "--limit", "4", "--steps", "4", "--cascade-images", "2", "-q", "--out", str(out)],
    }[command]


def _written(command: str, kind: Kind) -> list[str]:
    """What a working command must leave in its --out folder (layers prints to the screen)."""
    per_layer = [f"activations_{layer.replace('.', '_')}.png" for layer in kind.layers.split(",")]
    cam = ["cam.gif", "cam.mp4", "frames.png", "temporal_importance.csv"] if kind.video else ["cam.png"]
    return {
        "layers": [],
        "visualize": [*per_layer, *cam, "cam.npy", "flow.png", "histograms.png", "captures.json", "report.html"],
        "explain": ["explanations.csv", "summary.json"],
        "evaluate": ["eval.json", "predictions.csv", "confusion_matrix.png", "per_class.csv"],
        "predict": ["predictions.csv"],
        "audit": ["audit.json", "audit.md", "per_image.csv", "curves.png", "cascade.png"],
    }[command]


@pytest.mark.slow
@pytest.mark.parametrize("kind_name", KINDS)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_on_every_kind_of_run(command: str, kind_name: str, kinds, tmp_path, capsys) -> None:
    kind, out = kinds[kind_name], tmp_path / "out"
    code = main(_argv(command, kind, out))
    printed = capsys.readouterr()
    refusal = REFUSALS.get((command, kind_name))
    if refusal is None:
        assert code == 0, printed.err
        assert "Traceback" not in printed.err
        missing = [name for name in _written(command, kind) if not (out / name).is_file()]
        assert not missing, f"hartrace {command} on a {kind_name} run did not write {missing}"
        if command == "layers":
            assert "output shape" in printed.out and len(printed.out.splitlines()) > 5
    else:
        assert code == 2
        lines = printed.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hartrace {command}: error: "), printed.err
        assert refusal in lines[0] and INSTEAD[refusal] in lines[0], lines[0]
        assert not out.exists(), "a refusal writes nothing"


@pytest.mark.slow
def test_a_zero_shot_protocol_folder_names_its_runs(kinds, capsys) -> None:
    protocol = kinds["zero_shot"].run.parent
    assert main(["layers", "--run", str(protocol)]) == 2
    line = capsys.readouterr().err.strip()
    assert "holds 2 zero-shot runs" in line and f"--run {protocol / 'split1'}" in line


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backbones", "data_kind"), [("resnet_small,harnet,mobilenet_v2", "scratch"), ("c3d_small,cnn_lstm", "c3d")]
)
def test_compare_on_image_and_video_backbones(backbones: str, data_kind: str, kinds, tmp_path, capsys) -> None:
    config = _run_config(kinds[data_kind].run)
    extra = ["--clip-length", "4", "--test-clips", "1"] if kinds[data_kind].video else []
    argv = [
        "compare",
        "--backbones",
        backbones,
        "--data",
        config["data"],
        "--weights",
        "none",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--max-batches",
        "1",
        "--workers",
        "0",
        "-q",
        "--out",
        str(tmp_path),
        *extra,
    ]
    assert main(argv) == 0, capsys.readouterr().err
    table = (tmp_path / "results.md").read_text()
    for backbone in backbones.split(","):
        assert f"| {backbone} | 32 |" in table, table  # --image-size is every cell's size


@pytest.mark.slow
def test_compare_refuses_zero_shot_in_one_line(kinds, tmp_path, capsys) -> None:
    data = _run_config(kinds["c3d"].run)["data"]
    argv = ["compare", "--backbones", "c3d_small", "--data", data, "--zero-shot", "--out", str(tmp_path / "cmp")]
    assert main(argv) == 2
    line = capsys.readouterr().err.strip()
    assert len(line.splitlines()) == 1 and "--zs-splits" in line
    assert not (tmp_path / "cmp").exists()


def _run_config(run: Path) -> dict:
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("kind_name", KINDS)
def test_every_explorer_view_on_every_kind_of_run(kind_name: str, kinds) -> None:
    from hartrace.explorer.service import ExplorerService

    kind = kinds[kind_name]
    service = ExplorerService(kind.run.parent)
    run = kind.run.name
    assert run in [row["name"] for row in service.list_runs()]
    job = service.evaluation_job(run)  # the Run page's evaluation: in the background unless already on disk
    while job is not None and job["state"] in ("queued", "running"):
        time.sleep(0.05)
        job = service.job(job["key"])
    assert job is None or job["state"] == "done", job
    details = service.run_details(run)
    assert details["metrics"] and 0.0 <= details["evaluation"]["accuracy"] <= 1.0
    tree = service.layer_tree(run)
    assert {row["name"] for row in tree} >= set(kind.layers.split(","))
    if not kind.video:
        image_id = service.images(run)["rows"][0]["id"]
        assert abs(sum(service.probabilities(run, image_id)) - 1.0) < 1e-4
        assert service.cam(run, image_id).shape == (32 if kind_name != "harnet" else 64,) * 2
        vector = kind.layers.split(",")[-1]
        assert service.activation(run, image_id, vector).dim() == 1
        assert service.flow_png(run, image_id, kind.layers.split(",")).startswith("data:image/png;base64,")
        return
    video_id = service.videos(run)[0]["id"]
    if kind_name == "zero_shot":
        with pytest.raises(UsageError, match="zero-shot model"):
            service.video_cam(run, video_id)
        return
    cams = service.video_cam(run, video_id)
    assert cams.shape == (4, 32, 32) and 0.0 <= cams.min() and cams.max() <= 1.0
    assert service.video_importance(run, video_id).sum() == pytest.approx(1.0)

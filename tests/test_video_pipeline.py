"""Video runs end to end: train, evaluate on several clips, predict, visualize, explain, and zero-shot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hartrace.cli import main
from hartrace.data import load_dataset
from hartrace.data.pipeline import InputSpec, evaluation_dataset
from hartrace.runs.checkpoint import load_checkpoint
from hartrace.runs.inference import model_outputs
from hartrace.runs.spec import RunSpec
from hartrace.workflows.evaluate import evaluate
from hartrace.workflows.train import train
from tests.conftest import quick_config, run_cli

CLIP = dict(backbone="c3d_small", image_size=32, clip_length=4, clip_stride=2, test_clips=3, batch_size=6)


def _quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def video_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hartrace.synth import generate_video_set

    root = tmp_path_factory.mktemp("videos") / "synthetic-video"
    generate_video_set(root, per_class=3, test_per_class=1, size=64, frames=12, seed=0, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def video_run(video_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "c3d"
    return train(quick_config(video_set, out, epochs=1, **CLIP), progress=False, log=_quiet).run_dir


def test_a_video_run_records_how_its_clips_are_made(video_run: Path) -> None:
    model, meta = load_checkpoint(video_run / "best.pt")
    assert meta["task"] == "video" and meta["config"]["task"] == "video"
    assert (meta["clip_length"], meta["clip_stride"], meta["test_clips"], meta["input_size"]) == (4, 2, 3, 32)
    assert model(torch.zeros(2, 3, 4, 32, 32)).shape == (2, 12)


def test_evaluation_averages_the_clips_of_each_video(video_run: Path, video_set: Path) -> None:
    model, meta = load_checkpoint(video_run / "best.pt")
    index = load_dataset(video_set, progress=False)
    samples = index.splits["test"][:4]
    averaged = model_outputs(model, samples, RunSpec.from_meta(meta), workers=0, progress=False)
    clips = evaluation_dataset(samples, InputSpec.from_meta(meta), clips=3)
    by_hand = []
    with torch.no_grad():
        for item, _ in clips:
            by_hand.append(torch.softmax(model(item).float(), dim=1).mean(0).numpy())
    np.testing.assert_allclose(averaged, np.stack(by_hand), atol=2e-2)  # bf16 autocast in one, fp32 in the other
    assert np.allclose(averaged.sum(1), 1.0, atol=1e-4)

    report = evaluate(video_run, split="test", progress=False).report
    assert report["images"] == 12 and "top5_accuracy" in report
    rows = list(csv.DictReader((video_run / "eval" / "test" / "predictions.csv").open()))
    assert len(rows) == 12 and rows[0]["path"].endswith(".avi")
    assert (video_run / "eval" / "test" / "misclassified.png").is_file()


def _exit_code_and_stderr(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``hartrace ARGS`` in this process: its exit code (argparse's own errors included) and what it printed."""
    from hartrace.cli import main

    try:
        code = main(list(args))
    except SystemExit as stop:
        code = int(stop.code or 0)
    return code, capsys.readouterr().err


def test_an_image_model_refuses_a_video_dataset(
    video_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "r")
    code, err = _exit_code_and_stderr(
        capsys, "train", "--data", str(video_set), "--backbone", "resnet_small", "--weights", "none", "--out", out, "-q"
    )
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "resnet_small is an image model" in err and "c3d_small" in err
    assert not (tmp_path / "r").exists()


def test_bad_clip_options_are_usage_errors(video_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _exit_code_and_stderr(
        capsys, "train", "--data", str(video_set), "--backbone", "c3d_small", "--clip-length", "0"
    )
    assert code == 2 and "positive whole number" in err
    code, err = _exit_code_and_stderr(
        capsys, "train", "--data", str(video_set), "--backbone", "c3d_small", "--unseen-fraction", "1.5", "--zero-shot"
    )
    assert code == 2 and "--unseen-fraction must be between 0 and 1" in err


def test_visualize_a_video_writes_the_temporal_pictures(video_run: Path, video_set: Path, tmp_path: Path) -> None:
    from hartrace.data.video import probe_video
    from hartrace.render.video import read_gif

    video = sorted((video_set / "UCF-101" / "WaveArm").glob("*.avi"))[0]
    out = tmp_path / "vis"
    done = run_cli(
        "visualize",
        "--checkpoint",
        str(video_run / "best.pt"),
        "--video",
        str(video),
        "--layers",
        "layer1,layer3",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    for name in (
        "frames.png",
        "temporal_importance.png",
        "cam.gif",
        "cam.mp4",
        "activations_layer1.png",
        "report.html",
        "captures.json",
    ):
        assert (out / name).is_file(), name
    cam = np.load(out / "cam.npy")
    assert cam.shape == (4, 32, 32) and cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    rows = list(csv.DictReader((out / "temporal_importance.csv").open()))
    assert [int(r["video_frame"]) for r in rows] == json.loads((out / "captures.json").read_text())["clip_frames"]
    assert sum(float(r["importance"]) for r in rows) == pytest.approx(1.0, abs=1e-4)
    assert read_gif(out / "cam.gif").shape[1:] == (32, 32, 3)
    assert probe_video(out / "cam.mp4").frames == 4
    assert json.loads((out / "captures.json").read_text())["true_class"] == "WaveArm"  # one of the run's videos

    picked = tmp_path / "random"  # --random-val on a video run picks validation videos
    options = ["--checkpoint", str(video_run / "best.pt"), "--random-val", "--layers", "layer1", "--out", str(picked)]
    assert main(["visualize", *options]) == 0
    (folder,) = picked.iterdir()
    captures = json.loads((folder / "captures.json").read_text())
    assert captures["video"].endswith(".avi") and captures["true_class"] == Path(captures["video"]).parent.name

    image = tmp_path / "still.png"
    from tests.conftest import make_image

    make_image(image, fmt="PNG")
    done = run_cli("visualize", "--checkpoint", str(video_run / "best.pt"), "--image", str(image))
    assert done.returncode == 2 and "is a video model" in done.stderr and done.stderr.count("\n") == 1


def test_predict_and_explain_videos(video_run: Path, video_set: Path, tmp_path: Path) -> None:
    done = run_cli(
        "predict",
        "--checkpoint",
        str(video_run / "best.pt"),
        str(video_set / "UCF-101" / "Jump"),
        "--out",
        str(tmp_path / "p"),
        "-q",
    )
    assert done.returncode == 0, done.stderr
    assert len(list(csv.DictReader((tmp_path / "p" / "predictions.csv").open()))) == 4  # 3 training + 1 test video

    done = run_cli(
        "explain", "--checkpoint", str(video_run / "best.pt"), "--split", "test", "--out", str(tmp_path / "x"), "-q"
    )
    assert done.returncode == 0, done.stderr
    assert "12 test videos" in done.stdout
    rows = list(csv.DictReader((tmp_path / "x" / "explanations.csv").open()))
    assert len(rows) == 12 and all(0 <= int(r["peak_t"]) < 4 for r in rows)
    assert all(
        r["pointing_hit_strict"] in ("True", "False") and 0 < float(r["pointing_strict_random"]) < 1 for r in rows
    )
    assert all(float(r["frame_pointing_strict"]) <= float(r["frame_pointing_tolerant"]) <= 1 for r in rows)
    assert "per frame: pointing game " in done.stdout and " within 15 px (random map " in done.stdout
    summary = json.loads((tmp_path / "x" / "summary.json").read_text())
    assert summary["task"] == "video" and summary["pointing_strict"] == pytest.approx(
        np.mean([r["pointing_hit_strict"] == "True" for r in rows])
    )
    assert summary["frame_pointing_game"] == summary["frame_pointing_tolerant"]  # the key bench/bench_video.py reads


def test_zero_shot_protocol_holds_out_classes_and_reports_mean_and_std(video_set: Path, tmp_path: Path) -> None:
    from hartrace.workflows.zeroshot import train_zero_shot

    rng = np.random.default_rng(0)
    embeddings = tmp_path / "names.npy"
    np.save(embeddings, rng.normal(size=(12, 16)).astype(np.float32))
    # fp32: this checks the protocol's bookkeeping, and bf16 on tiny 32-px clips once gave a NaN loss in the full suite
    config = quick_config(
        video_set, tmp_path / "zs", epochs=1, zero_shot=True, zs_splits=2, embeddings=str(embeddings), amp="off", **CLIP
    )
    outcome = train_zero_shot(config, progress=False, log=_quiet)

    summary = json.loads((outcome.run_dir / "zeroshot.json").read_text())
    top1 = [row["top1"] for row in summary["per_split"]]
    assert summary["splits"] == 2 and summary["mean"]["top1"] == pytest.approx(np.mean(top1))
    assert summary["std"]["top1"] == pytest.approx(np.std(top1))
    assert "± " in (outcome.run_dir / "zeroshot.md").read_text()
    index = load_dataset(video_set, progress=False)
    unseen_sets = []
    for k in (1, 2):
        run = outcome.run_dir / f"split{k}"
        held_out = json.loads((run / "zero_shot_classes.json").read_text())
        unseen = set(held_out["unseen"])
        unseen_sets.append(unseen)
        assert len(unseen) == 6 and not unseen & set(held_out["seen"])
        by_path = {index.relative(s.path): index.classes[s.label] for samples in index.splits.values() for s in samples}
        trained_classes = {by_path[path] for path in held_out["train"] + held_out["val"]}
        assert trained_classes == set(held_out["seen"]) and not trained_classes & unseen
        report = json.loads((run / "eval" / "unseen" / "eval.json").read_text())
        assert set(report["per_class"]) == unseen and report["images"] == 6 * 4  # every video of the unseen classes
        _, meta = load_checkpoint(run / "best.pt")
        assert meta["model"]["num_classes"] == 16  # the head regresses the 16-d name embeddings
    assert unseen_sets[0] != unseen_sets[1]

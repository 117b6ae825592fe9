"""``hartrace train --tensorboard``: what TensorBoard reads back matches the run's own metrics, resuming appends
without repeating an epoch, the CAM pass leaves training untouched, and a missing package is one line."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import colour_folder, quick_config

#: metrics.jsonl's columns and the TensorBoard tags they are logged under
TAGS = {
    "train_loss": "loss/train",
    "train_accuracy": "accuracy/train",
    "train_f1": "f1/train",
    "val_loss": "loss/val",
    "val_accuracy": "accuracy/val",
    "val_f1": "f1/val",
    "lr": "lr",
}


def _rows(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _events(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def _quiet(message: str) -> None:
    pass


def test_tensorboard_logs_every_epoch_appends_on_resume_and_trains_as_without_it(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    from hartrace.cli import main
    from hartrace.workflows.train import train

    data = colour_folder(tmp_path / "colours", per_class=8)
    # A constant rate, so one epoch resumed with --epochs 2 trains as two epochs straight (cosine depends on --epochs).
    straight = quick_config(data, tmp_path / "plain", max_batches=1, schedule="none")
    plain = train(straight, progress=False, log=_quiet).run_dir
    run = tmp_path / "board"
    argv = ["train", "--data", str(data), "--backbone", "resnet_small", "--weights", "none", "--image-size", "32"]
    argv += ["--batch-size", "8", "--workers", "0", "--lr", "3e-3", "--max-batches", "1", "--schedule", "none"]
    argv += ["--out", str(run), "-q"]
    assert main([*argv, "--epochs", "1", "--tensorboard"]) == 0
    # A process that logged epoch 2 and died before saving it: the resumed run must replace that, not repeat it.
    with SummaryWriter(str(run / "tensorboard")) as stray:
        stray.add_scalar("loss/val", 99.0, 2)
    assert main(["train", "--resume", str(run), "--epochs", "2", "-q"]) == 0

    rows = _rows(run)
    assert [r["epoch"] for r in rows] == [1, 2]
    for column in TAGS:  # the CAM pass changed nothing: the same numbers as a run without TensorBoard
        assert [r[column] for r in rows] == [r[column] for r in _rows(plain)], column

    events = _events(run)
    assert not any(p.is_dir() for p in (run / "tensorboard").iterdir()), "one run: no second folder for hparams"
    for column, tag in TAGS.items():
        logged = events.Scalars(tag)
        assert [e.step for e in logged] == [1, 2], (tag, [e.step for e in logged])
        assert [e.value for e in logged] == pytest.approx([r[column] for r in rows], rel=1e-6), tag
    best = int(np.argmin([r["val_loss"] for r in rows]))
    assert events.Scalars("best/val_loss")[-1].value == pytest.approx(rows[best]["val_loss"], rel=1e-6)

    for tag in ("confusion_matrix/val", "cam/val"):
        assert [e.step for e in events.Images(tag)] == [1, 2], tag
    picture = np.asarray(Image.open(io.BytesIO(events.Images("cam/val")[-1].encoded_image_string)).convert("RGB"))
    assert picture.shape[0] > 200 and picture.shape[1] > 400, picture.shape
    assert picture.std() > 20, "the overlays are drawn, not a blank page"

    from tensorboard.plugins.hparams import plugin_data_pb2

    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["backbone"].string_value == "resnet_small"
    assert start.hparams["image_size"].number_value == 32 and start.hparams["tensorboard"].string_value == "true"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} >= {"best/val_loss", "accuracy/val"}


def test_the_cam_pass_restores_the_model_and_the_random_streams(tmp_path: Path) -> None:
    from hartrace.data import load_dataset
    from hartrace.data.pipeline import InputSpec
    from hartrace.models import get_model
    from hartrace.workflows.train.tensorboard import TrainingBoard

    index = load_dataset(colour_folder(tmp_path / "colours", per_class=4), progress=False)
    model = get_model("resnet_small", 3, weights="none").train()
    running = {k: v.clone() for k, v in model.state_dict().items()}
    spec = InputSpec("image", 32, model.info.mean, model.info.std)
    board = TrainingBoard(
        tmp_path / "run",
        config={"backbone": "resnet_small", "milestones": [3, 6], "classes": None},
        classes=index.classes,
        model=model,
        spec=spec,
        train_samples=index.splits["train"],
        val_samples=index.splits["val"],
        device=torch.device("cpu"),
        first_epoch=1,
        explains=True,
        log=_quiet,
    )
    assert {s.label for s in board.shown} == {0, 1, 2}, "one validation image of each class"
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    row = {"epoch": 1, "val_loss": 1.0, "val_accuracy": 0.5, "val_f1": 0.4}
    board.log_epoch(row, row, [0, 1, 2], [0, 2, 2])
    board.close()
    assert torch.equal(torch.rand(3), expected), "training's random stream goes on as if nothing ran"
    assert model.training, "the model is back in training mode"
    assert all(torch.equal(v, running[k]) for k, v in model.state_dict().items()), "no BatchNorm statistic moved"
    assert all(p.grad is None for p in model.parameters()), "no gradient left on the weights"


def test_without_the_package_tensorboard_is_one_line_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hartrace.cli import build_parser, main
    from hartrace.cli.train_cmd import config_from_args

    args = build_parser().parse_args(["compare", "--backbones", "resnet_small", "--tensorboard"])
    assert config_from_args(args).tensorboard, "compare passes --tensorboard to every cell"
    (tmp_path / "exp.yaml").write_text("tensorboard: true\n")
    assert config_from_args(build_parser().parse_args(["train", "--config", str(tmp_path / "exp.yaml")])).tensorboard

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if `tensorboard` were not installed
    data = colour_folder(tmp_path / "colours", per_class=2)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--tensorboard", "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "pip install 'hartrace[tensorboard]'" in lines[0], lines
    assert not (tmp_path / "run").exists(), "refused before the run folder was made"

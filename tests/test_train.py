"""Training runs: outputs, resume, interrupts, frozen trunks, the feature cache, and metrics."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from hartrace.base.errors import UsageError
from hartrace.runs.checkpoint import load_checkpoint, read_checkpoint
from hartrace.workflows.train import resume, train
from tests.conftest import ROOT, colour_folder, make_image, quick_config, run_cli


def _quiet(message: str) -> None:
    pass


def test_a_run_folder_holds_everything(colours: Path, tmp_path: Path) -> None:
    result = train(quick_config(colours, tmp_path / "run", epochs=3), progress=False, log=_quiet)
    run = result.run_dir
    for name in (
        "best.pt",
        "last.pt",
        "config.yaml",
        "split.json",
        "metrics.jsonl",
        "metrics.csv",
        "curves.png",
        "skipped.csv",
    ):
        assert (run / name).is_file(), name
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for key in ("train_loss", "val_loss", "val_accuracy", "val_precision", "val_recall", "val_f1", "lr", "seconds"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert result.best["val_accuracy"] >= 0.8, "three colours are learnt in three epochs (chance: 1/3)"
    model, meta = load_checkpoint(run / "best.pt")
    assert meta["classes"] == ["blue", "green", "red"] and meta["epoch"] == result.best_epoch
    assert meta["config"]["backbone"] == "resnet_small" and meta["input_size"] == 32
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_resume_is_exact(colours: Path, tmp_path: Path) -> None:
    straight = train(quick_config(colours, tmp_path / "straight"), progress=False, log=_quiet)
    halves = quick_config(colours, tmp_path / "halves")
    train(halves, progress=False, log=_quiet, on_epoch_end=lambda row: False)  # stops after epoch 1
    assert read_checkpoint(tmp_path / "halves" / "last.pt")["position"] == {"epoch": 1, "step": 0}
    resumed = resume(tmp_path / "halves", progress=False, log=_quiet)
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    a = read_checkpoint(straight.run_dir / "last.pt")["state_dict"]
    b = read_checkpoint(resumed.run_dir / "last.pt")["state_dict"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed.history[1]["val_loss"] == straight.history[1]["val_loss"]


def test_a_zero_shot_run_trains_on_its_seen_classes_and_resumes_exactly(colours: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "names.npy", np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32))
    options = dict(zero_shot=True, embeddings=str(tmp_path / "names.npy"))  # 3 classes: 1 seen, 2 unseen
    straight = train(quick_config(colours, tmp_path / "straight", **options), progress=False, log=_quiet)
    halves = quick_config(colours, tmp_path / "halves", **options)
    train(halves, progress=False, log=_quiet, on_epoch_end=lambda row: False)  # stops after epoch 1
    resumed = resume(tmp_path / "halves", progress=False, log=_quiet)
    held_out = json.loads((straight.run_dir / "zero_shot_classes.json").read_text())
    assert len(held_out["seen"]) == 1 and len(held_out["unseen"]) == 2
    assert {Path(p).parent.name for p in held_out["train"] + held_out["val"]} == set(held_out["seen"])
    state = read_checkpoint(resumed.run_dir / "last.pt")
    meta = state["meta"]
    assert meta["model"]["num_classes"] == 8 and meta["classes"] == ["blue", "green", "red"]
    assert meta["zero_shot"]["seen"] == [meta["classes"].index(c) for c in held_out["seen"]]
    a = read_checkpoint(straight.run_dir / "last.pt")["state_dict"]
    for key in a:
        assert torch.equal(a[key], state["state_dict"][key]), key
    assert resumed.history[1]["val_loss"] == straight.history[1]["val_loss"]
    assert all(r["train_accuracy"] == 1.0 for r in straight.history), "one seen class: every prediction names it"


def test_sigint_leaves_a_resumable_checkpoint(tmp_path: Path) -> None:
    data = colour_folder(tmp_path / "many", per_class=60)
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "hartrace",
        "train",
        "--data",
        str(data),
        "--backbone",
        "resnet_small",
        "--weights",
        "none",
        "--image-size",
        "32",
        "--batch-size",
        "4",
        "--epochs",
        "3",
        "--workers",
        "0",
        "--out",
        str(out),
        "--quiet",
    ]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "split.json").exists() and time.time() < deadline:  # training has started
        time.sleep(0.2)
    time.sleep(2.0)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and "resume with: hartrace train --resume" in stderr
    position = read_checkpoint(out / "last.pt")["position"]
    assert position["epoch"] < 3
    finished = run_cli("train", "--resume", str(out), "--quiet")
    assert finished.returncode == 0, finished.stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_frozen_trunk_keeps_its_batchnorm_statistics(colours: Path, tmp_path: Path) -> None:
    from hartrace.models import get_model

    config = quick_config(
        colours, tmp_path / "run", backbone="harnet", freeze="trunk", epochs=1, image_size=64, augment=True
    )
    torch.manual_seed(config.seed)  # the trainer builds its model from this seed
    initial = get_model("harnet", 3, weights="none", freeze="trunk").state_dict()
    result = train(config, progress=False, log=_quiet)
    trained = read_checkpoint(result.run_dir / "last.pt")["state_dict"]
    trunk_keys = [k for k in initial if not k.startswith("head.")]
    assert any("running_mean" in k for k in trunk_keys)
    for key in trunk_keys:
        assert torch.equal(initial[key], trained[key]), f"frozen {key} changed during training"
    assert not torch.equal(initial["head.fc.weight"], trained["head.fc.weight"]), "the head trains"
    assert not torch.equal(initial["head.bn1.running_mean"], trained["head.bn1.running_mean"])


def test_two_process_ddp_on_cpu(colours: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "hartrace",
        "train",
        "--data",
        str(colours),
        "--backbone",
        "resnet_small",
        "--weights",
        "none",
        "--image-size",
        "32",
        "--batch-size",
        "4",
        "--epochs",
        "2",
        "--workers",
        "0",
        "--out",
        str(out),
        "--quiet",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.glob("*.pt")) == ["best.pt", "last.pt"]
    assert result.stdout.count("best epoch") == 1, "only rank 0 reports"
    model, meta = load_checkpoint(out / "best.pt")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    split = json.loads((out / "split.json").read_text())
    assert len(split["val"]) == 6 and len(split["train"]) == 30
    # validation covers every held-out image exactly once across the two ranks
    assert rows[-1]["val_accuracy"] * 6 == pytest.approx(round(rows[-1]["val_accuracy"] * 6))


def test_feature_cache_trains_the_same_head(colours: Path, tmp_path: Path) -> None:
    common = dict(backbone="harnet", freeze="trunk", epochs=2, image_size=64, augment=False, amp="off")
    cached = train(
        quick_config(colours, tmp_path / "cached", cache_features=True, **common), progress=False, log=_quiet
    )
    direct = train(
        quick_config(colours, tmp_path / "direct", cache_features=False, **common), progress=False, log=_quiet
    )
    a = read_checkpoint(cached.run_dir / "last.pt")["state_dict"]
    b = read_checkpoint(direct.run_dir / "last.pt")["state_dict"]
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-4), key
    assert abs(cached.history[-1]["val_loss"] - direct.history[-1]["val_loss"]) < 1e-4


def test_epoch_metrics_equal_scikit_learn(colours: Path, tmp_path: Path) -> None:
    from hartrace.workflows.evaluate import evaluate

    result = train(quick_config(colours, tmp_path / "run", epochs=1, lr=1e-4), progress=False, log=_quiet)
    evaluation = evaluate(result.run_dir, progress=False)
    with open(evaluation.out_dir / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    y_true = [r["true"] for r in rows]
    y_pred = [r["predicted"] for r in rows]
    p, r, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="weighted", zero_division=0)
    report = evaluation.report
    assert report["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert (report["weighted_precision"], report["weighted_recall"], report["weighted_f1"]) == pytest.approx((p, r, f1))
    # the run's own epoch metrics describe the same predictions as evaluate (best = only epoch; amp may differ)
    assert result.history[0]["val_accuracy"] == pytest.approx(report["accuracy"], abs=1 / len(rows) + 1e-9)


def test_skipped_files_are_reported_by_name(colours: Path, tmp_path: Path) -> None:
    (colours / "red" / "red_00.png").write_bytes(b"")
    make_image(colours / "green" / "broken.jpg", size=(200, 200)).write_bytes(b"\xff\xd8\xff")
    messages: list[str] = []
    result = train(quick_config(colours, tmp_path / "run", epochs=1), progress=False, log=messages.append)
    text = "\n".join(messages)
    assert "skipped red/red_00.png (empty file)" in text
    assert "skipped green/broken.jpg" in text
    with open(result.run_dir / "skipped.csv", newline="") as f:
        names = {row["path"] for row in csv.DictReader(f)}
    assert names == {"red/red_00.png", "green/broken.jpg"}


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "hartrace-checkpoint/1", "meta": Payload()}, evil)
    with pytest.raises(UsageError, match="refusing to load .* would run code"):
        load_checkpoint(evil)
    assert not (tmp_path / "pwned").exists()
    result = run_cli("evaluate", "--checkpoint", str(evil), "--data", str(tmp_path), "--quiet")
    assert result.returncode == 2 and "refusing to load" in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments_and_missing_data(colours: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r1")], "dataset folder not found"),
        (["train", "--data", str(colours), "--backbone", "resnet_smal"], "resnet_small"),
        (["train", "--data", str(colours), "--epochs", "0"], "--epochs"),
        (["train", "--data", str(colours), "--lr", "-1"], "--lr must be > 0"),
        (["train", "--config", str(tmp_path / "missing.yaml")], "config file not found"),
        (["evaluate", "--run", "no-such-run"], "run not found"),
        (["predict", str(tmp_path / "nothing.jpg"), "--checkpoint", str(tmp_path / "x.pt")], "input not found"),
    ]
    from hartrace.cli import main

    first, fragment = cases[0]  # as a user runs it, in its own process; the rest in this one (the same main)
    result = run_cli(*first, "--quiet")
    assert result.returncode == 2, (first, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr, (first, lines)
    for args, fragment in cases[1:]:
        try:
            code = main([*args, "--quiet"])
        except SystemExit as stop:  # argparse's own usage errors end the process as they would a user's
            code = stop.code
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert code == 2, (args, err)
        assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in err, (args, lines)


def test_config_file_with_command_line_overrides(colours: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "exp.yaml"
    (tmp_path / "order.txt").write_text("red\ngreen\nblue\n")
    config_file.write_text(
        f"data: {colours}\nbackbone: resnet_small\nweights: none\nimage-size: 32\nepochs: 3\n"
        "batch_size: 8\nlr: 3e-3\nworkers: 0\n"
        f"classes: {tmp_path / 'order.txt'}\n"
    )
    out = tmp_path / "run"
    result = run_cli("train", "--config", str(config_file), "--epochs", "1", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    import yaml

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["epochs"] == 1 and saved["lr"] == 3e-3 and saved["image_size"] == 32 and saved["freeze"] == "none"
    assert saved["classes"] == str(tmp_path / "order.txt")
    assert read_checkpoint(out / "best.pt")["meta"]["classes"] == ["red", "green", "blue"], "the class file's order"
    assert "best epoch 1" in result.stdout


def test_classes_option_reaches_the_config_of_train_and_compare(tmp_path: Path) -> None:
    from hartrace.cli import build_parser
    from hartrace.cli.train_cmd import config_from_args

    for command in (["train"], ["compare", "--backbones", "resnet_small"]):
        args = build_parser().parse_args([*command, "--data", str(tmp_path), "--classes", "classes.txt"])
        assert config_from_args(args).classes == "classes.txt", command


def test_a_loss_that_stops_being_a_number_stops_training_with_one_line(colours: Path, tmp_path: Path) -> None:
    done = run_cli(
        "train",
        "--data",
        str(colours),
        "--backbone",
        "resnet_small",
        "--weights",
        "none",
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--lr",
        "1e30",
        "--out",
        str(tmp_path / "r"),
        "-q",
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "the training loss became" in done.stderr, done.stderr
    assert "nan" in done.stderr or "inf" in done.stderr

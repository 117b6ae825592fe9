"""Cross-dataset zero-shot: train on one synthetic video set, test on every class of another, with the training
classes too close to a test class removed and listed (after Brattoli et al., CVPR 2020)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from hartrace.base.errors import UsageError
from hartrace.cli import main
from hartrace.zeroshot import class_embeddings, class_overlap

# Set A (training) and set B (test) share Jump and Squat by name; KickLeg (A) and RaiseLeg (B) are near names.
A_ACTIONS = "WaveArm,RaiseArm,Jump,Squat,KickLeg"
B_ACTIONS = "WaveBothArms,Jump,Squat,SitDown,StandUp,RaiseLeg"
# Hand-made name vectors, so every cosine can be read off: identical names share a vector (cosine 1),
# KickLeg . RaiseLeg = 0.8, WaveArm . WaveBothArms = 0.6, every other training/test pair 0 or below.
VECTORS = {
    "WaveArm": [1, 0, 0, 0, 0, 0],
    "WaveBothArms": [0.6, 0.8, 0, 0, 0, 0],
    "RaiseArm": [0, 0, 1, 0, 0, 0],
    "KickLeg": [0, 0, 0, 1, 0, 0],
    "RaiseLeg": [0, 0, 0, 0.8, 0.6, 0],
    "Squat": [0, 0, 0, 0, 1, 0],
    "Jump": [0, 0, 0, 0, 0, 1],
    "SitDown": [0, -1, 0, 0, 0, 0],
    "StandUp": [0, 0, -1, 0, 0, 0],
}
TINY = ["--video", "--test-per-class", "1", "--size", "32", "--frames", "6", "--workers", "1"]


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two tiny sets, written through `hartrace synth --video --actions`, and the name vectors."""
    root = tmp_path_factory.mktemp("cross")
    a = ["--actions", A_ACTIONS, "--per-class", "2", "--seed", "0"]  # two training videos: one validates
    b = ["--actions", B_ACTIONS.lower(), "--per-class", "1", "--seed", "1"]
    assert main(["synth", *TINY, *a, "--out", str(root / "A"), "-q"]) == 0
    assert main(["synth", *TINY, *b, "--out", str(root / "B"), "-q"]) == 0
    (root / "names.json").write_text(json.dumps(VECTORS))
    return {"A": root / "A", "B": root / "B", "names": root / "names.json", "root": root}


def test_synth_draws_only_the_chosen_actions_in_the_usual_order(sets: dict[str, Path]) -> None:
    class_ind = (sets["B"] / "ucfTrainTestlist" / "classInd.txt").read_text().splitlines()
    # any case on the command line; the canonical names, numbered 1..6 in the full set's order
    assert class_ind == [f"{i} {a}" for i, a in enumerate(B_ACTIONS.split(","), start=1)]
    assert sorted(p.name for p in (sets["A"] / "UCF-101").iterdir()) == sorted(A_ACTIONS.split(","))
    assert len(list((sets["B"] / "UCF-101").rglob("*.avi"))) == 6 * 2


@pytest.mark.parametrize(
    ("actions", "fragment"),
    [("WaveArm,Swim", "unknown video action 'Swim'; expected some of: WaveArm"), ("Jump,jump", "named twice")],
)
def test_synth_refuses_bad_action_lists_in_one_line(
    actions: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth", *TINY, "--actions", actions, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err and not (tmp_path / "s").exists()


def test_the_overlap_filter_removes_exactly_the_classes_at_or_above_the_threshold(sets: dict[str, Path]) -> None:
    train, test = A_ACTIONS.split(","), B_ACTIONS.split(",")
    names = class_embeddings(train + test, sets["names"])
    a, b = names[: len(train)], names[len(train) :]
    removed = {  # KickLeg . RaiseLeg = 0.8 exactly; WaveArm . WaveBothArms = 0.6
        threshold: [(c.name, c.closest) for c in class_overlap(train, test, a, b, threshold).removed]
        for threshold in (0.8, 0.81, 1.0)
    }
    assert removed[1.0] == [("Jump", "Jump"), ("Squat", "Squat")], "identical names reach a threshold of 1"
    assert removed[0.81] == removed[1.0]
    assert removed[0.8] == [("Jump", "Jump"), ("Squat", "Squat"), ("KickLeg", "RaiseLeg")], "at the threshold: out"
    with pytest.raises(UsageError, match="4 of the 5 training classes .* leaving 1 to train on"):
        class_overlap(train, test, a, b, 0.59)  # WaveArm goes too: one class cannot anchor the names
    overlap = class_overlap(train, test, a, b, 0.8)
    assert overlap.seen == (0, 1) and [c.similarity for c in overlap.removed] == pytest.approx([1.0, 1.0, 0.8])
    assert (overlap.closest[0].name, overlap.closest[0].closest) == ("WaveBothArms", "WaveArm")
    assert overlap.closest[0].similarity == pytest.approx(0.6)


def _train_cross(sets: dict[str, Path], out: Path, *extra: str) -> int:
    return main(
        [
            "train",
            "--data",
            str(sets["A"]),
            "--backbone",
            "c3d_small",
            "--weights",
            "none",
            "--image-size",
            "32",
            "--clip-length",
            "4",
            "--test-clips",
            "1",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--max-batches",
            "1",
            "--amp",
            "off",
            "--workers",
            "0",
            "--embeddings",
            str(sets["names"]),
            "--zero-shot",
            "--out",
            str(out),
            "-q",
            *extra,
        ]
    )


def test_trains_on_a_without_the_overlapping_classes_and_tests_on_every_class_of_b(
    sets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = sets["root"] / "zs"
    argv = ["--zs-test-data", str(sets["B"]), "--zs-overlap-threshold", "0.8", "--zs-splits", "2"]
    assert _train_cross(sets, out, *argv) == 0
    printed = capsys.readouterr().out
    assert "3 training class(es) removed" in printed and "chance 16.7%" in printed

    summary = json.loads((out / "zeroshot.json").read_text())
    test_classes = B_ACTIONS.split(",")
    assert summary["protocol"] == "cross-dataset" and summary["test_classes"] == test_classes
    assert summary["trained_on"] == ["WaveArm", "RaiseArm"]
    assert [(c["class"], c["closest"], c["similarity"]) for c in summary["removed"]] == [
        ("Jump", "Jump", 1.0),
        ("Squat", "Squat", 1.0),
        ("KickLeg", "RaiseLeg", 0.8),
    ]
    assert summary["mean"]["chance_top1"] == pytest.approx(1 / 6) and summary["mean"]["chance_top5"] == pytest.approx(
        5 / 6
    )
    rows = summary["per_split"]
    assert [row["seed"] for row in rows] == [0, 1] and summary["splits"] == 2
    assert summary["mean"]["top1"] == pytest.approx(np.mean([r["top1"] for r in rows]))
    assert summary["std"]["top1"] == pytest.approx(np.std([r["top1"] for r in rows]))
    report = (out / "zeroshot.md").read_text()
    for line in ("| Jump | Jump | 1.000 |", "| KickLeg | RaiseLeg | 0.800 |", "| chance (1/6, 5/6) | 16.7% | 83.3% |"):
        assert line in report
    assert "WaveArm, RaiseArm" in report and "| WaveBothArms | WaveArm | 0.600 |" in report
    assert len(list(csv.DictReader((out / "zeroshot.csv").open()))) == 2

    b_videos = {p.relative_to(sets["B"]).as_posix() for p in sets["B"].rglob("*.avi")}
    for k in (1, 2):
        run = out / f"split{k}"
        held = json.loads((run / "zero_shot_classes.json").read_text())
        trained = {path.split("/")[1] for path in held["train"] + held["val"]}  # UCF-101/<Class>/v_...
        assert trained == {"WaveArm", "RaiseArm"}, "no video of a removed class is trained on"
        assert [c["class"] for c in held["removed"]] == ["Jump", "Squat", "KickLeg"]
        scored = json.loads((run / "eval" / "cross-dataset" / "eval.json").read_text())
        assert list(scored["per_class"]) == test_classes and scored["images"] == len(b_videos) == 12
        predictions = list(csv.DictReader((run / "eval" / "cross-dataset" / "predictions.csv").open()))
        assert {row["path"] for row in predictions} == b_videos, "every video of B, from every split"
        assert scored["accuracy"] == pytest.approx(np.mean([r["true"] == r["predicted"] for r in predictions]))

    # `evaluate` scores a run on its own dataset: a cross-dataset run says where its scores are instead
    assert main(["evaluate", "--run", str(out / "split1"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cross-dataset zero-shot run" in err and "eval/cross-dataset/" in err


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--zs-test-data", "B", "--zero-shot"], "--zs-test-data B: no such dataset folder"),
        (["--zs-test-data", "{B}"], "add --zero-shot"),
        (["--zs-test-data", "{B}", "--zero-shot", "--zs-overlap-threshold", "1.5"], "cosine similarity in (0, 1]"),
        (["--zs-test-data", "{B}", "--zero-shot", "--unseen-fraction", "0.3"], "every test class is unseen"),
        (["--zs-test-data", "{B}", "--zero-shot", "--zs-overlap-threshold", "0.5"], "leaving 1 to train on"),
        (["--zs-test-data", "{B}", "--zero-shot", "--embeddings", "{npy}"], "give a .json file"),
    ],
)
def test_bad_cross_dataset_options_are_one_line_usage_errors(
    extra: list[str], fragment: str, sets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    npy = tmp_path / "names.npy"
    np.save(npy, np.eye(11, dtype=np.float32))
    filled = [arg.format(B=sets["B"], npy=npy) for arg in extra]
    argv = ["train", "--data", str(sets["A"]), "--backbone", "c3d_small", "--embeddings", str(sets["names"])]
    argv += [*filled, "--out", str(tmp_path / "zs"), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "zs").exists(), "a refusal writes nothing"

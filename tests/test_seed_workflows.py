"""README's "From the seed projects": every command line there, run as written on small data in each layout.

The datasets are generated under the names the README uses; only what cannot run here is
changed: 1 epoch of 1 batch at 32 px, random weights (no download), short clips, and the
zoo's two small nets in place of seed 1's seven ImageNet backbones and seed 4's VGG-16-BN.
Each seed's outputs are then checked for what the seed made.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hartrace.cli import main
from tests.test_layouts import _stanford

README = Path(__file__).resolve().parents[1] / "README.md"

#: Generated stand-ins for the datasets the README names.
KAGGLE, STANFORD, UCF101, KINETICS = "data/Human Action Recognition", "data/Stanford40", "data/UCF101", "data/kinetics"
#: Video classes of the two zero-shot sets: two shared (too close to train on), the rest disjoint.
TRAIN_ACTIONS = ("WaveArm", "RaiseBothArms", "Jump", "Squat", "SitDown")
TEST_ACTIONS = ("Jump", "Squat", "KickLeg", "Punch", "ClapHands")

#: What every training command is shortened to here (option -> value).
SHORT_TRAINING = {
    "--epochs": "1",
    "--max-batches": "1",
    "--batch-size": "4",
    "--workers": "0",
    "--weights": "none",
    "--image-size": "32",
}
SHORT_CLIPS = {"--clip-length": "4", "--test-clips": "1"}
SHORT_COMPARE = {"--backbones": "resnet_small,vgg_bn_small", "--sizes": "32,48"}
#: The ImageNet-sized nets trained from scratch, by the zoo's small net of the same design.
SMALL_NET = {"vgg16_bn": "vgg_bn_small", "r2plus1d_18": "c3d_small"}


def seed_commands() -> dict[str, list[list[str]]]:
    """Each seed's heading -> its command lines, split as a shell splits them."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## From the seed projects\n", 1)[1].split("\n## ", 1)[0]
    commands: dict[str, list[list[str]]] = {}
    for heading, body in re.findall(r"\n### (.+?)\n(.*?)(?=\n### |\Z)", section, flags=re.S):
        lines = [line for block in re.findall(r"```bash\n(.*?)```", body, flags=re.S) for line in block.splitlines()]
        commands[heading] = [shlex.split(line, comments=True) for line in lines if line.strip()]
    return commands


SEEDS = seed_commands()


def seed(number: int) -> list[list[str]]:
    (heading,) = [h for h in SEEDS if h.startswith(f"{number}.")]
    return SEEDS[heading]


def shortened(argv: list[str]) -> list[str]:
    """``argv`` with its training options set to the short ones (replaced where given, else added)."""
    command = argv[1]
    changes: dict[str, str] = {}
    if command in ("train", "compare"):
        changes |= SHORT_TRAINING
        if any(a in (UCF101, KINETICS) for a in argv):
            changes |= SHORT_CLIPS
    if command == "compare":
        changes |= SHORT_COMPARE
    if "--backbone" in argv:
        backbone = argv[argv.index("--backbone") + 1]
        changes["--backbone"] = SMALL_NET.get(backbone, backbone)
    argv = list(argv[1:])
    for option, value in changes.items():
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv += [option, value]
    return argv


def run_all(commands: list[list[str]]) -> Iterator[str]:
    """Run each line; yield its command name once it has exited 0."""
    for argv in commands:
        assert argv[0] == "hartrace", argv
        code = main(shortened(argv))
        assert code == 0, f"{shlex.join(argv)} exited {code}"
        yield argv[1]


@pytest.fixture
def workplace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder (runs land in its checkpoints/) holding the datasets under the README's names."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def latest_runs(root: Path) -> list[Path]:
    return sorted((p.parent for p in (root / "checkpoints").glob("*/best.pt")), key=lambda p: p.stat().st_mtime)


def kaggle(root: Path) -> None:
    from hartrace.synth import generate

    generate(root / KAGGLE, per_class=6, test_per_class=1, size=64, workers=1, progress=False)


def videos(root: Path, name: str, actions: tuple[str, ...], seed: int) -> None:
    from hartrace.synth import generate_video_set

    generate_video_set(
        root / name,
        per_class=3,
        test_per_class=1,
        size=32,
        frames=6,
        seed=seed,
        actions=actions,
        workers=1,
        progress=False,
    )


def test_seed_1_compares_backbones_on_stanford40_by_their_test_accuracy(workplace: Path) -> None:
    _stanford(workplace / STANFORD, n=4)
    assert list(run_all(seed(1))) == ["data", "compare"]
    (compare,) = (workplace / "checkpoints").glob("compare-*")
    pivot = list(csv.DictReader((compare / "pivot.csv").open(encoding="utf-8")))
    assert [row["model"] for row in pivot] == ["resnet_small", "vgg_bn_small"]
    assert "test" in (compare / "pivot.md").read_text(encoding="utf-8"), "the official test split scores the table"
    assert (compare / "pivot.png").is_file() and (compare / "curves.png").is_file()
    assert not list(compare.glob("*/last.pt")), "cells keep best.pt only"


def test_seed_2_trains_harnet_then_pictures_a_random_validation_image(
    workplace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle(workplace)
    assert list(run_all(seed(2))) == ["data", "train", "evaluate", "visualize", "layers"]
    (run,) = latest_runs(workplace)
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["backbone"], config["freeze"], config["augment"], config["schedule"]) == (
        "harnet",
        "trunk",
        "crop=0.5,flip",
        "none",
    )
    assert (run / "eval" / "val" / "confusion_matrix.png").is_file()
    (captures,) = (run / "visualize").glob("*/captures.json")
    summary = json.loads(captures.read_text())
    assert summary["true_class"] is not None, "a validation image is shown with its true label"
    assert any(layer["name"].startswith("head.") for layer in summary["layers"]), "harnet's head is pictured"
    assert "head.conv1" in capsys.readouterr().out


def test_seed_3_trains_a_cnn_lstm_on_ucf101(workplace: Path) -> None:
    videos(workplace, UCF101, TEST_ACTIONS, seed=1)
    assert list(run_all(seed(3))) == ["train", "evaluate"]
    (run,) = latest_runs(workplace)
    report = json.loads((run / "eval" / "test" / "eval.json").read_text())
    assert report["images"] == len(TEST_ACTIONS), "one test video per class, each scored"


def test_seed_4_trains_two_nets_from_scratch_on_one_held_out_test_split(workplace: Path) -> None:
    kaggle(workplace)
    assert list(run_all(seed(4))) == ["data", "train", "evaluate", "train", "evaluate"]
    vgg, resnet = latest_runs(workplace)
    pie = workplace / "summary" / "Human Action Recognition" / "class_distribution.png"
    assert pie.is_file()
    scored = []
    for run, dropout, init in ((vgg, 0.65, "xavier"), (resnet, 0.5, "kaiming")):
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert (config["dropout"], config["init"], config["momentum"]) == (dropout, init, 0.9)
        with (run / "eval" / "test" / "predictions.csv").open(encoding="utf-8") as rows:
            scored.append(sorted(row["path"] for row in csv.DictReader(rows)))
        split = json.loads((run / "split.json").read_text())
        assert not set(split["test"]) & set(split["train"])
    assert scored[0] == scored[1] and len(scored[0]) >= 15, "both nets are scored on the same held-out images"


def test_seed_5_zero_shot_across_datasets_leaves_out_the_shared_classes(workplace: Path) -> None:
    videos(workplace, KINETICS, TRAIN_ACTIONS, seed=2)
    videos(workplace, UCF101, TEST_ACTIONS, seed=1)
    assert list(run_all(seed(5))) == ["train"]
    (report,) = (workplace / "checkpoints").glob("*/zeroshot.json")
    summary = json.loads(report.read_text())
    removed = {entry["class"] for entry in summary["removed"]}
    assert removed == {"Jump", "Squat"}
    assert summary["splits"] == 3

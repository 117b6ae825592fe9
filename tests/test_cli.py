"""The command line as a user meets it: help, version, and one-line errors with exit code 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hartrace import __version__
from hartrace.cli import main
from tests.conftest import run_cli


def test_version_and_help() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"hartrace {__version__}"
    helped = run_cli("--help")
    assert helped.returncode == 0
    for command in ("synth", "data", "models", "demo"):
        assert command in helped.stdout


def test_every_commands_help_reads_as_written() -> None:
    """argparse fills ``%`` only in option help; a description's ``%%`` would reach the reader doubled."""
    from hartrace.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        text = parser.format_help()
        assert "%%" not in text and "%(" not in text, name


def _assert_one_line_usage_error(capsys: pytest.CaptureFixture[str], args: list[str], *fragments: str) -> None:
    """``hartrace ARGS`` in this process (``version``/``help`` above run it as a child, as a user does)."""
    try:
        code = main(args)
    except SystemExit as stop:  # argparse's own usage errors end the process, as they would a user's
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_dataset_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["data", "summary", str(tmp_path / "nope"), "--quiet"]
    _assert_one_line_usage_error(capsys, args, "dataset folder not found", "nope")


def test_unknown_label_is_a_one_line_error(
    kaggle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (kaggle_dir / "classes.txt").write_text("calling\nsitting\n")
    args = ["data", "summary", str(kaggle_dir), "--out", str(tmp_path / "o"), "--quiet"]
    _assert_one_line_usage_error(capsys, args, "label 'running'", "not in the class list")
    assert not (tmp_path / "o").exists(), "nothing is written when the input is bad"


def test_bad_arguments_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_usage_error(capsys, ["data", "summary", str(tmp_path), "--format", "coco"], "invalid choice")
    _assert_one_line_usage_error(capsys, ["synth", "--per-class", "0"], "--per-class", "positive")
    _assert_one_line_usage_error(capsys, ["frobnicate"], "invalid choice")


def test_models_lists_the_zoo_and_which_weights_are_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = tmp_path / "torch"
    (hub / "hub" / "checkpoints").mkdir(parents=True)
    (hub / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth").write_bytes(b"x")
    monkeypatch.setenv("TORCH_HOME", str(hub))
    assert main(["models"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert {"harnet", "resnet50", "vgg16", "mobilenet_v2", "densenet121", "resnet_small", "vgg_bn_small"} <= set(rows)
    assert rows["resnet50"][4] == "yes" and rows["harnet"][4] == "yes", "both read ResNet50_Weights.IMAGENET1K_V2"
    assert rows["vgg16"][4] == "no" and rows["resnet_small"][4] == "-"
    assert rows["harnet"][2] == "trunk" and rows["harnet"][-1] == "head.relu2"

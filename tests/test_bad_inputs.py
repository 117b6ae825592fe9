"""The bad-input sweep: every command, given the values careless users and scripts give it, answers with one
line and exit code 2, and leaves every file as it was (nothing made, nothing changed, nothing removed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hartrace.cli import main
from hartrace.synth import generate
from hartrace.workflows.train import train
from tests.conftest import colour_folder, quick_config

# (command line, words the one line must hold). Paths are inside the project folder the fixture makes:
# data/ (3 colours), one_class/, no_images/, a_file, synth_set/ (a synthetic set), empty.pt, random.pt,
# img.png, and checkpoints/run (a trained run).
CASES = [
    ("synth --per-class 0", "positive"),
    ("synth --workers -1", "positive"),
    ("synth --fps 12", "only applies to videos"),
    ("synth --out synth_set --per-class 1", "--overwrite"),
    ("synth --out a_file", "is a file"),
    ("synth --video --video-format mkv", "invalid choice"),
    ("data summary missing", "not found"),
    ("data summary data --split-file nope.json", "split file not found"),
    ("data summary data --val-fraction 1.5", "between 0 and 1"),
    ("data summary data --format kaggle", "Training_set.csv"),
    ("data summary data --out a_file", "is a file"),
    ("data summary data --classes nope.txt", "nope.txt"),
    ("models --nope", "unrecognized arguments"),
    ("train --data missing", "not found"),
    ("train --data one_class --backbone resnet_small --weights none", "at least 2"),
    ("train --data data --split-file nope.json", "nope.json"),
    ("train --data data --classes nope.txt", "nope.txt"),
    ("train --data data --workers -1", "--workers"),
    ("train --data data --epochs 0", "positive"),
    ("train --data data --lr -1", "--lr"),
    ("train --data data --val-fraction 1", "--val-fraction"),
    ("train --data data --backbone resnet5", "resnet50"),
    ("train --data data --out a_file", "is a file"),
    ("train --data data --out a_file/run", "is a file"),
    ("train --data data --runs-dir a_file", "is a file"),
    ("train --data data --out checkpoints/run", "already holds a run"),
    ("train --resume nope", "run not found"),
    ("train --resume checkpoints/run --lr 1", "only --epochs"),
    ("train --config nope.yaml", "config file not found"),
    ("evaluate --run nope", "run not found"),
    ("evaluate --checkpoint empty.pt", "empty"),
    ("evaluate --checkpoint random.pt", "not a PyTorch checkpoint"),
    ("evaluate --run checkpoints/run --split nope", "nope"),
    ("evaluate --run checkpoints/run --out a_file", "is a file"),
    ("evaluate --run checkpoints/run --data missing", "not found"),
    ("predict missing.png --checkpoint checkpoints/run/best.pt", "not found"),
    ("predict no_images --checkpoint checkpoints/run/best.pt", "no images"),
    ("predict img.png --checkpoint checkpoints/run/best.pt --top-k 0", "positive"),
    ("predict img.png --checkpoint checkpoints/run/best.pt --out a_file", "is a file"),
    ("compare --data data --backbones resnet5", "resnet50"),
    ("compare --data data --backbones resnet_small --sizes abc", "whole numbers"),
    ("compare --data missing --backbones resnet_small", "not found"),
    ("layers --backbone nope", "nope"),
    ("layers --checkpoint random.pt", "not a PyTorch checkpoint"),
    ("layers --run checkpoints/run --depth 0", "positive"),
    ("visualize --image img.png --run checkpoints/run --alpha 2", "--alpha"),
    ("visualize --image missing.png --run checkpoints/run", "not found"),
    ("visualize --image img.png --run checkpoints/run --layers nope", "nope"),
    ("visualize --image img.png --run checkpoints/run --method nope", "nope"),
    ("visualize --image img.png --run checkpoints/run --target nope", "nope"),
    ("visualize --image img.png --run checkpoints/run --out a_file", "is a file"),
    ("explain --run checkpoints/run --tolerance -1000", "0 or more"),
    ("explain --run checkpoints/run --method nope", "nope"),
    ("explain --run checkpoints/run --layer nope", "nope"),
    ("explain --run checkpoints/run --target nope", "nope"),
    ("explain --run checkpoints/run --split nope", "nope"),
    ("explain --run checkpoints/run --limit 0", "positive"),
    ("audit --run checkpoints/run --methods nope", "nope"),
    ("audit --run checkpoints/run --steps 0", "positive"),
    ("audit --run checkpoints/run --tolerance -1", "0 or more"),
    ("audit --run checkpoints/run --out a_file", "is a file"),
    ("explore --port 99999", "65535"),
    ("explore --data missing", "not found"),
    ("explore --runs no_images", "no trained runs"),
    ("explore --run nope", "nope"),
    ("demo --runs-dir a_file", "is a file"),
    ("demo --data a_file", "is a file"),
    ("demo --epochs 0", "positive"),
    ("atlas --run checkpoints/run --layers nope", "nope"),
    ("atlas --run checkpoints/run --layers layer4 --top-k 0", "positive"),
    ("featvis --run checkpoints/run --layer nope --channels 0", "nope"),
    ("tcav --run checkpoints/run --class nope --concept data/red --random data/green,data/blue", "nope"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    data = colour_folder(root / "data")
    one = root / "one_class" / "red"
    one.mkdir(parents=True)
    for image in sorted((data / "red").iterdir())[:4]:
        shutil.copy(image, one / image.name)
    (root / "no_images").mkdir()
    (root / "no_images" / "notes.txt").write_text("no pictures here\n")
    (root / "a_file").write_text("a file, not a folder\n")
    (root / "empty.pt").write_bytes(b"")
    (root / "random.pt").write_bytes(bytes(range(256)) * 8)
    shutil.copy(sorted((data / "green").iterdir())[0], root / "img.png")
    generate(root / "synth_set", per_class=1, test_per_class=0, size=64, workers=1, progress=False)
    train(quick_config(data, root / "checkpoints" / "run", epochs=1), progress=False, log=lambda message: None)
    return root


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize(("command", "words"), CASES, ids=[command for command, _ in CASES])
def test_a_bad_input_is_one_line_exit_2_and_touches_nothing(
    command: str, words: str, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    before = _files(project)
    try:
        code = main([*command.split(), "--quiet"] if _takes_quiet(command) else command.split())
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    stderr = capsys.readouterr().err
    lines = stderr.strip().splitlines()
    name = command.split()[0]
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("hartrace"), f"not one line: {stderr}"
    assert name in lines[0] or "unrecognized" in lines[0], lines[0]
    assert "error:" in lines[0] and words in lines[0], lines[0]
    assert _files(project) == before, "a refused command left files behind or changed some"


def _takes_quiet(command: str) -> bool:
    return command.split()[0] not in ("models", "explore", "layers")


def test_every_command_is_in_the_sweep() -> None:
    from hartrace.cli import build_parser

    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert commands == {command.split()[0] for command, _ in CASES}


# File-system faults, met in the middle of the work: one line naming the file, exit 1, nothing half-written.
OUTPUT_COMMANDS = [
    "synth --out {out} --per-class 1 --test-per-class 0 --size 64",
    "data summary data --out {out}",
    "train --data data --backbone resnet_small --weights none --image-size 32 --epochs 1 --workers 0 --out {out}",
    "evaluate --run checkpoints/run --out {out}",
    "predict img.png --checkpoint checkpoints/run/best.pt --out {out}",
    "visualize --image img.png --run checkpoints/run --out {out}",
    "explain --run checkpoints/run --limit 2 --out {out}",
    "audit --run checkpoints/run --limit 2 --steps 2 --cascade-images 0 --out {out}",
    "compare --data data --backbones resnet_small --weights none --image-size 32 --epochs 1 --workers 0 --out {out}",
]


def _run(command: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main([*command.split(), "--quiet"])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("command", OUTPUT_COMMANDS, ids=[c.split()[0] for c in OUTPUT_COMMANDS])
def test_a_read_only_output_folder_is_refused_before_any_work(
    command: str, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a user without write permission there (root may write anywhere, so permission is mocked)."""
    import os

    locked = project / "locked"
    locked.mkdir(exist_ok=True)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path).resolve() != locked and real_access(path, mode))
    monkeypatch.chdir(project)
    before = _files(project)
    code, lines = _run(command.format(out="locked/out"), capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "locked is not writable (permission denied)" in lines[0] and "--out" in lines[0]
    assert _files(project) == before


def _disk_full_for(names: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every atomic write of a file called one of ``names`` goes to /dev/full, which fails with ENOSPC."""
    import os
    import tempfile

    real_mkstemp, real_chmod = tempfile.mkstemp, os.chmod

    def mkstemp(prefix: str, suffix: str, dir: str) -> tuple[int, str]:
        fd, name = real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)
        if prefix.strip(".") in names:
            os.close(fd)
            os.unlink(name)
            os.symlink("/dev/full", name)
            fd = os.open(name, os.O_WRONLY)
        return fd, name

    monkeypatch.setattr("hartrace.base.io.tempfile.mkstemp", mkstemp)
    monkeypatch.setattr(
        "hartrace.base.io.os.chmod", lambda path, mode: None if Path(path).is_symlink() else real_chmod(path, mode)
    )


@pytest.mark.parametrize(
    ("command", "full"),
    [
        (OUTPUT_COMMANDS[2], ("best.pt",)),  # torch.save of the first checkpoint
        (OUTPUT_COMMANDS[3], ("eval.json",)),
        (OUTPUT_COMMANDS[1], ("summary.json",)),
    ],
    ids=["train-checkpoint", "evaluate", "data-summary"],
)
def test_a_full_disk_is_one_line_naming_the_file(
    command: str,
    full: tuple[str, ...],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _disk_full_for(full, monkeypatch)
    monkeypatch.chdir(project)
    out = tmp_path / "out"
    code, lines = _run(command.format(out=out), capsys)
    assert code == 1 and len(lines) == 1, lines
    assert f"{out / full[0]}: no space left on the device" in lines[0], lines[0]
    assert not (out / full[0]).exists(), "no half-written file"
    assert not [p for p in (out.rglob(".*") if out.exists() else []) if p.is_symlink()], "no temporary file left"
    if command.startswith("train"):
        assert not out.exists(), "a failed train removes the run folder it made (no checkpoint: nothing to resume)"


def test_a_failure_part_way_through_a_write_is_one_line_with_the_path(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Permission lost after the checks passed (a folder made read-only mid-run): the boundary's one line."""

    def refuse(prefix: str, suffix: str, dir: str) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}XXXX{suffix}")

    monkeypatch.setattr("hartrace.base.io.tempfile.mkstemp", refuse)
    monkeypatch.chdir(project)
    code, lines = _run(f"evaluate --run checkpoints/run --out {tmp_path / 'eval'}", capsys)
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("hartrace evaluate: error: ") and "permission denied" in lines[0]
    assert str(tmp_path / "eval") in lines[0] and "XXXX" not in lines[0], "names the file, not its temporary"


def test_a_bug_keeps_its_traceback_and_says_it_is_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        return 1 // 0

    monkeypatch.setattr("hartrace.cli.models_cmd.run", broken)
    code = main(["models"])
    stderr = capsys.readouterr().err
    assert code == 1
    assert "Traceback" in stderr and "ZeroDivisionError" in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("hartrace models: internal error: ") and "bug in hartrace" in last


def test_a_failed_train_leaves_nothing_behind(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """It fails after the run folder was claimed (the ImageNet weights are not on this machine)."""
    monkeypatch.chdir(project)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    runs = tmp_path / "runs"
    code, lines = _run(f"train --data data --backbone resnet50 --weights imagenet --runs-dir {runs}", capsys)
    assert code == 2 and len(lines) == 1 and "weights" in lines[0], lines
    assert list(runs.iterdir()) == [], "the new run folder is gone"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    code, lines = _run(f"train --data data --backbone resnet50 --weights imagenet --out {mine}", capsys)
    assert code == 2 and sorted(p.name for p in mine.iterdir()) == ["notes.txt"], "only what the run wrote is gone"


def test_thirty_runs_started_at_once_claim_thirty_folders(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from hartrace.runs.discovery import new_run_dir

    with ThreadPoolExecutor(30) as pool:
        folders = list(pool.map(lambda _: new_run_dir(tmp_path, "harnet"), range(30)))
    assert len(set(folders)) == 30 and all(folder.is_dir() for folder in folders)


def test_a_short_checkpoint_write_on_a_full_disk_is_no_space_left(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """On a real full file system torch does not raise ENOSPC: its writer sees a short write and says
    ``[enforce fail at inline_container.cc:672] . unexpected pos 19584 vs 19480`` (seen on a full 2 MB tmpfs)."""
    import shutil as shell_utilities
    from collections import namedtuple

    def short_write(payload: object, file: object) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 19584 vs 19480")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("hartrace.runs.checkpoint.torch.save", short_write)
    monkeypatch.setattr(shell_utilities, "disk_usage", lambda path: usage(2**21, 2**21, 0))
    monkeypatch.chdir(project)
    out = tmp_path / "run"
    code, lines = _run(OUTPUT_COMMANDS[2].format(out=out), capsys)
    assert code == 1 and len(lines) == 1, lines
    assert f"{out / 'best.pt'}: no space left on the device" in lines[0]
    assert not out.exists()


def test_a_reader_that_stops_reading_is_not_an_error(tmp_path: Path) -> None:
    """`hartrace models | head -1`: once the reader has gone, the command stops quietly (like other tools)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    child = subprocess.Popen(
        [sys.executable, "-m", "hartrace", "models"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None
    child.stdout.close()  # the reader leaves before the first line is written
    stderr = child.communicate(timeout=120)[1].decode()
    assert child.returncode == 141, stderr
    assert stderr == "", "no traceback, no 'Exception ignored' from the interpreter"

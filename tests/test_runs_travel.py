"""Runs that travel: a run finds its dataset from any working folder, after its project folder moves whole,
and, when only the dataset moved, with ``--data`` (same split, same images)."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hartrace.base.errors import UsageError
from hartrace.cli import main
from hartrace.runs.checkpoint import read_checkpoint
from hartrace.runs.loading import dataset_root
from hartrace.runs.spec import DataPaths
from tests.conftest import colour_folder, quick_config

DATA = Path("data") / "colours"  # as given at train time: relative to the project folder
RUN = Path("runs") / "r1"


@pytest.fixture(scope="module")
def stash(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One tiny run trained in ``<base>/project`` with a relative ``--data``, then put away.

    Returns (where the project was trained, where it is kept): the ``project`` fixture puts a fresh
    copy back where it was trained for each test, so each test may move or break it.
    """
    from hartrace.workflows.train import train

    base = tmp_path_factory.mktemp("travel")
    project = base / "project"
    colour_folder(project / DATA, per_class=6)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        train(quick_config(DATA, RUN, epochs=1), progress=False, log=lambda message: None)
    kept = base / "kept"
    project.rename(kept)
    return project, kept


@pytest.fixture
def project(stash: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The trained project, back where it was trained; the working folder is somewhere else."""
    place, kept = stash
    shutil.copytree(kept, place)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    try:
        yield place
    finally:
        shutil.rmtree(place, ignore_errors=True)


def evaluate(run: Path, *extra: str) -> int:
    return main(["evaluate", "--run", str(run), "--quiet", *extra])


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_the_checkpoint_records_the_dataset_absolute_and_from_the_run(project: Path) -> None:
    for name in ("best.pt", "last.pt"):
        dataset = read_checkpoint(project / RUN / name)["meta"]["dataset"]
        assert dataset["root"] == str(project / DATA)
        assert Path(dataset["root"]).is_absolute()
        assert dataset["root_from_run"] == "../../data/colours"
        assert (project / RUN / dataset["root_from_run"]).resolve() == (project / DATA).resolve()
    assert yaml.safe_load((project / RUN / "config.yaml").read_text())["data"] == str(DATA), "the config as given"


def test_a_run_is_evaluated_from_another_working_folder(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate(project / RUN) == 0, capsys.readouterr().err
    assert (project / RUN / "eval" / "val" / "eval.json").is_file()


def test_a_project_folder_moved_whole_still_finds_its_dataset(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = Path(shutil.move(project, tmp_path / "moved project"))
    assert not project.exists(), "the recorded absolute path is gone"
    assert evaluate(moved / RUN) == 0, capsys.readouterr().err
    assert (moved / RUN / "eval" / "val" / "eval.json").is_file()


def test_a_moved_dataset_fails_in_one_line_then_data_scores_the_same_images(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = project / RUN
    assert evaluate(run, "--out", str(tmp_path / "before")) == 0
    before = rows(tmp_path / "before" / "predictions.csv")
    capsys.readouterr()

    new_place = Path(shutil.move(project / DATA, tmp_path / "new place"))
    assert evaluate(run, "--out", str(tmp_path / "lost")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "pass --data" in err and str(project / DATA) in err

    assert evaluate(run, "--data", str(new_place), "--out", str(tmp_path / "after")) == 0
    assert rows(tmp_path / "after" / "predictions.csv") == before, "the run's own split: the same images, scored alike"
    assert len(before) > 2, "a header and some validation images"


def test_explain_finds_the_dataset_from_anywhere_and_takes_data(project: Path, tmp_path: Path) -> None:
    from hartrace.workflows.explain import explain_split

    run = project / RUN
    here = explain_split(run, out=tmp_path / "here", limit=2, overlays=False, progress=False)
    assert len(here.rows) == 2

    new_place = Path(shutil.move(project / DATA, tmp_path / "new place"))
    with pytest.raises(UsageError, match="pass --data"):
        explain_split(run, out=tmp_path / "lost", limit=2, overlays=False, progress=False)
    there = explain_split(run, data=new_place, out=tmp_path / "there", limit=2, overlays=False, progress=False)
    assert [r["path"] for r in there.rows] == [r["path"] for r in here.rows]


def test_resume_finds_the_dataset_after_the_project_moved(project: Path, tmp_path: Path) -> None:
    from hartrace.workflows.train import resume

    moved = Path(shutil.move(project, tmp_path / "moved project"))
    result = resume(moved / RUN, epochs=2, progress=False, log=lambda message: None)
    assert [row["epoch"] for row in result.history] == [1, 2]
    dataset = read_checkpoint(moved / RUN / "last.pt")["meta"]["dataset"]
    assert dataset["root"] == str(moved / DATA) and dataset["root_from_run"] == "../../data/colours"


def test_an_older_checkpoint_falls_back_to_its_config_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Saved before both paths were recorded: ``config.data`` from the working folder, then from the run folder."""
    meta = DataPaths.from_meta(
        {"config": {"data": "data/colours"}, "dataset": {"root": "data/colours", "layout": "imagefolder"}}
    )
    (tmp_path / "data" / "colours").mkdir(parents=True)
    run_dir = tmp_path / "runs" / "old"
    monkeypatch.chdir(tmp_path)
    assert dataset_root(meta, run_dir) == Path("data/colours")
    assert dataset_root(meta, run_dir, data=tmp_path / "x") == tmp_path / "x", "--data wins"
    monkeypatch.chdir(tmp_path / "data")
    with pytest.raises(UsageError, match=r"data/colours, .*runs/old/data/colours\): pass --data"):
        dataset_root(meta, run_dir)
    with pytest.raises(UsageError, match="pass --data"):
        dataset_root(DataPaths.from_meta({"config": {}}), run_dir)


def test_audit_takes_data_for_a_moved_dataset(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_place = Path(shutil.move(project / DATA, tmp_path / "new place"))
    argv = ["audit", "--run", str(project / RUN), "--methods", "gradcam", "--limit", "2", "--steps", "2"]
    argv += ["--cascade-images", "0", "--out", str(tmp_path / "audit"), "--quiet"]
    assert main(argv) == 2 and "pass --data" in capsys.readouterr().err
    assert main([*argv, "--data", str(new_place)]) == 0, capsys.readouterr().err
    assert (tmp_path / "audit" / "audit.json").is_file()


def test_a_run_given_a_relative_classes_file_resumes_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hartrace.workflows.train import resume, train

    colour_folder(tmp_path / "data")
    (tmp_path / "classes.txt").write_text("red\ngreen\nblue\n")
    monkeypatch.chdir(tmp_path)
    config = quick_config(Path("data"), Path("run"), epochs=1, classes="classes.txt")
    train(config, progress=False, log=lambda message: None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resumed = resume(tmp_path / "run", epochs=2, progress=False, log=lambda message: None)
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    assert read_checkpoint(tmp_path / "run" / "best.pt")["meta"]["classes"] == ["red", "green", "blue"]

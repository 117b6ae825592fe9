"""The Embedding page's server side on real small runs: features, projection, the saved file, the background job."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hartrace.base.errors import UsageError
from hartrace.explorer import ExplorerService
from hartrace.explorer import embedding as embedding_module
from hartrace.explorer.embedding import EMBEDDING_FILE, TSNE, UMAP, classifier_layer
from hartrace.explorer.rows import JobRow
from hartrace.models import get_model
from hartrace.runs.discovery import BEST
from hartrace.runs.inference import model_outputs

RUN = "tiny-b"
OWNER = "tab-1"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny runs, evaluated once: each test works on its own copy of the folder."""
    from tests.conftest_app import make_runs

    runs = make_runs(tmp_path_factory.mktemp("embedding"), per_class=3, image_size=32)
    ExplorerService(runs).store.predictions(RUN)
    return runs


@pytest.fixture
def runs(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "checkpoints"))  # copy2 keeps the checkpoint's mtime


@pytest.fixture
def no_umap(monkeypatch: pytest.MonkeyPatch) -> None:
    """umap-learn not installed: ``import umap`` fails and its spec is not found."""
    monkeypatch.setitem(sys.modules, "umap", None)


def finish(service: ExplorerService, row: JobRow, timeout: float = 120) -> JobRow:
    """The job's last row, once it is no longer queued or running."""
    deadline = time.monotonic() + timeout
    while row["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"the job is still {row['state']}: {row['message']}"
        time.sleep(0.05)
        row = service.job(row["key"]) or row
    return row


def compute(service: ExplorerService, run: str = RUN) -> JobRow:
    return finish(service, service.start_embedding(run, owner=OWNER))


def test_the_points_are_the_evaluated_items_with_their_classes_saved_in_the_run(runs: Path, no_umap: None) -> None:
    service = ExplorerService(runs)
    with pytest.raises(UsageError, match="not computed yet: open the Embedding page"):
        service.embedding(RUN)
    row = compute(service)
    assert row["state"] == "done", row["message"]
    embedding = service.embedding(RUN)
    predictions = service.store.predictions(RUN)
    assert [(p["id"], p["true"], p["predicted"]) for p in embedding["points"]] == [
        (r["id"], r["true"], r["predicted"]) for r in predictions
    ]
    assert embedding["method"] == TSNE and embedding["layer"] == "fc"  # resnet_small's classifier
    assert len({(p["x"], p["y"]) for p in embedding["points"]}) == len(predictions)  # spread out, not one heap
    saved = json.loads((runs / RUN / EMBEDDING_FILE).read_text())
    assert saved["points"] == embedding["points"] and saved["method"] == TSNE
    assert saved["checkpoint"]["size"] == (runs / RUN / BEST).stat().st_size
    assert service.forward_passes == 0  # a private model: the explorer's own never ran


def test_a_saved_embedding_is_read_back_at_a_new_start_without_a_model_pass(
    runs: Path, no_umap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ExplorerService(runs)
    compute(first)
    expected = first.embedding(RUN)

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was opened for a saved embedding")

    monkeypatch.setattr(embedding_module, "open_model", no_model)
    restarted = ExplorerService(runs)
    row = restarted.start_embedding(RUN, owner=OWNER)
    assert row["state"] == "done" and row["fraction"] == 1.0  # at once: no job was submitted
    assert restarted.job(row["key"]) is None
    assert restarted.embedding(RUN) == expected


def test_a_retrained_checkpoint_is_embedded_again(runs: Path, no_umap: None) -> None:
    service = ExplorerService(runs)
    compute(service)
    checkpoint = runs / RUN / BEST
    stat = checkpoint.stat()
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # as a retraining leaves it
    with pytest.raises(UsageError, match="not computed yet"):
        service.embedding(RUN)
    row = service.start_embedding(RUN, owner=OWNER)
    assert row["state"] in ("queued", "running")
    assert finish(service, row)["state"] == "done"
    saved = json.loads((runs / RUN / EMBEDDING_FILE).read_text())
    assert saved["checkpoint"]["mtime_ns"] == checkpoint.stat().st_mtime_ns


def test_a_read_only_run_folder_keeps_the_embedding_in_memory(
    runs: Path, no_umap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(path: Path, obj: object) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(embedding_module, "write_json", read_only)
    service = ExplorerService(runs)
    assert compute(service)["state"] == "done"
    assert not (runs / RUN / EMBEDDING_FILE).exists()
    assert len(service.embedding(RUN)["points"]) == len(service.store.predictions(RUN))
    assert service.start_embedding(RUN, owner=OWNER)["state"] == "done"  # not computed again while the explorer runs


def test_umap_projects_where_it_is_installed_and_replaces_a_tsne_embedding(runs: Path) -> None:
    pytest.importorskip("umap", reason="umap-learn is the `embedding` extra: pip install 'hartrace[embedding]'")
    service = ExplorerService(runs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "umap", None)
        compute(service)
        assert service.embedding(RUN)["method"] == TSNE
    # umap-learn is importable again, as after `pip install`: the t-SNE picture is out of date
    row = service.start_embedding(RUN, owner=OWNER)
    assert "UMAP" in row["label"]
    assert compute(service)["state"] == "done"
    embedding = service.embedding(RUN)
    assert embedding["method"] == UMAP
    assert len({(p["x"], p["y"]) for p in embedding["points"]}) == len(embedding["points"])
    assert "compiles" not in embedding_module.job_label("tiny-a")  # UMAP compiles once per process


def test_cancelling_stops_the_job_at_its_next_batch(runs: Path, no_umap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    service = ExplorerService(runs)
    service.embeddings.batch_size = 2  # several batches, so there is a next one to stop at
    started, release, batches = threading.Event(), threading.Event(), []
    real = model_outputs

    def first_batch_waits(*args: Any, **kwargs: Any) -> Any:
        batches.append(1)
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(embedding_module, "model_outputs", first_batch_waits)
    row = service.start_embedding(RUN, owner=OWNER)
    assert started.wait(60), "the job never reached its first batch"
    other = service.start_embedding(RUN, owner="tab-2")  # a second tab joins the same job
    assert other["key"] == row["key"]
    still = service.cancel_job(row["key"], OWNER)
    assert still is not None and still["state"] == "running"  # the other tab still wants it
    service.cancel_job(row["key"], "tab-2")
    release.set()
    row = finish(service, row)
    assert row["state"] == "cancelled" and len(batches) == 1
    assert not (runs / RUN / EMBEDDING_FILE).exists()
    with pytest.raises(UsageError, match="not computed yet"):
        service.embedding(RUN)


def test_a_video_run_is_embedded_one_point_per_video(video_runs: Path, tmp_path: Path, no_umap: None) -> None:
    runs = Path(shutil.copytree(video_runs, tmp_path / "checkpoints"))
    service = ExplorerService(runs)
    assert compute(service, "c3d")["state"] == "done"
    embedding = service.embedding("c3d")
    assert [p["id"] for p in embedding["points"]] == [v["id"] for v in service.videos("c3d")]
    assert embedding["layer"] == "fc"  # c3d_small's classifier, its clips' features averaged


def test_an_unknown_run_is_refused_before_any_work(runs: Path) -> None:
    service = ExplorerService(runs)
    with pytest.raises(UsageError, match="unknown run 'nope'"):
        service.start_embedding("nope", owner=OWNER)
    assert service.jobs.jobs() == []


@pytest.mark.parametrize(
    ("backbone", "expected"),
    [
        ("harnet", "head.fc"),
        ("resnet_small", "fc"),
        ("vgg_bn_small", "classifier.fc2"),
        ("c3d_small", "fc"),
        ("cnn_lstm", "fc"),
    ],
)
def test_the_features_are_the_input_of_the_last_linear_layer_of_the_head(backbone: str, expected: str) -> None:
    assert classifier_layer(get_model(backbone, 3)) == expected

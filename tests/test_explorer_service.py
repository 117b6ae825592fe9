"""The explorer's server side: one pass per image, safe ids and uploads, and sessions that never mix."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hartrace.attribution import grad_cam
from hartrace.base.errors import UsageError
from hartrace.explorer import ExplorerService, LRUCache
from hartrace.synth import generate
from hartrace.workflows.train import resolve_config, train


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ExplorerService:
    root = tmp_path_factory.mktemp("explorer")
    data = generate(root / "synthetic", per_class=6, test_per_class=1, progress=False).root
    config = resolve_config(
        None,
        data=str(data),
        backbone="resnet_small",
        weights="none",
        image_size=64,
        epochs=1,
        batch_size=16,
        workers=0,
        out=str(root / "checkpoints" / "tiny"),
    )
    train(config, progress=False, log=lambda m: None)
    return ExplorerService(root / "checkpoints", cache_size=8)


def _data_uri(image: Image.Image, fmt: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}[fmt]
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode()


def test_runs_and_paginated_filtered_images(service: ExplorerService) -> None:
    assert service.default_run() == "tiny" and service.list_runs()[0]["backbone"] == "resnet_small"
    first = service.images("tiny", per_page=5)
    assert first["total"] == 15 and first["pages"] == 3 and len(first["rows"]) == 5  # one val image per class
    everything = [r for p in range(3) for r in service.images("tiny", per_page=5, page=p)["rows"]]
    assert len({r["id"] for r in everything}) == 15
    calling = service.images("tiny", label="calling")["rows"]
    assert calling and all(r["true"] == "calling" for r in calling)
    ordered = service.images("tiny", misclassified_first=True, per_page=100)["rows"]
    flags = [r["correct"] for r in ordered]
    assert flags == sorted(flags), "every misclassified image comes first"
    details = service.run_details("tiny")
    assert details["config"]["backbone"] == "resnet_small" and len(details["metrics"]) == 1
    assert 0 <= details["evaluation"]["accuracy"] <= 1


def test_one_pass_per_image_and_switching_never_reruns_the_model(service: ExplorerService) -> None:
    image_id = service.images("tiny")["rows"][0]["id"]
    before = service.forward_passes
    top = service.prediction("tiny", image_id, top_k=3)
    assert service.forward_passes == before + 1 and len(top) == 3
    for method in ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam"):
        for layer in service.cam_layers("tiny")[:2]:  # the two captured with every image
            for target in (None, "calling", "sleeping"):
                cam = service.cam("tiny", image_id, method=method, layer=layer, target=target)
                assert cam.shape == (64, 64) and 0 <= cam.min() and cam.max() <= 1
    for layer in ("conv1", "layer1", "layer2.0", "layer4"):
        service.activation("tiny", image_id, layer)
        service.layer_stats("tiny", image_id, layer)
    service.flow_png("tiny", image_id, ["conv1", "layer2", "layer4"])
    assert service.forward_passes == before + 1, "layers, classes, methods and views reuse the capture"


def test_every_spatial_layer_is_offered_and_costs_one_more_pass_once(service: ExplorerService) -> None:
    image_id = service.images("tiny")["rows"][2]["id"]
    layers = service.cam_layers("tiny")
    tree = {row["name"]: row["shape"] for row in service.layer_tree("tiny")}
    assert len(layers) > 2 and all(len(tree[name]) == 4 for name in layers)
    assert "fc" not in layers and "conv1" in layers and "layer1.0.conv1" in layers
    service.prediction("tiny", image_id)
    before = service.forward_passes
    model = service.store.run("tiny").opened.model
    batch = service.analysis("tiny", image_id).batch
    for target in (0, 7, 14):
        for method in ("gradcam", "layercam"):
            got = service.cam("tiny", image_id, method=method, layer="layer1.0.conv1", target=target)
            expected = grad_cam(model, batch, "layer1.0.conv1", target=target, method=method)[0].numpy()
            assert np.allclose(got, expected, atol=1e-5)
    assert service.forward_passes == before + 1, "one pass for the new layer, whatever the class and method"
    with pytest.raises(UsageError, match="no spatial output"):
        service.cam("tiny", image_id, layer="fc")


def test_cams_equal_the_library_on_the_same_input(service: ExplorerService) -> None:
    image_id = service.images("tiny")["rows"][1]["id"]
    analysis = service.analysis("tiny", image_id)
    model = service.store.run("tiny").opened.model
    expected = grad_cam(model, analysis.batch, "layer3", target=4)[0].numpy()
    got = service.cam("tiny", image_id, method="gradcam", layer="layer3", target=service.classes("tiny")[4])
    assert np.allclose(got, expected, atol=1e-5)


def test_an_image_run_has_no_videos(service: ExplorerService) -> None:
    assert service.task("tiny") == "image"
    image_id = service.images("tiny")["rows"][0]["id"]
    for ask in (lambda: service.videos("tiny"), lambda: service.video("tiny", image_id)):
        with pytest.raises(UsageError, match="tiny is an image run"):
            ask()


def test_only_indexed_images_and_checked_uploads_are_served(service: ExplorerService) -> None:
    for bad in ("../../etc/passwd", "/etc/passwd", "train/../../x.jpg", "upload:0000"):
        with pytest.raises(UsageError):
            service.thumbnail("tiny", bad)
    with pytest.raises(UsageError, match="not a readable PNG, JPEG or WebP"):
        service.upload("tiny", "data:text/plain;base64," + base64.b64encode(b"hello").decode(), "notes.txt")
    gif = _data_uri(Image.new("RGB", (8, 8), "red"), "GIF")
    with pytest.raises(UsageError, match="GIF images are not accepted"):
        service.upload("tiny", gif, "anim.gif")
    small = ExplorerService(service.runs_dir, max_upload_bytes=1000)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(UsageError, match="too large"):
        small.upload("tiny", _data_uri(noise, "PNG"), "big.png")
    with pytest.raises(UsageError, match="corrupt"):
        service.upload("tiny", "data:image/png;base64,@@@@", "x.png")
    image_id = service.upload("tiny", _data_uri(noise, "WEBP"), "photo.webp")
    assert image_id.startswith("upload:") and len(service.prediction("tiny", image_id)) == 5


def test_an_unreadable_image_is_named_by_its_id_never_its_path(service: ExplorerService, tmp_path: Path) -> None:
    gone = tmp_path / "gone.jpg"
    with pytest.raises(UsageError, match="^cannot read train/gone.jpg: missing$"):
        service.store.read("tiny", gone, "train/gone.jpg")


def test_concurrent_sessions_get_their_own_answers(service: ExplorerService) -> None:
    rows = service.images("tiny", per_page=100)["rows"][:10]
    expected = {r["id"]: service.probabilities("tiny", r["id"]) for r in rows}
    fresh = ExplorerService(service.runs_dir, cache_size=4)  # small cache: analyses get evicted and redone

    def session(i: int) -> list[tuple[str, list[float]]]:
        answers = []
        for j in range(10):
            image_id = rows[(i + j) % len(rows)]["id"]
            fresh.cam("tiny", image_id, method="gradcam", target="calling")
            answers.append((image_id, fresh.probabilities("tiny", image_id)))
        return answers

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(session, range(20)))
    for answers in results:
        for image_id, probabilities in answers:
            assert np.allclose(probabilities, expected[image_id], atol=1e-5), image_id


def test_lru_cache_evicts_the_least_recently_used_and_computes_once() -> None:
    cache: LRUCache[int] = LRUCache(2)
    calls: list[str] = []

    def compute(key: str) -> int:
        calls.append(key)
        return len(calls)

    assert cache.get_or_compute("a", lambda: compute("a")) == 1
    assert cache.get_or_compute("b", lambda: compute("b")) == 2
    assert cache.get_or_compute("a", lambda: compute("a")) == 1, "cached"
    cache.get_or_compute("c", lambda: compute("c"))  # evicts b, the least recently used
    assert "b" not in cache and "a" in cache and calls == ["a", "b", "c"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: cache.get_or_compute("d", lambda: compute("d") or torch.zeros(1)), range(16)))
    assert calls.count("d") == 1


def test_a_first_evaluation_runs_in_the_background_with_progress(
    service: ExplorerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import time

    from hartrace.explorer.jobs import Job, JobCancelled
    from hartrace.runs import inference

    workers: list[int] = []  # the explorer is a server: its evaluation starts no worker process (see evaluate)
    loader = inference.DataLoader
    monkeypatch.setattr(inference, "DataLoader", lambda *a, **k: (workers.append(k["num_workers"]), loader(*a, **k))[1])

    shutil.rmtree(service.runs_dir / "tiny" / "eval", ignore_errors=True)
    fresh = ExplorerService(service.runs_dir, cache_size=4)
    image_id = next(iter(fresh.store.run("tiny").files))
    assert fresh.run_details("tiny")["evaluation"] == {}  # the Run page never waits for it
    assert fresh.true_class("tiny", image_id) in fresh.classes("tiny")  # labels come from the index
    assert not (service.runs_dir / "tiny" / "eval").exists()

    class Stop(Job):
        def report(self, done: int, total: int | None = None) -> None:
            raise JobCancelled(self.label)

    with pytest.raises(JobCancelled):  # a cancelled evaluation stops at its first batch and writes nothing
        fresh.store.evaluation("tiny", Stop("evaluate|tiny", "evaluating"))
    assert not list((service.runs_dir / "tiny").glob("eval/*/eval.json"))

    row = fresh.evaluation_job("tiny", "tab")
    assert row is not None and row["key"] == "evaluate|tiny" and row["state"] in ("queued", "running", "done")
    seen = []
    deadline = time.monotonic() + 120
    while (current := fresh.job(row["key"])) is not None and current["state"] in ("queued", "running"):
        seen.append(current["fraction"])
        assert time.monotonic() < deadline, "the evaluation never finished"
        time.sleep(0.05)
    assert current is not None and current["state"] == "done" and current["fraction"] == 1.0
    assert all(share is None or 0 <= share <= 1 for share in seen)
    assert fresh.evaluation_job("tiny", "tab") is None  # on disk now: ready at once
    assert workers and set(workers) == {0}
    assert 0 <= fresh.run_details("tiny")["evaluation"]["accuracy"] <= 1


def test_the_progress_totals_are_the_passes_the_slow_methods_make() -> None:
    from hartrace.attribution.explanation import explain
    from hartrace.explorer.images import expected_passes

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 5)
    )
    passes = []
    handle = model.register_forward_pre_hook(lambda module, inputs: passes.append(1))
    for side in (32, 64, 100, 224):  # 100: the last window position is a partial one
        passes.clear()
        explain(model, torch.rand(1, 3, side, side), None, "occlusion", torch.tensor([2]))
        assert len(passes) == expected_passes("occlusion", side, 0), side
    handle.remove()
    for channels in (4, 100):  # Score-CAM: one capture pass, then the channel masks 64 at a time
        layers = (torch.nn.Conv2d(3, channels, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        model = torch.nn.Sequential(*layers, torch.nn.Linear(channels, 5)).eval()
        passes.clear()
        model.register_forward_pre_hook(lambda module, inputs: passes.append(1))
        explain(model, torch.rand(1, 3, 32, 32), "1", "scorecam", torch.tensor([2]))
        assert len(passes) == expected_passes("scorecam", 32, channels), channels

"""The explorer's video side: one model pass per video, every class's map from it, and only the run's own videos."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from hartrace.attribution import grad_cam
from hartrace.base.errors import UsageError
from hartrace.explorer import ExplorerService

RUN = "c3d"
FRAMES, SIZE, CLASSES = 8, 64, 12  # the clip the small run sees: 8 frames of 64 px, 12 synthetic actions


@pytest.fixture(scope="module")
def service(video_runs: Path) -> ExplorerService:
    return ExplorerService(video_runs, cache_size=8)


def test_the_videos_are_the_validation_split_with_their_predictions(service: ExplorerService) -> None:
    assert service.task(RUN) == "video"
    videos = service.videos(RUN)
    assert len(videos) == CLASSES  # one test video per class
    assert {row["true"] for row in videos} == set(service.classes(RUN))
    for row in videos:
        assert row["id"].startswith("UCF-101/") and row["id"].endswith(".avi") and not Path(row["id"]).is_absolute()
        assert row["predicted"] in service.classes(RUN) and 0 < row["probability"] <= 1
        assert row["correct"] == (row["true"] == row["predicted"])


def test_one_pass_per_video_then_classes_and_frames_are_lookups(service: ExplorerService) -> None:
    first, second = (row["id"] for row in service.videos(RUN)[:2])
    before = service.forward_passes
    analysis = service.video(RUN, first)
    assert service.forward_passes == before + 1
    assert analysis.frames.shape == (FRAMES, SIZE, SIZE, 3) and analysis.frames.dtype == np.uint8
    assert analysis.frame_indices == [0, 2, 4, 6, 8, 10, 12, 14]  # the centre clip of 16 frames at stride 2
    maps = analysis.cams()
    assert maps.shape == (CLASSES, FRAMES, SIZE, SIZE) and maps.min() >= 0 and maps.max() <= 1
    for target in (None, *service.classes(RUN), 3):
        cam = service.video_cam(RUN, first, target)
        importance = service.video_importance(RUN, first, target)
        assert cam.shape == (FRAMES, SIZE, SIZE) and importance.shape == (FRAMES,)
        assert importance.sum() == pytest.approx(1.0)
    predicted = int(np.argmax(analysis.probabilities))
    assert np.array_equal(service.video_cam(RUN, first), maps[predicted])  # no target: the clip's prediction
    assert service.forward_passes == before + 1, "classes, frames and maps reuse the one capture"
    service.video(RUN, second)
    assert service.forward_passes == before + 2


def test_maps_equal_the_library_on_the_same_clip(service: ExplorerService) -> None:
    video_id = service.videos(RUN)[2]["id"]
    analysis = service.video(RUN, video_id)
    model = service.store.run(RUN).opened.model
    for k in (0, 5, 11):
        expected = grad_cam(model, analysis.clip, analysis.layer, target=k)[0].numpy()
        assert np.allclose(service.video_cam(RUN, video_id, service.classes(RUN)[k]), expected, atol=1e-5)


def test_only_the_runs_own_videos_are_opened(service: ExplorerService, video_runs: Path) -> None:
    real = service.store.run(RUN).files[service.videos(RUN)[0]["id"]]
    for bad in ("../../etc/passwd", "/etc/passwd", str(real), "UCF-101/../../x.avi", "upload:0000"):
        with pytest.raises(UsageError, match="unknown video"):
            service.video(RUN, bad)
    with pytest.raises(UsageError, match="unknown class"):
        service.video_cam(RUN, service.videos(RUN)[0]["id"], "Moonwalk")
    with pytest.raises(UsageError, match="runs the model again"):
        service.video_cam(RUN, service.videos(RUN)[0]["id"], method="scorecam")


def test_an_unreadable_video_is_named_by_its_id_never_its_path(service: ExplorerService, tmp_path: Path) -> None:
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    with pytest.raises(UsageError, match="^cannot read UCF-101/broken.avi: ") as raised:
        service.store.read(RUN, broken, "UCF-101/broken.avi")
    assert str(tmp_path) not in str(raised.value)


def test_image_views_of_a_video_run_say_so_and_the_rest_works(service: ExplorerService) -> None:
    video_id = service.videos(RUN)[0]["id"]
    with pytest.raises(UsageError, match="c3d is a video run: see the Video page"):
        service.prediction(RUN, video_id)
    with pytest.raises(UsageError, match="video run"):
        service.upload(RUN, "data:image/png;base64,AAAA", "frame.png")
    assert service.thumbnail(RUN, video_id).startswith("data:image/jpeg;base64,")  # the middle frame
    tree = service.layer_tree(RUN)
    assert any(row["name"] == "layer4" and len(row["shape"]) == 5 for row in tree)  # [1, C, T, h, w]
    assert len(service.confusion(RUN)["matrix"]) == CLASSES


def test_concurrent_sessions_share_one_pass_per_video(service: ExplorerService, video_runs: Path) -> None:
    fresh = ExplorerService(video_runs, cache_size=8)
    videos = [row["id"] for row in fresh.videos(RUN)[:3]]
    classes = fresh.classes(RUN)
    before = fresh.forward_passes

    def session(i: int) -> list[float]:
        return fresh.video_importance(RUN, videos[i % len(videos)], classes[i % CLASSES]).tolist()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(session, range(24)))
    assert fresh.forward_passes - before == len(videos)  # 24 requests, 3 videos: 3 passes
    for i, shares in enumerate(results):
        assert np.allclose(
            shares, service.video_importance(RUN, videos[i % len(videos)], classes[i % CLASSES]), atol=1e-6
        )

"""The Video page's callbacks, called as plain functions on the small trained video run (no browser)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from dash import no_update
from PIL import Image

from hartrace.explorer import ExplorerService
from hartrace.explorer.app import ids
from hartrace.explorer.app.pages import images, video
from hartrace.explorer.app.shell import describe_selection
from hartrace.render import cam_overlay
from tests.conftest_app import FakeService
from tests.test_app_callbacks import texts

RUN = "c3d"


@pytest.fixture(scope="module")
def service(video_runs: Path) -> ExplorerService:
    return ExplorerService(video_runs)


@pytest.fixture(scope="module")
def video_id(service: ExplorerService) -> str:
    return service.videos(RUN)[0]["id"]


def picture(source: str) -> np.ndarray:
    """The pixels of a ``data:image/png`` URI."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"))


def frame_and_overlay(figure) -> tuple[np.ndarray, np.ndarray]:
    plain, overlay, scale = figure.data
    assert scale.type == "heatmap" and scale.showscale and scale.xaxis == "x2"  # the overlay's colour scale
    return picture(plain.source), picture(overlay.source)


def bar_click(name: str) -> dict:
    return {"points": [{"curveNumber": 0, "pointIndex": 2, "x": 0.1, "y": name, "customdata": name}]}


def test_the_picker_lists_the_runs_videos_and_keeps_the_selection(service, video_id):
    options, value, message, hidden = video.video_picker(RUN, None, service=service)
    assert len(options) == len(service.videos(RUN)) and value == video_id and hidden and not message
    first = service.videos(RUN)[0]
    assert options[0]["label"].startswith(f"{first['name']} · {first['true']} → {first['predicted']}")
    other = options[3]["value"]
    assert video.video_picker(RUN, other, service=service)[1] == other  # the session's video stays selected
    assert video.video_picker(RUN, "train/Image_1.jpg", service=service)[1] == video_id  # an image id: the first video
    assert video.pick_video(other, video_id) == (other, None)  # a new video explains its prediction
    assert video.pick_video(video_id, video_id) == (no_update, no_update)


def test_an_image_run_says_the_page_is_for_video_runs():
    fake = FakeService()
    options, value, message, hidden = video.video_picker("new", "train/Image_3.jpg", service=fake)
    assert options == [] and value is None and not hidden
    assert "The Video page is for video runs: new is an image run" in message
    figures = video.show_clip("new", None, None, 0, service=fake)
    assert figures[3] is True and figures[5].layout.annotations[0].text == "no video selected"  # slider disabled
    assert fake.forward_passes == 0
    assert video.video_picker(None, None, service=fake)[2].startswith("No run selected")


def test_a_clip_sets_the_slider_curve_bars_and_caption(service, video_id):
    shown = video.show_clip(RUN, video_id, None, 99, service=service)
    maximum, marks, value, disabled, play_disabled, curve, bars, caption = shown
    analysis = service.video(RUN, video_id)
    assert maximum == 7 and value == 0 and not disabled and not play_disabled  # 8 frames; out-of-range 99 back to 0
    assert marks == {t: str(n) for t, n in enumerate(analysis.frame_indices)}  # the video's own frame numbers
    importance = service.video_importance(RUN, video_id)
    assert list(curve.data[0].y) == pytest.approx(importance.tolist()) and list(curve.data[0].customdata) == list(
        range(8)
    )
    assert list(curve.data[1].x) == [0]  # the marker at the shown frame
    predicted = service.classes(RUN)[int(np.argmax(analysis.probabilities))]
    assert len(bars.data[0].customdata) == 5 and bars.data[0].customdata[0] == predicted
    assert f"Explaining '{predicted}'" in caption and "its prediction" in caption
    assert video.show_clip(RUN, video_id, None, 5, service=service)[2] == 5  # a frame in range is kept
    assert (
        video.show_clip(RUN, video_id, "calling", 5, service=service)[-1] == caption
    )  # another run's class: the prediction


def test_the_slider_moves_the_overlay_frame_without_a_model_pass(service, video_id):
    analysis = service.video(RUN, video_id)
    cams = service.video_cam(RUN, video_id)
    passes = service.forward_passes
    shown = {}
    for t in (0, 3, 7):
        figure, patch = video.show_frame(t, 0.5, RUN, video_id, None, service=service)
        plain, overlay = frame_and_overlay(figure)
        assert np.array_equal(plain, analysis.frames[t])
        assert np.array_equal(overlay, cam_overlay(analysis.frames[t], cams[t], alpha=0.5))
        assert figure.layout.title.text.startswith(f"video frame {analysis.frame_indices[t]}, ")
        assert f"{t + 1} of the 8 frames the model sees" in figure.layout.title.text
        marker = patch.to_plotly_json()["operations"]
        assert {"operation": "Assign", "location": ["data", 1, "x"], "params": {"value": [t]}} in marker
        shown[t] = overlay
    assert not np.array_equal(shown[0], shown[3]) and not np.array_equal(shown[3], shown[7])
    faint = frame_and_overlay(video.show_frame(3, 0.1, RUN, video_id, None, service=service)[0])[1]
    assert (
        np.abs(faint.astype(int) - analysis.frames[3]).mean() < np.abs(shown[3].astype(int) - analysis.frames[3]).mean()
    )
    assert service.forward_passes == passes


def test_a_bar_click_explains_that_class_without_a_new_model_pass(service, video_id):
    analysis = service.video(RUN, video_id)
    classes = service.classes(RUN)
    predicted = int(np.argmax(analysis.probabilities))
    maps = analysis.cams()
    # a class whose map differs from the prediction's, among the top 5 bars
    top5 = np.argsort(analysis.probabilities)[::-1][:5]
    other = next(int(k) for k in top5 if k != predicted and not np.allclose(maps[k], maps[predicted]))
    passes = service.forward_passes
    target = video.pick_video_target(bar_click(classes[other]))
    assert target == classes[other]
    *_, curve, bars, caption = video.show_clip(RUN, video_id, target, 2, service=service)
    assert f"Explaining '{classes[other]}'" in caption and f"it predicts {classes[predicted]}" in caption
    assert list(curve.data[0].y) == pytest.approx(service.video_importance(RUN, video_id, other).tolist())
    colours = dict(zip(bars.data[0].customdata, bars.data[0].marker.color, strict=True))
    assert colours[classes[other]] != colours[classes[predicted]]  # the explained bar is highlighted
    overlay = frame_and_overlay(video.show_frame(2, 0.5, RUN, video_id, target, service=service)[0])[1]
    assert np.array_equal(overlay, cam_overlay(analysis.frames[2], maps[other][2], alpha=0.5))
    assert service.forward_passes == passes, "a class switch reuses the video's capture"
    assert video.pick_video_target(None) is no_update
    assert video.reset_video_target(1) is None


def test_a_click_on_the_importance_curve_sets_the_slider(service, video_id):
    *_, curve, _bars, _caption = video.show_clip(RUN, video_id, None, 0, service=service)
    point = 6
    click = {
        "points": [
            {
                "curveNumber": 0,
                "pointIndex": point,
                "x": point,
                "y": float(curve.data[0].y[point]),
                "customdata": int(curve.data[0].customdata[point]),
            }
        ]
    }
    assert video.pick_frame(click) == point
    assert video.pick_frame(None) is no_update and video.pick_frame({"points": []}) is no_update


def test_unknown_videos_are_refused(service):
    passes = service.forward_passes
    for bad in ("../../etc/passwd", "UCF-101/Nope/v_Nope.avi"):
        *_, curve, bars, caption = video.show_clip(RUN, bad, None, 0, service=service)
        assert "unknown video" in curve.layout.annotations[0].text and caption == ""
        figure, patch = video.show_frame(0, 0.5, RUN, bad, None, service=service)
        assert "unknown video" in figure.layout.annotations[0].text and patch is no_update
    assert service.forward_passes == passes


def test_play_steps_through_the_clip_and_wraps():
    assert video.toggle_play(1, True) == (False, video.PAUSE)
    assert video.toggle_play(2, False) == (True, video.PLAY)
    assert video.step_frame(5, 3, 7) == 4 and video.step_frame(6, 7, 7) == 0
    assert video.step_frame(1, 0, 0) is no_update  # a one-frame clip has nothing to play


def test_video_ids_open_the_video_page(service, video_id):
    tiles = [ids.thumb(video_id), ids.thumb("train/Image_1.jpg")]
    assert images.select_thumbnail([1, 0], tiles, triggered_id=tiles[0]) == (video_id, None, "/video")
    assert images.select_thumbnail([0, 1], tiles, triggered_id=tiles[1])[2] == "/explain"
    bar = describe_selection(RUN, video_id, None, service=service)
    assert "video " + video_id in texts(bar)
    links = [c.href for c in bar if getattr(c, "href", None)]
    assert links == ["/video"]

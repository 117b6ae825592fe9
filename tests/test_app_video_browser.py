"""The Video page end to end in headless Chromium, on the small trained video run.

The browser, server and helpers are those of ``test_app_browser`` (its ``server`` and
``duo`` fixtures run here on this module's ``service``); screenshots go to the same
artifacts folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hartrace.explorer import ExplorerService
from tests.test_app_browser import (  # noqa: F401  (duo and server are fixtures used by name)
    WAIT,
    click_graph_point,
    duo,
    go,
    pytestmark,
    server,
    snap,
    stored,
    wait_text,
)

RUN = "c3d"


@pytest.fixture(scope="module")
def service(video_runs: Path) -> ExplorerService:
    return ExplorerService(runs_dir=video_runs)


def slider_value(duo) -> str:
    return duo.find_element("#video-slider .dash-slider-thumb").get_attribute("aria-valuenow")


def overlay_source(duo) -> str:
    """The picture of the overlay (the frame figure's second image), as its data URI."""
    return duo.find_elements("#video-frame .main-svg image")[1].get_attribute("href")


def test_the_video_page_steps_through_a_clip_and_switches_class(duo, service):
    from dash.testing.wait import until
    from selenium.webdriver.common.keys import Keys

    wait_text(duo, "#run-summary", RUN)
    go(duo, "/video")
    duo.wait_for_element("#video-frame .main-svg image", timeout=WAIT)
    wait_text(duo, "#video-caption", "Explaining")
    video_id = service.videos(RUN)[0]["id"]
    assert stored(duo, "image-store") == video_id  # the first video is selected for the session
    analysis = service.video(RUN, video_id)
    frames = analysis.frame_indices
    wait_text(duo, "#video-frame .gtitle", f"video frame {frames[0]},")
    assert len(duo.find_elements("#video-frame .main-svg image")) == 3  # the frame, its overlay, the colour bar
    assert len(duo.find_elements("#video-curve .scatterlayer .trace:first-child .point")) == len(frames)
    assert len(duo.find_elements("#video-bars .bars .point")) == 5
    passes = service.forward_passes

    duo.find_element("#video-slider .dash-slider-thumb").send_keys(Keys.ARROW_RIGHT * 3)  # one frame per key
    wait_text(duo, "#video-frame .gtitle", f"video frame {frames[3]},")
    assert slider_value(duo) == "3"
    marker = duo.find_element("#video-curve .scatterlayer .trace:nth-child(2) .point")
    point = duo.find_elements("#video-curve .scatterlayer .trace:first-child .point")[3]
    assert marker.get_attribute("transform") == point.get_attribute("transform")  # the marker sits on frame 3
    snap(duo, "video-01-slider")

    predicted = service.classes(RUN)[int(np.argmax(analysis.probabilities))]
    before = overlay_source(duo)
    click_graph_point(duo, "#video-bars .bars .point:nth-child(3) path")  # the third most probable class
    until(lambda: stored(duo, "target-store") not in (None, predicted), timeout=WAIT)
    target = stored(duo, "target-store")
    wait_text(duo, "#video-caption", f"Explaining '{target}'")
    wait_text(duo, "#selection", f"explaining {target}")
    until(lambda: overlay_source(duo) != before, timeout=WAIT)  # the same frame, overlaid with the new class's map
    assert slider_value(duo) == "3"
    click_graph_point(duo, "#video-curve .scatterlayer .trace:first-child .point:nth-child(7)")  # frame 6
    until(lambda: slider_value(duo) == "6", timeout=WAIT)
    wait_text(duo, "#video-frame .gtitle", f"video frame {frames[6]},")
    assert service.forward_passes == passes, "slider moves, a class switch and curve clicks reuse the one capture"
    snap(duo, "video-02-class-and-curve-click")

"""The explorer's shared views in a real headless Chromium: a URL reopens its view, a run trained with a relative
``--data`` opens from another folder, the methods grid, and one session's slow method never slows another's.

One run is trained for the module at 160 px (so occlusion takes seconds) with ``--data data/synthetic`` given
relative to a folder that is not the one the explorer starts from.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest

from tests.test_app_browser import (  # noqa: F401  (duo and server are fixtures used by name)
    WAIT,
    chrome_options,
    duo,
    pytestmark,
    server,
    settle,
    snap,
    stored,
)

RUN = "rel"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A run trained from ``project/`` with a relative ``--data``; the service starts in another folder."""
    from hartrace.explorer import ExplorerService
    from hartrace.synth import generate
    from hartrace.workflows.train import resolve_config, train

    project = tmp_path_factory.mktemp("project")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    before = Path.cwd()
    os.chdir(project)
    try:
        generate(Path("data/synthetic"), per_class=3, test_per_class=1, workers=1, progress=False)
        config = resolve_config(
            None,
            data="data/synthetic",
            backbone="resnet_small",
            weights="none",
            image_size=160,
            epochs=1,
            batch_size=16,
            workers=0,
            out=f"checkpoints/{RUN}",
        )
        train(config, progress=False, log=lambda message: None)
    finally:
        os.chdir(elsewhere)  # the explorer runs from a folder where data/synthetic means nothing
    try:
        assert not Path("data/synthetic").exists()
        yield ExplorerService(project / "checkpoints")
    finally:
        os.chdir(before)


def open_view(duo, path: str, **view: str) -> None:
    """Load ``path#run=..&image=..`` in a fresh session, as a shared link opens."""
    from urllib.parse import urlencode

    duo.driver.get(duo.server_url + path)
    duo.clear_storage()
    duo.driver.get(duo.server_url + path + "#" + urlencode({"run": RUN, **view}))
    duo.wait_for_element(".nav a.active", timeout=WAIT)
    settle(duo)


def image_ids(service) -> list[str]:
    return [row["id"] for row in service.images(RUN, per_page=100)["rows"]]


def test_a_relative_path_run_opens_from_another_folder(duo, service):
    first = image_ids(service)[0]
    open_view(duo, "/explain", image=first)
    duo.wait_for_element("#explain-overlay .main-svg image", timeout=WAIT)
    duo.wait_for_contains_text("#explain-caption", "by gradcam", timeout=WAIT)
    assert "not found" not in duo.find_element("#explain-overlay").text
    snap(duo, "20-relative-run-explain")


def test_a_url_reopens_the_same_view(duo, service):
    image = image_ids(service)[1]
    target = service.classes(RUN)[-1]
    open_view(duo, "/explain", image=image, **{"class": target, "method": "gradcam++", "layer": "layer3"})
    duo.wait_for_contains_text("#explain-caption", f"'{target}'", timeout=WAIT)
    duo.wait_for_contains_text("#explain-caption", "by gradcam++ at layer3", timeout=WAIT)
    assert (stored(duo, "image-store"), stored(duo, "target-store")) == (image, target)
    # the view, changed in the page, is written back into the URL: reloading it in a new session gives it again
    shared = duo.driver.current_url
    assert "class=" in shared and "method=gradcam%2B%2B" in shared and "layer=layer3" in shared
    duo.clear_storage()
    duo.driver.get("about:blank")
    duo.driver.get(shared)
    duo.wait_for_contains_text("#explain-caption", f"'{target}'", timeout=WAIT)
    duo.wait_for_contains_text("#explain-caption", "by gradcam++ at layer3", timeout=WAIT)
    duo.wait_for_contains_text("#explain-classes .class-row-explained", target, timeout=WAIT)
    snap(duo, "21-url-reopened")


def test_the_methods_grid(duo, service):
    image = image_ids(service)[2]
    open_view(duo, "/methods", image=image)
    duo.wait_for_element("#methods-grid .methods-img", timeout=WAIT)
    settle(duo)
    methods = service.methods()
    tiles = duo.find_elements("#methods-grid .methods-tile")
    assert len(tiles) == 1 + len(methods["fast"]) + len(methods["slow"])
    pictures = duo.find_elements("#methods-grid .methods-img")
    assert len(pictures) == 1 + len(methods["fast"])  # nothing slow was made yet: those tiles say so
    assert "not computed yet" in duo.find_element("#methods-grid").text
    snap(duo, "22-methods-grid")


def time_to_cam(duo, image: str) -> float:
    """Seconds from choosing an image (the URL's fragment, as back/forward or a link does) to its views drawn."""
    start = time.perf_counter()
    duo.driver.execute_script("window.location.hash = arguments[0]", f"run={RUN}&image={image.replace('/', '%2F')}")
    duo.wait_for_contains_text("#explain-original .gtitle", image, timeout=WAIT)
    duo.wait_for_element("#explain-overlay .main-svg image", timeout=WAIT)
    settle(duo)
    return time.perf_counter() - start


def test_one_sessions_occlusion_does_not_slow_anothers_new_images(duo, service):
    from selenium import webdriver

    ids_ = image_ids(service)
    open_view(duo, "/explain", image=ids_[0])
    duo.wait_for_element("#explain-overlay .main-svg image", timeout=WAIT)
    idle = [time_to_cam(duo, image) for image in ids_[3:6]]
    options = chrome_options()
    options.add_argument("--headless=new")  # a second browser, a second session (its own session storage)
    other = webdriver.Chrome(options=options)
    try:  # a second user asks for occlusion on another image: it runs in the background pool
        other.get(f"{duo.server_url}/explain#run={RUN}&image={ids_[6].replace('/', '%2F')}&method=occlusion")
        deadline = time.monotonic() + WAIT
        while not any(job.active for job in service.jobs.jobs()) and time.monotonic() < deadline:
            time.sleep(0.1)
        busy = [time_to_cam(duo, image) for image in ids_[7:10]]
        assert any(job.active for job in service.jobs.jobs()), "the occlusion was over before the new images"
        snap(duo, "23-while-another-session-runs-occlusion")
    finally:
        other.quit()
    # loosely (the precise figure is the bench's): the busy median stays near the idle one
    assert statistics.median(busy) <= 2.5 * statistics.median(idle) + 0.5, (idle, busy)

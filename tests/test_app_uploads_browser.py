"""No silent failure, in a real headless Chromium: every refused upload and every failed request says so on the page.

One app server over a fake service whose uploads go through the real gallery (no model is
trained: no refused file reaches one), one browser, a fresh session per test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hartrace.explorer.app import ids
from tests.test_app_browser import (  # noqa: F401  (pytestmark marks this module)
    CHROMEDRIVER,
    CHROMIUM,
    WAIT,
    chrome_options,
    click,
    free_port,
    go,
    pytestmark,
    settle,
    snap,
    wait_text,
)
from tests.test_explorer_uploads import UploadingService, blank_png, noise_png


class CountingService(UploadingService):
    """Counts the uploads that reached the server: a file refused in the browser never does."""

    def __init__(self, **gallery: object) -> None:
        super().__init__(**gallery)
        self.received = 0

    def upload(self, run: str, contents: str, filename: str) -> str:
        self.received += 1
        return super().upload(run, contents, filename)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> CountingService:
    service = CountingService(uploads_root=tmp_path_factory.mktemp("uploads"))
    yield service
    service.gallery.close()


@pytest.fixture(scope="module")
def app(service: CountingService):
    from hartrace.explorer.app import create_app

    return create_app(service)


@pytest.fixture(scope="module")
def server(app, tmp_path_factory):
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("hartrace.explorer").setLevel(logging.CRITICAL)  # the forced failures' tracebacks
    with (
        ThreadedRunner() as runner,
        DashComposite(
            runner,
            browser="Chrome",
            headless=True,
            options=[chrome_options()],
            download_path=str(tmp_path_factory.mktemp("downloads")),
            percy_run=False,
            wait_timeout=WAIT,
        ) as duo,
    ):
        duo.start_server(app, port=free_port())
        yield duo


@pytest.fixture
def duo(server):
    """The shared browser, on a fresh session at the Images page."""
    server.wait_for_page(server.server_url)
    server.clear_storage()
    server.wait_for_page(server.server_url)
    go(server, "/images")
    return server


def drop(duo, path: Path) -> None:
    """Choose a file in the drop zone's file input, as the file dialog does."""
    duo.find_element(f"#{ids.UPLOAD} input[type=file]").send_keys(str(path))


def drag_and_drop(duo, name: str, size: int) -> None:
    """Drop a file of ``size`` zero bytes onto the drop zone, as a file dragged from the desktop is."""
    duo.driver.execute_script(
        """
        const files = new DataTransfer();
        files.items.add(new File([new Uint8Array(arguments[1])], arguments[0], {type: "image/png"}));
        const zone = document.querySelector(arguments[2]);
        for (const kind of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(kind, {dataTransfer: files, bubbles: true, cancelable: true}));
        }
        """,
        name,
        size,
        f"#{ids.UPLOAD} > div",
    )


def upload_error(duo, text: str) -> None:
    duo.wait_for_element(f"#{ids.UPLOAD_ERROR}:not([hidden])", timeout=WAIT)
    wait_text(duo, f"#{ids.UPLOAD_ERROR}", text)


def test_the_drop_zone_states_its_limit(duo):
    wait_text(duo, f"#{ids.UPLOAD}", "PNG, JPEG or WebP, up to 5 MB")
    assert duo.find_element(f"#{ids.ERROR_BANNER}").get_attribute("hidden") is not None, "nothing failed"


def test_files_over_the_limit_are_refused_before_they_are_sent(duo, service, tmp_path):
    received = service.received
    for name, size, shown in (("photo.png", 6 * 2**20, "6 MB"), ("huge.jpg", 20 * 2**20, "20 MB")):
        big = tmp_path / name
        with big.open("wb") as file:
            file.truncate(size)  # a sparse file: its size is what the browser checks
        drop(duo, big)
        upload_error(duo, f"{name}: too large ({shown}; the limit is 5 MB): pick a smaller image")
    snap(duo, "uploads-01-too-large")
    drop(duo, big)  # the same file again: said again, not silently ignored
    settle(duo)
    assert "huge.jpg: too large" in duo.find_element(f"#{ids.UPLOAD_ERROR}").text
    drag_and_drop(duo, "dragged.png", 7 * 2**20)
    upload_error(duo, "dragged.png: too large (7 MB; the limit is 5 MB): pick a smaller image")
    settle(duo)
    assert service.received == received, "a file over the limit is neither read nor posted"
    assert duo.find_element(f"#{ids.ERROR_BANNER}").get_attribute("hidden") is not None, "and no request failed"


def test_refused_images_say_why(duo, tmp_path):
    cases = {
        "notes.txt": (b"not an image at all\n", "notes.txt: not a readable PNG, JPEG or WebP image"),
        "photo.bmp": (noise_png(fmt="BMP"), "photo.bmp: BMP images are not accepted; upload PNG, JPEG or WebP"),
        "bomb.png": (
            blank_png(15000, 15000),
            "bomb.png: the image is too large in pixels (225 megapixels; the limit is 64 megapixels)",
        ),
        "half.png": (noise_png()[:500], "half.png: the image is damaged (truncated)"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        drop(duo, path)
        upload_error(duo, message)
    snap(duo, "uploads-02-damaged")
    good = tmp_path / "fine.png"
    good.write_bytes(noise_png())
    drop(duo, good)
    duo.wait_for_contains_class('.nav a[href="/explain"]', "active", timeout=WAIT)
    assert duo.get_session_storage(ids.IMAGE_STORE).startswith("upload:")


def test_a_failing_callback_shows_the_banner_until_dismissed(duo, service, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(service, "images", broken)
    go(duo, "/")
    go(duo, "/images")
    duo.wait_for_element(f"#{ids.ERROR_BANNER}:not([hidden])", timeout=WAIT)
    wait_text(duo, f"#{ids.ERROR_MESSAGE}", "unexpected ZeroDivisionError: division by zero")
    assert "This is a bug in hartrace, please report it" in duo.find_element(f"#{ids.ERROR_MESSAGE}").text
    snap(duo, "uploads-03-error-banner")
    duo.find_element(f"#{ids.ERROR_DISMISS}").click()
    duo.wait_for_element(f"#{ids.ERROR_BANNER}[hidden]", timeout=WAIT)


def test_a_request_the_server_refuses_shows_the_banner(duo, app, monkeypatch):
    monkeypatch.setitem(app.server.config, "MAX_CONTENT_LENGTH", 64)  # every callback request is now too large
    click(duo, '.nav a[href="/"]')  # the page cannot change now: its callbacks are refused
    duo.wait_for_element(f"#{ids.ERROR_BANNER}:not([hidden])", timeout=WAIT)
    wait_text(duo, f"#{ids.ERROR_MESSAGE}", "The server refused a request that was too large (HTTP 413)")
    snap(duo, "uploads-04-request-refused")


def test_a_server_that_stops_answering_shows_the_banner(duo):
    driver = duo.driver
    driver.execute_cdp_cmd("Network.enable", {})
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    try:
        click(duo, '.nav a[href="/"]')
        duo.wait_for_element(f"#{ids.ERROR_BANNER}:not([hidden])", timeout=WAIT)
        wait_text(duo, f"#{ids.ERROR_MESSAGE}", "The explorer server is not answering")
    finally:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {**offline, "offline": False})
        driver.execute_cdp_cmd("Network.disable", {})

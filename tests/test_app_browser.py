"""The explorer end to end in a real headless Chromium (dash[testing]: selenium + Debian's chromedriver).

Two small runs are trained once for the module (seconds), one app server and one browser
serve every test, and each test starts from a fresh browser session. Screenshots go to
``$HARTRACE_ARTIFACTS`` (default ``tests/artifacts/``), one full page per step.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import socket
from pathlib import Path

import pytest

from hartrace.explorer.app import ids
from hartrace.explorer.rows import ClassMetrics

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH") or next(
    (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
)
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:selenium"),  # selenium 4.2 on urllib3 2, once per command
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="the browser tests need Chromium and chromedriver on PATH "
        "(Debian: apt-get install chromium chromium-driver)",
    ),
]

WAIT = 30  # seconds; the first analysis of an image and the first evaluation of a run are the slow steps


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("HARTRACE_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chrome_options():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for argument in (
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    return options


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from hartrace.explorer import ExplorerService
    from tests.conftest_app import make_runs

    runs = make_runs(tmp_path_factory.mktemp("explorer"))
    return ExplorerService(runs_dir=runs)


@pytest.fixture(scope="module")
def server(service, tmp_path_factory):
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    from hartrace.explorer.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns a failure's report
    downloads = tmp_path_factory.mktemp("downloads")
    with (
        ThreadedRunner() as runner,
        DashComposite(
            runner,
            browser="Chrome",
            headless=True,
            options=[chrome_options()],
            download_path=str(downloads),
            percy_run=False,
            wait_timeout=WAIT,
        ) as duo,
    ):
        duo.start_server(create_app(service), port=free_port())
        yield duo


@pytest.fixture
def duo(server):
    """The shared browser, on a fresh session (empty stores) at the Run page."""
    server.wait_for_page(server.server_url)
    server.clear_storage()
    server.wait_for_page(server.server_url)
    server.reset_log_timestamp()
    yield server
    errors = [entry for entry in server.get_logs() if "favicon" not in entry.get("message", "")]
    assert not errors, f"browser console errors: {errors}"


# -- helpers ---------------------------------------------------------------------------------


def settle(duo) -> None:
    """Wait until Dash has no callback in flight."""
    from dash.testing.wait import until

    until(duo._wait_for_callbacks, timeout=WAIT, poll=0.2)


def go(duo, path: str) -> None:
    """Follow a navigation link, as a user does (the session and its stores stay)."""
    click(duo, f'.nav a[href="{path}"]')
    duo.wait_for_contains_class(f'.nav a[href="{path}"]', "active")
    settle(duo)


def snap(duo, name: str) -> Path:
    """A full-page screenshot in the artifacts folder."""
    settle(duo)
    driver = duo.driver
    driver.execute_script("window.scrollTo(0, 0)")  # the sticky bar would otherwise be drawn mid-page
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path = artifacts_dir() / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def stored(duo, store_id: str):
    return duo.get_session_storage(store_id)


def wait_text(duo, selector: str, text: str) -> None:
    duo.wait_for_contains_text(selector, text, timeout=WAIT)


def click(duo, target) -> None:
    """Click an element (or the first match of a selector) after scrolling it to the middle of the window,
    clear of the sticky navigation bar."""
    element = duo.find_element(target) if isinstance(target, str) else target
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def click_graph_point(duo, selector: str) -> None:
    """Move onto a plotly point (a bar), then click, as a mouse does: plotly reports the hovered point."""
    from selenium.webdriver.common.action_chains import ActionChains

    element = duo.find_element(selector)
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    ActionChains(duo.driver).move_to_element(element).pause(0.3).click().perform()


def click_graph_at(duo, graph_id: str, fx: float, fy: float) -> None:
    """Click a fraction (fx, fy) across the plot area of a graph (top left is 0, 0)."""
    from selenium.webdriver.common.action_chains import ActionChains

    area = duo.find_element(f"#{graph_id} .nsewdrag")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", area)
    dx, dy = int(area.size["width"] * (fx - 0.5)), int(area.size["height"] * (fy - 0.5))
    # from the centre: selenium moved the origin of move_to_element_with_offset between versions
    ActionChains(duo.driver).move_to_element(area).move_by_offset(dx, dy).pause(0.3).click().perform()


def css(component_id: str | dict[str, str]) -> str:
    """A CSS selector for a component id; a pattern id is in the page as Dash writes it (JSON, keys sorted)."""
    if isinstance(component_id, dict):
        return "[id='" + json.dumps(component_id, sort_keys=True, separators=(",", ":")) + "']"
    return f"#{component_id}"


def pick_option(duo, dropdown_id: str | dict[str, str], text: str) -> None:
    """Open a dcc.Dropdown and click the first option whose text contains ``text``."""
    from selenium.webdriver.common.by import By

    click(duo, css(dropdown_id))
    menu = duo.find_element(".dash-dropdown-options")
    for option in menu.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
        if option.text.strip() == text or option.text.strip().startswith(text + " "):
            option.click()
            return
    raise AssertionError(f"no option {text!r} in #{dropdown_id}: {menu.text!r}")


def open_first_image(duo) -> str:
    """From the Images page, click the first thumbnail; returns its image id."""
    go(duo, "/images")
    duo.wait_for_element("#images-grid button.thumb", timeout=WAIT)
    click(duo, "#images-grid button.thumb")
    duo.wait_for_contains_class('.nav a[href="/explain"]', "active", timeout=WAIT)
    duo.wait_for_element("#explain-overlay .main-svg image", timeout=WAIT)
    settle(duo)
    return stored(duo, "image-store")


# -- tests -------------------------------------------------------------------------------------


def test_the_app_loads_on_a_trained_run(duo, service):
    wait_text(duo, "#run-summary", "tiny-b")
    assert "tiny-b" in duo.find_element("#run-dropdown").text  # the latest run is the default
    wait_text(duo, "#run-metrics", "accuracy")
    assert len(duo.find_elements("#run-curves .scatterlayer .trace")) == 4  # train/val loss and accuracy
    assert "resnet_small" in duo.find_element("#run-config").text
    assert "tiny-a" in duo.find_element("#run-list").text
    assert stored(duo, "run-store") == "tiny-b"
    snap(duo, "01-run")


def test_picking_an_image_shows_its_prediction_and_cam(duo, service):
    go(duo, "/images")
    duo.wait_for_element("#images-grid button.thumb", timeout=WAIT)
    wait_text(duo, "#images-pager", "page 1 of 2")
    assert len(duo.find_elements("#images-grid button.thumb")) == 12
    snap(duo, "02-images")
    click(duo, "#images-next")
    wait_text(duo, "#images-pager", "page 2 of 2")
    assert len(duo.find_elements("#images-grid button.thumb")) == 15 - 12
    click(duo, "#images-prev")
    wait_text(duo, "#images-pager", "page 1 of 2")
    before = service.forward_passes
    image_id = open_first_image(duo)
    assert image_id and "/explain#run=tiny-b&image=" in duo.driver.current_url  # the view is in the URL
    wait_text(duo, "#explain-caption", "by gradcam at layer4")
    assert duo.find_elements("#explain-original .main-svg image")
    assert len(duo.find_elements("#explain-classes .class-row")) == 15  # every class, one click each
    assert duo.find_elements("#explain-overlay .colorbar")  # the colour scale beside the overlay
    wait_text(duo, "#explain-original .gtitle", "true: ")
    wait_text(duo, "#selection", image_id)
    snap(duo, "03-explain")
    go(duo, "/prediction")
    duo.wait_for_element("#prediction-classes .class-row", timeout=WAIT)
    wait_text(duo, "#prediction-note", "predicted")
    wait_text(duo, "#prediction-note", "true: ")
    assert len(duo.find_elements("#prediction-classes .class-row")) == 15
    snap(duo, "04-prediction")
    assert service.forward_passes - before == 1  # one pass for the new image; the other views reuse it


def test_switching_layer_and_target_class(duo, service):
    open_first_image(duo)
    passes = service.forward_passes
    caption = duo.find_element("#explain-caption").text
    predicted = caption.split("'")[1]
    pick_option(duo, ids.EXPLAIN_LAYER, "layer3")
    wait_text(duo, "#explain-caption", "at layer3")
    assert stored(duo, "layer-store") == "layer3"
    # the least probable class (its bar a sliver) is one click on its row away
    last = duo.find_elements("#explain-classes .class-row")[-1]
    target = last.find_element_by_css_selector(".class-name").text
    assert target != predicted
    click(duo, last)
    from dash.testing.wait import until

    until(lambda: stored(duo, "target-store") == target, timeout=WAIT)
    wait_text(duo, "#explain-caption", f"'{target}'")
    wait_text(duo, "#selection", f"explaining {target}")
    wait_text(duo, "#explain-classes .class-row-explained", target)
    snap(duo, "05-explain-layer3-target")
    click(duo, "#explain-reset")
    wait_text(duo, "#explain-caption", f"'{predicted}'")
    assert service.forward_passes == passes  # layer and class switches reuse the one capture
    # a slow pixel method: computed on demand behind a loading indicator, then kept
    pick_option(duo, ids.EXPLAIN_METHOD, "occlusion (slow)")
    wait_text(duo, "#explain-caption", "by occlusion over the input pixels")
    assert stored(duo, "method-store") == "occlusion"
    snap(duo, "06-explain-occlusion")


def test_inside_the_network(duo, service):
    open_first_image(duo)
    go(duo, "/inside")
    duo.wait_for_element("#inside-grid .heatmaplayer", timeout=WAIT)
    wait_text(duo, "#inside-note", "conv1: output")
    pick_option(duo, "inside-layer", "layer1")
    wait_text(duo, "#inside-note", "layer1: output")
    duo.wait_for_element("#inside-grid .heatmaplayer", timeout=WAIT)
    settle(duo)
    first = duo.find_elements("#inside-grid .annotation-text")[0].text  # "ch N": the most active channel
    click_graph_at(duo, "inside-grid", 0.5, 0.5)  # the middle of the first subplot
    channel = first.split()[1]
    wait_text(duo, "#inside-channel .gtitle", f"layer1 · channel {channel} ")
    wait_text(duo, "#inside-channel-histogram .gtitle", f"channel {channel}: mean")
    assert "has no convolution kernels" in duo.find_element("#inside-kernels").text  # a Sequential holds no kernel
    click(duo, "#inside-flow-button")
    duo.wait_for_element('#inside-flow[src^="data:image/png"]', timeout=WAIT)
    wait_text(duo, "#inside-flow-note", "input → conv1")
    snap(duo, "07-inside-channel")
    pick_option(duo, "inside-layer", "conv1")
    wait_text(duo, "#inside-note", "conv1: output")
    duo.wait_for_element(
        "#inside-kernels .heatmaplayer, #inside-kernels .layer-above image, #inside-kernels image", timeout=WAIT
    )
    snap(duo, "08-inside-conv1-kernels")


def test_confusion_cell_leads_to_an_explanation(duo, service):
    run = service.default_run()
    confusion = service.confusion(run)
    classes, matrix = confusion["classes"], confusion["matrix"]
    n = len(classes)
    # the fullest off-diagonal cell (a confusion), else the fullest cell
    cells = sorted(((matrix[i][j], i != j, i, j) for i in range(n) for j in range(n) if matrix[i][j] > 0), reverse=True)
    _, _, i, j = next((c for c in cells if c[1]), cells[0])
    go(duo, "/evaluation")
    duo.wait_for_element("#eval-matrix .heatmaplayer", timeout=WAIT)
    settle(duo)
    click_graph_at(duo, "eval-matrix", (j + 0.5) / n, (i + 0.5) / n)
    wait_text(duo, "#eval-cell", f"true {classes[i]} → predicted {classes[j]}")
    expected = service.cell_images(run, classes[i], classes[j])
    duo.wait_for_element("#eval-gallery button.thumb", timeout=WAIT)
    assert len(duo.find_elements("#eval-gallery button.thumb")) == len(expected)
    snap(duo, "09-evaluation-cell")
    click(duo, "#eval-gallery button.thumb")
    duo.wait_for_contains_class('.nav a[href="/explain"]', "active", timeout=WAIT)
    duo.wait_for_element("#explain-overlay .main-svg image", timeout=WAIT)
    assert stored(duo, "image-store") == expected[0]["id"]
    wait_text(duo, "#explain-caption", "by gradcam")
    snap(duo, "10-evaluation-to-explain")


def test_a_bad_upload_shows_an_error_and_a_good_one_is_explained(duo, service, tmp_path):
    go(duo, "/images")
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image at all\n")
    duo.find_element("#upload input[type=file]").send_keys(str(bad))
    duo.wait_for_element("#upload-error:not([hidden])", timeout=WAIT)
    wait_text(duo, "#upload-error", "notes.txt: not a readable PNG, JPEG or WebP image")
    assert stored(duo, "image-store") is None
    snap(duo, "11-upload-error")

    huge = tmp_path / "huge.png"
    huge.write_bytes(os.urandom(service.max_upload_bytes + 2**20))
    duo.find_element("#upload input[type=file]").send_keys(str(huge))
    wait_text(duo, "#upload-error", "huge.png: too large")
    assert stored(duo, "image-store") is None

    from PIL import Image

    good = tmp_path / "red square.png"
    Image.new("RGB", (80, 60), (220, 40, 40)).save(good)
    duo.find_element("#upload input[type=file]").send_keys(str(good))
    duo.wait_for_contains_class('.nav a[href="/explain"]', "active", timeout=WAIT)
    duo.wait_for_element("#explain-overlay .main-svg image", timeout=WAIT)
    assert stored(duo, "image-store").startswith("upload:")
    wait_text(duo, "#selection", "uploaded image")
    snap(duo, "12-upload-explained")


def test_compare_two_runs_on_one_image(duo, service):
    open_first_image(duo)
    go(duo, "/compare")
    wait_text(duo, "#compare-panel-a", "tiny-b predicts")
    wait_text(duo, "#compare-panel-b", "tiny-a predicts")
    assert len(duo.find_elements("#compare-panel-a .main-svg image")) >= 1
    assert len(duo.find_elements("#compare-panel-b .main-svg image")) >= 1
    snap(duo, "13-compare")


def shown(row: ClassMetrics) -> str:
    """A table row's text as the browser lays it out (one cell per line)."""
    return "\n".join([row["name"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}"])


def test_the_per_class_table_filters_the_gallery(duo, service):
    run = service.default_run()
    confusion = service.confusion(run)
    classes, counts = confusion["classes"], confusion["counts"]
    wait_text(duo, "#run-summary", run)
    go(duo, "/evaluation")
    duo.wait_for_element("#eval-matrix .heatmaplayer", timeout=WAIT)
    wait_text(duo, "#eval-metrics", "weighted avg")
    settle(duo)

    # every cell says its count; the table has one button per class, and the averages below
    cell_texts = [element.text for element in duo.find_elements("#eval-matrix .heatmaplayer text")]
    assert sorted(int(t) for t in cell_texts) == sorted(n for row in counts for n in row)
    rows = duo.find_elements("#eval-metrics button.metrics-class")
    assert [row.text.split("\n")[0] for row in rows] == classes
    for row, expected in zip(rows, confusion["per_class"], strict=True):
        assert row.text.startswith(shown(expected)) and row.text.endswith(str(expected["support"]))
    assert duo.find_elements("#eval-metrics .metrics-average")[0].text.startswith(shown(confusion["macro_avg"]))

    # a class with a misclassified image: its row lists every image of the class, the wrong ones first
    index = next((i for i in range(len(classes)) if counts[i][i] < sum(counts[i])), 0)
    name, total, right = classes[index], sum(counts[index]), counts[index][index]
    click(duo, rows[index])
    wait_text(duo, "#eval-cell", f"true {name}: {total} image")
    assert f"{total - right} misclassified (shown first)" in duo.find_element("#eval-cell").text
    duo.wait_for_element("#eval-gallery button.thumb", timeout=WAIT)
    tiles = duo.find_elements("#eval-gallery button.thumb")
    assert len(tiles) == total
    wrong = ["thumb-wrong" in tile.get_attribute("class") for tile in tiles]
    assert wrong == [True] * (total - right) + [False] * right
    snap(duo, "eval-01-class-row")

    # a matrix cell still shows its own images
    n = len(classes)
    click_graph_at(duo, "eval-matrix", (index + 0.5) / n, (index + 0.5) / n)
    wait_text(duo, "#eval-cell", f"true {name} → predicted {name} (correct): {right} image")
    assert len(duo.find_elements("#eval-gallery button.thumb")) == right

"""Explorer latency: harnet at 224 px on this machine, server side and in a real browser.

Server side (the page callbacks themselves, as a request runs them):
- New image: what Explain draws for an image not seen before: the original, the overlay (one
  forward pass, then the predicted class's gradients) and the class list (target p95 <= 0.3 s).
- Cached view switch: another class, CAM method or quick layer on an image already analysed,
  with its figure and class list (target p95 <= 0.05 s).
- Load: 20 concurrent sessions x 10 requests; every answer must equal the answer computed
  alone for that image, and memory (max RSS) is reported before and after.

In headless Chromium (skipped when Chromium or chromedriver is missing), the app served by a
threaded server as ``hartrace explore`` serves it:
- Click to CAM: click a class row on Explain until its overlay and caption are drawn (p95 <= 0.8 s).
- Page switch: Explain <-> Prediction with an image loaded, until the page is drawn (p95 <= 0.5 s).
- New image in the browser, idle and while another session's occlusion runs in the background
  pool (the busy median should stay within 1.5x of the idle one).

    python bench/explorer_latency.py [--images 20] [--clicks 15]
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

RUN = "harnet"


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(what: str, values: list[float], target: float) -> str:
    verdict = "ok" if p95(values) <= target else "MISSED"
    return f"{what:<44} {statistics.median(values):>9.3f} {p95(values):>7.3f}  <={target:g} {verdict}"


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def train_harnet(root: Path) -> Path:
    from hartrace.synth import generate
    from hartrace.workflows.train import resolve_config, train

    data = generate(root / "synthetic", per_class=8, test_per_class=1, progress=False).root
    config = resolve_config(
        None,
        data=str(data),
        backbone="harnet",
        weights="none",
        freeze="trunk",
        epochs=1,
        augment=False,
        out=str(root / "checkpoints" / RUN),
    )
    train(config, progress=False, log=lambda m: None)
    return root / "checkpoints"


def server_side(service: Any, ids_: list[str], images: int) -> tuple[list[float], list[float]]:
    """Seconds for each new image, and for each cached view switch, through the Explain page's callbacks."""
    from hartrace.explorer.app.pages import explain

    classes = service.classes(RUN)
    quick = service.cam_layers(RUN)[:2]

    def new_image_views(image_id: str) -> None:  # what a new image redraws on Explain
        explain.show_original(RUN, image_id, service=service)
        explain.show_explanation(RUN, image_id, None, "gradcam", None, 0.5, 0, "bench", service=service)
        explain.show_classes(RUN, image_id, None, service=service)

    def class_switch(image_id: str, target: str | None, method: str, layer: str | None) -> None:
        explain.show_explanation(RUN, image_id, target, method, layer, 0.5, 0, "bench", service=service)
        explain.show_classes(RUN, image_id, target, service=service)  # the class list marks the new class

    def method_or_layer_switch(image_id: str, target: str | None, method: str, layer: str | None) -> None:
        explain.show_explanation(RUN, image_id, target, method, layer, 0.5, 0, "bench", service=service)

    new_image, switches = [], []
    for image_id in ids_[1 : 1 + images]:
        new_image.append(timed(lambda: new_image_views(image_id)))
        probabilities = service.probabilities(RUN, image_id)
        least = classes[int(np.argmin(probabilities))]
        for switch, target, method, layer in (
            (class_switch, least, "gradcam", None),  # the least likely class: its gradients are made on this click
            (method_or_layer_switch, least, "gradcam++", None),
            (method_or_layer_switch, least, "gradcam++", quick[1]),
            (class_switch, classes[3], "layercam", quick[1]),
            (class_switch, None, "hirescam", quick[0]),
        ):
            switches.append(timed(lambda: switch(image_id, target, method, layer)))
    return new_image, switches


def load(root: Path, ids_: list[str]) -> str:
    from hartrace.explorer import ExplorerService

    reference = ExplorerService(root / "checkpoints", cache_size=16)
    expected = {image_id: reference.probabilities(RUN, image_id) for image_id in ids_[:10]}
    classes = reference.classes(RUN)
    service = ExplorerService(root / "checkpoints", cache_size=16)
    service.prediction(RUN, ids_[0])
    before = rss_mb()

    def session(i: int) -> bool:
        ok = True
        for j in range(10):
            image_id = ids_[(i * 3 + j) % 10]
            service.cam(RUN, image_id, target=classes[j % len(classes)])
            ok &= bool(np.allclose(service.probabilities(RUN, image_id), expected[image_id], atol=1e-4))
        return ok

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        correct = list(pool.map(session, range(20)))
    seconds = time.perf_counter() - start
    return (
        f"load: 20 sessions x 10 requests in {seconds:.1f} s, answers correct in {sum(correct)}/20 sessions; "
        f"max RSS {before:.0f} MB before, {rss_mb():.0f} MB after"
    )


# -- in the browser ---------------------------------------------------------------------------


def chromium() -> str | None:
    return next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
    )


def browser(binary: str) -> Any:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.binary_location = binary
    return webdriver.Chrome(options=options)


def settled(driver: Any, until: Callable[[], bool], timeout: float = 60) -> None:
    """Wait for ``until`` and for Dash to have no callback in flight."""
    script = """
        const state = window.store && window.store.getState();
        if (!state) { return false; }
        const callbacks = Object.assign({}, state.callbacks);
        delete callbacks.stored; delete callbacks.completed;
        return [].concat(...Object.values(callbacks)).length === 0;
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if until() and driver.execute_script(script):
                return
        except Exception:  # an element redrawn while being read: look again
            pass
        time.sleep(0.02)
    raise TimeoutError("the page did not settle")


def text_of(driver: Any, selector: str) -> str:
    found = driver.find_elements_by_css_selector(selector)
    return found[0].text if found else ""


def show_image(driver: Any, image_id: str) -> float:
    """Seconds from choosing an image (the URL fragment, as a shared link or the back button) to Explain drawn."""
    start = time.perf_counter()
    driver.execute_script("window.location.hash = arguments[0]", f"run={RUN}&image={image_id.replace('/', '%2F')}")
    settled(
        driver,
        lambda: (
            image_id in text_of(driver, "#explain-original .gtitle") and "by " in text_of(driver, "#explain-caption")
        ),
    )
    return time.perf_counter() - start


def in_the_browser(service: Any, ids_: list[str], clicks: int) -> list[str]:
    from werkzeug.serving import make_server

    from hartrace.explorer.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request would bury the table
    binary = chromium()
    if binary is None or shutil.which("chromedriver") is None:
        return ["browser: skipped (needs Chromium and chromedriver on PATH)"]
    server = make_server("127.0.0.1", 0, create_app(service).server, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = browser(binary)
    try:
        driver.get(f"{url}/explain#run={RUN}&image={ids_[0].replace('/', '%2F')}")
        settled(driver, lambda: "by " in text_of(driver, "#explain-caption"))
        click_to_cam = []
        for i in range(clicks):
            rows = driver.find_elements_by_css_selector("#explain-classes .class-row")
            row_ = rows[(i * 7 + 3) % len(rows)]
            name = row_.find_element_by_css_selector(".class-name").text
            start = time.perf_counter()
            row_.click()
            settled(driver, lambda: f"'{name}'" in text_of(driver, "#explain-caption"))
            click_to_cam.append(time.perf_counter() - start)
        page_switch = []
        for i in range(clicks):
            path, ready = (
                ("/prediction", "#prediction-classes .class-row")
                if i % 2 == 0
                else ("/explain", "#explain-classes .class-row")
            )
            start = time.perf_counter()
            driver.find_element_by_css_selector(f'.nav a[href="{path}"]').click()
            settled(
                driver,
                lambda: (
                    bool(driver.find_elements_by_css_selector(ready))
                    and "by " in (text_of(driver, "#explain-caption") if path == "/explain" else "by ")
                ),
            )
            page_switch.append(time.perf_counter() - start)
        if "/explain" not in driver.current_url:
            driver.find_element_by_css_selector('.nav a[href="/explain"]').click()
            settled(driver, lambda: "by " in text_of(driver, "#explain-caption"))
        idle = [show_image(driver, image_id) for image_id in ids_[1:9]]
        # another session asks for occlusion (its page's request submits this job; that session's browser runs
        # on its user's machine, so it is not started here), and this one keeps opening new images
        job = service.cam_job(RUN, ids_[-1], method="occlusion", owner="another session")
        busy = [show_image(driver, image_id) for image_id in ids_[9:17]]
        still = job is not None and service.job(job["key"])["state"] in ("queued", "running")
        if job is not None:
            service.cancel_job(job["key"], "another session")
    finally:
        driver.quit()
        server.shutdown()
    ratio = statistics.median(busy) / statistics.median(idle)
    return [
        row("click a class row -> its CAM drawn", click_to_cam, 0.8),
        row("page switch Explain <-> Prediction", page_switch, 0.5),
        row("new image in the browser, idle", idle, 1.0),
        row("new image while another session runs occlusion", busy, 1.5),
        f"busy / idle median: {ratio:.2f}x (target <= 1.5x); occlusion still running at the end: {still}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--clicks", type=int, default=15)
    args = parser.parse_args()

    import torch

    from hartrace.explorer import ExplorerService

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train_harnet(root)
        service = ExplorerService(root / "checkpoints", cache_size=64)
        ids_ = [r["id"] for r in service.images(RUN, per_page=1000)["rows"]]
        service.prediction(RUN, ids_[0])  # warm-up: model load, evaluation, allocator
        new_image, switches = server_side(service, ids_, args.images)
        lines = [load(root, ids_)]
        browser_service = ExplorerService(root / "checkpoints", cache_size=64)
        browser_service.prediction(RUN, ids_[0])
        lines += in_the_browser(browser_service, ids_, args.clicks)

    device = (
        "CUDA " + torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    print(f"explorer latency, harnet 224 px, {device}")
    print(f"{'what':<44} {'median s':>9} {'p95 s':>7}  target")
    print(row("new image (pass + CAM + class list + figures)", new_image, 0.3))
    print(row("cached view switch", switches, 0.05))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()

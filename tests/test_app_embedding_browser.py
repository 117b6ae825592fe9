"""The Embedding page end to end in headless Chromium: the background job, the plot, hover and click.

The browser, server and helpers are those of ``test_app_browser`` (its ``server`` and
``duo`` fixtures run here on this module's ``service``); screenshots go to the same
artifacts folder. UMAP's first projection compiles for about 20 s, so the runs here are
laid out by t-SNE (tests/test_explorer_embedding.py covers UMAP).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import PurePosixPath

import pytest

from hartrace.explorer import ExplorerService
from hartrace.explorer import embedding as embedding_module
from tests.test_app_browser import (  # noqa: F401  (duo and server are fixtures used by name)
    WAIT,
    artifacts_dir,
    click,
    duo,
    go,
    pytestmark,
    server,
    settle,
    snap,
    stored,
    wait_text,
)

RUN = "tiny-b"
POINTS = "#embedding-plot .scatterlayer .point"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExplorerService]:
    from tests.conftest_app import make_runs

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "umap", None)  # t-SNE: seconds, not UMAP's first compilation
        yield ExplorerService(runs_dir=make_runs(tmp_path_factory.mktemp("embedding"), per_class=3, image_size=32))


def test_the_embedding_is_computed_in_the_background_and_a_point_opens_its_image(duo, service, monkeypatch):
    from selenium.webdriver.common.action_chains import ActionChains

    release = threading.Event()  # the job waits at its first batch until the test has seen it run
    real = embedding_module.model_outputs

    def held(*args, **kwargs):
        release.wait(4 * WAIT)
        return real(*args, **kwargs)

    monkeypatch.setattr(embedding_module, "model_outputs", held)
    wait_text(duo, "#run-summary", RUN)
    go(duo, "/embedding")
    wait_text(duo, "#embedding-progress", f"Embedding of {RUN} (features, then t-SNE): ")
    assert duo.find_element("#embedding-cancel").is_displayed()
    assert not duo.find_element("#embedding-start").is_displayed()
    snap(duo, "embedding-00-running")
    click(duo, "#embedding-cancel")
    wait_text(duo, "#embedding-progress", "Stopped")
    assert duo.find_element("#embedding-start").is_displayed()
    click(duo, "#embedding-start")  # wanted again before it stopped: the same job goes on
    wait_text(duo, "#embedding-progress", f"Embedding of {RUN}")
    release.set()

    duo.wait_for_element(POINTS, timeout=4 * WAIT)  # the run's first evaluation, the features, the projection
    wait_text(duo, "#embedding-note", "evaluated items")
    embedding = service.embedding(RUN)
    assert len(duo.find_elements(POINTS)) == len(embedding["points"])
    assert (service.runs_dir / RUN / "explore" / "embedding.json").is_file()
    assert not duo.find_element("#embedding-cancel").is_displayed()  # nothing runs any more
    legend = duo.find_element("#embedding-plot .legend").text
    assert all(name in legend for name in {p["true"] for p in embedding["points"]})
    snap(duo, "embedding-01-true-classes")

    click(duo, "#embedding-colour input[value=predicted]")
    wait_text(duo, "#embedding-plot .gtitle", "coloured by predicted class")
    point = duo.find_elements(POINTS)[0]
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", point)
    ActionChains(duo.driver).move_to_element(point).pause(0.3).perform()
    duo.wait_for_element("#embedding-tooltip .embedding-tip img", timeout=WAIT)
    name = duo.find_element("#embedding-tooltip .thumb-caption").text
    wait_text(duo, "#embedding-tooltip .embedding-tip", "predicted ")
    # the window as it is: a full-page capture resizes the page, and the tooltip goes with the hover
    duo.driver.save_screenshot(str(artifacts_dir() / "embedding-02-hover.png"))

    ActionChains(duo.driver).move_to_element(point).pause(0.2).click().perform()
    duo.wait_for_contains_class('.nav a[href="/explain"]', "active", timeout=WAIT)
    duo.wait_for_element("#explain-overlay .main-svg image", timeout=WAIT)
    settle(duo)
    image_id = stored(duo, "image-store")
    assert image_id in {p["id"] for p in embedding["points"]} and PurePosixPath(image_id).name == name
    wait_text(duo, "#selection", image_id)
    snap(duo, "embedding-03-explain")

    go(duo, "/embedding")  # a second visit draws the saved embedding at once, with no job
    duo.wait_for_element(POINTS, timeout=WAIT)
    embeddings = [job.state for job in service.jobs.jobs() if str(job.key) == service.embeddings.job_key(RUN)]
    assert embeddings == ["done"]  # the first visit's job, and no other

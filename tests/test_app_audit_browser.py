"""The Audit page end to end in headless Chromium: a run with an audit, and a run audited while the app runs.

The browser, server and helpers are those of ``test_app_browser`` (its ``server`` and
``duo`` fixtures run here on this module's ``service``); screenshots go to the same
artifacts folder. ``tiny-b`` gets a hand-written audit (two methods, saliency failing
the sanity check); ``tiny-a`` is audited for real by `hartrace audit`'s function.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hartrace.explorer import ExplorerService
from tests.test_app_audit import RELIANCE_IMAGES, counterfactual_report, write_counterfactual
from tests.test_app_browser import (  # noqa: F401  (duo and server are fixtures used by name)
    WAIT,
    duo,
    go,
    pick_option,
    pytestmark,
    server,
    settle,
    snap,
    wait_text,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest_app import make_runs

    runs = make_runs(tmp_path_factory.mktemp("audit-explorer"), per_class=3, image_size=32)
    report = counterfactual_report(curves=True)
    report.update(run=str(runs / "tiny-b"), with_evidence=48, steps=20, cascade_images=16, seconds=212.4)
    # the hand-written reliance rows, on images of the run's dataset: the page shows them as the gallery does
    images = [{**row, "path": path} for row, path in zip(RELIANCE_IMAGES, pictures(runs), strict=False)]
    write_counterfactual(runs / "tiny-b", images, report)
    return runs


def pictures(runs: Path) -> list[str]:
    """Images of tiny-b's dataset, as its index names them."""
    data = Path(yaml.safe_load((runs / "tiny-b" / "config.yaml").read_text())["data"])
    return sorted(path.relative_to(data).as_posix() for path in (data / "train").glob("*.jpg"))


@pytest.fixture(scope="module")
def service(runs: Path) -> ExplorerService:
    return ExplorerService(runs_dir=runs)


def test_the_audit_page_shows_a_runs_audit(duo, runs):
    wait_text(duo, "#run-summary", "tiny-b")
    go(duo, "/audit")
    wait_text(duo, "#audit-table", "saliency")
    assert duo.find_element("#audit-split").text.strip() == "val split"
    wait_text(duo, "#audit-summary", "48 images (48 with evidence)")
    assert len(duo.find_elements("#audit-table tbody tr")) == 2
    assert duo.find_element("#audit-row-gradcam .audit-sanity-passed").text.startswith("passed")
    assert "pointing game within 15 px" in duo.find_element("#audit-table thead").text
    assert "62.5%" in duo.find_element("#audit-row-gradcam").text  # strict
    assert "87.5%" in duo.find_element("#audit-row-gradcam").text  # within 15 px
    assert duo.find_element("#audit-row-saliency .audit-sanity-failed").text.startswith("failed")
    assert "saliency: maps barely change" in duo.find_element("#audit-notice").text
    duo.wait_for_element("#audit-curves .main-svg", timeout=WAIT)
    assert len(duo.find_elements("#audit-curves .scatterlayer .trace")) == 6  # 2 methods + random order, twice
    assert len(duo.find_elements("#audit-cascade .scatterlayer .trace")) == 2
    # 3 classes: the method and the random map, strict and within the tolerance
    assert len(duo.find_elements("#audit-per-class .bars .point")) == 12
    wait_text(duo, "#audit-per-class .gtitle", "gradcam:")
    assert duo.find_element("#audit-worst img").get_attribute("src").startswith("data:image/png;base64,")
    snap(duo, "audit-01-page")

    pick_option(duo, "audit-method", "saliency")
    wait_text(duo, "#audit-per-class .gtitle", "saliency:")
    settle(duo)

    # what the model relies on: the evidence's use per class (4 categories, 2 bars each), then one image's parts
    assert len(duo.find_elements("#audit-evidence .bars .point")) == 8
    wait_text(duo, "#audit-reliance-summary", "running predicted")  # the strip's first image: the running scene
    assert duo.find_element("#audit-reliance-picture img").get_attribute("src").startswith("data:image/jpeg;base64,")
    parts = [tick.text for tick in duo.find_elements("#audit-reliance-chart .ytick text")]
    assert parts == ["legsprediction changes", "arms", "torso"]  # most relied on first; the legs' line 2 says so
    assert len(duo.find_elements("#audit-reliance-chart .bars .point")) == 9  # reliance and two methods, 3 parts
    assert duo.find_element("#audit-strip img").get_attribute("src").startswith("data:image/png;base64,")
    snap(duo, "audit-04-reliance")

    pick_option(duo, "audit-reliance-image", Path(pictures(runs)[0]).name)  # the calling scene
    wait_text(duo, "#audit-reliance-summary", "calling predicted")
    parts = [tick.text for tick in duo.find_elements("#audit-reliance-chart .ytick text")]
    assert parts[:2] == ["phoneprediction changes", "arms"] and len(parts) == 5
    assert len(duo.find_elements("#audit-reliance-chart .bars .point")) == 15


def test_a_run_without_an_audit_then_audited(duo, runs):
    from hartrace.workflows.audit import audit

    pick_option(duo, "run-dropdown", "tiny-a")
    go(duo, "/audit")
    wait_text(duo, "#audit-notice", "hartrace audit --run tiny-a")
    assert not duo.find_element("#audit-body").is_displayed()
    snap(duo, "audit-02-no-audit")

    audit(
        "tiny-a",
        runs_dir=runs,
        methods=("gradcam", "saliency"),
        limit=6,
        steps=5,
        cascade_images=3,
        batch_size=6,
        progress=False,
    )
    duo.driver.refresh()  # the session keeps tiny-a; the page reads the new audit
    wait_text(duo, "#audit-table", "saliency")
    assert "tiny-a" in duo.find_element("#run-dropdown").text
    wait_text(duo, "#audit-summary", "val split · 6 images")
    duo.wait_for_element("#audit-cascade .scatterlayer .trace", timeout=WAIT)
    duo.wait_for_element("#audit-worst img", timeout=WAIT)
    snap(duo, "audit-03-real-audit")

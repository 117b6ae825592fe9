"""The Audit page end to end in headless Chromium: a run with an audit, and a run audited while the app runs.

The browser, server and helpers are those of ``test_app_browser`` (its ``server`` and
``duo`` fixtures run here on this module's ``service``); screenshots go to the same
artifacts folder. ``tiny-b`` gets a hand-written audit (two methods, saliency failing
the sanity check); ``tiny-a`` is audited for real by `hartrace audit`'s function.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hartrace.explorer import ExplorerService
from tests.test_app_audit import audit_report, write_audit
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
    report = audit_report(curves=True)
    report.update(run=str(runs / "tiny-b"), with_evidence=48, steps=20, cascade_images=16, seconds=212.4)
    write_audit(runs / "tiny-b", report=report)
    return runs


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

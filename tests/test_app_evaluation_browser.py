"""The Evaluation page end to end in headless Chromium: counts in the matrix, the per-class table, and a class
row's click filtering the gallery. Screenshots go where ``test_app_browser``'s go."""

from __future__ import annotations

import logging

import pytest

from hartrace.explorer import ExplorerService
from hartrace.explorer.rows import ClassMetrics
from tests.test_app_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    WAIT,
    chrome_options,
    click,
    click_graph_at,
    free_port,
    go,
    settle,
    snap,
    wait_text,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:selenium"),  # selenium 4.2 on urllib3 2, once per command
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="the browser tests need Chromium and chromedriver on PATH "
        "(Debian: apt-get install chromium chromium-driver)",
    ),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ExplorerService:
    from tests.conftest_app import make_runs

    return ExplorerService(runs_dir=make_runs(tmp_path_factory.mktemp("evaluation-explorer")))


@pytest.fixture(scope="module")
def duo(service: ExplorerService, tmp_path_factory: pytest.TempPathFactory):
    """One app server and one headless browser, on a fresh session at the Run page."""
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    from hartrace.explorer.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
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
        duo.start_server(create_app(service), port=free_port())
        duo.wait_for_page(duo.server_url)
        yield duo
        errors = [entry for entry in duo.get_logs() if "favicon" not in entry.get("message", "")]
        assert not errors, f"browser console errors: {errors}"


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

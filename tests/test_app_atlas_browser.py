"""The Atlas page end to end in headless Chromium: a link to one channel opens it, with its top images and concept.

The browser, server and helpers are those of ``test_app_browser`` (its ``server`` and
``duo`` fixtures run here on this module's ``service``); screenshots go to the same
artifacts folder. The run is the session's ``atlas_runs`` (a tiny run with an atlas of
layer3 and layer4, and the feature visualisations of layer3's best units).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from hartrace.explorer import ExplorerService
from hartrace.explorer.app import ids
from hartrace.workflows.atlas import read_atlas
from tests.test_app_browser import (  # noqa: F401  (duo and server are fixtures used by name)
    WAIT,
    click,
    click_graph_at,
    css,
    duo,
    pick_option,
    pytestmark,
    server,
    settle,
    snap,
    wait_text,
)


@pytest.fixture(scope="module")
def service(atlas_runs: Path) -> ExplorerService:
    return ExplorerService(runs_dir=atlas_runs)


NO_ATLAS = "conv1 has no atlas yet: make one with hartrace atlas --run tiny --layers conv1"


def test_a_link_opens_a_channel_of_the_atlas(duo, atlas_runs):
    layer3 = read_atlas(atlas_runs / "tiny", "layer3")
    best, second = sorted(layer3.units, key=lambda unit: -(unit.iou or 0.0))[:2]  # their pictures are made
    duo.wait_for_page(f"{duo.server_url}/atlas?run=tiny&layer=layer3&channel={best.channel}")
    wait_text(duo, f"#{ids.ATLAS_TITLE}", f"layer3 · channel {best.channel} ·")
    assert duo.find_element(f"#{ids.ATLAS_LAYER}").text.strip() == "layer3"
    wait_text(duo, f"#{ids.ATLAS_SUMMARY}", str(best.best_concept) if best.iou else "none")  # IoU 0: no concept
    wait_text(duo, f"#{ids.ATLAS_SUMMARY}", f"{best.iou:.3f}")
    tiles = duo.find_elements(f"#{ids.ATLAS_TOP} img")
    assert len(tiles) == len(best.top) and tiles[0].get_attribute("alt") == best.top[0].item_id
    assert all(tile.get_attribute("src").startswith("data:image/jpeg;base64,") for tile in tiles)
    duo.wait_for_element(f"#{ids.ATLAS_FEATVIS} img[src^='data:image/png']", timeout=WAIT)
    assert len(duo.find_elements(f"#{ids.ATLAS_UNITS} button.atlas-unit")) == min(64, len(layer3.units))
    snap(duo, "atlas-01-channel")

    click(duo, css(ids.atlas_unit(second.channel)))  # another unit of the ranked list
    wait_text(duo, f"#{ids.ATLAS_TITLE}", f"layer3 · channel {second.channel} ·")
    duo.wait_for_element(f"#{ids.ATLAS_FEATVIS} img[src^='data:image/png']", timeout=WAIT)
    settle(duo)
    query = parse_qs(urlparse(duo.driver.current_url).query)  # the URL follows: a reload shows this channel
    assert query == {"run": ["tiny"], "layer": ["layer3"], "channel": [str(second.channel)]}

    # from the Inside page: a clicked channel of layer3 opens in the atlas (layer4 also has one; conv1 does not)
    image = best.top[0].item_id
    duo.wait_for_page(f"{duo.server_url}/inside#run=tiny&image={image}")
    wait_text(duo, "#inside-note", "conv1: output")
    click_graph_at(duo, "inside-grid", 0.5, 0.5)
    wait_text(duo, f"#{ids.INSIDE_ATLAS}", NO_ATLAS)
    pick_option(duo, "inside-layer", "layer3")
    wait_text(duo, "#inside-note", "layer3: output")
    settle(duo)
    channel = duo.find_elements("#inside-grid .annotation-text")[0].text.split()[1]  # "ch N": the most active
    click_graph_at(duo, "inside-grid", 0.5, 0.5)
    wait_text(duo, f"#{ids.INSIDE_ATLAS}", f"open channel {channel} of layer3 in the atlas")
    click(duo, f"#{ids.INSIDE_ATLAS} a")
    wait_text(duo, f"#{ids.ATLAS_TITLE}", f"layer3 · channel {channel} ·")
    assert duo.find_element(".nav a.active").text == "Atlas"

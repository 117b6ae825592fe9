"""The Atlas page: the service over a real run's saved atlas, and the page's callbacks as plain functions."""

from __future__ import annotations

import base64
import io
import shutil
import time
from dataclasses import replace

import numpy as np
import pytest
from dash import dcc, no_update
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.explorer import ExplorerService
from hartrace.explorer.app import ids
from hartrace.explorer.app.pages import atlas, inside
from hartrace.explorer.app.shell import choose_run
from hartrace.explorer.atlas import OUTLINE, framed_region
from hartrace.workflows.atlas import read_atlas
from hartrace.workflows.atlas.featvis import featvis_path
from tests.conftest_app import ATLAS_FEATVIS_UNITS, FakeService, fake_atlas
from tests.test_app_callbacks import find, texts


@pytest.fixture
def service() -> FakeService:
    return FakeService()


def decoded(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def wait_for(service: ExplorerService, key: str, states: tuple[str, ...], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while (row := service.job(key)) is not None and row["state"] not in states and time.monotonic() < deadline:
        time.sleep(0.1)
    assert row is not None
    return row["state"]


# -- the service, on a run with a saved atlas ---------------------------------------------------


def test_the_service_serves_a_runs_atlas_its_framed_images_and_feature_visualisations(atlas_runs):
    service = ExplorerService(atlas_runs)
    run_dir = atlas_runs / "tiny"
    assert service.atlas_layers("tiny") == ["layer3", "layer4"]  # model order
    assert service.atlas_job("tiny") is None  # it has one: nothing to make
    assert service.atlas_command("tiny") == "hartrace atlas --run tiny --layers layer3,layer4"

    layer3 = service.atlas("tiny", "layer3")
    assert layer3 == read_atlas(run_dir, "layer3")  # the rows `hartrace atlas` wrote, as they were written
    assert [unit.channel for unit in layer3.units] == list(range(len(layer3.units))) and len(layer3.units) > 8
    unit = max(layer3.units, key=lambda u: u.iou or 0.0)
    assert unit.best_concept in (layer3.concepts or []) and 0.0 <= (unit.iou or 0.0) <= 1.0
    activations = [t.activation for t in unit.top]  # every val image (15 < the top-k of 16), strongest first
    assert len(activations) == 15 and activations == sorted(activations, reverse=True)

    tiles = service.atlas_tiles("tiny", "layer3", unit.channel, size=64)
    assert len(tiles) == 15 and all(tile.startswith("data:image/jpeg;base64,") for tile in tiles)
    first, top = decoded(tiles[0]), unit.top[0]
    assert max(first.shape[:2]) == 64
    source = np.asarray(Image.open(top.path).convert("RGB"))
    scale = 64 / max(source.shape[:2])
    x0, y0, x1 = (int(v * scale) for v in top.box[:3])
    frame = first[y0, x0 + 2 : x1 - 2].astype(float).mean(axis=0)  # the frame's top edge, in the outline colour
    assert np.abs(frame - OUTLINE).max() < 50, (frame, top.box)
    with pytest.raises(UsageError, match="no channel 9999"):
        service.atlas_tiles("tiny", "layer3", 9999)
    with pytest.raises(UsageError, match="hartrace atlas --run tiny --layers layer2"):
        service.atlas("tiny", "layer2")

    # a cached feature visualisation answers at once; another is made in the background, and stops when let go
    ranked = sorted(layer3.units, key=lambda u: -(u.iou or 0.0))
    cached, missing = ranked[0].channel, ranked[ATLAS_FEATVIS_UNITS].channel
    assert service.feature_visualisation_job("tiny", "layer3", cached) is None
    picture = service.feature_visualisation("tiny", "layer3", cached)
    assert decoded(picture).shape == (32, 32, 3)  # the run's input size
    row = service.feature_visualisation_job("tiny", "layer3", missing, owner="tab")
    assert row is not None and row["state"] in ("queued", "running") and f"channel {missing}" in row["label"]
    with pytest.raises(UsageError, match="not made yet"):
        service.feature_visualisation("tiny", "layer3", missing)
    service.cancel_job(row["key"], "tab")
    assert wait_for(service, row["key"], ("cancelled", "done", "failed")) == "cancelled"
    assert not featvis_path(run_dir, "layer3", missing).exists()


def test_the_atlas_button_makes_the_default_layers_in_the_background(atlas_runs, tmp_path, monkeypatch):
    """The job's work is one call of `hartrace atlas`'s function (that pass is what the fixture ran): its arguments."""
    import hartrace.workflows.atlas as workflow

    calls = []
    monkeypatch.setattr(workflow, "atlas", lambda run, **options: calls.append((run, options)))
    bare = tmp_path / "runs" / "bare"
    shutil.copytree(atlas_runs / "tiny", bare, ignore=shutil.ignore_patterns("atlas"))
    service = ExplorerService(tmp_path / "runs")
    assert service.atlas_layers("bare") == []
    job = service.atlas_job("bare", owner="tab")
    assert job is not None and job["key"] == "atlas|bare" and job["label"] == "atlas of bare"
    assert wait_for(service, job["key"], ("done", "failed", "cancelled")) == "done", service.job(job["key"])
    ((run, options),) = calls
    assert run == bare.resolve() and options["layers"] == ["layer3", "layer4"] and options["workers"] == 0
    assert callable(options["progress"])  # the job's progress: the page shows it, and a cancel stops the pass


def test_the_region_that_fired_is_framed_and_the_rest_dimmed():
    picture = Image.fromarray(np.full((40, 80, 3), 200, dtype=np.uint8))
    framed = framed_region(picture, (20, 10, 60, 30), size=40)  # halved: the box is (10, 5)-(30, 15)
    assert framed.shape == (20, 40, 3)
    assert tuple(framed[5, 10]) == OUTLINE and tuple(framed[14, 29]) == OUTLINE  # corners of the frame
    assert tuple(framed[10, 20]) == (200, 200, 200)  # inside: untouched
    assert framed[1, 1].max() < 100  # outside: dimmed


# -- the page's callbacks, on the fake service -------------------------------------------------


def test_the_page_lists_a_layers_units_by_iou_and_opens_the_best(service):
    options, layer, message, _, notice_hidden, start_hidden, body_hidden = atlas.atlas_layers(
        "new", 0, None, None, service=service
    )
    assert options == [{"label": "layer1", "value": "layer1"}] and layer == "layer1"
    assert (notice_hidden, start_hidden, body_hidden) == (True, True, False)

    units, channel_options, channel, asked = atlas.atlas_units("new", "layer1", None, service=service)
    rows = find(units, lambda c: getattr(c, "id", None) and isinstance(c.id, dict))
    assert [row.id["index"] for row in rows] == [1, 2, 0, 3]  # by IoU; the unit without a concept last
    assert texts(rows[0]).startswith("1phone0.410")
    assert channel_options[0] == {"label": "channel 1 · phone (IoU 0.410)", "value": 1}
    assert channel == 1 and asked is None

    title, summary, top = atlas.atlas_channel("new", "layer1", 1, service=service)
    assert "channel 1" in title and "3 most activating" in title
    assert "phone" in texts(summary) and "0.410" in texts(summary) and "background 0.050" in texts(summary)
    assert "0.520a perfect unit here" in texts(summary) and "67%top images with it" in texts(summary)
    assert len(top) == 3 and texts(top[0]).startswith("#1 · ")
    assert [img.alt for img in find(top, lambda c: type(c).__name__ == "Img")][0] == "train/Image_1.jpg"
    _, summary, _ = atlas.atlas_channel("new", "layer1", 3, service=service)
    assert "none" in texts(summary) and "overlaps no concept" in texts(summary)  # IoU 0: its "best" means nothing
    assert channel_options[-1]["label"] == "channel 3 · no concept (IoU 0.000)" and texts(rows[-1]) == "3—0.0002.3"
    unmapped = replace(fake_atlas(), concepts=None)
    assert "no concept maps" in texts(atlas.summary(unmapped, unmapped.units[1]))
    assert "no channel 42" in atlas.atlas_channel("new", "layer1", 42, service=service)[0]

    row_ids = [ids.atlas_unit(c) for c in (1, 2, 0, 3)]
    assert atlas.pick_unit([0, 1, 0, 0], row_ids, triggered_id=ids.atlas_unit(2)) == 2
    assert atlas.pick_unit([0, 0, 0, 0], row_ids, triggered_id=ids.atlas_unit(2)) is no_update  # just appeared


def test_a_link_opens_its_layer_and_channel_once(service):
    store = find(atlas.layout(layer="layer1", channel="2"), lambda c: getattr(c, "id", None) == ids.ATLAS_ASKED)
    asked = store[0].data
    assert asked == {"layer": "layer1", "channel": 2}
    assert atlas.atlas_layers("new", 0, asked, None, service=service)[1] == "layer1"
    _, _, channel, consumed = atlas.atlas_units("new", "layer1", asked, service=service)
    assert channel == 2 and consumed is None  # later picks are the user's
    assert atlas.asked_view("layer1", "x") == {"layer": "layer1", "channel": None} and atlas.asked_view() is None
    # the run a link names is the session's, when the URL is opened (its #fragment first, as the app writes it)
    assert choose_run(None, "new", "", "?run=old&layer=layer1&channel=2", service=service)[2] == "old"
    assert choose_run(None, "new", "#run=new", "?run=old", service=service)[2] == "new"


def test_a_run_or_layer_without_an_atlas_says_how_to_make_one(service):
    _, layer, message, kind, notice_hidden, start_hidden, body_hidden = atlas.atlas_layers(
        "old", 0, None, None, service=service
    )
    assert layer is None and "hartrace atlas --run old --layers layer1" in texts(message)
    assert (notice_hidden, start_hidden, body_hidden) == (False, False, True) and "info" in kind
    _, layer, message, kind, notice_hidden, _, body_hidden = atlas.atlas_layers(
        "new", 0, {"layer": "layer4", "channel": 3}, None, service=service
    )
    assert layer == "layer1" and "layer4 has no atlas" in texts(message) and "--layers layer4" in texts(message)
    assert "warning" in kind and not notice_hidden and not body_hidden
    assert "no run selected" in atlas.atlas_layers(None, 0, None, None, service=service)[2]

    # the button makes it in the background; once done, the layers are listed again
    key, poll_off, progress, disabled = atlas.start_atlas(1, "old", "tab", service=service)
    assert key == "atlas|old" and not poll_off and disabled and "10%" in str(progress)
    assert atlas.poll_atlas(1, key, 0, service=service)[3] is no_update
    service.finish_job(key)
    assert atlas.poll_atlas(2, key, 0, service=service) == ("", True, False, 1)
    assert atlas.atlas_layers("old", 1, None, None, service=service)[1] == "layer1"


def test_a_channels_feature_visualisation_is_made_in_the_background(service):
    figure, key, poll_off, progress = atlas.atlas_featvis("new", "layer1", 1, 0, None, "tab", service=service)
    assert key == "featvis|new|layer1|1" and not poll_off
    assert "appears here once it is made" in texts(figure) and "50%" in str(progress)
    assert atlas.poll_featvis(1, key, 0, service=service)[2] is no_update
    service.finish_job(key)
    assert atlas.poll_featvis(2, key, 0, service=service) == ("", True, 1)
    picture, key_after, poll_off, _ = atlas.atlas_featvis("new", "layer1", 1, 1, key, "tab", service=service)
    assert picture.src.startswith("data:image/png;base64,") and key_after is None and poll_off
    # opening another channel: this tab stops waiting for the one it showed before
    _, other, _, _ = atlas.atlas_featvis("new", "layer1", 2, 1, None, "tab", service=service)
    atlas.atlas_featvis("new", "layer1", 0, 1, other, "tab", service=service)
    assert ("cancel_job", (other, "tab"), {}) in service.calls


def test_inside_offers_the_clicked_channel_in_the_atlas(service):
    link = inside.atlas_link({"points": [{"customdata": 2}]}, "new", "layer1", service=service)
    assert isinstance(link, dcc.Link) and link.href == "/atlas?run=new&layer=layer1&channel=2"
    assert link.children == "open channel 2 of layer1 in the atlas"
    missing = inside.atlas_link({"points": [{"customdata": 0}]}, "new", "conv1", service=service)
    assert "conv1 has no atlas yet" in texts(missing) and "hartrace atlas --run new --layers conv1" in texts(missing)
    assert inside.atlas_link(None, "new", "layer1", service=service) == []  # no channel clicked (a new layer)
    assert inside.atlas_link({"points": [{"customdata": 1}]}, "new", "fc", service=service) == []  # class scores

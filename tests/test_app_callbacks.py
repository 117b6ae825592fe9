"""The explorer's callbacks, called as plain functions on a fake service (no browser, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dash import no_update

from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import cell_from_click, channel_from_click, clicked_tile
from hartrace.explorer.app.pages import compare, evaluation, explain, images, inside, prediction, run
from hartrace.explorer.app.shell import choose_run, describe_selection, highlight_nav, restore_view, view_from_fragment
from tests.conftest_app import CLASSES, FakeService, figure_message, png_data_uri


@pytest.fixture
def service() -> FakeService:
    return FakeService()


IMAGE = "train/Image_3.jpg"


def texts(component) -> str:
    """All the text inside a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return "".join(texts(c) for c in component)
    return texts(getattr(component, "children", None))


def find(component, predicate) -> list:
    found = []
    if isinstance(component, (list, tuple)):
        for child in component:
            found += find(child, predicate)
    elif hasattr(component, "to_plotly_json"):
        if predicate(component):
            found.append(component)
        found += find(getattr(component, "children", None), predicate)
    return found


# -- the frame ---------------------------------------------------------------------------


def test_choose_run_prefers_the_pick_then_the_session_then_the_latest(service):
    options, value, stored = choose_run(None, None, None, service=service)
    assert [o["value"] for o in options] == ["old", "new"] and "resnet_small" in options[0]["label"]
    assert value == stored == "new"  # nothing chosen yet: the latest run
    assert choose_run(None, "old", None, service=service)[1:] == ("old", "old")  # a reload keeps the session's run
    assert choose_run("old", "new", None, service=service, triggered_id=ids.RUN_DROPDOWN)[1:] == ("old", "old")
    assert choose_run(None, "deleted-run", None, service=service)[2] == "new"
    assert choose_run(None, "new", "#run=old&image=x", service=service)[2] == "old"  # an opened URL names the run
    assert choose_run(None, "new", "#run=gone", service=service)[2] == "new"


def test_a_url_names_the_view():
    fragment = "#run=new&image=train%2FImage_3.jpg&class=running&method=gradcam%2B%2B&layer=layer3&x=1"
    assert view_from_fragment(fragment) == {
        "run": "new",
        "image": "train/Image_3.jpg",
        "class": "running",
        "method": "gradcam++",
        "layer": "layer3",
    }
    assert restore_view(fragment) == ("train/Image_3.jpg", "running", "gradcam++", "layer3")
    assert restore_view("#run=new&image=a.jpg") == ("a.jpg", None, no_update, no_update)  # no class: the prediction
    assert restore_view("") == (no_update,) * 4 and restore_view(None) == (no_update,) * 4


def test_no_runs_at_all():
    service = FakeService(runs=())
    assert choose_run(None, None, None, service=service) == ([], None, None)
    assert "train one" in texts(describe_selection(None, None, None, service=service))
    summary, metrics, *_ = run.show_run(None, service=service)
    assert "No run found" in texts(summary) and metrics == []


def test_the_active_page_is_highlighted():
    links = [ids.nav_link(p) for p in ("/", "/images", "/explain")]
    assert highlight_nav("/explain", links) == ["nav-link", "nav-link", "nav-link active"]
    assert highlight_nav(None, links)[0] == "nav-link active"


def test_the_selection_bar(service):
    assert "Pick one on the Images page" in texts(describe_selection("new", None, None, service=service))
    chosen = describe_selection("new", IMAGE, "running", service=service)
    assert IMAGE in texts(chosen) and "running" in texts(chosen)
    assert "unknown image" in texts(describe_selection("new", "train/nope.jpg", None, service=service))


# -- Run -----------------------------------------------------------------------------------


def test_run_page_shows_config_curves_and_metrics(service):
    summary, metrics, curves, config, listing = run.show_run("new", service=service)
    assert "new" in texts(summary) and "2 epochs" in texts(summary)
    assert "50.0%" in texts(metrics) and "weighted F1" in texts(metrics)
    assert {trace.name for trace in curves.data} >= {"train loss", "val loss", "train accuracy", "val accuracy"}
    assert "backbone" in texts(config) and "resnet_small" in texts(config)
    assert "old" in texts(listing) and "new" in texts(listing)
    assert "unknown run" in texts(run.show_run("gone", service=service)[0])


def test_a_first_evaluation_shows_its_progress_and_the_pages_wait(service):
    from hartrace.explorer.app.shell import cancel_evaluation, poll_evaluation, start_evaluation

    assert start_evaluation("new", "tab", service=service) == (None, True, True, "", "new")  # evaluated: ready
    service.unevaluated.add("old")
    key, poll_off, hidden, progress, evaluated = start_evaluation("old", "tab", service=service)
    assert key == "evaluate|old" and (poll_off, hidden, evaluated) == (False, False, None)
    assert "50%" in str(progress)
    assert "Waiting for the run's evaluation" in images.show_images(None, {}, service=service)[4]
    assert "waiting for the run's evaluation" in figure_message(evaluation.show_confusion(None, service=service)[0])
    text, poll_off, hidden, evaluated = poll_evaluation(1, key, "old", service=service)
    assert (poll_off, hidden, evaluated) == (False, False, no_update) and "50%" in str(text)
    service.finish_job(key)
    assert poll_evaluation(2, key, "old", service=service) == ("", True, True, "old")  # the pages draw now
    service.job_rows[key].update(state="running")
    assert cancel_evaluation(1, key, "tab", service=service) == (
        "evaluation cancelled: pick the run again to restart it",
        True,
    )
    assert ("cancel_job", (key, "tab"), {}) in service.calls


# -- Images --------------------------------------------------------------------------------


def test_filters_offer_the_run_classes_and_keep_the_session_filters(service):
    state = {"label": "running", "predicted": "not-a-class", "misclassified_first": True, "page": 2}
    label_options, label, predicted_options, predicted, first = images.image_filters("new", state, service=service)
    assert label_options == predicted_options == CLASSES
    assert (label, predicted, first) == ("running", None, [images.MISCLASSIFIED_FIRST])


def test_pagination_state():
    state = {"label": None, "predicted": None, "misclassified_first": False, "page": 1}
    turn = images.update_images_state
    assert turn(None, None, [], 0, 1, state, triggered_id=ids.IMAGES_NEXT)["page"] == 2
    assert turn(None, None, [], 1, 0, state, triggered_id=ids.IMAGES_PREV)["page"] == 0
    assert turn(None, None, [], 1, 0, {**state, "page": 0}, triggered_id=ids.IMAGES_PREV) is no_update
    filtered = turn("running", None, [], 0, 0, state, triggered_id=ids.IMAGES_LABEL)
    assert filtered == {"label": "running", "predicted": None, "misclassified_first": False, "page": 0}
    assert turn(None, None, [], 0, 0, state, triggered_id=None) is no_update  # the page loading: nothing changed
    assert turn(None, None, [], 0, 0, None)["page"] == 0  # a fresh session gets the defaults
    # pages turn from the page shown, even when the session asked for one past the end (a run with fewer images)
    assert turn(None, None, [], 1, 0, {**state, "page": 9}, 2, triggered_id=ids.IMAGES_PREV)["page"] == 1


def test_thumbnails_are_paginated_and_filtered(service):
    grid, pager, prev_disabled, next_disabled, error, error_hidden, shown = images.show_images(
        "new", None, service=service
    )
    assert len(grid) == images.PER_PAGE and pager == "page 1 of 3 · 30 images" and shown == 0
    assert prev_disabled and not next_disabled and error_hidden
    assert grid[0].id == ids.thumb("train/Image_0.jpg") and "Image_0.jpg" in texts(grid[0])
    last = images.show_images("new", {"page": 2}, service=service)
    assert (
        len(last[0]) == 30 - 2 * images.PER_PAGE
        and last[1].startswith("page 3 of 3")
        and last[2] is False
        and last[3] is True
    )
    assert (
        images.show_images("new", {"page": 9}, service=service)[-1] == 2
    )  # past the end: the service shows the last page
    filtered = images.show_images("new", {"label": "running", "misclassified_first": True}, service=service)
    asked = service.calls[-1][2]
    assert asked == {
        "label": "running",
        "predicted": None,
        "misclassified_first": True,
        "page": 0,
        "per_page": images.PER_PAGE,
    }
    assert all("running →" in texts(tile) for tile in filtered[0])
    empty = images.show_images("new", {"label": "running", "predicted": "nothing"}, service=service)
    assert "No image matches" in texts(empty[0])


def test_clicking_a_thumbnail_selects_it_and_opens_explain():
    tiles = [ids.thumb("a.jpg"), ids.thumb("b.jpg")]
    assert images.select_thumbnail([0, 1], tiles, triggered_id=ids.thumb("b.jpg")) == ("b.jpg", None, "/explain")
    # tiles that just appeared (a new page) fire the callback without a click: nothing happens
    assert images.select_thumbnail([0, 0], tiles, triggered_id=ids.thumb("a.jpg")) == (no_update,) * 3
    assert clicked_tile([1], tiles[:1], None) is None


def test_a_bad_upload_shows_its_error_and_keeps_the_selection(service):
    message, hidden, image, target, path = images.upload_image(
        "data:text/plain;base64,aGk=", "notes.txt", "new", service=service
    )
    assert "notes.txt: not a readable PNG, JPEG or WebP image" == message and hidden is False
    assert (image, target, path) == (no_update,) * 3
    message, hidden, image, target, path = images.upload_image(png_data_uri(), "red.png", "new", service=service)
    assert (message, hidden, target, path) == ("", True, None, "/explain") and image.startswith("upload:")
    assert images.upload_image(None, None, "new", service=service) == (no_update,) * 5
    assert images.upload_image(png_data_uri(), "red.png", None, service=service)[1] is False


# -- Prediction ----------------------------------------------------------------------------


def rows_of(class_list) -> list[tuple[str, str]]:
    """(class, css classes) of each row of a class list, in order."""
    return [(row.id["index"], row.className) for row in class_list.children if getattr(row, "id", None)]


def test_prediction_lists_every_class_with_the_truth(service):
    picture, classes, note = prediction.show_prediction("new", IMAGE, None, 0, service=service)
    rows = rows_of(classes)
    assert [name for name, _ in rows] == ["clapping", "calling", "running"]  # every class, most probable first
    assert "class-row-explained" in rows[0][1]  # no target: the prediction is the one explained
    text = " ".join(str(part) for part in note)
    assert "clapping (70.0%)" in text and "true: " in text and "calling" in text  # IMAGE's label is calling
    _, classes, note = prediction.show_prediction("new", IMAGE, "running", 2, service=service)
    rows = rows_of(classes)
    assert [name for name, _ in rows] == ["clapping", "calling"] and "1 more classes" in str(classes.children[-1])
    assert not any("explained" in css for _, css in rows)  # running is not among the top 2 shown
    assert picture.data[0].type == "image" and picture.data[0].source.startswith("data:image/png;base64,")
    empty_image, empty_rows, _ = prediction.show_prediction("new", None, None, 5, service=service)
    assert "no image selected" in empty_rows.children


def test_clicking_a_class_row_sets_the_target_class():
    row_ids = [ids.class_pick("prediction", name) for name in ("clapping", "calling", "running")]
    clicked = ids.class_pick("prediction", "running")
    assert prediction.pick_target([0, 0, 1], row_ids, triggered_id=clicked) == "running"
    assert prediction.pick_target([0, 0, 0], row_ids, triggered_id=clicked) is no_update  # just drawn, not clicked
    explain_ids = [ids.class_pick("explain", name) for name in ("clapping", "calling", "running")]
    assert explain.pick_explain_target([0, 1, 0], explain_ids, triggered_id=explain_ids[1]) == "calling"
    assert explain.pick_explain_target([0, 0, 0], explain_ids, triggered_id=None) is no_update


def test_a_one_percent_class_is_a_full_width_row(service):
    """The tiniest probability still gets a row the width of the card: one click explains it."""
    from hartrace.explorer.app.components.classes import class_list

    listing = class_list("explain", [0.996, 0.004], ["sure", "unlikely"], explained=None, true_class="unlikely")
    sure, unlikely = listing.children
    assert unlikely.id == ids.class_pick("explain", "unlikely") and unlikely.n_clicks == 0
    label = unlikely.children[0].children
    tags = [c.children for c in label if "class-tag" in (getattr(c, "className", "") or "")]
    assert tags == ["true"] and "0.4%" in unlikely.children[-1].children


def test_explain_controls_keep_valid_choices(service):
    methods, method, layers, layer, disabled, kept_method, kept_layer = explain.explain_controls(
        "new", "occlusion", "layer3", [None], [None], service=service
    )
    assert {"label": "occlusion (slow)", "value": "occlusion"} in methods[0] and method == ["occlusion"]
    assert [o["value"] for o in layers[0]] == ["layer4", "layer3"] and layers[0][0]["label"] == "layer4 (default)"
    assert layer == ["layer3"] and disabled == [True]  # occlusion attributes to pixels: the layer does not apply
    assert (kept_method, kept_layer) == (no_update, no_update)  # the session's choice stands
    _, method, _, layer, disabled, kept_method, kept_layer = explain.explain_controls(
        "new", "gone", "layer9", [None], [None], service=service
    )
    assert (method, layer, disabled) == (["gradcam"], ["layer4"], [False])
    assert (kept_method, kept_layer) == ("gradcam", "layer4")  # what no longer applies is replaced
    picked = explain.explain_controls(
        "new", "gradcam", "layer4", ["gradcam++"], ["layer4"], service=service, triggered_id=ids.EXPLAIN_METHOD
    )
    assert picked[1] == ["gradcam++"] and picked[5] == "gradcam++"  # a pick is shown and remembered
    off_page = explain.explain_controls("new", "gradcam++", "layer3", [], [], service=service)
    assert off_page[:5] == ([], [], [], [], []) and off_page[5:] == (no_update, no_update)


def test_explanation_asks_the_service_for_the_chosen_map(service):
    fig, caption, job, poll_off, _, box_hidden = explain.show_explanation(
        "new", IMAGE, "running", "gradcam++", "layer3", 0.3, 0, "tab", service=service
    )
    assert ("cam", ("new", IMAGE), {"method": "gradcam++", "layer": "layer3", "target": "running"}) in service.calls
    assert fig.data[0].type == "image" and "running" in fig.layout.title.text
    assert fig.data[1].showscale is not False  # the colour scale beside the overlay
    assert "'running'" in caption and "gradcam++ at layer3" in caption
    assert (job, poll_off, box_hidden) == (None, True, True)
    _, caption, *_ = explain.show_explanation("new", IMAGE, None, None, None, None, 0, "tab", service=service)
    assert ("cam", ("new", IMAGE), {"method": "gradcam", "layer": "layer4", "target": None}) in service.calls
    assert "'clapping'" in caption and "its prediction" in caption
    error, caption, *_ = explain.show_explanation(
        "new", IMAGE, "flying", "gradcam", "layer4", 0.5, 0, "tab", service=service
    )
    assert "unknown class 'flying'" in figure_message(error) and caption == ""
    assert service.forward_passes == 1  # one image: the fake counts one analysis, whatever was asked of it


def test_a_slow_method_runs_in_the_background_with_progress_and_cancel(service):
    fig, caption, job, poll_off, progress, box_hidden = explain.show_explanation(
        "new", IMAGE, None, "occlusion", "layer4", 0.5, 0, "tab", service=service
    )
    assert job and poll_off is False and box_hidden is False  # answered at once, polling starts
    assert "background" in figure_message(fig) and "25%" in str(progress)
    assert not any(c[0] == "cam" for c in service.calls)  # the slow map is not made in the request
    progress, poll_off, ready = explain.poll_job(1, job, 0, service=service)
    assert "25%" in str(progress) and poll_off is False and ready is no_update
    service.finish_job(job)
    progress, poll_off, ready = explain.poll_job(2, job, 0, service=service)
    assert (progress, poll_off, ready) == ("", True, 1)  # done: the overlay is asked for again
    fig, caption, job_after, *_ = explain.show_explanation(
        "new", IMAGE, None, "occlusion", "layer4", 0.5, ready, "tab", service=service
    )
    assert job_after is None and "over the input pixels" in caption and fig.data[0].type == "image"
    _, _, other, *_ = explain.show_explanation(
        "new", IMAGE, "running", "occlusion", None, 0.5, 0, "tab", service=service
    )
    assert explain.cancel_job(1, other, "tab", service=service)[1] is True
    assert ("cancel_job", (other, "tab"), {}) in service.calls
    assert service.job(other)["state"] == "cancelled"


def test_explain_class_list_and_reset(service):
    listing = explain.show_classes("new", IMAGE, "calling", service=service)
    rows = dict(rows_of(listing))
    assert "class-row-explained" in rows["calling"] and len(rows) == 3
    assert explain.reset_target(1) is None and explain.reset_target(0) is no_update
    original = explain.show_original("new", IMAGE, service=service)
    assert original.data[0].type == "image" and "true: calling" in original.layout.title.text


def test_methods_grid_shows_every_fast_method_and_the_slow_ones_made(service):
    from hartrace.explorer.app.pages import methods

    tiles, note = methods.show_methods("new", IMAGE, "running", "layer3", service=service)
    titles = [tile.children[0].children for tile in tiles]
    assert titles == ["image", "gradcam", "gradcam++", "occlusion"]
    assert all(tile.children[1].src.startswith("data:image/png;base64,") for tile in tiles[:3])
    assert "not computed yet" in str(tiles[3].children[1].children)  # nothing slow is started from here
    assert not any(c[0] == "cam_job" for c in service.calls) and "'running'" in note
    cams = [c for c in service.calls if c[0] == "cam"]
    assert [c[2]["method"] for c in cams] == ["gradcam", "gradcam++"]
    assert all(c[2]["target"] == "running" and c[2]["layer"] == "layer3" for c in cams)
    service.cam_job("new", IMAGE, method="occlusion", target="running")
    service.finish_job(f"cam|new|{IMAGE}|occlusion|running")
    tiles, _ = methods.show_methods("new", IMAGE, "running", "layer3", service=service)
    assert tiles[3].children[1].src.startswith("data:image/png") and "input pixels" in str(tiles[3])
    scale = methods.colour_scale()  # one colour scale for the grid, Explain's colours from blue to red
    assert "rgb(0,0,128) 0%" in scale.children[1].style["background"] and "rgb(128,0,0) 100%" in str(scale)
    assert methods.show_methods("new", None, None, None, service=service) == (
        [],
        "no image selected: pick one on the Images page",
    )


# -- Inside the network ----------------------------------------------------------------------


def test_layer_picker_follows_the_tree(service):
    options, layer, flow_options, flow = inside.inside_controls("new", None, service=service)
    labels = {o["value"]: o["label"] for o in options}
    assert labels["conv1"].startswith("conv1 · Conv2d · 4×8×8")
    assert labels["layer1.0"].startswith(inside.INDENT * 2 + "layer1.0")
    assert labels["layer1.0.conv1"].startswith(inside.INDENT * 4 + "layer1.0.conv1")
    assert layer == "conv1" and flow == ["conv1", "layer1"]
    assert [o["value"] for o in flow_options] == [o["value"] for o in options]
    _, layer, _, flow = inside.inside_controls(
        "new", {"layer": "layer1.0.conv1", "flow": ["fc", "gone"]}, service=service
    )
    assert layer == "layer1.0.conv1" and flow == ["fc"]
    assert inside.remember_probe("relu", ["conv1"]) == {"layer": "relu", "flow": ["conv1"]}


def test_layer_views(service):
    grid, click, histogram, kernels, note = inside.show_layer("new", IMAGE, "conv1", service=service)
    assert click is None  # a new layer clears the picked channel
    assert {trace.name for trace in grid.data} == {"ch 0", "ch 1", "ch 2", "ch 3"}
    assert histogram.data[0].type == "bar" and "mean" in histogram.layout.annotations[0].text
    assert len(kernels.data) == 4 and "4×8×8" in note
    _, _, _, kernels, _ = inside.show_layer("new", IMAGE, "relu", service=service)
    assert "no convolution kernels" in kernels.layout.annotations[0].text
    grid, *_ = inside.show_layer("new", IMAGE, "fc", service=service)
    assert grid.data[0].type == "bar"  # a vector layer: its features as bars


def test_clicking_a_channel_enlarges_it(service):
    grid, *_ = inside.show_layer("new", IMAGE, "conv1", service=service)
    heatmap = next(trace for trace in grid.data if trace.name == "ch 2")
    click = {"points": [{"curveNumber": 1, "x": 3, "y": 4, "z": 1.0, "customdata": int(heatmap.customdata[4][3])}]}
    assert channel_from_click(click) == 2
    enlarged, histogram = inside.show_channel(click, "new", IMAGE, "conv1", service=service)
    assert enlarged.data[0].z.shape == (8, 8) and "channel 2" in enlarged.layout.title.text
    assert int(sum(histogram.data[0].y)) == 64 and "channel 2" in histogram.layout.title.text
    placeholder, _ = inside.show_channel(None, "new", IMAGE, "conv1", service=service)
    assert inside.PICK_A_CHANNEL in figure_message(placeholder)
    vector, _ = inside.show_channel({"points": [{"customdata": 1}]}, "new", IMAGE, "fc", service=service)
    assert "no channel maps" in vector.layout.annotations[0].text


def test_flow_is_drawn_in_model_order(service):
    src, note = inside.draw_flow(1, "new", IMAGE, ["layer1", "conv1"], service=service)
    assert src.startswith("data:image/png;base64,")
    assert service.calls[-1] == ("flow_png", ("new", IMAGE, ["conv1", "layer1"]), {})
    assert note == "input → conv1 → layer1 → prediction"
    assert inside.draw_flow(1, "new", None, ["conv1"], service=service)[0] is no_update


# -- Evaluation ----------------------------------------------------------------------------


def test_confusion_click_shows_the_cell_gallery_and_opens_explain(service):
    fig, click = evaluation.show_confusion("new", service=service)
    assert fig.data[0].type == "heatmap" and list(fig.data[0].x) == CLASSES and click is None
    cell = {"points": [{"x": "clapping", "y": "calling", "z": 0.5, "curveNumber": 0}]}
    assert cell_from_click(cell) == ("calling", "clapping")
    title, gallery = evaluation.show_cell(cell, "new", service=service)
    expected = service.cell_images("new", "calling", "clapping")
    assert title == f"true calling → predicted clapping (confused): {len(expected)} images"
    assert [tile.id for tile in gallery] == [ids.gallery_thumb(r["id"]) for r in expected]
    chosen = expected[1]["id"]
    tiles = [tile.id for tile in gallery]
    clicks = [0] * len(tiles)
    clicks[1] = 1
    assert evaluation.open_from_gallery(clicks, tiles, triggered_id=ids.gallery_thumb(chosen)) == (
        chosen,
        None,
        "/explain",
    )
    title, gallery = evaluation.show_cell({"points": [{"x": "calling", "y": "clapping"}]}, "new", service=service)
    assert "0 images" in title and "No validation image" in texts(gallery)
    assert evaluation.show_cell(None, "new", service=service) == (evaluation.PICK_A_CELL, [])


# -- Compare -------------------------------------------------------------------------------


def test_compare_two_runs(service):
    options, a, _, b = compare.compare_controls("new", None, service=service)
    assert (a, b) == ("new", "old") and len(options) == 2
    # run A is always the top run picker's; run B is the session's pick
    assert compare.compare_controls("new", {"a": "old", "b": "new"}, service=service)[1::2] == ("new", "new")
    panel = compare.compare_panel(service, "old", IMAGE, "running", "gradcam")
    assert "old predicts clapping (70.0%)" in texts(panel)
    assert len(find(panel, lambda c: type(c).__name__ == "Graph")) == 2
    assert "no image selected" in texts(compare.compare_panel(service, "old", None, None, None))
    assert "unknown run" in texts(compare.show_compare_b("gone", IMAGE, None, None, service=service))
    compare.compare_panel(service, "old", IMAGE, None, "occlusion")  # a slow method would hold both panels
    assert [c[2]["method"] for c in service.calls if c[0] == "cam"][-1] == "gradcam"


# -- the app as a whole ----------------------------------------------------------------------


def test_the_app_serves_its_layout_and_callbacks(service):
    from hartrace.explorer.app import create_app

    app = create_app(service, title="test explorer")
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/explain").status_code == 200
    layout = client.get("/_dash-layout").get_json()
    assert ids.RUN_STORE in json.dumps(layout)
    dependencies = client.get("/_dash-dependencies").get_json()
    outputs = " ".join(d["output"] for d in dependencies)
    for component_id in (
        ids.RUN_STORE,
        ids.IMAGE_STORE,
        ids.TARGET_STORE,
        ids.EXPLAIN_OVERLAY,
        ids.EVAL_GALLERY,
        ids.UPLOAD_ERROR,
    ):
        assert component_id in outputs
    # a callback through HTTP, with the service bound in by the app
    body = {
        "output": f"..{ids.RUN_DROPDOWN}.options...{ids.RUN_DROPDOWN}.value...{ids.RUN_STORE}.data..",
        "outputs": [
            {"id": ids.RUN_DROPDOWN, "property": "options"},
            {"id": ids.RUN_DROPDOWN, "property": "value"},
            {"id": ids.RUN_STORE, "property": "data"},
        ],
        "inputs": [{"id": ids.RUN_DROPDOWN, "property": "value", "value": None}],
        "state": [
            {"id": ids.RUN_STORE, "property": "data", "value": "old"},
            {"id": ids.URL, "property": "hash", "value": ""},
            {"id": ids.URL, "property": "search", "value": ""},
        ],
        "changedPropIds": [],
    }
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.data
    assert answer.get_json()["response"][ids.RUN_STORE]["data"] == "old"
    # request bodies are bounded: an upload far past the service's limit never reaches memory whole
    assert 5 * 2**20 < app.server.config["MAX_CONTENT_LENGTH"] < 32 * 2**20
    huge = client.post(
        "/_dash-update-component",
        data=b"x" * (app.server.config["MAX_CONTENT_LENGTH"] + 1),
        content_type="application/json",
    )
    assert huge.status_code == 413


def test_callbacks_stay_plain_functions():
    from hartrace.explorer.app import shell
    from hartrace.explorer.app.pages import modules

    for module in [*modules(), shell]:
        for spec in module.callback.specs:
            if spec.clientside:  # runs in the browser: its function lives in the app's assets
                script = (Path(shell.__file__).parent / "assets" / "url-state.js").read_text()
                assert f"{spec.function.function_name}: function" in script
                continue
            assert getattr(module, spec.function.__name__) is spec.function
    assert [m.PATH for m in modules()] == [
        "/",
        "/images",
        "/prediction",
        "/explain",
        "/methods",
        "/video",
        "/inside",
        "/atlas",
        "/evaluation",
        "/embedding",
        "/audit",
        "/compare",
    ]

"""The Evaluation page's counts and per-class table (checked against scikit-learn), its class filter, Compare's
run A, and the classifier's outputs named by class on Inside the network.

Callbacks are called as plain functions, on the fake service and on a small trained run.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from dash import no_update
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support

from hartrace.explorer import ExplorerService
from hartrace.explorer.app import ids
from hartrace.explorer.app.pages import compare, evaluation, inside
from tests.conftest_app import CLASSES, FakeService
from tests.test_app_callbacks import find, texts

IMAGE = "train/Image_3.jpg"


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> ExplorerService:
    from tests.conftest_app import make_runs

    return ExplorerService(make_runs(tmp_path_factory.mktemp("evaluation"), per_class=3, image_size=32))


def table_rows(children) -> dict[str, list[str]]:
    """The per-class table as the page shows it: each row's cells' text, keyed by its first cell."""
    rows = find(children, lambda c: "metrics-row" in (getattr(c, "className", "") or ""))
    cells = [[texts(span) for span in row.children] for row in rows]
    return {row[0]: row[1:] for row in cells}


def expected_rows(truth: list[str], predicted: list[str], classes: list[str]) -> dict[str, list[str]]:
    """scikit-learn's classification report, written as the table writes it."""
    report = classification_report(truth, predicted, labels=classes, output_dict=True, zero_division=0)
    return {
        name: [f"{report[name][k]:.3f}" for k in ("precision", "recall", "f1-score")]
        + [str(int(report[name]["support"]))]
        for name in [*classes, "macro avg", "weighted avg"]
    }


def clicked(row_ids: list[dict[str, str]], name: str) -> tuple[list[int], dict[str, str]]:
    """n_clicks of every class row after one click on ``name``'s, and the id Dash reports as the trigger."""
    return [int(i == ids.eval_class_row(name)) for i in row_ids], ids.eval_class_row(name)


# -- the fake service: the page's numbers are scikit-learn's ----------------------------------


def test_the_matrix_shows_counts_coloured_by_the_row_fraction(fake):
    truth = [r["true"] for r in fake.rows]
    predicted = [r["predicted"] for r in fake.rows]
    figure, click = evaluation.show_confusion("new", service=fake)
    heatmap = figure.data[0]
    assert click is None and list(heatmap.x) == list(heatmap.y) == CLASSES
    np.testing.assert_array_equal(np.asarray(heatmap.text), confusion_matrix(truth, predicted, labels=CLASSES))
    np.testing.assert_allclose(
        np.asarray(heatmap.z), confusion_matrix(truth, predicted, labels=CLASSES, normalize="true")
    )
    assert heatmap.texttemplate == "%{text}" and (heatmap.zmin, heatmap.zmax) == (0, 1)
    assert "%{text} (%{z:.1%} of true %{y})" in heatmap.hovertemplate


def test_the_table_equals_scikit_learns_report(fake):
    truth = [r["true"] for r in fake.rows]
    predicted = [r["predicted"] for r in fake.rows]
    shown = evaluation.show_metrics("new", service=fake)
    rows = table_rows(shown)
    assert rows.pop("class") == ["precision", "recall", "F1", "support"]
    assert rows == expected_rows(truth, predicted, CLASSES)
    accuracy = np.mean(np.array(truth) == np.array(predicted))
    assert f"accuracy {100 * accuracy:.1f}% on 30 images" in texts(shown)
    buttons = find(shown, lambda c: type(c).__name__ == "Button")
    assert [b.id for b in buttons] == [ids.eval_class_row(name) for name in CLASSES], "one button per class row"
    assert "waiting for the run's evaluation" in texts(evaluation.show_metrics(None, service=fake))
    assert "unknown run 'gone'" in texts(evaluation.show_metrics("gone", service=fake))


def test_clicking_a_class_row_shows_its_images_misclassified_first(fake):
    row_ids = [ids.eval_class_row(name) for name in CLASSES]
    clicks, trigger = clicked(row_ids, "clapping")
    title, gallery = evaluation.show_class(clicks, row_ids, "new", service=fake, triggered_id=trigger)
    clapping = [r for r in fake.rows if r["true"] == "clapping"]
    wrong = [r for r in clapping if not r["correct"]]
    assert wrong and len(wrong) < len(clapping)
    assert title == f"true clapping: {len(clapping)} images, {len(wrong)} misclassified (shown first)"
    shown = [tile.id["index"] for tile in gallery]
    assert sorted(shown) == sorted(r["id"] for r in clapping)
    assert shown[: len(wrong)] == [r["id"] for r in wrong]
    # rows that just appeared (a new run's table) fire the callback unclicked: the gallery stays
    assert evaluation.show_class([0, 0, 0], row_ids, "new", service=fake, triggered_id=trigger) == (no_update,) * 2
    # a matrix cell still shows its own cell afterwards
    cell = {"points": [{"x": "running", "y": "clapping"}]}
    assert evaluation.show_cell(cell, "new", service=fake)[0].startswith("true clapping → predicted running")


# -- a real trained run -------------------------------------------------------------------------


def evaluated_predictions(service: ExplorerService, run: str) -> tuple[list[str], list[str], list[str]]:
    """True and predicted classes as `hartrace evaluate` wrote them to predictions.csv, and its classes."""
    (path,) = (service.runs_dir / run / "eval").glob("*/predictions.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    classes = [column.removeprefix("p_") for column in rows[0] if column.startswith("p_")]
    return [r["true"] for r in rows], [r["predicted"] for r in rows], classes


def test_a_real_runs_report_equals_scikit_learn_on_its_predictions(real):
    run = real.default_run()
    confusion = real.confusion(run)  # evaluates the run first, as the page does
    truth, predicted, classes = evaluated_predictions(real, run)
    assert confusion["classes"] == classes == real.classes(run) and len(truth) == 15
    assert confusion["counts"] == confusion_matrix(truth, predicted, labels=classes).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
    got = confusion["per_class"]
    np.testing.assert_allclose([r["precision"] for r in got], precision)
    np.testing.assert_allclose([r["recall"] for r in got], recall)
    np.testing.assert_allclose([r["f1"] for r in got], f1)
    assert [r["support"] for r in got] == support.tolist()
    report = classification_report(truth, predicted, labels=classes, output_dict=True, zero_division=0)
    for ours, theirs in ((confusion["macro_avg"], "macro avg"), (confusion["weighted_avg"], "weighted avg")):
        assert ours["f1"] == pytest.approx(report[theirs]["f1-score"]) and ours["support"] == len(truth)
        assert ours["precision"] == pytest.approx(report[theirs]["precision"])
        assert ours["recall"] == pytest.approx(report[theirs]["recall"])
    assert confusion["accuracy"] == pytest.approx(report["accuracy"])
    assert confusion["accuracy"] == pytest.approx(real.run_details(run)["evaluation"]["accuracy"]), "as eval.json"
    assert table_rows(evaluation.show_metrics(run, service=real)) | {"class": []} == expected_rows(
        truth, predicted, classes
    ) | {"class": []}


def test_a_real_runs_class_row_lists_that_class(real):
    run = real.default_run()
    truth, predicted, classes = evaluated_predictions(real, run)
    name = next((c for c in classes if any(t == c != p for t, p in zip(truth, predicted, strict=True))), classes[0])
    row_ids = [ids.eval_class_row(c) for c in classes]
    clicks, trigger = clicked(row_ids, name)
    title, gallery = evaluation.show_class(clicks, row_ids, run, service=real, triggered_id=trigger)
    members = [r for r in real.images(run, per_page=100)["rows"] if r["true"] == name]
    wrong = sum(not r["correct"] for r in members)
    assert title == f"true {name}: {len(members)} image{'s' * (len(members) != 1)}, {wrong} misclassified (shown first)"
    assert sorted(tile.id["index"] for tile in gallery) == sorted(r["id"] for r in members)
    correct_flags = [next(r["correct"] for r in members if r["id"] == tile.id["index"]) for tile in gallery]
    assert correct_flags == sorted(correct_flags), "misclassified first"


def test_the_classifier_output_of_a_real_run_is_named_by_class(real):
    run = real.default_run()
    image_id = real.images(run)["rows"][0]["id"]
    scores, *_, note = inside.show_layer(run, image_id, "fc", service=real)
    bars = scores.data[0]
    assert sorted(bars.x) == sorted(real.classes(run)) and len(bars.x) == 15
    logits = real.activation(run, image_id, "fc").numpy()
    assert [real.classes(run)[i] for i in bars.customdata] == list(bars.x)
    np.testing.assert_allclose(bars.y, logits[list(bars.customdata)], rtol=1e-6)
    assert "one score per class" in note
    maps, *_ = inside.show_layer(run, image_id, "layer4", service=real)
    assert {trace.type for trace in maps.data} == {"heatmap"}


# -- Inside the network and Compare on the fake ------------------------------------------------


def test_only_the_classifier_output_is_named_by_class(fake):
    scores, *_, note = inside.show_layer("new", IMAGE, "fc", service=fake)
    assert sorted(scores.data[0].x) == sorted(CLASSES) and "class" in scores.layout.title.text
    tree = fake.layer_tree("new")
    assert inside.is_classifier_output(tree, "fc", CLASSES)
    assert not inside.is_classifier_output(tree, "fc", [*CLASSES, "sleeping"]), "one output per class, or none"
    assert not inside.is_classifier_output(tree, "conv1", CLASSES)
    hidden = [{**tree[-1], "name": "head"}, {**tree[-1], "name": "head.fc"}, {**tree[-1], "name": "aux"}]
    assert not inside.is_classifier_output(hidden, "head", CLASSES), "a layer before the model's last one"
    assert inside.is_classifier_output(hidden[:2], "head", CLASSES), "the block that holds the last layer"
    assert inside.is_classifier_output(hidden[:2], "head.fc", CLASSES)


def test_compare_run_a_follows_the_top_run_picker_and_run_b_is_kept(fake):
    chosen = compare.remember_compare("old")
    assert chosen == {"b": "old"}
    for run in ("new", "old"):
        options, a, _, b = compare.compare_controls(run, chosen, service=fake)
        assert (a, b) == (run, "old") and [o["value"] for o in options] == ["old", "new"]
    _, a, _, b = compare.compare_controls("old", {"a": "new", "b": "gone"}, service=fake)
    assert (a, b) == ("old", "new"), "an old session's run A never wins; a deleted run B falls back"
    picker = find(compare.layout(), lambda c: getattr(c, "id", None) == ids.COMPARE_RUN_A)
    assert picker[0].disabled, "run A is chosen at the top, not here"

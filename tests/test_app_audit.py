"""The Audit page: the service reading a run's saved audits, and the page's callbacks as plain functions.

The audits here are written by hand in the layout `hartrace audit` writes (the keys of
its audit.json, real PNG pictures), into run folders that hold a (never loaded)
checkpoint file: the audit side of the explorer reads files only, it never needs a model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from hartrace.base.errors import UsageError
from hartrace.explorer import ExplorerService
from hartrace.explorer.app import ids
from hartrace.explorer.app.components import audit as figures
from hartrace.explorer.app.pages import audit as page
from tests.conftest_app import figure_message
from tests.test_app_callbacks import find, texts

RUN = "tiny"
LAYERS = ["original", "fc", "layer4", "layer3", "layer2", "layer1", "conv1"]


def cascade(values: list[float]) -> list[dict]:
    return [
        {"randomised": layer, "spearman_mean": v, "spearman_std": 0.05 * (i > 0), "per_image": [v, v]}
        for i, (layer, v) in enumerate(zip(LAYERS, values, strict=False))
    ]


def method_entry(
    pointing: tuple[float, float],
    energy: float,
    deletion: float,
    insertion: float,
    drop: float,
    increase: float,
    spearmans: list[float],
    seconds: float,
    per_class: dict[str, float],
) -> dict:
    """One method's entry, with the contract's keys; ``pointing``: strict and within 15 px. The random baselines
    are those of a 48-image val split whose evidence covers about 30% of each image (62% with its 15-px margin)."""
    return {
        "pointing_strict": pointing[0],
        "pointing_strict_random": 0.305,
        "pointing_tolerant": pointing[1],
        "pointing_tolerant_random": 0.62,
        "energy_inside": energy,
        "energy_random_baseline": 0.305,
        "deletion_auc": deletion,
        "deletion_auc_random": 0.318,
        "insertion_auc": insertion,
        "insertion_auc_random": 0.402,
        "average_drop": drop,
        "average_increase": increase,
        "sanity": {"passed": spearmans[-1] < 0.3, "final_spearman": spearmans[-1], "cascade": cascade(spearmans)},
        "seconds_per_image": seconds,
        "per_class": {
            name: {
                "pointing_strict": hit,
                "pointing_strict_random": base,
                "pointing_tolerant": min(1.0, hit + 0.25),
                "pointing_tolerant_random": base + 0.3,
                "energy_inside": hit * 0.8,
                "images": 16,
            }
            for (name, hit), base in zip(per_class.items(), (0.28, 0.31, 0.33), strict=False)
        },
    }


def audit_report(curves: bool = False) -> dict:
    """Two methods: Grad-CAM passes the sanity check, saliency fails it (its maps survive randomisation)."""
    report = {
        "run": RUN,
        "split": "val",
        "images": 48,
        "layer": "layer4",
        "tolerance": 15,
        "methods": {
            "gradcam": method_entry(
                (0.625, 0.875),
                0.471,
                0.142,
                0.611,
                0.284,
                0.146,
                [1.0, 0.62, 0.35, 0.18, 0.09, 0.05, 0.04],
                0.012,
                {"calling": 0.75, "clapping": 0.5, "running": 0.625},
            ),
            "saliency": method_entry(
                (0.396, 0.583),
                0.333,
                0.205,
                0.474,
                0.517,
                0.063,
                [1.0, 0.93, 0.88, 0.84, 0.79, 0.74, 0.71],
                0.004,
                {"calling": 0.4375, "clapping": 0.3125, "running": 0.4375},
            ),
        },
    }
    if curves:  # the mean curves as `hartrace audit` saves them: 21 points, fractions 0, 1/20, ..., 1
        for m, entry in report["methods"].items():
            speed = 6.0 if m == "gradcam" else 3.0
            entry["curves"] = {
                "x": [i / 20 for i in range(21)],
                "deletion": [0.9 * math.exp(-speed * i / 20) for i in range(21)],
                "insertion": [0.9 * (1 - math.exp(-speed * i / 20)) for i in range(21)],
                "deletion_random": [0.9 * (1 - i / 20) for i in range(21)],  # one random order for every method
                "insertion_random": [0.9 * i / 20 for i in range(21)],
            }
    return report


def picture(path: Path, width: int = 240, height: int = 120, tiles: int = 4) -> Path:
    """A real small PNG: coloured tiles with a dark frame each, like a gallery."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    step = width // tiles
    for i in range(tiles):
        box = (i * step + 4, 4, (i + 1) * step - 4, height - 4)
        draw.rectangle(box, fill=(40 + 50 * i, 120, 200 - 40 * i), outline=(20, 20, 20), width=2)
        draw.ellipse((box[0] + 10, box[1] + 10, box[0] + 30, box[1] + 30), fill=(250, 200, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


def write_audit(run_dir: Path, split: str = "val", report: dict | None = None, *, pictures: bool = True) -> Path:
    """``<run>/audit/<split>/`` as `hartrace audit` leaves it: audit.json and the pictures."""
    folder = run_dir / "audit" / split
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audit.json").write_text(json.dumps(report if report is not None else audit_report(), indent=2))
    if pictures:
        for name in ("curves", "cascade", "worst"):
            picture(folder / f"{name}.png")
    return folder


def make_run(runs: Path, name: str = RUN) -> Path:
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    (run_dir / "best.pt").write_bytes(b"")  # what makes a folder a run; the audit side never opens it
    return run_dir


#: The hand-written counterfactual check's images, as reliance.json lists them: a calling scene (five parts, the
#: phone relied on most), a running one (three parts, the legs) and one that shows no part to remove.
RELIANCE_IMAGES = [
    {
        "path": "val/calling/scene_01.png",
        "predicted": "calling",
        "probability": 0.9,
        "parts": ["head", "torso", "arms", "phone", "clutter"],
        "probability_after": [0.85, 0.88, 0.3, 0.1, 0.9],
        "prediction_changes": [False, False, False, True, False],
        "evidence_changes_prediction": True,
        "evidence_probability_drop": 0.85,
        "random_spearman": 0.1,
        "methods": {
            "gradcam": {"mass": [0.05, 0.1, 0.3, 0.4, 0.02], "spearman": 0.9},
            "saliency": {"mass": [0.2, 0.3, 0.1, 0.1, 0.2], "spearman": -0.2},
        },
    },
    {
        "path": "val/running/scene_02.png",
        "predicted": "running",
        "probability": 0.7,
        "parts": ["torso", "arms", "legs"],
        "probability_after": [0.75, 0.6, 0.2],
        "prediction_changes": [False, False, True],
        "evidence_changes_prediction": False,
        "evidence_probability_drop": 0.3,
        "random_spearman": 0.5,
        "methods": {
            "gradcam": {"mass": [0.1, 0.2, 0.6], "spearman": 1.0},
            "saliency": {"mass": [0.3, 0.25, 0.2], "spearman": -1.0},
        },
    },
    {
        "path": "val/clapping/scene_03.png",
        "predicted": "clapping",
        "probability": 0.6,
        "parts": [],
        "probability_after": [],
        "prediction_changes": [],
        "evidence_changes_prediction": None,
        "evidence_probability_drop": None,
        "random_spearman": None,
        "methods": {"gradcam": {"mass": [], "spearman": None}, "saliency": {"mass": [], "spearman": None}},
    },
]
#: Per class: images with evidence, share whose prediction changes without it, mean probability drop.
EVIDENCE_USE = {"calling": (16, 0.875, 0.7), "clapping": (16, 0.5, 0.4), "running": (16, 0.875, 0.76)}
#: Each method's rank agreement with the reliance, over all images then per class (the random map's the same).
AGREEMENT = {"gradcam": (0.41, [0.5, 0.3, 0.45]), "saliency": (0.12, [0.1, 0.05, 0.2]), "random": (0.07, [0.1, 0, 0.1])}


def counterfactual_report(curves: bool = False) -> dict:
    """:func:`audit_report` with the counterfactual check as `hartrace audit` saves it on a synthetic set."""
    report = audit_report(curves)
    random, random_per_class = AGREEMENT["random"]
    for method, entry in report["methods"].items():
        overall, per_class = AGREEMENT[method]
        entry.update(reliance_spearman=overall, reliance_spearman_random=random, reliance_images=40)
        for row, rho, chance in zip(entry["per_class"].values(), per_class, random_per_class, strict=True):
            row.update(reliance_spearman=rho, reliance_spearman_random=chance, reliance_images=13)
    report["counterfactual"] = {
        "ran": True,
        "seconds": 12.5,
        "images_ranked": 40,
        "strip": [1, 0],  # the running scene first: the view opens on it
        "evidence": {
            "overall": {"with_evidence": 48, "changes_prediction": 0.75, "probability_drop": 0.62},
            "per_class": {
                name: {"with_evidence": n, "changes_prediction": changes, "probability_drop": drop}
                for name, (n, changes, drop) in EVIDENCE_USE.items()
            },
        },
    }
    return report


def write_counterfactual(run_dir: Path, images: list[dict] | None = None, report: dict | None = None) -> Path:
    """An audit with its counterfactual check (``report``, default :func:`counterfactual_report`): audit.json,
    reliance.json (``images``, default :data:`RELIANCE_IMAGES`) and counterfactuals.png beside the rest."""
    folder = write_audit(run_dir, report=counterfactual_report() if report is None else report)
    (folder / "reliance.json").write_text(json.dumps({"images": RELIANCE_IMAGES if images is None else images}))
    picture(folder / "counterfactuals.png", width=320, tiles=6)
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "checkpoints"


@pytest.fixture
def service(runs: Path) -> ExplorerService:
    make_run(runs)
    return ExplorerService(runs_dir=runs)


# -- the service ------------------------------------------------------------------------------


def test_the_service_lists_and_reads_a_runs_audits(service, runs):
    assert service.audit_splits(RUN) == []
    write_audit(runs / RUN, "test")
    write_audit(runs / RUN, "val")
    (runs / RUN / "audit" / "empty").mkdir()  # a folder without audit.json is no audit
    assert service.audit_splits(RUN) == ["val", "test"]  # val first
    assert [o["value"] for o in page.audit_splits(RUN, None, service=service)[0]] == ["val", "test"]
    assert page.audit_splits(RUN, None, service=service)[1] == "val"
    assert page.audit_splits(RUN, "test", service=service)[1] == "test"  # the split shown stays while the run has it
    audit = service.audit(RUN, "val")
    assert list(audit["methods"]) == ["gradcam", "saliency"]
    assert audit["images"] == 48 and audit["layer"] == "layer4"
    gradcam = audit["methods"]["gradcam"]
    assert (gradcam["pointing_strict"], gradcam["pointing_tolerant"]) == (0.625, 0.875)
    assert (gradcam["pointing_strict_random"], gradcam["pointing_tolerant_random"]) == (0.305, 0.62)
    assert gradcam["deletion_auc_random"] == 0.318
    assert gradcam["sanity"]["passed"] is True and audit["methods"]["saliency"]["sanity"]["passed"] is False
    assert [s["randomised"] for s in gradcam["sanity"]["cascade"]] == LAYERS
    assert gradcam["per_class"]["clapping"]["pointing_strict"] == 0.5
    assert gradcam["per_class"]["clapping"]["pointing_tolerant"] == 0.75
    worst = service.audit_picture(RUN, "val", "worst")
    assert worst.startswith("data:image/png;base64,")
    (runs / RUN / "audit" / "val" / "curves.png").unlink()
    assert service.audit_picture(RUN, "val", "curves") is None  # not drawn: no picture, no error


def test_only_files_of_a_listed_run_and_audit_are_read(service, runs, tmp_path):
    write_audit(runs / RUN)
    outside = write_audit(make_run(tmp_path / "elsewhere", "other"))
    with pytest.raises(UsageError, match="unknown run"):
        service.audit(str(outside.parents[1]), "val")  # a path is not a run name
    with pytest.raises(UsageError, match="unknown run"):
        service.audit("../elsewhere/other", "val")
    for split in ("../../../elsewhere/other/audit/val", "/etc", "", None):
        with pytest.raises(UsageError, match="no audit of split"):
            service.audit(RUN, split)
    with pytest.raises(UsageError, match="unknown audit picture"):
        service.audit_picture(RUN, "val", "../audit.json")
    (runs / RUN / "audit" / "linked").symlink_to(outside)  # a link out of the run folder is not listed, not read
    assert service.audit_splits(RUN) == ["val"]
    (runs / RUN / "audit" / "val" / "worst.png").unlink()
    (runs / RUN / "audit" / "val" / "worst.png").symlink_to(outside / "worst.png")
    assert service.audit_picture(RUN, "val", "worst") is None


def test_a_run_without_an_audit_says_how_to_make_one(service):
    with pytest.raises(UsageError, match=f"hartrace audit --run {RUN}"):
        service.audit(RUN, "val")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"methods": {"gradcam": {"pointing_strict": 0.5,', "not valid JSON"),
        ("[1, 2, 3]", "the file should be an object"),
        ('{"methods": {}}', "it lists no methods"),
        ('{"methods": ["gradcam"]}', "methods should be an object"),
        ('{"methods": {"gradcam": {"pointing_tolerant": "high"}}}', "gradcam.pointing_tolerant should be a number"),
        ('{"methods": {"gradcam": {"sanity": {"passed": "yes"}}}}', "gradcam.sanity.passed should be true or false"),
        ('{"methods": {"gradcam": {"sanity": {"cascade": [{"spearman_mean": 1}]}}}}', "should name a layer"),
        ('{"methods": {"gradcam": {"curves": {"deletion": [1, 0.5], "insertion": [0]}}}}', "one point per step"),
        ('{"methods": {"gradcam": {"problems": "bad"}}}', "gradcam.problems should be a list of sentences"),
        ('{"images": "many", "methods": {"gradcam": {}}}', "images should be a count"),
        (
            '{"methods": {"gradcam": {}}, "counterfactual": {"ran": "yes"}}',
            "counterfactual.ran should be true or false",
        ),
        (
            '{"methods": {"gradcam": {}}, "counterfactual": {"ran": true}}',
            "counterfactual.evidence should be an object",
        ),
    ],
)
def test_a_malformed_audit_is_a_clear_message(service, runs, content, message):
    folder = write_audit(runs / RUN)
    (folder / "audit.json").write_text(content)
    with pytest.raises(UsageError, match=message) as caught:
        service.audit(RUN, "val")
    assert f"{RUN}/audit/val/audit.json" in str(caught.value) and "\n" not in str(caught.value)


def test_missing_and_not_a_number_metrics_read_as_none(service, runs):
    report = audit_report()
    del report["methods"]["gradcam"]["pointing_strict"]  # e.g. a dataset without evidence
    report["methods"]["saliency"]["sanity"]["cascade"][3]["spearman_mean"] = float("nan")  # json writes NaN
    write_audit(runs / RUN, report=report)
    audit = service.audit(RUN, "val")
    assert audit["methods"]["gradcam"]["pointing_strict"] is None
    assert audit["methods"]["saliency"]["sanity"]["cascade"][3]["spearman_mean"] is None


# -- the page's callbacks -----------------------------------------------------------------------


def cells(row) -> list[str]:
    return [texts(td) for td in row.children]


def test_the_table_has_a_row_per_method_with_baselines_and_the_sanity_verdict(service, runs):
    write_audit(runs / RUN)
    assert page.audit_splits(RUN, None, service=service) == ([{"label": "val split", "value": "val"}], "val")
    notices, hidden, summary, table, methods, method = page.show_audit(RUN, "val", None, service=service)
    assert hidden is False
    assert summary == "val split · 48 images · maps at layer4 · pointing game strict and within 15 px"
    head = find(table, lambda c: type(c).__name__ == "Th")
    assert [texts(th) for th in head[:3]] == ["method", "pointing game, strict", "pointing game within 15 px"]
    rows = find(table, lambda c: type(c).__name__ == "Tr" and str(getattr(c, "id", "")).startswith("audit-row-"))
    assert [r.id for r in rows] == ["audit-row-gradcam", "audit-row-saliency"]
    gradcam, saliency = (cells(r) for r in rows)
    assert len(gradcam) == len(head) == len(figures.COLUMNS)
    assert gradcam[:6] == [
        "gradcam",
        "62.5%random map 30.5%",
        "87.5%random map 62.0%",
        "47.1%random map 30.5%",
        "0.142random order 0.318",
        "0.611random order 0.402",
    ]
    assert gradcam[6:] == ["28.4%", "14.6%", "—", "passed · ρ 0.04", "12 ms"]  # no counterfactual check: "—"
    assert saliency[9] == "failed · ρ 0.71" and saliency[10] == "4 ms"
    verdicts = {r.id: r.children[9] for r in rows}
    assert verdicts["audit-row-gradcam"].className == "audit-sanity-passed"
    assert verdicts["audit-row-gradcam"].style["color"] == figures.GOOD
    assert verdicts["audit-row-saliency"].className == "audit-sanity-failed"
    assert verdicts["audit-row-saliency"].style["color"] == figures.BAD
    assert rows[1].className == "audit-row-failed" and rows[0].className == "audit-row"
    # the failing method is also said in words, above the table
    assert len(notices) == 1 and notices[0].className == "notice notice-warning"
    assert texts(notices).startswith("saliency: maps barely change when the weights are randomised (Spearman 0.71")
    assert (methods, method) == (["gradcam", "saliency"], "gradcam")
    assert page.show_audit(RUN, "val", "saliency", service=service)[5] == "saliency"  # the picked method stays


def test_the_problems_an_audit_lists_are_said_in_words(service, runs):
    report = audit_report()
    report.update(with_evidence=40, steps=20, cascade_images=8, seconds=35.2)
    report["methods"]["gradcam"]["problems"] = []
    report["methods"]["saliency"]["problems"] = ["saliency: one", "saliency: two"]
    write_audit(runs / RUN, report=report)
    notices, _, summary, *_ = page.show_audit(RUN, "val", None, service=service)
    assert [texts(n) for n in notices] == ["saliency: one", "saliency: two"]  # the audit's own words, not the page's
    assert summary == (
        "val split · 48 images (40 with evidence) · maps at layer4 · pointing game strict and within 15 px · "
        "curves in 20 steps · sanity check on 8 images · audited in 35 s"
    )


def test_no_audit_says_how_to_make_one(service):
    assert page.audit_splits(RUN, "val", service=service) == ([], None)
    notices, hidden, summary, table, methods, method = page.show_audit(RUN, None, None, service=service)
    assert hidden is True and table == [] and methods == [] and method is None
    assert notices.className == "notice notice-info"
    assert f"`hartrace audit --run {RUN}`" in texts(notices)
    assert "hartrace audit --run" in texts(page.show_worst(RUN, None, service=service))
    assert page.show_audit(None, None, None, service=service)[0].children == "No run selected."
    assert "unknown run" in texts(page.show_audit("gone", None, None, service=service)[0])
    assert page.show_audit("gone", None, None, service=service)[0].className == "notice notice-error"


def test_a_malformed_audit_is_shown_as_an_error_not_a_crash(service, runs):
    folder = write_audit(runs / RUN)
    (folder / "audit.json").write_text('{"methods": {"gradcam": {"deletion_auc": [0.1]}}}')
    notices, hidden, *_ = page.show_audit(RUN, "val", None, service=service)
    assert hidden is True and notices.className == "notice notice-error"
    assert "tiny/audit/val/audit.json is not a hartrace audit: gradcam.deletion_auc should be a number" in texts(
        notices
    )
    assert "not a hartrace audit" in figure_message(page.show_cascade(RUN, "val", service=service))
    assert "not a hartrace audit" in texts(page.show_curves(RUN, "val", service=service))
    (folder / "audit.json").write_text("{not json")
    assert "is not valid JSON" in texts(page.show_audit(RUN, "val", None, service=service)[0])


def test_curves_are_drawn_from_the_points_else_the_audits_picture(service, runs):
    write_audit(runs / RUN)  # the contract's keys only: no curve points
    shown = page.show_curves(RUN, "val", service=service)
    assert type(shown).__name__ == "Img" and shown.src.startswith("data:image/png;base64,")
    write_audit(runs / RUN, report=audit_report(curves=True))
    shown = page.show_curves(RUN, "val", service=service)
    assert type(shown).__name__ == "Graph"
    traces = shown.figure.data
    assert [t.name for t in traces] == ["gradcam", "saliency", "random order"] * 2
    assert [t.showlegend for t in traces] == [True] * 3 + [False] * 3  # one legend for both
    assert "AUC 0.142" in traces[0].hovertemplate and "AUC 0.402" in traces[5].hovertemplate
    assert len(traces[0].x) == 21 and traces[0].x[-1] == 1.0 and traces[0].y[0] == 0.9
    assert traces[2].line.dash == "dash" and traces[2].y[-1] == 0.0
    assert traces[0].line.color != traces[1].line.color and traces[0].line.color == traces[3].line.color
    assert {t.xaxis for t in traces[3:]} == {"x2"}  # insertion on the right
    (runs / RUN / "audit" / "val" / "audit.json").write_text(json.dumps(audit_report()))
    (runs / RUN / "audit" / "val" / "curves.png").unlink()
    assert "no deletion and insertion curves" in texts(page.show_curves(RUN, "val", service=service))


def test_the_cascade_has_a_line_per_method_and_the_threshold(service, runs):
    write_audit(runs / RUN)
    fig = page.show_cascade(RUN, "val", service=service)
    assert [t.name for t in fig.data] == ["gradcam (passes)", "saliency (fails)"]
    assert list(fig.data[0].x) == LAYERS and fig.data[1].y[-1] == 0.71
    assert list(fig.layout.xaxis.categoryarray) == LAYERS
    (threshold,) = fig.layout.shapes
    assert threshold.y0 == threshold.y1 == 0.3 and threshold.line.dash == "dash"


def test_the_worst_explained_gallery(service, runs):
    folder = write_audit(runs / RUN)
    shown = find(page.show_worst(RUN, "val", service=service), lambda c: type(c).__name__ == "Img")
    assert len(shown) == 1 and shown[0].src == service.audit_picture(RUN, "val", "worst")
    (folder / "worst.png").unlink()
    assert "no gallery" in texts(page.show_worst(RUN, "val", service=service))


def test_the_per_class_chart_follows_the_method_picker(service, runs):
    write_audit(runs / RUN)
    fig = page.show_per_class(RUN, "val", "gradcam", service=service)
    strict, strict_random, tolerant, tolerant_random = fig.data
    assert list(strict.x) == ["calling", "clapping", "running"] and list(strict.y) == [0.75, 0.5, 0.625]
    assert list(strict.text) == ["75%", "50%", "62%"] and list(strict.customdata) == ["16"] * 3  # images per class
    assert strict_random.name == "random map, strict" and list(strict_random.y) == [0.28, 0.31, 0.33]
    assert tolerant.name == "gradcam, within 15 px" and list(tolerant.y) == [1.0, 0.75, 0.875]
    assert tolerant.marker.pattern.shape == "/" and tolerant.marker.color == strict.marker.color
    assert tolerant_random.name == "random map, within 15 px"
    assert list(tolerant_random.y) == pytest.approx([0.58, 0.61, 0.63])
    assert "gradcam" in fig.layout.title.text
    fig = page.show_per_class(RUN, "val", "saliency", service=service)
    assert list(fig.data[0].y) == [0.4375, 0.3125, 0.4375] and "saliency" in fig.layout.title.text
    assert fig.data[0].marker.color != page.show_per_class(RUN, "val", "gradcam", service=service).data[0].marker.color
    assert figure_message(page.show_per_class(RUN, "val", None, service=service)).startswith("no per-class")


def test_the_overall_baseline_when_classes_have_none(service, runs):
    report = audit_report()
    for row in report["methods"]["gradcam"]["per_class"].values():
        del row["pointing_strict_random"], row["pointing_tolerant_random"]
    write_audit(runs / RUN, report=report)
    fig = page.show_per_class(RUN, "val", "gradcam", service=service)
    assert len(fig.data) == 2 and [shape.y0 for shape in fig.layout.shapes] == [0.305, 0.62]


@pytest.mark.parametrize(("tolerance", "kind"), [(0, "strict"), (15, "tolerant")])
def test_an_audit_saved_with_one_pointing_game_reads_as_its_tolerance_says(service, runs, tolerance, kind):
    """Audits written before both figures were kept have one, at their tolerance: shown in its own column."""
    report = audit_report()
    report["tolerance"] = tolerance
    for entry in report["methods"].values():
        for row in (entry, *entry["per_class"].values()):
            for key in [k for k in row if k.startswith("pointing_")]:
                del row[key]
        entry.update(pointing_game=0.5, pointing_random_baseline=0.25)
        entry["per_class"]["calling"].update(pointing_game=0.75, pointing_random_baseline=0.2)
    write_audit(runs / RUN, report=report)
    gradcam = service.audit(RUN, "val")["methods"]["gradcam"]
    other = "tolerant" if kind == "strict" else "strict"
    assert (gradcam[f"pointing_{kind}"], gradcam[f"pointing_{kind}_random"]) == (0.5, 0.25)
    assert gradcam[f"pointing_{other}"] is None
    assert gradcam["per_class"]["calling"][f"pointing_{kind}"] == 0.75
    table = page.show_audit(RUN, "val", None, service=service)[3]
    row = cells(find(table, lambda c: getattr(c, "id", None) == "audit-row-gradcam")[0])
    shown, blank = "50.0%random map 25.0%", "—random map —"
    assert row[1:3] == ([shown, blank] if kind == "strict" else [blank, shown])


def test_the_page_is_registered_after_evaluation(service, runs):
    from hartrace.explorer.app import create_app

    write_audit(runs / RUN)
    app = create_app(service)
    client = app.server.test_client()
    assert client.get("/audit").status_code == 200
    outputs = " ".join(d["output"] for d in client.get("/_dash-dependencies").get_json())
    for component_id in (ids.AUDIT_SPLIT, ids.AUDIT_TABLE, ids.AUDIT_CASCADE, ids.AUDIT_PER_CLASS, ids.AUDIT_WORST):
        assert component_id in outputs
    body = {
        "output": f"{ids.AUDIT_CASCADE}.figure",
        "outputs": {"id": ids.AUDIT_CASCADE, "property": "figure"},
        "inputs": [
            {"id": ids.RUN_STORE, "property": "data", "value": RUN},
            {"id": ids.AUDIT_SPLIT, "property": "value", "value": "val"},
        ],
        "changedPropIds": [f"{ids.AUDIT_SPLIT}.value"],
    }
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.data
    figure = answer.get_json()["response"][ids.AUDIT_CASCADE]["figure"]
    assert [t["name"] for t in figure["data"]] == ["gradcam (passes)", "saliency (fails)"]


# -- the counterfactual check: what the model relies on ------------------------------------------


def graphs(component) -> list:
    return find(component, lambda c: type(c).__name__ == "Graph")


def test_the_table_shows_each_methods_reliance_agreement_beside_a_random_maps(service, runs):
    write_counterfactual(runs / RUN)
    table = page.show_audit(RUN, "val", None, service=service)[3]
    head = find(table, lambda c: type(c).__name__ == "Th")
    assert texts(head[8]) == "ranks parts as the model relies on them"
    rows = find(table, lambda c: str(getattr(c, "id", "")).startswith("audit-row-"))
    assert [cells(r)[8] for r in rows] == ["0.41random map 0.07", "0.12random map 0.07"]
    assert "mean over 40 images" in rows[0].children[8].title
    report = counterfactual_report()
    report["counterfactual"] = {"ran": False, "why": "not asked for"}
    for entry in report["methods"].values():
        entry.update(reliance_spearman=None, reliance_spearman_random=None, reliance_images=0)
    write_audit(runs / RUN, report=report)
    row = find(
        page.show_audit(RUN, "val", None, service=service)[3], lambda c: getattr(c, "id", "") == "audit-row-gradcam"
    )
    assert cells(row[0])[8] == "—" and row[0].children[8].title.endswith("did not run: not asked for")


def test_does_the_model_use_the_evidence_per_class(service, runs):
    write_counterfactual(runs / RUN)
    evidence, per_class, hidden, options, image, strip = page.show_counterfactual(RUN, "val", None, service=service)
    assert hidden is False
    changes, drops = graphs(evidence)[0].figure.data
    assert list(changes.x) == ["all images", "calling", "clapping", "running"]
    assert list(changes.y) == [0.75, 0.875, 0.5, 0.875] and list(changes.text) == ["75%", "88%", "50%", "88%"]
    assert list(drops.y) == [0.62, 0.7, 0.4, 0.76] and list(drops.text) == ["0.62", "0.70", "0.40", "0.76"]
    assert changes.name == "prediction changes" and drops.name == "mean probability drop"
    assert list(graphs(evidence)[0].figure.layout.xaxis.ticktext)[:2] == [
        "all images<br>48 images",
        "calling<br>16 images",
    ]
    gradcam, saliency, random = graphs(per_class)[0].figure.data  # each method's agreement per class, then random
    assert list(gradcam.x) == ["all images", "calling", "clapping", "running"]
    assert list(gradcam.y) == [0.41, 0.5, 0.3, 0.45] and list(saliency.y) == [0.12, 0.1, 0.05, 0.2]
    assert random.name == "random map" and list(random.y) == [0.07, 0.1, 0, 0.1]
    assert gradcam.marker.color == figures.colours(["gradcam", "saliency"])["gradcam"]
    shown = find(strip, lambda c: type(c).__name__ == "Img")
    assert len(shown) == 1 and shown[0].src == service.audit_picture(RUN, "val", "counterfactuals")


def test_the_per_image_chart_shows_the_reliance_and_each_maps_mass(service, runs):
    write_counterfactual(runs / RUN)
    calling, running, _ = (row["path"] for row in RELIANCE_IMAGES)
    options, image = page.show_counterfactual(RUN, "val", None, service=service)[3:5]
    assert [o["value"] for o in options] == [calling, running]  # the scene without parts is not offered
    assert options[0]["label"] == "scene_01.png · calling" and image == running  # the strip's first image
    assert page.show_counterfactual(RUN, "val", calling, service=service)[4] == calling  # the picked one stays

    for path in (running, calling):
        row = next(r for r in RELIANCE_IMAGES if r["path"] == path)
        picture, summary, fig = page.show_reliance(RUN, "val", path, service=service)
        reliance, *masses = fig.data
        drops = {
            part: row["probability"] - after for part, after in zip(row["parts"], row["probability_after"], strict=True)
        }
        assert dict(zip(reliance.y, reliance.x, strict=True)) == pytest.approx(drops)
        assert list(reliance.y) == sorted(drops, key=drops.get, reverse=True)  # most relied on first (at the top)
        assert reliance.orientation == "h" and reliance.marker.color == figures.RELIANCE_COLOUR
        for trace, (label, m) in zip(masses, row["methods"].items(), strict=True):
            assert dict(zip(trace.y, trace.x, strict=True)) == dict(zip(row["parts"], m["mass"], strict=True))
            assert trace.name == f"{label}: share of its map (ρ {m['spearman']:.2f})"
        ticks = dict(zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext, strict=True))
        for part, changes in zip(row["parts"], row["prediction_changes"], strict=True):
            assert ("prediction changes" in ticks[part]) is changes
        said = texts(summary)
        assert (
            f"random map {row['random_spearman']:.2f}" in said
            and f"gradcam {row['methods']['gradcam']['spearman']:.2f}" in said
        )
        assert "is empty" in texts(
            picture
        )  # this run's checkpoint cannot open its dataset: said, the chart still drawn
    assert list(fig.data[0].y)[0] == "phone" and fig.data[0].x[0] == pytest.approx(0.8)
    assert "removing phone changes the prediction" in said and "all the evidence removed: changes" in said
    assert figures.NOTHING_TO_RANK not in said
    unranked = {**RELIANCE_IMAGES[1], "methods": {"gradcam": {"mass": [0.2, 0.2, 0.2], "spearman": None}}}
    assert figures.NOTHING_TO_RANK in texts(figures.reliance_summary(unranked))  # a map the same on every part
    assert "not in this audit" in figure_message(page.show_reliance(RUN, "val", "val/x.png", service=service)[2])


def test_a_check_that_did_not_run_says_why_in_one_line(service, runs):
    report = counterfactual_report()
    report["counterfactual"] = {"ran": False, "why": "/data is not a set written by hartrace synth"}
    write_audit(runs / RUN, report=report)
    evidence, per_class, hidden, options, image, strip = page.show_counterfactual(RUN, "val", None, service=service)
    assert evidence.className == "muted audit-not-run"
    assert texts(evidence) == "The counterfactual check did not run: /data is not a set written by hartrace synth."
    assert (per_class, hidden, options, image, strip) == ([], True, [], None, [])
    del report["counterfactual"]  # an audit saved before the check existed
    write_audit(runs / RUN, report=report)
    assert "did not save a counterfactual check" in texts(
        page.show_counterfactual(RUN, "val", None, service=service)[0]
    )


def test_reliance_json_is_read_once_per_version_and_a_bad_one_is_said(service, runs, monkeypatch):
    from hartrace.explorer import audits

    folder = write_counterfactual(runs / RUN)
    reads, check = [], audits.check_reliance
    monkeypatch.setattr(audits, "check_reliance", lambda content: reads.append(1) or check(content))
    for _ in range(3):
        assert len(service.audit(RUN, "val")["counterfactual"]["images"]) == 3
    assert len(reads) == 1
    (folder / "reliance.json").write_text(json.dumps({"images": RELIANCE_IMAGES[:1]}))
    assert [r["path"] for r in service.audit(RUN, "val")["counterfactual"]["images"]] == ["val/calling/scene_01.png"]
    assert len(reads) == 2
    broken = json.loads(json.dumps(RELIANCE_IMAGES))
    broken[1]["methods"]["gradcam"]["mass"] = [0.5]
    (folder / "reliance.json").write_text(json.dumps({"images": broken}))
    checked = service.audit(RUN, "val")["counterfactual"]
    assert checked["images"] is None
    assert checked["images_problem"] == (
        "tiny/audit/val/reliance.json cannot be read (images[1].gradcam.mass should have one value per part (3), not 1)"
    )
    evidence, _, hidden, *_ = page.show_counterfactual(RUN, "val", None, service=service)
    assert hidden is True and "No part-by-part view: tiny/audit/val/reliance.json cannot be read" in texts(evidence)
    assert len(graphs(evidence)) == 1  # the evidence's use is still shown


# -- a real audit ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_audit_is_shown(tmp_path):
    """`hartrace audit` on a tiny trained run (two methods, a few images), then the page over what it wrote."""
    from hartrace.synth import generate
    from hartrace.workflows.audit import audit
    from hartrace.workflows.train import resolve_config, train

    data = generate(tmp_path / "synthetic", per_class=2, test_per_class=1, workers=1, progress=False).root
    config = resolve_config(
        None,
        data=str(data),
        backbone="resnet_small",
        weights="none",
        image_size=32,
        epochs=1,
        batch_size=16,
        workers=0,
        seed=0,
        out=str(tmp_path / "checkpoints" / RUN),
    )
    train(config, progress=False, log=lambda message: None)
    service = ExplorerService(runs_dir=tmp_path / "checkpoints")
    assert "hartrace audit --run tiny" in texts(page.show_audit(RUN, None, None, service=service)[0])
    result = audit(
        RUN,
        runs_dir=tmp_path / "checkpoints",
        methods=("gradcam", "saliency"),
        limit=4,
        steps=4,
        cascade_images=2,
        batch_size=4,
        progress=False,
    )
    assert result.out_dir == tmp_path / "checkpoints" / RUN / "audit" / "val"

    options, split = page.audit_splits(RUN, None, service=service)
    assert split == "val"
    notices, hidden, summary, table, methods, method = page.show_audit(RUN, split, None, service=service)
    assert hidden is False and summary.startswith("val split · 4 images (4 with evidence) · maps at ")
    assert len(notices) == len([p for m in result.summary["methods"].values() for p in m["problems"]])
    rows = find(table, lambda c: type(c).__name__ == "Tr" and str(getattr(c, "id", "")).startswith("audit-row-"))
    assert [r.id for r in rows] == ["audit-row-gradcam", "audit-row-saliency"]
    for row, (_name, m) in zip(rows, result.summary["methods"].items(), strict=False):
        for column, kind in ((1, "strict"), (2, "tolerant")):
            pair = (m[f"pointing_{kind}"], m[f"pointing_{kind}_random"])
            assert cells(row)[column] == f"{100 * pair[0]:.1f}%random map {100 * pair[1]:.1f}%"
        assert cells(row)[4] == f"{m['deletion_auc']:.3f}random order {m['deletion_auc_random']:.3f}"
        assert cells(row)[9].startswith("passed" if m["sanity"]["passed"] else "failed")
    curves = page.show_curves(RUN, split, service=service)
    assert type(curves).__name__ == "Graph" and len(curves.figure.data) == 6  # two methods and random order, twice
    assert len(curves.figure.data[0].x) == 5
    cascade = page.show_cascade(RUN, split, service=service)
    assert [len(t.x) for t in cascade.data] == [len(m["sanity"]["cascade"]) for m in result.summary["methods"].values()]
    assert page.show_worst(RUN, split, service=service)[1].src.startswith("data:image/png;base64,")
    if method is not None:
        bars = page.show_per_class(RUN, split, method, service=service).data[0]
        per_class = result.summary["methods"][method]["per_class"]
        assert list(bars.x) == [c for c, r in per_class.items() if r["pointing_strict"] is not None]
        assert [b.name for b in page.show_per_class(RUN, split, method, service=service).data] == [
            f"{method}, strict",
            "random map, strict",
            f"{method}, within 15 px",
            "random map, within 15 px",
        ]
    # the counterfactual check the audit ran on the synthetic set: the table, the evidence's use, one image's parts
    for row, m in zip(rows, result.summary["methods"].values(), strict=True):
        rho, chance = m["reliance_spearman"], m["reliance_spearman_random"]
        assert cells(row)[8] == ("—" if rho is None else f"{rho:.2f}random map {chance:.2f}")
    evidence, _, hidden, options, image, strip = page.show_counterfactual(RUN, split, None, service=service)
    use = result.summary["counterfactual"]["evidence"]
    assert list(graphs(evidence)[0].figure.data[0].y) == [
        use["overall"]["changes_prediction"],
        *(r["changes_prediction"] for r in use["per_class"].values()),
    ]
    saved = json.loads((result.out_dir / "reliance.json").read_text())["images"]
    assert hidden is False and [o["value"] for o in options] == [r["path"] for r in saved if r["parts"]]
    shown = next(r for r in saved if r["path"] == image)
    reliance = page.show_reliance(RUN, split, image, service=service)[2].data[0]
    assert dict(zip(reliance.y, reliance.x, strict=True)) == pytest.approx(
        {p: shown["probability"] - a for p, a in zip(shown["parts"], shown["probability_after"], strict=True)}
    )
    assert find(strip, lambda c: type(c).__name__ == "Img")[0].src.startswith("data:image/png;base64,")

"""``hartrace audit`` end to end on a tiny trained model: the files, numbers recomputed from scratch,
the report's words."""

from __future__ import annotations

import base64
import copy
import csv
import json
import re
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hartrace.attribution import explain
from hartrace.base.errors import UsageError
from hartrace.cli import main
from hartrace.data.pipeline import InputSpec, evaluation_dataset
from hartrace.metrics.evidence import energy_inside, pointing_hits, random_baseline
from hartrace.metrics.faithfulness import average_drop_increase, curve_auc, perturbation_curve
from hartrace.metrics.sanity import cascading_randomisation, sanity_verdict
from hartrace.runs.loading import open_dataset, open_model
from hartrace.synth import generate
from hartrace.workflows.audit import POINTING_TOLERANCE
from hartrace.workflows.audit.report import all_problems, markdown_report, method_problems, table_header
from hartrace.workflows.audit.result import AuditResult
from hartrace.workflows.audit.run import WORST_PER_METHOD, audit, explain_fn, method_maps
from hartrace.workflows.train import train
from tests.conftest import colour_folder, quick_config, run_cli

LIMIT, STEPS, CASCADE = 10, 5, 4
METHODS = ("gradcam", "saliency")
CONTRACT_KEYS = {
    "method",
    "layers",
    "pointing_strict",
    "pointing_strict_random",
    "pointing_tolerant",
    "pointing_tolerant_random",
    "energy_inside",
    "energy_random_baseline",
    "deletion_auc",
    "deletion_auc_random",
    "insertion_auc",
    "insertion_auc_random",
    "average_drop",
    "average_increase",
    "sanity",
    "seconds_per_image",
    "per_class",
}


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A resnet_small trained one epoch at 64 px on the synthetic set, audited on 10 validation images."""
    root = tmp_path_factory.mktemp("audit")
    data = generate(root / "synthetic", per_class=4, test_per_class=1, size=64, progress=False).root
    run = train(quick_config(data, root / "run", image_size=64, epochs=1), progress=False, log=lambda m: None).run_dir
    result = audit(
        run, methods=METHODS, limit=LIMIT, steps=STEPS, cascade_images=CASCADE, batch_size=16, progress=False
    )
    return run, result.out_dir, result.summary


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_audit_writes_every_file_with_the_contract_keys(audited: tuple[Path, Path, dict]) -> None:
    run, out, summary = audited
    assert out == run / "audit" / "val"
    for name in ("audit.json", "audit.md", "per_image.csv", "per_class.csv", "curves.png", "cascade.png", "worst.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    saved = json.loads((out / "audit.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    assert {"run", "split", "images", "layer", "tolerance", "methods"} <= set(saved)
    assert (
        saved["images"] == LIMIT
        and saved["split"] == "val"
        and saved["layer"] == "layer4"
        and saved["with_evidence"] == LIMIT
    )
    assert list(saved["methods"]) == list(METHODS)
    for m in saved["methods"].values():
        assert CONTRACT_KEYS <= set(m)
        assert {"passed", "final_spearman", "cascade"} <= set(m["sanity"])
        # resnet_small's groups, top down, after the original maps
        cascade = [c["randomised"] for c in m["sanity"]["cascade"]]
        assert cascade == ["original", "head", "layer4", "layer3", "layer2", "layer1", "stem"]
        assert m["sanity"]["final_spearman"] == m["sanity"]["cascade"][-1]["spearman_mean"]
        assert m["sanity"]["passed"] == (m["sanity"]["final_spearman"] < 0.3)
        assert len(m["sanity"]["cascade"][0]["per_image"]) == CASCADE
        assert m["seconds_per_image"] > 0 and len(m["curves"]["deletion"]) == STEPS + 1
    assert len(_csv(out / "per_image.csv")) == LIMIT * len(METHODS)


def test_the_result_shows_its_table_problems_and_curves_in_a_notebook(audited: tuple[Path, Path, dict]) -> None:
    _run, out, summary = audited
    result = AuditResult(out, summary)
    html = result._repr_html_()
    [curves] = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert base64.b64decode(curves).startswith(b"\x89PNG") and len(curves) < 200_000
    assert all(f"<th>{html_escape(column)}</th>" in html for column in table_header(summary))
    assert f"<th>pointing game within {POINTING_TOLERANCE} px (random)</th>" in html
    assert all(f"<td>{method}</td>" in html for method in METHODS)
    assert all(html_escape(problem) in html for problem in all_problems(summary))
    problems = len(all_problems(summary))
    assert repr(result) == f"AuditResult({str(out)!r}: gradcam, saliency on {LIMIT} val images, {problems} problems)"


def test_numbers_agree_with_a_from_scratch_recomputation(audited: tuple[Path, Path, dict]) -> None:
    """Grad-CAM's maps from `explain`, scored with the metric functions directly, give audit.json's numbers."""
    run, out, summary = audited
    opened = open_model(run)
    model = opened.model.eval()
    samples = open_dataset(opened).splits["val"][:LIMIT]
    dataset = evaluation_dataset(samples, InputSpec.from_meta(opened.meta), with_evidence=True)
    images, labels, masks = next(iter(DataLoader(dataset, batch_size=LIMIT)))
    masks = masks[:, 0]
    maps = explain(model, images, "layer4", method="gradcam").maps[:, 0]
    targets = model(images).argmax(1)
    gradcam = summary["methods"]["gradcam"]

    assert summary["tolerance"] == POINTING_TOLERANCE == 15 and gradcam["with_evidence"] == LIMIT
    hits = pointing_hits(maps, masks, 0)
    assert gradcam["hits_strict"] == int(hits.sum())
    assert gradcam["pointing_strict"] == pytest.approx(hits.float().mean().item(), abs=1e-6)
    assert gradcam["pointing_strict_random"] == pytest.approx(random_baseline(masks, 0).mean().item(), abs=1e-6)
    tolerant = pointing_hits(maps, masks, POINTING_TOLERANCE)
    assert gradcam["hits_tolerant"] == int(tolerant.sum()) and bool((tolerant >= hits).all())
    assert gradcam["pointing_tolerant"] == pytest.approx(tolerant.float().mean().item(), abs=1e-6)
    assert gradcam["pointing_tolerant_random"] == pytest.approx(
        random_baseline(masks, POINTING_TOLERANCE).mean().item(), abs=1e-6
    )
    assert gradcam["pointing_tolerant_random"] > gradcam["pointing_strict_random"]  # the margin widens the target
    assert gradcam["energy_inside"] == pytest.approx(energy_inside(maps, masks).mean().item(), abs=1e-5)
    deletion = perturbation_curve(model, images, maps, targets, mode="deletion", steps=STEPS)
    insertion = perturbation_curve(model, images, maps, targets, mode="insertion", steps=STEPS)
    assert gradcam["deletion_auc"] == pytest.approx(curve_auc(deletion).mean(), abs=1e-5)
    assert gradcam["insertion_auc"] == pytest.approx(curve_auc(insertion).mean(), abs=1e-5)
    # the random order: one generator seeded 0, drawn for deletion then insertion (all ten images in one batch)
    generator = torch.Generator().manual_seed(0)
    random_deletion, random_insertion = (
        perturbation_curve(model, images, maps, targets, mode=mode, steps=STEPS, order="random", generator=generator)
        for mode in ("deletion", "insertion")
    )
    for method in METHODS:  # the random order ignores the map: the same baseline beside every method
        m = summary["methods"][method]
        assert m["deletion_auc_random"] == pytest.approx(curve_auc(random_deletion).mean(), abs=1e-5)
        assert m["insertion_auc_random"] == pytest.approx(curve_auc(random_insertion).mean(), abs=1e-5)
    drop, increase = average_drop_increase(model, images, maps, targets)
    assert gradcam["average_drop"] == pytest.approx(drop.mean(), abs=1e-5)
    assert gradcam["average_increase"] == pytest.approx(increase.mean(), abs=1e-6)
    assert gradcam["curves"]["deletion"] == pytest.approx(deletion.mean(0), abs=1e-5)

    rows = [r for r in _csv(out / "per_image.csv") if r["method"] == "gradcam"]
    assert [r["pointing_hit_strict"] == "True" for r in rows] == hits.tolist()
    assert [r["pointing_hit_tolerant"] == "True" for r in rows] == tolerant.tolist()
    assert [float(r["pointing_tolerant_random"]) for r in rows] == pytest.approx(
        random_baseline(masks, POINTING_TOLERANCE).tolist(), abs=1e-6
    )
    assert [float(r["deletion_auc"]) for r in rows] == pytest.approx(curve_auc(deletion), abs=1e-5)
    assert [r["predicted"] for r in rows] == [opened.classes[int(t)] for t in targets]
    assert [r["true"] for r in rows] == [opened.classes[int(y)] for y in labels]


def test_a_method_at_its_own_layers_is_a_row_labelled_with_them(
    audited: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    """`layercam@layer3+layer4`: the mean of the two layers' normalised maps (normalised again), scored like any
    method, re-explained there by the sanity check and labelled with its layers; hirescam is accepted; a method
    written at the audit's own layer is the plain method, once."""
    run, _out, _summary = audited
    written = ("hirescam", "layercam@layer3+layer4", "hires@layer4")
    result = audit(run, methods=written, limit=3, steps=1, cascade_images=0, out=tmp_path / "own", progress=False)
    methods = result.summary["methods"]
    assert list(methods) == ["hirescam", "layercam@layer3+layer4"]
    fused = methods["layercam@layer3+layer4"]
    assert (fused["method"], fused["layers"]) == ("layercam", ["layer3", "layer4"])
    assert (methods["hirescam"]["method"], methods["hirescam"]["layers"]) == ("hirescam", ["layer4"])

    opened = open_model(run)
    model = opened.model.eval()
    samples = open_dataset(opened).splits["val"][:3]
    dataset = evaluation_dataset(samples, InputSpec.from_meta(opened.meta), with_evidence=True)
    images, _labels, masks = next(iter(DataLoader(dataset, batch_size=3)))
    masks = masks[:, 0]
    per_layer = torch.stack(
        [explain(model, images, layer, method="layercam").maps[:, 0] for layer in ("layer3", "layer4")]
    )
    assert not torch.allclose(per_layer[0], per_layer[1])  # two different maps, so the fusion shows
    mean = per_layer.mean(0)
    low, high = mean.amin((1, 2), keepdim=True), mean.amax((1, 2), keepdim=True)
    expected = (mean - low) / (high - low)
    torch.testing.assert_close(method_maps(model, images, "layercam", ("layer3", "layer4"))[0], expected)
    targets = model(images).argmax(1)
    torch.testing.assert_close(explain_fn("layercam", ("layer3", "layer4"))(model, images, targets), expected)
    assert fused["hits_strict"] == int(pointing_hits(expected, masks, 0).sum())
    assert fused["hits_tolerant"] == int(pointing_hits(expected, masks, POINTING_TOLERANCE).sum())
    assert fused["energy_inside"] == pytest.approx(energy_inside(expected, masks).mean().item(), abs=1e-5)

    assert {r["method"] for r in _csv(tmp_path / "own" / "per_image.csv")} == set(methods)
    text = (tmp_path / "own" / "audit.md").read_text()
    assert "| layercam@layer3+layer4 |" in text and "(layercam@layer3+layer4: at the layers named after @" in text


def test_per_class_rows_add_up_to_the_overall_counts(audited: tuple[Path, Path, dict]) -> None:
    _run, out, summary = audited
    per_image = _csv(out / "per_image.csv")
    rows = _csv(out / "per_class.csv")
    for method, m in summary["methods"].items():
        classes = m["per_class"]
        assert sum(c["images"] for c in classes.values()) == m["images"] == LIMIT
        assert sum(c["with_evidence"] for c in classes.values()) == m["with_evidence"]
        for kind in ("strict", "tolerant"):
            assert sum(c[f"hits_{kind}"] for c in classes.values()) == m[f"hits_{kind}"]
        for name, c in classes.items():
            assert c["pointing_strict"] == pytest.approx(c["hits_strict"] / c["with_evidence"])
            assert c["pointing_tolerant"] == pytest.approx(c["hits_tolerant"] / c["with_evidence"])
            mine = [r for r in per_image if r["method"] == method and r["true"] == name]
            assert c["images"] == len(mine)
            assert c["deletion_auc"] == pytest.approx(np.mean([float(r["deletion_auc"]) for r in mine]), abs=1e-5)
        assert [r["class"] for r in rows if r["method"] == method] == list(classes)


def test_the_table_has_a_row_per_method_and_the_worst_are_the_worst(audited: tuple[Path, Path, dict]) -> None:
    _run, out, summary = audited
    text = (out / "audit.md").read_text()
    header = table_header(summary)
    assert "| " + " | ".join(header) + " |" in text
    assert f"pointing game strict (0 px) and within {POINTING_TOLERANCE} px" in text
    assert f"- **pointing game within {POINTING_TOLERANCE} px**: the same, counting a peak up to" in text
    for method, m in summary["methods"].items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {method} |"))
        assert row.count("|") == len(header) + 1
        strict, tolerant = row.split(" | ")[1:3]
        assert strict == f"{m['pointing_strict']:.1%} ({m['pointing_strict_random']:.1%})"
        assert tolerant == f"{m['pointing_tolerant']:.1%} ({m['pointing_tolerant_random']:.1%})"
        assert f"{m['deletion_auc']:.3f} ({m['deletion_auc_random']:.3f})" in row
        assert ("pass" if m["sanity"]["passed"] else "FAIL") in row
        for line in m["problems"]:  # every failed check is in the report, in words
            assert line in text
        # worst: missed strict pointing game first, then the least energy inside
        rows = [r for r in _csv(out / "per_image.csv") if r["method"] == method]
        expected = sorted(rows, key=lambda r: (r["pointing_hit_strict"] == "True", float(r["energy_inside"])))[
            :WORST_PER_METHOD
        ]
        assert [w["path"] for w in m["worst"]] == [r["path"] for r in expected]


def test_a_method_that_ignores_the_model_fails_the_sanity_check_in_words(audited: tuple[Path, Path, dict]) -> None:
    """A 'method' whose map is the image's own brightness (an edge detector in disguise) survives
    randomisation unchanged."""
    run, _out, summary = audited
    opened = open_model(run)
    samples = open_dataset(opened).splits["val"][:CASCADE]
    images = torch.stack([evaluation_dataset(samples, InputSpec.from_meta(opened.meta))[i][0] for i in range(CASCADE)])
    targets = opened.model(images).argmax(1)
    steps = cascading_randomisation(opened.model, images, targets, lambda _model, x, _t: x.mean(1))
    verdict = sanity_verdict(steps)
    assert not verdict["passed"] and verdict["final"] == pytest.approx(1.0)
    report = copy.deepcopy(summary)
    failing = report["methods"]["saliency"]
    failing["sanity"] = {
        "passed": verdict["passed"],
        "final_spearman": verdict["final"],
        "threshold": verdict["threshold"],
        "cascade": [vars(s) for s in steps],
    }
    failing["problems"] = method_problems("saliency", failing, summary["tolerance"])
    text = markdown_report(report)
    assert (
        "saliency: maps barely change when the weights are randomised (Spearman 1.00 after randomising every layer)"
        in text
    )
    assert "| saliency |" in text and "FAIL (1.00)" in text
    passing = report["methods"]["gradcam"]
    assert ("gradcam: maps barely change" in text) == (passing["sanity"]["passed"] is False)


def test_bad_options_fail_before_any_work(tmp_path: Path) -> None:
    nowhere = tmp_path / "no-runs"
    with pytest.raises(UsageError, match=r"unknown method 'gradcm' \(did you mean gradcam"):
        audit(methods=("gradcm",), runs_dir=nowhere)
    with pytest.raises(UsageError, match="limit must be"):
        audit(limit=0, runs_dir=nowhere)
    with pytest.raises(UsageError, match="steps must be"):
        audit(steps=0, runs_dir=nowhere)
    for written, message in {
        "gradcam@": r"'gradcam@': name the layers after @, joined by \+ \(e.g. gradcam@layer3\+layer4\)",
        "layercam@layer3+": "name the layers after @",
        "saliency@layer3": "saliency attributes to the input pixels and takes no layer",
        "guided_gradcam@layer3+layer4": "guided_gradcam takes one layer; only the CAM methods fuse several",
        "gradcm@layer3": r"unknown method 'gradcm' \(did you mean gradcam",
    }.items():
        with pytest.raises(UsageError, match=message):
            audit(methods=("gradcam", written), runs_dir=nowhere)


def test_a_video_model_is_refused_in_one_line(audited: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run, _out, _summary = audited
    payload = torch.load(run / "best.pt", weights_only=True)
    payload["meta"].update(task="video", clip_length=8)  # the same weights, described as a video model
    torch.save(payload, tmp_path / "video.pt")
    with pytest.raises(UsageError, match="audit works on image runs; .* is a video model"):
        audit(checkpoint=tmp_path / "video.pt", progress=False)


def test_cli_bad_inputs_exit_2_with_one_line(
    audited: tuple[Path, Path, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    run, _out, _summary = audited
    cases = {
        ("--methods", "gradcam,nosuch"): "unknown method 'nosuch'",
        ("--layer", "layer9"): "unknown layer 'layer9'",
        ("--methods", "gradcam,layercam@layer3+layer9"): "unknown layer 'layer9' (did you mean ",
        ("--split", "nosuch"): "has no 'nosuch' split",
    }
    for extra, message in cases.items():
        assert main(["audit", "--run", str(run), "-q", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    with pytest.raises(SystemExit) as exited:
        main(["audit", "--run", str(run), "--limit", "0"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--limit" in err
    shown = run_cli("audit", "--run", str(run), "--layer", "layer9", "-q")  # as a user runs it
    assert shown.returncode == 2 and shown.stderr.count("\n") == 1 and "hartrace layers" in shown.stderr


def test_cli_prints_the_table_and_where_the_report_is(
    audited: tuple[Path, Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, _out, _summary = audited
    code = main(
        [
            "audit",
            "--run",
            str(run),
            "--methods",
            "gradcam",
            "--limit",
            "3",
            "--steps",
            "2",
            "--cascade-images",
            "0",
            "--tolerance",
            "0",
            "--out",
            str(tmp_path / "a"),
            "-q",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "| gradcam |" in printed and "not run" in printed and str(tmp_path / "a") in printed
    assert "| pointing game, strict (random) | pointing game within 0 px (random) |" in printed
    saved = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert saved["tolerance"] == 0 and saved["images"] == 3 and saved["methods"]["gradcam"]["sanity"]["cascade"] == []
    m = saved["methods"]["gradcam"]  # no margin: the tolerant figure is the strict one
    assert (m["pointing_tolerant"], m["pointing_tolerant_random"], m["hits_tolerant"]) == (
        m["pointing_strict"],
        m["pointing_strict_random"],
        m["hits_strict"],
    )


def test_without_evidence_the_worst_are_those_deletion_explains_least(tmp_path: Path) -> None:
    """Plain class folders have no evidence: no localisation numbers (shown as '-'),
    the worst by highest deletion AUC."""
    data = colour_folder(tmp_path / "colours", per_class=6)
    run = train(
        quick_config(data, tmp_path / "run", image_size=64, epochs=1), progress=False, log=lambda m: None
    ).run_dir
    result = audit(run, methods=("gradcam",), steps=3, cascade_images=2, out=tmp_path / "audit", progress=False)
    m = result.summary["methods"]["gradcam"]
    assert result.summary["with_evidence"] == 0 and m["energy_inside"] is None
    assert m["pointing_strict"] is None and m["pointing_tolerant"] is None
    assert m["deletion_auc"] is not None and m["problems"] == method_problems("gradcam", m, POINTING_TOLERANCE)
    row = next(
        line for line in (tmp_path / "audit" / "audit.md").read_text().splitlines() if line.startswith("| gradcam |")
    )
    assert row.startswith("| gradcam | - | - | - | ")
    rows = _csv(tmp_path / "audit" / "per_image.csv")
    assert all(r["pointing_hit_strict"] == r["pointing_hit_tolerant"] == r["energy_inside"] == "" for r in rows)
    expected = sorted(rows, key=lambda r: -float(r["deletion_auc"]))[:WORST_PER_METHOD]
    assert [w["path"] for w in m["worst"]] == [r["path"] for r in expected]
    assert all(w["reason"].startswith("deletion AUC") for w in m["worst"])
    assert (tmp_path / "audit" / "worst.png").is_file()
    assert result.summary["counterfactual"] == {"ran": False, "why": f"{data} is not a set written by hartrace synth"}
    assert m["reliance_spearman"] is None and not (tmp_path / "audit" / "reliance.json").exists()


def test_reliance_is_recomputed_from_redrawn_images_and_the_maps_mass_on_each_part(
    audited: tuple[Path, Path, dict],
) -> None:
    """Every image redrawn without each part, through the model: the probabilities in reliance.json; Grad-CAM's
    mass on each part (the part masks cropped as the image is) and scipy's Spearman against the drops: the
    per-image and mean agreement; the evidence removed: how often the prediction changes, per class."""
    from PIL import Image as PILImage
    from scipy.stats import spearmanr
    from torchvision import tv_tensors

    from hartrace.data.transforms import eval_transform
    from hartrace.synth.counterfactual import SyntheticSource

    run, out, summary = audited
    opened = open_model(run)
    model, spec = opened.model.eval(), opened.spec.input
    samples = open_dataset(opened).splits["val"][:LIMIT]
    source = SyntheticSource.open(samples[0].path.parent.parent)
    assert source is not None
    rows = json.loads((out / "reliance.json").read_text())["images"]
    assert [r["path"] for r in rows] == [r["path"] for r in _csv(out / "per_image.csv")[:LIMIT]]
    transform = eval_transform(spec.size, spec.mean, spec.std)
    for sample, row in list(zip(samples, rows, strict=True))[:3]:
        cf = source.counterfactuals(sample.path)
        assert row["parts"] == list(cf.names) and len(row["parts"]) >= 3
        parts = np.full(cf.original.shape[:2], -1, dtype=np.int16)
        for k, removal in enumerate(cf.removals):
            parts[removal.mask] = k
        original, part_map = transform(PILImage.fromarray(cf.original), tv_tensors.Mask(torch.from_numpy(parts)[None]))
        redrawn = torch.stack([transform(PILImage.fromarray(r.image)) for r in cf.removals])
        with torch.no_grad():
            before = torch.softmax(model(original[None]), 1)[0]
            after = torch.softmax(model(redrawn), 1)
        predicted = int(before.argmax())
        assert row["predicted"] == opened.classes[predicted]
        assert row["probability_after"] == pytest.approx(after[:, predicted].tolist(), abs=1e-5)
        cam = explain(model, original[None], "layer4", method="gradcam").maps[0, 0]
        masks = part_map[0].as_subclass(torch.Tensor)
        mass = np.array([float(cam[masks == k].sum() / cam.sum()) for k in range(len(cf.removals))])
        gradcam = row["methods"]["gradcam"]
        assert gradcam["mass"] == pytest.approx(mass.tolist(), abs=1e-5)
        drops = row["probability"] - np.array(row["probability_after"])
        rho = spearmanr(mass, drops).statistic
        assert gradcam["spearman"] == pytest.approx(rho, abs=1e-6)
    for label in METHODS:
        per_image = [r["methods"][label]["spearman"] for r in rows]
        ranked = [i for i, v in enumerate(per_image) if v is not None and rows[i]["random_spearman"] is not None]
        m = summary["methods"][label]
        assert m["reliance_images"] == len(ranked) > 0
        assert m["reliance_spearman"] == pytest.approx(np.mean([per_image[i] for i in ranked]), abs=1e-5)
        assert m["reliance_spearman_random"] == pytest.approx(
            np.mean([rows[i]["random_spearman"] for i in ranked]), abs=1e-5
        )
    evidence = summary["counterfactual"]["evidence"]
    labelled = _csv(out / "per_image.csv")[:LIMIT]
    for name, per_class in evidence["per_class"].items():
        changed = [r["evidence_changes_prediction"] for r, p in zip(rows, labelled, strict=True) if p["true"] == name]
        changed = [c for c in changed if c is not None]
        assert per_class["with_evidence"] == len(changed)
        assert per_class["changes_prediction"] == pytest.approx(np.mean(changed))
    assert "## Does the model use the evidence?" in (out / "audit.md").read_text()
    assert (out / "counterfactuals.png").stat().st_size > 10_000

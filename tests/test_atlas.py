"""``hartrace atlas``: each unit's top images and where it fired, and network dissection, end to end."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import tv_tensors

from hartrace.base.errors import UsageError
from hartrace.cli import main
from hartrace.data.concept_dataset import ConceptImageDataset, crop_box_to_image
from hartrace.data.concepts import read_legend
from hartrace.data.transforms import eval_transform
from hartrace.metrics.dissection import IoUCeiling
from hartrace.probe import HookManager
from hartrace.probe.units import TopActivations, fired_boxes
from hartrace.runs.loading import open_dataset, open_model
from hartrace.synth import generate
from hartrace.workflows.atlas import atlas_layers, read_atlas
from hartrace.workflows.atlas.report import dissection_summary
from hartrace.workflows.atlas.run import atlas
from hartrace.workflows.train import train
from tests.conftest import quick_config

LAYERS = ("layer3", "layer4")
TOP_K = 4
#: A split of a few images has too few positions in the paper's top 0.5 % for a mask: the top 10 % here.
QUANTILE = 0.1


def test_the_collector_keeps_a_brute_force_top_k_with_its_maps() -> None:
    torch.manual_seed(0)
    maps = torch.randn(50, 6, 3, 3)
    top = TopActivations(channels=6, k=5)
    for start in range(0, 50, 7):  # uneven batches, the last one short
        top.add(maps[start : start + 7], start)
    scores, items = maps.flatten(2).amax(2).T.topk(5, dim=1)
    assert torch.equal(top.items, items) and torch.allclose(top.scores, scores)
    assert top.maps is not None and torch.equal(top.maps, maps[items, torch.arange(6)[:, None]])
    few = TopActivations(channels=2, k=4)
    few.add(torch.rand(3, 2, 2, 2), 0)  # fewer inputs than k: the rest stay empty
    assert (few.items[:, 3] == -1).all() and torch.isinf(few.scores[:, 3]).all()


def test_the_region_that_fired_is_the_peak_blob_and_maps_back_to_the_file() -> None:
    maps = torch.zeros(3, 4, 4)
    maps[0, 1, 2] = 1.0  # one hot cell: its upsampled blob, around x 8..12, y 4..8 of 16
    maps[1, 0, 0], maps[1, 3, 3] = 1.0, 0.9  # two blobs: only the peak's
    assert fired_boxes(maps, 16) == [(8, 4, 12, 8), (0, 0, 4, 4), (0, 0, 16, 16)]  # a silent map: everywhere
    # a region of a 50 x 30 image, through the test-time resize and centre crop, and back
    ids = np.zeros((30, 50), dtype=np.int16)
    ids[10:20, 20:30] = 1
    _, moved = eval_transform(32, (0.5,) * 3, (0.5,) * 3)(
        Image.new("RGB", (50, 30)), tv_tensors.Mask(torch.from_numpy(ids)[None])
    )
    ys, xs = np.nonzero(moved[0].numpy() == 1)
    box = crop_box_to_image((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1), (50, 30), 32)
    assert box[0] <= 20 and box[1] <= 10 and box[2] >= 30 and box[3] >= 20  # holds the region ...
    assert np.abs(np.subtract(box, (20, 10, 30, 20))).max() <= 2  # ... to within a pixel or two


@pytest.fixture(scope="module")
def atlased(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A resnet_small trained one epoch at 32 px on a synthetic set with concept maps, and its atlas (CLI output)."""
    root = tmp_path_factory.mktemp("atlas")
    data = generate(root / "synthetic", per_class=2, test_per_class=0, size=64, workers=1, progress=False).root
    assert read_legend(data) is not None  # the generator writes concept maps
    run = train(quick_config(data, root / "run", image_size=32, epochs=1), progress=False, log=lambda m: None).run_dir
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        code = main(
            [
                "atlas",
                "--run",
                str(run),
                "--layers",
                ",".join(LAYERS),
                "--top-k",
                str(TOP_K),
                "--quantile",
                str(QUANTILE),
            ]
        )
    assert code == 0
    return run, data, shown.getvalue()


def test_the_cli_writes_every_file_in_the_contract(atlased: tuple[Path, Path, str]) -> None:
    run, data, shown = atlased
    assert atlas_layers(run) == list(LAYERS)
    legend = read_legend(data)
    assert legend is not None
    for name in LAYERS:
        folder = run / "atlas" / "val" / name
        for file in ("units.json", "units.csv", "contact_sheet.png", "dissection.json", "dissection.csv"):
            assert (folder / file).is_file(), file
        layer = read_atlas(run, name)
        assert (layer.layer, layer.split, layer.top_k) == (name, "val", TOP_K)
        assert [u.channel for u in layer.units] == list(range(len(layer.units)))
        assert layer.concepts and set(layer.concepts) <= set(legend[1:])  # background is never scored
        for unit in layer.units:
            assert len(unit.top) == TOP_K
            assert [t.activation for t in unit.top] == sorted((t.activation for t in unit.top), reverse=True)
            for top in unit.top:
                assert Path(top.path).relative_to(data).as_posix() == top.item_id
                width, height = Image.open(top.path).size
                x0, y0, x1, y1 = top.box
                assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            assert unit.best_concept in layer.concepts and unit.iou == max(unit.ious.values())
            assert unit.concept_share is not None and 0 <= unit.concept_share <= 1
        summary = json.loads((folder / "dissection.json").read_text())
        assert summary == json.loads(json.dumps(dissection_summary(layer)))
        assert summary["detectors"] == sum(1 for u in layer.units if (u.iou or 0) > 0.04)
        rows = (folder / "units.csv").read_text().splitlines()
        assert len(rows) == 1 + len(layer.units) and rows[0].split(",")[-1] == f"iou_{layer.concepts[-1]}"
        with Image.open(folder / "contact_sheet.png") as sheet:
            assert sheet.height > 200
        assert f"{name}: {len(layer.units)} units, computed" in shown


def test_the_atlas_is_what_a_brute_force_pass_finds(atlased: tuple[Path, Path, str]) -> None:
    """Every activation of the split at once: the same top images, thresholds at the top 10 %, the same IoUs."""
    run, data, _ = atlased
    opened = open_model(run)
    index = open_dataset(opened, check_images=False)
    samples, spec = index.splits["val"], opened.spec.input
    legend = read_legend(data)
    assert legend is not None
    items = [ConceptImageDataset(samples, spec.size, spec.mean, spec.std, data)[i] for i in range(len(samples))]
    images, ids = torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items]).long()
    with HookManager(opened.model, ["layer4"]) as hooks:
        maps = hooks.forward(images)["layer4"].activation.float()
    layer = read_atlas(run, "layer4")
    peaks = maps.flatten(2).amax(2)  # [N, C]
    side = layer.settings["mask_size"]  # masks and concepts are compared at half the input's side, as in the paper
    assert side == spec.size // 2
    small = F.interpolate(ids[:, None].float(), size=(side, side), mode="nearest")[:, 0].long()
    up = F.interpolate(maps, size=(side, side), mode="bilinear", align_corners=False)
    masked = 0
    for unit in layer.units[:: max(1, len(layer.units) // 24)]:
        position = {index.relative(s.path): i for i, s in enumerate(samples)}
        best = peaks[:, unit.channel].topk(TOP_K).values  # (dead units tie at 0: compare values, not ids)
        assert [t.activation for t in unit.top] == pytest.approx(best.tolist(), abs=1e-5)
        assert [t.activation for t in unit.top] == pytest.approx(
            [float(peaks[position[t.item_id], unit.channel]) for t in unit.top], abs=1e-5
        )
        values = maps[:, unit.channel].flatten()
        assert unit.threshold is not None
        above = (values.double() > unit.threshold).float().mean()
        assert above <= QUANTILE <= (values.double() >= unit.threshold - 1e-3).float().mean()
        mask = up[:, unit.channel].double() > unit.threshold
        masked += int(mask.any())
        for concept, iou in unit.ious.items():
            k = legend.index(concept)
            where = (small == k).flatten(1).any(1)
            truth = small[where] == k
            expected = (mask[where] & truth).sum().item() / (mask[where] | truth).sum().item()
            assert iou == pytest.approx(expected, abs=1e-12)
        assert unit.best_concept is not None
        for concept, share in unit.shares.items():
            shown = [(ids[position[t.item_id]] == legend.index(concept)).any() for t in unit.top]
            assert share == pytest.approx(float(np.mean(shown))), concept
        assert unit.concept_share == unit.shares[unit.best_concept]
    ceiling = IoUCeiling(len(legend), tuple(maps.shape[2:]), side, quantile=QUANTILE)
    ceiling.add(small)
    expected_ceilings = ceiling.ious().numpy()
    assert layer.ceilings == pytest.approx({c: float(expected_ceilings[legend.index(c)]) for c in layer.concepts})
    assert masked >= 12  # most units fired somewhere: the IoUs compared are not all of empty masks


def test_a_rerun_reads_it_back_and_new_settings_or_force_recompute(atlased: tuple[Path, Path, str]) -> None:
    run, _, _ = atlased
    units = run / "atlas" / "val" / "layer4" / "units.json"
    before = units.stat().st_mtime_ns
    again = atlas(run, layers=["layer4", "layer3"], top_k=TOP_K, quantile=QUANTILE, progress=False)
    assert again.reused == ["layer4", "layer3"] and again.seconds == 0 and units.stat().st_mtime_ns == before
    assert again.layers["layer4"] == read_atlas(run, "layer4")
    stored = json.loads(units.read_text())
    stored["settings"]["top_k"] = TOP_K + 1  # as if it had been made with another --top-k
    units.write_text(json.dumps(stored))
    changed = atlas(run, layers=["layer4", "layer3"], top_k=TOP_K, quantile=QUANTILE, progress=False)
    assert changed.reused == ["layer3"] and read_atlas(run, "layer4").settings["top_k"] == TOP_K
    assert [u.iou for u in changed.layers["layer4"].units] == [u.iou for u in again.layers["layer4"].units]
    forced = atlas(run, layers=["layer3"], top_k=TOP_K, quantile=QUANTILE, force=True, progress=False)
    assert forced.reused == [] and forced.seconds > 0


def test_without_concept_maps_there_is_no_iou_and_it_says_so_once(
    atlased: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, data, _ = atlased
    moved = tmp_path / "plain"
    shutil.copytree(data, moved, ignore=shutil.ignore_patterns("parts"))
    out = tmp_path / "out"
    argv = ["atlas", "--run", str(run), "--data", str(moved), "--layers", "layer3,layer4", "--top-k", "2"]
    assert main([*argv, "--out", str(out), "-q"]) == 0
    shown = capsys.readouterr().out
    assert shown.count("no concept maps") == 1
    layer = json.loads((out / "layer3" / "units.json").read_text())
    assert layer["concepts"] is None and all(u["iou"] is None and u["best_concept"] is None for u in layer["units"])
    assert not (out / "layer3" / "dissection.json").exists() and (out / "layer3" / "contact_sheet.png").is_file()


def test_bad_inputs_fail_in_one_line_before_any_work(
    atlased: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, _, _ = atlased
    cases = {
        ("--layers", "layer9"): "unknown layer 'layer9' (did you mean layer4",
        ("--layers", "fc"): "has no channel maps",
        ("--layers", "layer4", "--split", "nosuch"): "has no 'nosuch' split",
        ("--layers", "layer4", "--quantile", "5"): "quantile must be between 0 and 1",
    }
    for extra, message in cases.items():
        assert main(["atlas", "--run", str(run), "-q", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    with pytest.raises(SystemExit) as exited:
        main(["atlas", "--run", str(run), "--layers", "layer4", "--top-k", "0"])
    assert exited.value.code == 2 and "--top-k" in capsys.readouterr().err
    payload = torch.load(run / "best.pt", weights_only=True)
    payload["meta"].update(task="video", clip_length=8)  # the same weights, described as a video model
    torch.save(payload, tmp_path / "video.pt")
    with pytest.raises(UsageError, match="atlas works on image runs; .* is a video model"):
        atlas(checkpoint=tmp_path / "video.pt", layers=["layer4"], progress=False)
    with pytest.raises(UsageError, match="no atlas of layer 'layer1'.*hartrace atlas"):
        read_atlas(run, "layer1")

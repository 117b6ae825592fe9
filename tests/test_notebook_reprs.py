"""Results show themselves in a notebook: an HTML card with a table and an embedded PNG, small and quick to draw;
their plain repr is one short line."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

import hartrace
from hartrace.attribution.explanation import Explanation
from hartrace.metrics.classification import evaluation_report
from hartrace.render.flow import capture_strip_figure
from hartrace.render.notebook import ITEMS_SHOWN, LAYER_ROWS, LAYERS_SHOWN, MAX_WIDTH
from hartrace.workflows.evaluate import EvalResult
from hartrace.workflows.train.trainer import TrainResult

CLASSES = ["<b>red</b>", "green", "blue"]  # markup in a name must come out as text
#: The most a card may weigh: a notebook holds many of them.
MOST_BYTES = 300_000


def _pngs(html: str) -> list[Image.Image]:
    """Every PNG embedded in a card, decoded (a broken one raises), each checked for size on the way."""
    pictures = []
    for encoded in re.findall(r'<img src="data:image/png;base64,([^"]+)"', html):
        data = base64.b64decode(encoded)
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) < MOST_BYTES
        picture = Image.open(io.BytesIO(data))
        picture.load()
        assert picture.width <= MAX_WIDTH + 10 and picture.height < 1500
        pictures.append(picture)
    return pictures


def _one_short_line(text: str) -> None:
    assert "\n" not in text and len(text) < 250, text


def _image_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    ).eval()  # fmt: skip


def test_a_capture_shows_its_top_classes_layers_and_maps() -> None:
    model = _image_model()
    capture = hartrace.capture(model, torch.rand(2, 3, 32, 32), ["0", "2", "6"], classes=CLASSES)
    html = capture._repr_html_()

    [strip] = _pngs(html)
    assert strip.width > 2 * strip.height  # layers left to right, then the bars
    assert all(f"<td>{name}</td>" in html for name in ("0", "2", "6"))
    assert "<td>Conv2d</td>" in html and "2×4×32×32" in html and "top 3 classes, item 0 of 2" in html
    assert "<b>red" not in html and "&lt;b&gt;red&lt;/b&gt;" in html
    _one_short_line(repr(capture))
    assert repr(capture).startswith("Capture(input [2, 3, 32, 32], 3 layers: 0 [2, 4, 32, 32]")
    assert repr(capture["0"]) == "LayerCapture('0', Conv2d, output [2, 4, 32, 32], kernel [4, 3, 3, 3])"


def test_a_capture_of_many_layers_says_what_it_leaves_out() -> None:
    model = nn.Sequential(*[nn.Conv2d(3, 3, 1) for _ in range(30)], nn.Flatten(), nn.Linear(3 * 8 * 8, 2)).eval()
    capture = hartrace.capture(model, torch.rand(1, 3, 8, 8), [str(i) for i in range(30)])
    html = capture._repr_html_()

    assert len(_pngs(html)) == 1
    assert f"the first {LAYER_ROWS} of 30 layers are listed" in html
    assert html.count("<td>Conv2d</td>") == LAYER_ROWS
    assert "and 27 more" in repr(capture)
    strip = capture_strip_figure(capture, max_layers=LAYERS_SHOWN, title="item 0")
    titles = [ax.get_title().split("\n")[0] for ax in strip.axes if ax.get_title()]
    assert len(titles) == LAYERS_SHOWN + 1 and titles[0] == "0" and titles[LAYERS_SHOWN - 1] == "29"


def test_an_explanation_shows_each_image_beside_its_overlays() -> None:
    model = _image_model()
    images = torch.rand(6, 3, 32, 32)
    explanation = hartrace.explain(model, images, "2", "gradcam", target="top2", classes=CLASSES)
    html = explanation._repr_html_()

    [grid] = _pngs(html)
    # ITEMS_SHOWN rows of 32-pixel inputs enlarged 4 times (128) under a 26-pixel caption band, 10-pixel margins
    assert abs(grid.height - (ITEMS_SHOWN * (128 + 26) + 2 * 10)) <= 2
    assert f"the first {ITEMS_SHOWN} of 6 images are drawn" in html
    assert "Explanation: gradcam at 2, maps 6×2×32×32" in html
    _one_short_line(repr(explanation))
    first, second = (CLASSES[k] for k in explanation.targets[0].tolist())
    assert repr(explanation) == f"Explanation(gradcam at 2: maps [6, 2, 32, 32]; item 0 explains {first!r}, {second!r})"


def test_an_explanation_made_by_hand_without_inputs_draws_its_maps_over_grey() -> None:
    capture = hartrace.capture(_image_model(), torch.rand(1, 3, 16, 16), ["2"])
    explanation = Explanation(torch.rand(1, 1, 16, 16), torch.tensor([[1]]), "gradcam", ("2",), capture)
    html = explanation._repr_html_()

    assert len(_pngs(html)) == 1 and "drawn over grey" in html
    assert "item 0 explains '1'" in repr(explanation)


def test_a_clip_explanation_shows_frames_with_their_overlays() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3)
    ).eval()
    clips = torch.rand(2, 3, 6, 24, 24)
    explanation = hartrace.explain(model, clips, "1", "gradcam", target="top2", classes=CLASSES)
    html = explanation._repr_html_()

    strips = _pngs(html)
    assert len(strips) == 2 and all(strip.width > strip.height for strip in strips)  # frames left to right
    assert "the first 2 of 4 clip maps are drawn" in html and "maps 2×2×6×24×24" in html
    assert "clip 0: map for" in html and "clip 0" in html
    capture_html = explanation.capture._repr_html_()
    assert len(_pngs(capture_html)) == 1 and "2×4×6×24×24" in capture_html


def test_training_and_evaluation_results_show_their_numbers_and_pictures(tmp_path: Path) -> None:
    history = [
        {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_accuracy": 0.3 * e, "val_accuracy": 0.25 * e}
        for e in (1, 2, 3)
    ]
    trained = TrainResult(tmp_path / "run", history, best_epoch=3, stopped_early=False, seconds=12.0)
    html = trained._repr_html_()
    assert len(_pngs(html)) == 1 and "3 epochs, best: 3" in html and html.count("<td>best</td>") == 1
    _one_short_line(repr(trained))
    assert "best epoch 3 of 3, val_loss 0.4, val_accuracy 0.75" in repr(trained)

    labels = np.array([0, 1, 2, 2])
    scores = np.eye(3)[[0, 1, 2, 1]] * 0.8 + 0.2 / 3
    report = {**evaluation_report(labels, scores, ["red", "green", "blue"]), "split": "val"}
    evaluated = EvalResult(tmp_path / "eval", report)
    html = evaluated._repr_html_()
    assert len(_pngs(html)) == 1 and "<td>0.75</td>" in html and "Evaluation on the val split: 4 items" in html
    assert repr(evaluated) == f"EvalResult({str(tmp_path / 'eval')!r}: val accuracy 0.7500 on 4 items)"

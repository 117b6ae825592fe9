"""Renderers of captures: activation grids, kernels, histograms, overlays, layer flow, HTML and plotly."""

from __future__ import annotations

import base64
import gc
import re
import weakref
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import cv2
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import ConnectionPatch, Rectangle  # noqa: E402
from PIL import Image  # noqa: E402

from hartrace.base.errors import UsageError  # noqa: E402
from hartrace.base.io import save_figure  # noqa: E402
from hartrace.probe.capture import Capture, LayerCapture, LayerStats  # noqa: E402
from hartrace.render import (  # noqa: E402
    activation_grid_figure,
    activation_grid_plotly,
    cam_figure,
    cam_overlay,
    cam_overlay_plotly,
    confusion_matrix_plotly,
    figure_png_bytes,
    histogram_figure,
    histogram_plotly,
    html_report,
    kernel_grid_figure,
    kernel_grid_plotly,
    layer_flow_figure,
    probability_bars_figure,
    probability_bars_plotly,
    top_channels,
    training_curves_plotly,
)
from hartrace.render.kernels import choose_kernels  # noqa: E402

CLASSES = ["calling", "clapping", "cycling", "dancing", "drinking", "eating", "running"]


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    yield
    assert plt.get_fignums() == [], (
        "a renderer registered a figure with pyplot (it would leak, and show up in notebooks)"
    )


def _images(fig) -> list[AxesImage]:
    return [image for ax in fig.axes for image in ax.get_images()]


def _hot(channels: int = 8, hot: int = 5, size: int = 6, seed: int = 0) -> torch.Tensor:
    """One item's [C, H, W] activation where channel ``hot`` is by far the loudest."""
    activation = torch.rand(channels, size, size, generator=torch.Generator().manual_seed(seed)) * 0.1
    activation[hot] += 3.0
    return activation


def _layer(name: str, kind: str, activation: torch.Tensor, kernel: torch.Tensor | None = None) -> LayerCapture:
    return LayerCapture(name, kind, tuple(activation.shape), activation, kernel)


@pytest.fixture
def capture() -> Capture:
    """A hand-made capture: two convs, a 3-D conv (5-D output), a block without kernel and a pooled vector."""
    g = torch.Generator().manual_seed(1)
    layers = {
        "conv1": _layer(
            "conv1", "Conv2d", torch.randn(2, 8, 16, 16, generator=g), torch.randn(8, 3, 7, 7, generator=g)
        ),
        "layer1.0.conv1": _layer(
            "layer1.0.conv1", "Conv2d", torch.randn(2, 16, 8, 8, generator=g), torch.randn(16, 8, 3, 3, generator=g)
        ),
        "video.conv": _layer(
            "video.conv", "Conv3d", torch.randn(2, 4, 3, 8, 8, generator=g), torch.randn(4, 16, 3, 3, 3, generator=g)
        ),
        "layer2": _layer("layer2", "Sequential", torch.relu(torch.randn(2, 32, 4, 4, generator=g))),
        "avgpool": _layer("avgpool", "AdaptiveAvgPool2d", torch.rand(2, 32, generator=g)),
    }
    logits = torch.tensor([[0.1, 2.0, 0.3, 4.0, 0.0, 1.0, 0.2], [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    return Capture(layers, logits, logits.softmax(1), (2, 3, 32, 32), CLASSES)


def _looks_like_a_picture(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 200
        assert np.asarray(image.convert("L")).std() > 5, f"{path.name} is blank"


# --- activations ---------------------------------------------------------------------------------


def test_top_channels_ranks_by_energy_including_negative_channels() -> None:
    activation = _hot(hot=5)
    activation[2] = -2.0  # strongly negative counts as loud too
    assert top_channels(activation, 3)[:2] == [5, 2]
    assert top_channels(activation.unsqueeze(1).repeat(1, 4, 1, 1), 1) == [5]  # [C, T, H, W]
    assert top_channels(torch.tensor([0.1, -4.0, 2.0]), 2) == [1, 2]  # pooled [F]
    assert len(top_channels(activation, 100)) == 8


def test_activation_grid_labels_the_hottest_channel_first_and_scales_each_map() -> None:
    fig = activation_grid_figure(_hot(hot=5), top_n=4)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert titled[0].get_title() == "ch 5"
    assert len(_images(fig)) == 4
    limits = {image.get_clim() for image in _images(fig)}
    assert len(limits) == 4  # every map on its own scale


def test_activation_grid_shared_scale_and_chosen_channels() -> None:
    activation = _hot(hot=5)
    fig = activation_grid_figure(activation, channels=[0, 5, 3], shared_scale=True)
    assert [ax.get_title() for ax in fig.axes if ax.get_images()] == ["ch 0", "ch 5", "ch 3"]
    shown = activation[[0, 5, 3]]
    assert {image.get_clim() for image in _images(fig)} == {(float(shown.min()), float(shown.max()))}
    assert len(fig.axes) > 3 and any(ax.get_label() == "<colorbar>" for ax in fig.axes)


def test_activation_grid_of_a_video_layer_and_of_a_pooled_vector() -> None:
    video = torch.randn(4, 3, 5, 5)
    fig = activation_grid_figure(video, top_n=2, time_index=1)
    first = _images(fig)[0]
    channel = int(fig.axes[0].get_title().split()[1])
    np.testing.assert_allclose(first.get_array(), video[channel, 1].numpy(), rtol=1e-6)
    mean_fig = activation_grid_figure(video, top_n=2)
    assert "mean over time" in mean_fig.texts[0].get_text()

    vector = torch.zeros(40)
    vector[17] = 5.0
    bars = activation_grid_figure(vector, top_n=6)
    ax = bars.axes[0]
    assert len(ax.patches) == 6 and ax.get_xticklabels()[0].get_text() == "f 17"


# --- kernels ---------------------------------------------------------------------------------------


def test_kernel_grid_auto_is_rgb_for_a_first_layer() -> None:
    fig = kernel_grid_figure(torch.randn(8, 3, 7, 7))
    images = _images(fig)
    assert len(images) == 8
    for image in images:
        array = np.asarray(image.get_array())
        assert array.ndim == 3 and array.shape[2] == 3
        assert array.min() >= 0 and array.max() <= 1 and array.max() - array.min() > 0.9  # normalised per kernel


def test_kernel_grid_mean_mode_is_on_a_symmetric_scale() -> None:
    weight = torch.randn(8, 16, 3, 3)
    fig = kernel_grid_figure(weight, mode="mean", max_kernels=5)
    images = _images(fig)
    assert len(images) == 5
    first = np.asarray(images[0].get_array())
    assert first.ndim == 2 and min(first.shape) >= 24  # 3x3 enlarged to be visible
    np.testing.assert_allclose(first[::8, ::8], weight[0].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    low, high = images[0].get_clim()
    assert low == pytest.approx(-high)


def test_a_1x1_convolution_is_its_weight_matrix_with_the_strongest_inputs() -> None:
    weight = torch.randn(6, 80, 1, 1, generator=torch.Generator().manual_seed(0)) * 0.01
    weight[:, 70] = 3.0  # two inputs far stronger than the rest
    weight[2, 5] = -4.0
    fig = kernel_grid_figure(weight)
    (matrix,) = _images(fig)
    ax = matrix.axes
    columns = [int(t.get_text()) for t in ax.get_xticklabels()]
    assert np.asarray(matrix.get_array()).shape == (6, 64) and len(columns) == 64
    assert 5 in columns and 70 in columns and columns == sorted(columns)  # the strongest kept, in index order
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(o) for o in range(6)]
    np.testing.assert_allclose(matrix.get_array(), weight[:, columns, 0, 0].numpy(), rtol=1e-6)
    low, high = matrix.get_clim()
    assert low == pytest.approx(-high) == pytest.approx(-4.0)  # diverging, centred on 0
    assert "64 of 80" in ax.get_xlabel() and "weight matrix" in fig._suptitle.get_text()
    choice = choose_kernels(weight)
    assert choice.mode == "matrix" and choice.to_json()["inputs"] == columns and 0.99 < choice.share < 1


def test_a_deep_kernel_shows_its_strongest_outputs_by_their_strongest_input_slices() -> None:
    weight = torch.randn(10, 40, 3, 3, generator=torch.Generator().manual_seed(0)) * 0.01
    weight[7, 33] = 1.0  # output 7 is the strongest, through inputs 33 then 3
    weight[7, 3] = -0.5
    fig = kernel_grid_figure(weight)
    (image,) = _images(fig)
    ax = image.axes
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 8 * 8  # 8 outputs x 8 input slices, not one mean per kernel
    assert labels[:2] == ["in 33", "in 3"]
    assert [t.get_text() for t in ax.get_yticklabels()][0].startswith("out 7")
    tile = np.asarray(image.get_array())[9:33, :24]  # the first slice, enlarged 8 times, below its label
    np.testing.assert_allclose(tile[::8, ::8], weight[7, 33].numpy(), rtol=1e-6)
    assert "8 strongest of 10 outputs" in fig._suptitle.get_text() and "of 40 input slices" in fig._suptitle.get_text()
    numbers = choose_kernels(weight).to_json()
    assert numbers["mode"] == "per_input" and numbers["outputs"][0] == 7 and numbers["inputs"]["7"][:2] == [33, 3]
    assert numbers["output_shares"]["7"] > 0.99  # its two strong slices are almost all of it


def test_kernel_grid_per_input_and_3d_kernels() -> None:
    per_input = kernel_grid_figure(torch.randn(10, 12, 3, 3), mode="per_input")
    assert len(per_input.axes[0].texts) == 8 * 8
    fig = kernel_grid_figure(torch.randn(4, 3, 3, 5, 5))  # [out, in, kt, kh, kw]: time slices side by side
    tile = np.asarray(_images(fig)[0].get_array())
    assert len(_images(fig)) == 4 and tile.ndim == 3 and tile.shape[1] > 3 * tile.shape[0]
    deep = np.asarray(_images(kernel_grid_figure(torch.randn(4, 8, 2, 3, 3)))[0].get_array())
    assert deep.ndim == 2 and np.isnan(deep).any()  # a gap between the two slices
    with pytest.raises(UsageError, match="3 input channels"):
        kernel_grid_figure(torch.randn(4, 8, 3, 3), mode="rgb")
    with pytest.raises(UsageError, match="1x1"):
        kernel_grid_figure(torch.randn(4, 8, 3, 3), mode="matrix")


# --- histograms --------------------------------------------------------------------------------------


def test_histogram_figure_has_one_bar_per_bin_and_flags_dead_layers() -> None:
    healthy = LayerStats.of(torch.randn(4, 8, 6, 6), bins=20)
    dead = LayerStats.of(torch.zeros(2, 4, 3, 3), bins=10)
    fig = histogram_figure({"conv1": healthy, "relu": dead})
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["conv1", "relu"]
    assert len([p for p in panels[0].patches if isinstance(p, Rectangle)]) == 20
    assert len(panels[1].patches) == 10
    dead_text = " ".join(t.get_text() for t in panels[1].texts)
    assert "dead ch 100.0%" in dead_text and "zeros 100.0%" in dead_text and "!" in dead_text
    assert "!" not in " ".join(t.get_text() for t in panels[0].texts)


def test_histogram_switches_to_log_for_a_relu_spike() -> None:
    spike = torch.relu(torch.randn(64, 16, 8, 8) - 1.5)  # mostly exact zeros, a thin tail
    assert histogram_figure(LayerStats.of(spike)).axes[0].get_yscale() == "log"
    assert histogram_figure(LayerStats.of(torch.rand(4, 4, 8, 8))).axes[0].get_yscale() == "linear"


# --- overlays ----------------------------------------------------------------------------------------


def test_cam_overlay_blends_jet_colours_over_the_image() -> None:
    image = np.full((20, 30, 3), 128, np.uint8)
    image[0, 0] = (10, 200, 30)
    cam = np.zeros((20, 30), np.float32)
    cam[:, 15:] = 1.0
    np.testing.assert_array_equal(cam_overlay(image, cam, alpha=0.0), image)
    heat = cam_overlay(image, cam, alpha=1.0)
    assert heat.dtype == np.uint8 and heat.shape == image.shape
    hot, cold = heat[10, 25].astype(int), heat[10, 2].astype(int)
    assert hot[0] > 100 and hot[0] > hot[2] + 80  # red end of JET (RGB, not OpenCV's BGR)
    assert cold[2] > 100 and cold[2] > cold[0] + 80  # blue end
    half = cam_overlay(image, cam, alpha=0.5).astype(int)
    np.testing.assert_allclose(half[10, 25], (128 + hot) / 2, atol=1)


def test_cam_overlay_resizes_a_small_cam_onto_the_right_part_of_the_image() -> None:
    image = np.zeros((64, 48, 3), np.uint8)
    cam = np.zeros((4, 4), np.float32)
    cam[:2, :2] = 1.0  # top-left quarter is hot
    out = cam_overlay(image, cam, alpha=1.0).astype(int)
    assert out.shape == (64, 48, 3)
    assert out[5, 5, 0] > out[5, 5, 2] and out[58, 42, 2] > out[58, 42, 0]


def test_cam_figure_shows_the_original_and_one_overlay_per_cam() -> None:
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    fig = cam_figure(image, [np.ones((4, 4)), np.zeros((4, 4))], titles=["Grad-CAM", "<b>IG</b>"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["input", "Grad-CAM", "<b>IG</b>"]
    np.testing.assert_array_equal(_images(fig)[0].get_array(), image)
    assert len(_images(cam_figure(image, np.ones((4, 4))))) == 2
    with pytest.raises(UsageError):
        cam_figure(image, [np.ones((4, 4))], titles=["a", "b"])


# --- layer flow --------------------------------------------------------------------------------------


def test_layer_flow_has_input_each_layer_in_order_then_prediction(capture: Capture, tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    order = ["layer2", "conv1", "video.conv", "avgpool", "layer1.0.conv1"]
    fig = layer_flow_figure(image, capture, order, channels_per_layer=3, index=0, title="why")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("input")
    assert [t.split("\n")[0] for t in titles[1:-1]] == order
    assert titles[-1].startswith("top-5")
    assert titles[1] == "layer2\nSequential 32×4×4" and "Conv3d 4×3×8×8" in titles[3]
    arrows = [a for a in fig.artists if isinstance(a, ConnectionPatch)]
    assert len(arrows) == len(order) + 1
    starts = [a.xy1[0] for a in arrows]
    assert starts == sorted(starts)  # left to right

    bars_ax = fig.axes[-1]
    names = [t.get_text() for t in bars_ax.texts if t.get_text() in CLASSES]
    assert names[:3] == ["dancing", "clapping", "eating"]  # item 0's top classes, most probable first
    map_labels = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_text().startswith("ch ")]
    assert len(map_labels) == 4 * 3  # four map columns (the vector layer has bars), three maps each
    path = save_figure(fig, tmp_path / "flow.png")
    _looks_like_a_picture(path)


def test_layer_flow_uses_the_chosen_item_and_rejects_unknown_layers(capture: Capture) -> None:
    image = np.zeros((32, 32, 3), np.uint8)
    fig = layer_flow_figure(image, capture, ["conv1"], channels_per_layer=2, index=1)
    names = [t.get_text() for t in fig.axes[-1].texts if t.get_text() in CLASSES]
    assert names[0] == "calling"
    hottest = top_channels(capture["conv1"].activation[1], 1)[0]
    labels = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_text().startswith("ch ")]
    assert labels[0] == f"ch {hottest}" and len(labels) == 2
    with pytest.raises(UsageError, match="layer9"):
        layer_flow_figure(image, capture, ["conv1", "layer9"])


def test_layer_flow_marks_skipped_layers_the_trunk_head_boundary_and_the_true_class(capture: Capture) -> None:
    image = np.zeros((32, 32, 3), np.uint8)
    layers = ["conv1", "layer1.0.conv1", "layer2"]
    fig = layer_flow_figure(
        image, capture, layers, channels_per_layer=2, skipped=[12, 0], head=("layer2",), true_label="eating"
    )
    texts = [t.get_text() for t in fig.texts]
    assert any(t.startswith("⋯ 12 ⋯") and "layers" in t for t in texts) and "trunk | head" in texts
    arrows = [a for a in fig.artists if isinstance(a, ConnectionPatch)]
    dashed = [a for a in arrows if a.get_linestyle() != "-"]
    assert len(arrows) == 4 and dashed == [arrows[1]]  # conv1 -> layer1.0.conv1 only
    (divider,) = [a for a in fig.artists if isinstance(a, Line2D)]
    x = divider.get_xdata()[0]
    assert arrows[2].xy1[0] < x < arrows[2].xy2[0]  # between layer1.0.conv1 and layer2, the head's first
    bars = fig.axes[-1]
    assert "true: eating · predicted: dancing (" in bars.get_title()
    assert [t.get_text() for t in bars.texts if t.get_color() == "tab:green"] == ["eating"]
    no_head_shown = layer_flow_figure(image, capture, ["conv1"], channels_per_layer=2, head=("fc",))
    (divider,) = [a for a in no_head_shown.artists if isinstance(a, Line2D)]
    assert divider.get_xdata()[0] > max(a.xy1[0] for a in no_head_shown.artists if isinstance(a, ConnectionPatch))
    assert "true:" not in no_head_shown.axes[-1].get_title()  # nothing said of a class nobody knows
    with pytest.raises(UsageError, match="skipped counts"):
        layer_flow_figure(image, capture, layers, skipped=[1])


# --- probability chart -------------------------------------------------------------------------------


def test_probability_chart_shows_every_class_up_to_20_else_says_how_many_and_marks_the_truth() -> None:
    rng = np.random.default_rng(0)
    fifteen = [f"class {i}" for i in range(15)]
    fig = probability_bars_figure(rng.dirichlet(np.ones(15)), fifteen, true_label="class 3")
    ax = fig.axes[0]
    assert len(ax.patches) == 15 and ax.get_title().startswith("class probabilities: all 15 classes")
    assert "true: class 3 · predicted:" in ax.get_title()
    green = [bar for bar in ax.patches if bar.get_facecolor()[:3] == matplotlib.colors.to_rgb("tab:green")]
    assert len(green) == 1

    forty = [f"action {i}" for i in range(40)]
    probabilities = np.linspace(1, 2, 40)[::-1] / np.linspace(1, 2, 40).sum()  # action 39 the least likely
    fig = probability_bars_figure(probabilities, forty, true_label="action 39")
    ax = fig.axes[0]
    assert ax.get_title().startswith("class probabilities: top 20 of 40 classes, and the true class")
    assert len(ax.patches) == 21 and ax.get_yticklabels()[-1].get_text() == "action 39  (rank 40)"
    assert len(probability_bars_figure(probabilities, forty).axes[0].patches) == 20


# --- HTML report -----------------------------------------------------------------------------------


def test_figure_png_bytes_renders_and_leaves_nothing_behind() -> None:
    fig = activation_grid_figure(_hot(), top_n=2)
    data = figure_png_bytes(fig)
    assert data.startswith(b"\x89PNG") and plt.get_fignums() == []  # never registered with pyplot
    freed = weakref.ref(fig)
    del fig
    gc.collect()
    assert freed() is None, "the figure is still referenced after rendering: it leaks"


def test_html_report_embeds_images_escapes_text_and_lists_tables(tmp_path: Path) -> None:
    png = figure_png_bytes(activation_grid_figure(_hot(), top_n=2))
    on_disk = tmp_path / "flow.png"
    on_disk.write_bytes(png)
    page = html_report(
        "run <script>alert(1)</script>",
        [("activations", png), ("flow & more", on_disk)],
        summary={"accuracy": 0.5, "note": "<b>bold</b>"},
        tables=[("top classes", ["class", "p"], [["<i>dancing</i>", 0.61234], ["running", 0.2]])],
    )
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(uris) == 2 and all(base64.b64decode(u) == png for u in uris)
    assert "flow &amp; more" in page and "<i>" not in page and "&lt;i&gt;dancing&lt;/i&gt;" in page
    assert "<caption>top classes</caption>" in page and "<th>class</th>" in page and "0.6123" in page
    assert "<pre>" in page and "&quot;accuracy&quot;: 0.5" in page and "&lt;b&gt;bold" in page


# --- plotly --------------------------------------------------------------------------------------------


def test_activation_grid_plotly_keeps_channel_indices_on_every_heatmap() -> None:
    fig = activation_grid_plotly(_hot(channels=12, hot=7), top_n=6)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 6 and heatmaps[0].name == "ch 7"
    assert np.all(np.asarray(heatmaps[0].customdata) == 7)
    assert fig.layout.annotations[0].text == "ch 7"
    assert len(activation_grid_plotly(torch.randn(3, 2, 4, 4), top_n=10).data) == 3


def test_probability_bars_plotly_puts_the_most_probable_on_top() -> None:
    probabilities = torch.tensor([0.1, 0.5, 0.05, 0.35])
    fig = probability_bars_plotly(probabilities, ["a", "b", "c", "d"], top_k=3)
    bar = fig.data[0]
    assert list(bar.y) == ["b", "d", "a"] and list(bar.customdata) == ["b", "d", "a"]
    assert list(bar.x) == sorted(bar.x, reverse=True)
    assert fig.layout.yaxis.autorange == "reversed"  # first row drawn at the top


def test_plotly_confusion_curves_kernels_histogram_and_overlay() -> None:
    matrix = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 6]])
    confusion = confusion_matrix_plotly(matrix, ["a", "b", "c"])
    np.testing.assert_array_equal(np.asarray(confusion.data[0].z), matrix)
    assert list(confusion.data[0].x) == ["a", "b", "c"] and confusion.layout.xaxis.title.text == "predicted"

    rows = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5, "val_accuracy": 0.4}
        for e in (1, 2, 3)
    ]
    curves = training_curves_plotly(rows)
    assert [t.name for t in curves.data] == ["train loss", "train accuracy", "val loss", "val accuracy"]
    assert list(curves.data[1].y) == [50.0, 50.0, 50.0]

    assert [t.type for t in kernel_grid_plotly(torch.randn(40, 3, 5, 5), max_kernels=10).data] == ["image"] * 10
    deep = torch.zeros(4, 8, 3, 3)
    deep[2, 5] = 1.0
    assert [t.name for t in kernel_grid_plotly(deep).data][0] == "out 2 · in 5"  # strongest output, strongest slice
    assert len(kernel_grid_plotly(deep).data) == 4 * 6
    matrix = kernel_grid_plotly(torch.randn(4, 8, 1, 1)).data  # a 1x1 conv: one heatmap, channels on its axes
    assert len(matrix) == 1 and list(matrix[0].x) == [f"in {i}" for i in range(8)] and len(matrix[0].y) == 4

    stats = {"x": LayerStats.of(torch.randn(2, 3, 4, 4), bins=12), "y": LayerStats.of(torch.rand(2, 3, 4, 4), bins=12)}
    histogram = histogram_plotly(stats)
    assert len(histogram.data) == 2 and len(histogram.data[0].y) == 12

    image = np.full((10, 10, 3), 100, np.uint8)
    cam = np.linspace(0, 1, 100).reshape(10, 10)
    overlay = cam_overlay_plotly(image, cam, alpha=0.4)
    sent = overlay.data[0].source  # one PNG, decoded back to exactly the blended pixels
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(sent.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), cam_overlay(image, cam, alpha=0.4))
    scale = overlay.data[1]  # the colour bar: OpenCV's JET from 0 (dark blue) to 1 (dark red), as painted
    assert scale.showscale is not False and (scale.zmin, scale.zmax) == (0, 1)
    assert scale.colorscale[0][1] == "rgb(0,0,128)" and scale.colorscale[-1][1] == "rgb(128,0,0)"

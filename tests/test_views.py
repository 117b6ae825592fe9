"""Any layer's output as what it is (hartrace/probe/views.py), drawn as what it is (hartrace/render/views.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hartrace.cli import main
from hartrace.probe.views import item_view
from hartrace.render.views import layer_view_figure, sequence_heatmap_figure

IMAGE_INPUT = (2, 3, 32, 32)
CLIP_INPUT = (2, 3, 4, 32, 32)  # two clips of four frames


def test_image_layers_are_maps_vectors_or_sequences() -> None:
    maps = torch.arange(2 * 5 * 3 * 3, dtype=torch.float32).reshape(2, 5, 3, 3)
    view = item_view(maps, IMAGE_INPUT, index=1)
    assert view.kind == "maps" and torch.equal(view.values, maps[1]) and not view.per_frame
    assert item_view(torch.ones(2, 7), IMAGE_INPUT).kind == "vector"
    pooled = item_view(torch.arange(14.0).reshape(2, 7, 1, 1), IMAGE_INPUT, index=1)
    assert pooled.kind == "vector" and pooled.values.tolist() == list(range(7, 14))
    tokens = item_view(torch.ones(2, 10, 16), IMAGE_INPUT)  # e.g. a transformer's [tokens, features]
    assert tokens.kind == "sequence" and tokens.values.shape == (10, 16)


def test_per_frame_layers_fold_their_frames_back_per_clip() -> None:
    frames = torch.arange(8 * 6 * 3 * 3, dtype=torch.float32).reshape(8, 6, 3, 3)  # [B*T, C, h, w], video-major
    view = item_view(frames, CLIP_INPUT, index=1)
    assert view.kind == "volume" and view.per_frame and view.values.shape == (6, 4, 3, 3)
    for t in range(4):
        assert torch.equal(view.values[:, t], frames[4 + t])  # clip 1's frame t is row 4 + t
    features = item_view(torch.arange(8 * 16.0).reshape(8, 16), CLIP_INPUT, index=0)  # a CNN's pooled output per frame
    assert (
        features.kind == "sequence"
        and features.per_frame
        and torch.equal(features.values, torch.arange(4 * 16.0).reshape(4, 16))
    )


def test_video_model_layers_keep_their_own_shapes() -> None:
    lstm = item_view(torch.ones(2, 4, 16), CLIP_INPUT)  # batch_first LSTM: [B, T, F]
    assert lstm.kind == "sequence" and lstm.values.shape == (4, 16) and not lstm.per_frame
    conv3d = item_view(torch.ones(2, 8, 4, 5, 5), CLIP_INPUT)
    assert conv3d.kind == "volume" and conv3d.values.shape == (8, 4, 5, 5)
    assert item_view(torch.ones(2, 8, 1, 1, 1), CLIP_INPUT).kind == "vector"
    assert item_view(torch.ones(2, 12), CLIP_INPUT).kind == "vector"


def test_sequence_heatmap_puts_the_loudest_feature_on_top() -> None:
    values = np.zeros((5, 3))
    values[:, 2] = [-4, 4, -4, 4, -4]  # loudest, and it changes sign: a diverging scale centred on zero
    values[:, 0] = 1.0
    figure = sequence_heatmap_figure(values, title="lstm")
    shown = figure.axes[0].images[0]
    assert np.array_equal(np.asarray(shown.get_array())[0], values[:, 2])  # features as rows, time as columns
    assert shown.get_clim() == (-4.0, 4.0) and shown.get_cmap().name == "RdBu_r"
    assert "3 of 3 features x 5 frames" in figure.axes[0].get_title()


def test_layer_view_figure_draws_every_kind() -> None:
    assert layer_view_figure("vector", np.arange(10.0), top_n=4).axes[0].patches  # bars
    assert len(layer_view_figure("maps", np.random.rand(6, 4, 4), top_n=4).axes) == 4
    volume = layer_view_figure("volume", np.random.rand(3, 2, 4, 4), top_n=2)
    assert sum(ax.images != [] for ax in volume.axes) == 2 * 2 + 2  # 2 channels x 2 time slices, a colour key each
    assert layer_view_figure("sequence", np.random.rand(4, 9)).axes[0].images
    with pytest.raises(Exception, match="unknown kind"):
        layer_view_figure("cloud", np.zeros(3))


@pytest.mark.parametrize(
    ("backbone", "shape"),
    [("c3d_small", "1x3x8x112x112"), ("cnn_lstm", "1x3x8x112x112"), ("resnet_small", "1x3x128x128")],
)
def test_layers_measures_image_and_video_models_with_their_own_input(backbone: str, shape: str, capsys) -> None:
    assert main(["layers", "--backbone", backbone, "--depth", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"input {shape}" in printed
    if backbone == "cnn_lstm":
        rows = {line.split()[0]: line.split()[2] for line in printed.splitlines()[2:]}
        assert (
            rows["backbone"] == "8x256" and rows["lstm"] == "1x8x256" and rows["fc"] == "1x15"
        )  # a zoo model is built with the Kaggle set's 15 classes unless told otherwise

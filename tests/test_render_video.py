"""Renderers of clips: per-frame overlays, frame strips, temporal-importance curves, activation and kernel grids,
GIF and MP4."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from PIL import Image  # noqa: E402

from hartrace.attribution.temporal import temporal_importance  # noqa: E402
from hartrace.base.errors import UsageError  # noqa: E402
from hartrace.base.io import save_figure  # noqa: E402
from hartrace.data.video import probe_video, read_video  # noqa: E402
from hartrace.render import (  # noqa: E402
    activation_time_grid_figure,
    frame_strip_figure,
    kernel_grid_figure,
    overlay_frames,
    read_gif,
    temporal_importance_figure,
    write_gif,
    write_mp4,
)
from hartrace.render.video import as_frames  # noqa: E402

T, H, W = 12, 32, 48


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    yield
    assert plt.get_fignums() == [], (
        "a renderer registered a figure with pyplot (it would leak, and show up in notebooks)"
    )


def _images(ax) -> list[AxesImage]:
    return ax.get_images()


@pytest.fixture
def clip() -> tuple[np.ndarray, np.ndarray]:
    """A bright square moving right over a dark clip, and a map that follows it, strongest in frame 8."""
    frames = np.full((T, H, W, 3), 20, np.uint8)
    cams = np.zeros((T, H, W))
    for t in range(T):
        x = 2 + 3 * t
        frames[t, 10:22, x : x + 8] = (240, 240, 240)
        cams[t, 10:22, x : x + 8] = 1.0 / (1 + abs(t - 8))
    return frames, cams


def _redness(rgb: np.ndarray) -> float:
    return float(rgb[..., 0].astype(float).mean() - rgb[..., 2].astype(float).mean())


# --- overlays ------------------------------------------------------------------------------------------


def test_overlay_frames_are_redder_where_the_map_is_high(clip) -> None:
    frames, cams = clip
    overlays = overlay_frames(frames, cams, alpha=0.5)
    assert overlays.shape == (T, H, W, 3) and overlays.dtype == np.uint8
    square, background = overlays[8, 10:22, 26:34], overlays[8, :8]
    assert _redness(square) > 50 and _redness(background) < -50  # jet: red at 1, dark blue at 0
    assert _redness(overlays[8, 10:22, 26:34]) > _redness(overlays[0, 10:22, 2:10])  # frame 0's map is weaker
    np.testing.assert_array_equal(overlay_frames(frames, cams, alpha=0.0), frames)
    with pytest.raises(UsageError, match=r"\[T=12, H, W\]"):
        overlay_frames(frames, cams[:5])


def test_as_frames_takes_a_model_input_and_scales_the_whole_clip_at_once() -> None:
    tensor = torch.zeros(3, 2, 4, 5)  # [C, T, H, W], floats in [0, 1]
    tensor[:, 1] = 0.5
    frames = as_frames(tensor)
    assert frames.shape == (2, 4, 5, 3) and frames.dtype == np.uint8
    assert frames[0].max() == 0 and frames[1].min() == 128  # frame 1 is not stretched to white on its own
    with pytest.raises(UsageError, match="expected frames"):
        as_frames(np.zeros((4, 5)))


# --- frame strips and importance curves ----------------------------------------------------------------


def test_frame_strip_shows_frames_over_overlays_over_the_importance_curve(clip, tmp_path: Path) -> None:
    frames, cams = clip
    fig = frame_strip_figure(
        frames, cams, max_frames=4, title="Jump -> Jump", labels=[f"{t / 25:.2f}s" for t in range(T)]
    )
    shown = [0, 4, 7, 11]
    assert len(fig.axes) == 4 + 4 + 1 + 1  # frames, overlays, curve, colour key
    top, bottom = fig.axes[0:8:2], fig.axes[1:8:2]
    assert [ax.get_title() for ax in top] == [f"t={t}\n{t / 25:.2f}s" for t in shown]
    for ax, t in zip(top, shown, strict=True):
        np.testing.assert_array_equal(_images(ax)[0].get_array(), frames[t])
    hottest = np.asarray(_images(bottom[2])[0].get_array())  # frame 7: next to the peak
    coldest = np.asarray(_images(bottom[0])[0].get_array())
    assert _redness(hottest[10:22, 23:31]) > _redness(coldest[10:22, 2:10]) + 50
    curve = fig.axes[8]
    line = curve.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), temporal_importance(cams))
    dots = [ln for ln in curve.get_lines() if ln.get_label() == "shown frames"][0]
    assert list(dots.get_xdata()) == shown
    assert any("peak t=8" in text.get_text() for text in curve.texts)
    assert fig._suptitle.get_text() == "Jump -> Jump"
    out = save_figure(fig, tmp_path / "strip.png")
    with Image.open(out) as image:
        assert image.size[0] > image.size[1] >= 400  # wider than tall, and big enough to read
        assert np.asarray(image.convert("L")).std() > 5


def test_frame_strip_without_a_map_or_with_a_given_importance(clip) -> None:
    frames, cams = clip
    plain = frame_strip_figure(frames, max_frames=20)
    assert len(plain.axes) == T and [ax.get_title() for ax in plain.axes][:3] == ["t=0", "t=1", "t=2"]
    given = np.zeros(T)
    given[3] = 1.0
    curve_only = frame_strip_figure(frames, importance=given, max_frames=3)
    assert len(curve_only.axes) == 3 + 1
    np.testing.assert_allclose(curve_only.axes[-1].get_lines()[0].get_ydata(), given)
    with pytest.raises(UsageError, match="importance values"):
        frame_strip_figure(frames, cams, importance=given[:5])
    with pytest.raises(UsageError, match="labels"):
        frame_strip_figure(frames, labels=["a"])


def test_temporal_importance_figure_in_frames_and_in_seconds() -> None:
    shares = np.array([0.1, 0.2, 0.6, 0.1])
    fig = temporal_importance_figure(shares, fps=2, title="Grad-CAM")
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_allclose(line.get_ydata(), shares)
    assert ax.get_xlabel() == "time (s)" and ax.get_title() == "Grad-CAM"
    assert [text.get_text() for text in ax.texts] == ["peak t=2"]
    uniform = [ln for ln in ax.get_lines() if ln.get_label() == "uniform"][0]
    assert list(uniform.get_ydata()) == [0.25, 0.25]
    assert temporal_importance_figure(shares).axes[0].get_xlabel() == "frame"
    with pytest.raises(UsageError, match=r"\[T\]"):
        temporal_importance_figure(np.zeros((2, 3)))


# --- activations per time slice, 3-D kernels --------------------------------------------------------------


def test_activation_time_grid_rows_are_channels_columns_are_time() -> None:
    activation = torch.rand(6, 4, 5, 5, generator=torch.Generator().manual_seed(0)) * 0.1
    activation[3, 2] += 5.0  # channel 3 fires at time slice 2
    activation[1] += 1.0  # channel 1 is on throughout
    fig = activation_time_grid_figure(activation, top_n=3, title="layer1")
    image_axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(image_axes) == 3 * 4 and len(fig.axes) == 3 * 4 + 3  # a colour key per row
    assert [image_axes[r * 4].get_ylabel() for r in range(2)] == ["ch 3", "ch 1"]  # loudest first
    assert [ax.get_title() for ax in image_axes[:4]] == ["t 0", "t 1", "t 2", "t 3"]
    first_row = [ax.get_images()[0] for ax in image_axes[:4]]
    assert len({image.get_clim() for image in first_row}) == 1  # one colour scale across time
    means = [float(np.mean(image.get_array())) for image in first_row]
    assert int(np.argmax(means)) == 2 and means[2] > 10 * means[0]
    np.testing.assert_allclose(first_row[2].get_array(), activation[3, 2].numpy(), rtol=1e-6)
    assert fig._suptitle.get_text().startswith("layer1: top 3 of 6 channels x 4 time slices")
    with pytest.raises(UsageError, match=r"\[C, t, h, w\]"):
        activation_time_grid_figure(torch.zeros(3, 5, 5))


def test_kernel_grid_of_a_conv3d_shows_each_kernels_time_slices_side_by_side() -> None:
    weight = torch.randn(4, 3, 3, 5, 5, generator=torch.Generator().manual_seed(0))  # [out, in, kt, kh, kw]
    fig = kernel_grid_figure(weight)
    images = [image for ax in fig.axes for image in ax.get_images()]
    assert len(images) == 4 and "3x5x5" in fig._suptitle.get_text() and "3 time slices" in fig._suptitle.get_text()
    tile = np.asarray(images[0].get_array())
    kernel = weight[0].numpy()
    kernel = (kernel - kernel.min()) / (kernel.max() - kernel.min())
    side = tile.shape[0]  # 5 px enlarged to at least 24
    factor = side // 5
    gap = (tile.shape[1] - 3 * side) // 2
    assert tile.shape[1] == 3 * side + 2 * gap and gap >= 1
    for t in range(3):
        piece = tile[:, t * (side + gap) : t * (side + gap) + side]
        np.testing.assert_allclose(piece[::factor, ::factor], np.transpose(kernel[:, t], (1, 2, 0)), rtol=1e-6)
    gap_pixels = tile[:, side : side + gap]
    assert (
        np.allclose(gap_pixels, gap_pixels[0, 0]) and 0.5 < gap_pixels[0, 0, 0] < 0.95
    )  # grey: no kernel is white there

    deep = torch.randn(4, 8, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    mean = kernel_grid_figure(deep, mode="mean")  # each kernel averaged over its inputs, slice by slice
    tile = np.asarray([image for ax in mean.axes for image in ax.get_images()][0].get_array())
    side = tile.shape[0]
    np.testing.assert_allclose(
        tile[:: side // 3, : side : side // 3], deep[0, :, 0].mean(0).numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        tile[:: side // 3, -side :: side // 3], deep[0, :, 1].mean(0).numpy(), rtol=1e-5, atol=1e-6
    )


# --- animations ----------------------------------------------------------------------------------------


def test_gif_round_trip_keeps_frames_size_and_content(clip, tmp_path: Path) -> None:
    frames, _ = clip
    path = write_gif(frames, tmp_path / "clip.gif", fps=10)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]  # no temporary file left behind
    back = read_gif(path)
    assert back.shape == (T, H, W, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames.astype(int)).max() <= 8  # two colours: the palette holds them exactly
    with Image.open(path) as image:
        assert image.info["loop"] == 0 and image.info["duration"] == 100
    with pytest.raises(UsageError, match="fps"):
        write_gif(frames, tmp_path / "bad.gif", fps=0)
    with pytest.raises(UsageError, match="cannot read GIF"):
        read_gif(tmp_path / "missing.gif")


def test_mp4_round_trip_keeps_frames_size_and_content_within_codec_loss(clip, tmp_path: Path) -> None:
    frames, _ = clip
    path = write_mp4(frames, tmp_path / "clip.mp4", fps=12)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary file left behind
    info = probe_video(path)
    assert (info.frames, info.width, info.height) == (T, W, H) and info.fps == pytest.approx(12)
    back = read_video(path)
    assert back.shape == (T, H, W, 3)
    error = np.abs(back.astype(float) - frames.astype(float))
    assert error.mean() < 6
    for t in (0, 5, 11):  # the square is where it was, frame by frame
        x = 2 + 3 * t
        assert back[t, 12:20, x + 2 : x + 6].mean() > 200 and back[t, 0:6].mean() < 60
    odd = write_mp4(frames[:, :31, :47], tmp_path / "odd.mp4", fps=12)  # the codec needs even sizes
    assert read_video(odd).shape == (T, 32, 48, 3)
    overlays = overlay_frames(frames, np.ones((T, H, W)))
    write_mp4(overlays, tmp_path / "clip.mp4", fps=12)  # replaces the old file atomically
    assert _redness(read_video(tmp_path / "clip.mp4")) > 40  # the red overlay, not the old grey clip

"""Explanations of clips: the CAM family on 3-D conv nets and on a CNN+LSTM's per-frame layers, by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import hartrace
from hartrace.attribution import METHODS, explain, grad_cam, temporal_importance
from hartrace.attribution.cam import normalise, upsample_and_normalise
from hartrace.attribution.temporal import evenly_spaced, frames_to_volume, per_frame_frames
from hartrace.base.errors import UsageError
from hartrace.metrics.evidence import energy_inside, pointing_hits, random_baseline
from hartrace.probe.hooks import HookManager

GRADIENT_METHODS = [name for name, spec in METHODS.items() if spec.family == "cam" and spec.needs_gradients]


# --- temporal importance and the time axis -----------------------------------------------------------


def test_temporal_importance_is_each_frames_share_of_the_mass() -> None:
    cams = np.zeros((3, 2, 2))
    cams[0, 0, 0] = 1.0
    cams[1] = 0.75  # four pixels: mass 3
    cams[2, 1, 1] = -5.0  # negative values carry no mass
    np.testing.assert_allclose(temporal_importance(cams), [0.25, 0.75, 0.0])
    batch = torch.stack([torch.from_numpy(cams), torch.zeros(3, 2, 2, dtype=torch.float64)])
    shares = temporal_importance(batch)
    assert shares.shape == (2, 3)
    np.testing.assert_allclose(shares[0], [0.25, 0.75, 0.0])
    np.testing.assert_allclose(shares[1], [1 / 3] * 3)  # an empty map says nothing about when: uniform
    np.testing.assert_allclose(shares.sum(1), [1.0, 1.0])
    with pytest.raises(UsageError, match=r"\[T, H, W\]"):
        temporal_importance(np.zeros((4, 4)))


def test_evenly_spaced_frames_include_both_ends() -> None:
    assert evenly_spaced(16, 8) == [0, 2, 4, 6, 9, 11, 13, 15]
    assert evenly_spaced(5, 8) == [0, 1, 2, 3, 4]
    assert evenly_spaced(10, 1) == [0]
    with pytest.raises(UsageError):
        evenly_spaced(10, 0)


def test_per_frame_layers_are_detected_and_folded_video_major() -> None:
    assert per_frame_frames((2 * 8, 16, 7, 7), (2, 3, 8, 56, 56)) == 8
    assert per_frame_frames((2, 16, 4, 7, 7), (2, 3, 8, 56, 56)) is None  # a 3-D conv keeps its time axis
    assert per_frame_frames((2, 16, 7, 7), (2, 3, 56, 56)) is None  # an image model
    frames = torch.arange(2 * 3, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 2, 1, 1)  # frame b*T+t holds b*T+t
    volume = frames_to_volume(frames, 3)
    assert volume.shape == (2, 2, 3, 1, 1)
    assert volume[1, 0, :, 0, 0].tolist() == [3.0, 4.0, 5.0] and volume[0, 1, 2, 0, 0] == 2.0


# --- 3-D conv nets -----------------------------------------------------------------------------------


def _conv3d_net(seed: int = 0) -> nn.Sequential:
    """conv (kernel 2, stride 2) -> global average pool -> linear: every position's gradient is W[c] / positions."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv3d(3, 4, 2, stride=2), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3)).eval()


def test_gradcam_of_a_conv3d_by_hand() -> None:
    model = _conv3d_net()
    clip = torch.randn(2, 3, 4, 8, 8)
    activation = model[0](clip).detach()  # [2, 4, 2, 4, 4]: 32 positions
    target = torch.tensor([2, 0])
    with HookManager(model, ["0"], gradients=["0"]) as hooks:
        hooks.forward(clip)
        gradient = hooks.backward(target)["0"].gradient[:, 0]
    weights = model[3].weight.detach()[target] / 32  # Grad-CAM weights = linear weights / positions
    torch.testing.assert_close(gradient, weights[:, :, None, None, None].expand_as(gradient))
    raw = (weights[:, :, None, None, None] * activation).sum(1).clamp(min=0)
    expected = F.interpolate(raw[:, None], size=(4, 8, 8), mode="trilinear", align_corners=False)[:, 0]
    flat = expected.flatten(1)
    low, high = flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1)
    cams = grad_cam(model, clip, "0", target=target)
    assert cams.shape == (2, 4, 8, 8)
    torch.testing.assert_close(cams, (expected - low) / (high - low), atol=1e-5, rtol=1e-5)


def test_trilinear_upsampling_keeps_the_peak_frame() -> None:
    raw = torch.zeros(1, 2, 4, 4)
    raw[0, 1, 1:3, 1:3] = 1.0  # all the mass in the second of two time slices
    cam = upsample_and_normalise(raw, (8, 16, 16))[0]
    shares = temporal_importance(cam)  # slice 1 covers frames 4-7; frames 2-5 blend the two slices
    assert int(np.argmax(shares)) >= 6 and shares[4:].sum() > 0.85
    assert float(cam[6:].amin((1, 2)).max()) == 0.0 and float(cam[6:].max()) == 1.0 and float(cam[:2].max()) == 0.0


def test_normalise_is_per_video_so_the_frame_with_the_mass_stays_brightest() -> None:
    cams = torch.zeros(2, 3, 4, 4)
    cams[0, 0] = 1.0
    cams[0, 2, 1, 1] = 10.0
    cams[1, 1, 0, 0] = 0.001  # a second video on a tiny scale still reaches 1
    result = normalise(cams)
    assert float(result[0, 2].max()) == 1.0 and float(result[0, 0].max()) == pytest.approx(0.1)
    assert float(result[1].max()) == pytest.approx(1.0)


class _Detector(nn.Module):
    """A 1x1x1 conv that splits a grey clip into its positive (ch 0) and negative (ch 1) parts; class 0 sums ch 0."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 1, bias=False)
        self.relu = nn.ReLU()
        self.head = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1, 1))
            self.head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.conv(clip)).mean((2, 3, 4)))


def _square_in_frame(frame: int = 2, frames: int = 6) -> torch.Tensor:
    clip = torch.zeros(1, 1, frames, 12, 12)
    clip[0, 0, frame, 4:8, 6:10] = 1.0
    return clip


@pytest.mark.parametrize(
    "method", [name for name, spec in METHODS.items() if spec.family == "cam" and name != "eigencam"]
)
def test_every_cam_method_finds_the_square_in_its_frame(method: str) -> None:
    clip = _square_in_frame(frame=2)
    cams = explain(_Detector().eval(), clip, "relu", method=method, target=0).maps
    assert cams.shape == (1, 1, 6, 12, 12) and cams.min() >= 0 and cams.max() == pytest.approx(1.0)
    assert int(np.argmax(temporal_importance(cams[0, 0]))) == 2
    assert torch.equal(cams[0, 0, 2] > 0.5, clip[0, 0, 2] > 0.5)


def test_eigencam_takes_one_component_over_all_frames_of_a_video() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv3d(3, 5, 1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(5, 2)).eval()
    clip = torch.randn(2, 3, 3, 6, 6)
    activation = model[1](model[0](clip)).detach().numpy()
    cams = explain(model, clip, "1", method="eigencam").maps[:, 0]
    for item in range(2):
        flat = activation[item].reshape(5, -1).T
        flat = flat - flat.mean(axis=0)
        projection = flat @ np.linalg.svd(flat, full_matrices=False)[2][0]
        expected = np.maximum(projection.reshape(3, 6, 6), 0)
        expected = (expected - expected.min()) / (expected.max() - expected.min())
        np.testing.assert_allclose(cams[item].numpy(), expected, atol=1e-5)


def test_grad_cam_on_clips_gives_one_map_per_video_and_k_maps_for_several_targets() -> None:
    model = _conv3d_net()
    clip = torch.randn(2, 3, 4, 8, 8)
    assert hartrace.grad_cam(model, clip, "0").shape == (2, 4, 8, 8)
    top2 = hartrace.grad_cam(model, clip, "0", target="top2")
    assert top2.shape == (2, 2, 4, 8, 8)
    second = model(clip).topk(2).indices[:, 1]
    torch.testing.assert_close(top2[:, 1], hartrace.grad_cam(model, clip, "0", target=second))


def test_a_layer_without_a_time_axis_is_refused() -> None:
    class Pooled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3d(3, 4, 1)
            self.flat = nn.Conv2d(4, 4, 1)  # after the time axis is averaged away
            self.head = nn.Linear(4, 2)

        def forward(self, clip: torch.Tensor) -> torch.Tensor:
            return self.head(self.flat(self.conv(clip).mean(2)).mean((2, 3)))

    with pytest.raises(UsageError, match="keeps the input's time and spatial axes"):
        grad_cam(Pooled().eval(), torch.randn(2, 3, 4, 8, 8), "flat")


# --- a CNN+LSTM: 2-D layers per frame ----------------------------------------------------------------


class _CnnLstm(nn.Module):
    """Conv2d on every frame (video-major) -> pooled -> LSTM -> linear on the last step."""

    def __init__(self, last_frame_only: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.relu = nn.ReLU()
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.head = nn.Linear(6 if not last_frame_only else 4, 3)
        self.last_frame_only = last_frame_only

    def frames(self, clip: torch.Tensor) -> torch.Tensor:
        return clip.transpose(1, 2).flatten(0, 1)

    def rest(self, activation: torch.Tensor, batch: int) -> torch.Tensor:
        pooled = self.relu(activation).mean((2, 3)).view(batch, -1, activation.shape[1])
        if self.last_frame_only:
            return self.head(pooled[:, -1])
        return self.head(self.lstm(pooled)[0][:, -1])

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.rest(self.conv(self.frames(clip)), clip.shape[0])


def _gradcam_by_autograd(model: _CnnLstm, clip: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-frame Grad-CAM formed by hand: d(logit)/d(conv output) by autograd, channel weights per frame."""
    batch, _, frames, height, width = clip.shape
    activation = model.conv(model.frames(clip)).detach().requires_grad_()
    logits = model.rest(activation, batch)
    (gradient,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), activation)
    maps = torch.zeros(batch, frames, height, width)
    for b in range(batch):
        for t in range(frames):
            i = b * frames + t
            weights = gradient[i].mean((1, 2))
            raw = (weights[:, None, None] * activation[i].detach()).sum(0).clamp(min=0)
            maps[b, t] = F.interpolate(raw[None, None], size=(height, width), mode="bilinear", align_corners=False)[
                0, 0
            ]
        low, high = maps[b].min(), maps[b].max()  # per video, across its frames
        maps[b] = (maps[b] - low) / (high - low)
    return maps


def test_per_frame_gradcam_of_a_cnn_lstm_matches_autograd_by_hand() -> None:
    torch.manual_seed(0)
    model = _CnnLstm().eval()
    clip = torch.randn(2, 3, 5, 8, 8)
    target = torch.tensor([2, 0])  # a different class per video: the target columns must line up with the videos
    cams = grad_cam(model, clip, "conv", target=target)
    assert cams.shape == (2, 5, 8, 8)
    torch.testing.assert_close(cams, _gradcam_by_autograd(model, clip, target), atol=1e-5, rtol=1e-4)
    both = grad_cam(model, clip, "conv", target=[0, 2])  # K = 2 targets per video
    assert both.shape == (2, 2, 5, 8, 8)
    torch.testing.assert_close(
        both[1, 0], _gradcam_by_autograd(model, clip, torch.tensor([2, 0]))[1], atol=1e-5, rtol=1e-4
    )
    torch.testing.assert_close(
        both[0, 1], _gradcam_by_autograd(model, clip, torch.tensor([2, 0]))[0], atol=1e-5, rtol=1e-4
    )


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_per_frame_maps_go_dark_on_frames_the_model_ignores(method: str) -> None:
    torch.manual_seed(1)
    model = _CnnLstm(last_frame_only=True).eval()
    cams = explain(model, torch.rand(1, 3, 4, 8, 8), "conv", method=method, target=0).maps
    assert cams.shape == (1, 1, 4, 8, 8)
    assert float(cams[0, 0, :3].abs().max()) == 0.0 and float(cams[0, 0, 3].max()) == pytest.approx(1.0)
    np.testing.assert_allclose(temporal_importance(cams[0, 0]), [0, 0, 0, 1])


@pytest.mark.parametrize("method", ["eigencam", "scorecam"])
def test_per_frame_maps_without_gradients_span_the_video(method: str) -> None:
    torch.manual_seed(2)
    model = _CnnLstm().eval()
    cams = explain(model, torch.randn(2, 3, 4, 8, 8), "conv", method=method).maps
    assert cams.shape == (2, 1, 4, 8, 8)
    for video in cams[:, 0]:
        assert float(video.min()) == 0.0 and float(video.max()) == pytest.approx(1.0)  # normalised per video
    assert (cams.flatten(3).amax(3) < 1.0).any(), "frames are not each stretched to 1"


# --- pixel methods on clips ----------------------------------------------------------------------------


def test_saliency_of_a_clip_by_hand() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 2 * 2, 2, bias=False)).eval()
    weight = torch.zeros(2, 2, 3, 2, 2)  # [class, C, T, H, W]
    weight[0, 0, 1, 0, 1] = 2.0
    weight[0, 1, 1, 0, 1] = -2.0  # |2| + |-2| summed over colour channels
    weight[0, 1, 2, 1, 1] = 1.0
    with torch.no_grad():
        model[1].weight.copy_(weight.view(2, -1))
    maps = explain(model, torch.ones(1, 2, 3, 2, 2), None, method="saliency", target=0).maps
    expected = torch.zeros(3, 2, 2)
    expected[1, 0, 1], expected[2, 1, 1] = 1.0, 0.25
    assert maps.shape == (1, 1, 3, 2, 2)
    torch.testing.assert_close(maps[0, 0], expected)


@pytest.mark.parametrize("method", ["integrated_gradients", "smoothgrad", "guided_gradcam"])
def test_pixel_methods_give_video_maps(method: str) -> None:
    model = _conv3d_net()
    maps = explain(model, torch.randn(2, 3, 4, 8, 8), "0", method=method, steps=4, samples=2).maps
    assert maps.shape == (2, 1, 4, 8, 8) and maps.min() >= 0
    assert maps.flatten(1).amax(1).tolist() == pytest.approx([1.0, 1.0])


def test_occlusion_slides_a_window_through_time_too() -> None:
    class Frame2(nn.Module):  # the score is the brightness of frame 2's top-left quarter
        def forward(self, clip: torch.Tensor) -> torch.Tensor:
            score = clip[:, :, 2, :4, :4].mean((1, 2, 3))
            return torch.stack([score, -score], 1)

    maps = explain(Frame2(), torch.ones(1, 3, 8, 8, 8), None, method="occlusion", target=0, window=4).maps
    assert maps.shape == (1, 1, 8, 8, 8)
    shares = temporal_importance(maps[0, 0])
    assert int(np.argmax(shares)) == 2 and shares[5:].sum() == 0.0  # two-frame windows: frames 1-3 only
    frame = maps[
        0, 0, 2
    ]  # 4-pixel windows, stride 2: rows and columns 6-7 are only ever hidden with nothing that counts
    assert float(frame[0, 0]) == 1.0 and float(frame[6:].max()) == 0.0 and float(frame[:, 6:].max()) == 0.0


def test_guided_gradcam_refuses_a_per_frame_layer() -> None:
    with pytest.raises(UsageError, match="runs per frame"):
        explain(_CnnLstm().eval(), torch.randn(1, 3, 4, 8, 8), "conv", method="guided_gradcam")


# --- evidence in videos --------------------------------------------------------------------------------


def test_pointing_game_energy_and_baseline_on_videos_by_hand() -> None:
    masks = torch.zeros(2, 3, 4, 4, dtype=torch.bool)
    masks[:, 1, 0, 0:2] = True  # evidence only in frame 1: two of 48 pixels of the volume
    cams = torch.zeros(2, 3, 4, 4)
    cams[0, 1, 0, 1] = 1.0  # the volume's peak is in frame 1's evidence
    cams[0, 2, 3, 3] = 0.5
    cams[1, 0, 0, 0] = 1.0  # right place, wrong frame: frame 0 has no evidence
    cams[1, 1, 2, 2] = 0.5  # frame 1's own peak: sqrt(5) = 2.24 px from the evidence
    assert pointing_hits(cams, masks).tolist() == [True, False]
    assert pointing_hits(cams, masks, tolerance=3).tolist() == [True, False]  # tolerance never reaches across time
    assert pointing_hits(cams, masks, per_frame=True).tolist() == [[False, True, False], [False, False, False]]
    assert pointing_hits(cams, masks, tolerance=2, per_frame=True)[1].tolist() == [False, False, False]
    assert pointing_hits(cams, masks, tolerance=3, per_frame=True)[1].tolist() == [False, True, False]
    torch.testing.assert_close(energy_inside(cams, masks), torch.tensor([1.0 / 1.5, 0.0]))
    torch.testing.assert_close(energy_inside(cams, masks, per_frame=True)[0], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(random_baseline(masks), torch.tensor([2 / 48, 2 / 48]))
    torch.testing.assert_close(random_baseline(masks, per_frame=True)[0], torch.tensor([0.0, 2 / 16, 0.0]))
    # 1 px (Euclidean) around (0, 0) and (0, 1): those two, (0, 2), (1, 0) and (1, 1)
    torch.testing.assert_close(random_baseline(masks, tolerance=1, per_frame=True)[0], torch.tensor([0.0, 5 / 16, 0.0]))
    with pytest.raises(UsageError, match="same shape"):
        pointing_hits(cams[:, :2], masks)
    with pytest.raises(UsageError, match="per-frame"):
        energy_inside(cams[:, 0], masks[:, 0], per_frame=True)

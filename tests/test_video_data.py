"""Video decoding, clip sampling, clip transforms and the VideoDataset, on tiny videos whose frames say their index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hartrace.base.errors import DataError, UsageError
from hartrace.data import Sample, load_dataset
from hartrace.data.transforms import AugmentConfig, denormalise
from hartrace.data.video import (
    VideoDataset,
    VideoDecodeError,
    VideoInfo,
    clip_indices,
    is_video_file,
    load_video_mask,
    probe_video,
    read_video,
    video_eval_transform,
    video_train_transform,
)
from tests.test_video_layouts import FRAMES, HEIGHT, WIDTH, frame_indices, make_ucf101, make_video

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.avi")


def shown_indices(clip: torch.Tensor) -> list[int]:
    """Which :func:`make_video` frames a normalised ``[C, T, H, W]`` clip shows."""
    frames = denormalise(clip.permute(1, 0, 2, 3), MEAN, STD)  # [T, C, H, W] in [0, 1]
    return frame_indices((frames.permute(0, 2, 3, 1) * 255).numpy())


# --- decoding ------------------------------------------------------------------------------------


def test_probe_video_reports_frames_size_and_rate(video: Path) -> None:
    assert probe_video(video) == VideoInfo(frames=FRAMES, width=WIDTH, height=HEIGHT, fps=10.0)
    assert is_video_file(video) and not is_video_file(video.with_suffix(".txt"))


def test_probe_video_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.avi").write_bytes(b"")
    (tmp_path / "page.mp4").write_text("<html>404</html>")
    for name, reason in (("missing.avi", "missing"), ("empty.avi", "empty file"), ("page.mp4", "not a video")):
        with pytest.raises(VideoDecodeError, match=reason):
            probe_video(tmp_path / name)


def test_read_video_returns_the_asked_frames_in_order(video: Path) -> None:
    every = read_video(video)
    assert every.shape == (FRAMES, HEIGHT, WIDTH, 3) and every.dtype == np.uint8
    assert frame_indices(every) == list(range(FRAMES))
    picked = read_video(video, [7, 0, 11, 7])
    assert picked.shape == (4, HEIGHT, WIDTH, 3) and frame_indices(picked) == [7, 0, 11, 7]
    with pytest.raises(UsageError, match=">= 0"):
        read_video(video, [-1])


def test_read_video_is_rgb(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "red.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for _ in range(3):
        writer.write(np.tile(np.array([0, 0, 220], dtype=np.uint8), (24, 32, 1)))  # red in OpenCV's BGR
    writer.release()
    red, green, blue = read_video(path, [1])[0].reshape(-1, 3).mean(axis=0)
    assert red > 150 and green < 60 and blue < 60


def test_frames_past_the_decodable_end_are_clamped(video: Path) -> None:
    video.write_bytes(video.read_bytes()[: int(video.stat().st_size * 0.8)])
    decodable = probe_video(video).frames
    assert 0 < decodable < FRAMES
    frames = read_video(video, [0, FRAMES - 1, 100])
    assert frame_indices(frames) == [0, decodable - 1, decodable - 1]


def test_load_video_mask(tmp_path: Path) -> None:
    np.savez(tmp_path / "ok.npz", mask=np.eye(4, dtype=np.uint8)[None].repeat(3, axis=0))
    mask = load_video_mask(tmp_path / "ok.npz")
    assert mask.dtype == bool and mask.shape == (3, 4, 4) and mask.sum() == 12
    np.savez(tmp_path / "other.npz", boxes=np.zeros(3))
    with pytest.raises(DataError, match="no array named 'mask'"):
        load_video_mask(tmp_path / "other.npz")
    (tmp_path / "bad.npz").write_text("nope")
    with pytest.raises(DataError, match="not a readable .npz mask"):
        load_video_mask(tmp_path / "bad.npz")


# --- clip sampling -------------------------------------------------------------------------------


def test_clip_indices_center_stride_and_uniform() -> None:
    assert clip_indices(12, 4) == [[4, 5, 6, 7]]
    assert clip_indices(12, 4, stride=3) == [[1, 4, 7, 10]]
    assert clip_indices(12, 4, clips=3, mode="uniform") == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert clip_indices(12, 4, clips=3) == clip_indices(12, 4, clips=3, mode="uniform"), "several clips spread out"
    assert clip_indices(100, 8, stride=2, clips=2, mode="uniform") == [list(range(0, 16, 2)), list(range(85, 100, 2))]


def test_short_videos_repeat_their_last_frame() -> None:
    assert clip_indices(3, 6) == [[0, 1, 2, 2, 2, 2]]
    assert clip_indices(5, 4, stride=2) == [[0, 2, 4, 4]]
    assert clip_indices(3, 4, clips=2, mode="random") == [[0, 1, 2, 2]] * 2
    assert clip_indices(1, 3) == [[0, 0, 0]]


def test_random_clips_follow_the_given_generator() -> None:
    draws = [clip_indices(200, 4, mode="random", rng=np.random.default_rng(7))[0][0] for _ in range(2)]
    assert draws[0] == draws[1]
    starts = {clip_indices(200, 4, mode="random", rng=np.random.default_rng(s))[0][0] for s in range(20)}
    assert len(starts) > 5 and all(0 <= s <= 196 for s in starts)
    torch_draws = [clip_indices(200, 4, mode="random", rng=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch_draws[0] == torch_draws[1]
    torch.manual_seed(11)
    first = clip_indices(200, 4, clips=3, mode="random")
    torch.manual_seed(11)
    assert clip_indices(200, 4, clips=3, mode="random") == first, "the trainer's seed makes it repeat"


def test_clip_indices_rejects_bad_arguments() -> None:
    with pytest.raises(UsageError, match="clip_length must be at least 1"):
        clip_indices(10, 0)
    with pytest.raises(UsageError, match="unknown clip mode 'middle'"):
        clip_indices(10, 4, mode="middle")


# --- transforms ----------------------------------------------------------------------------------


def square_clip(t: int = 4, size: int = 40, moving: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Dark frames with a bright 10 px square (moving 6 px right per frame if ``moving``) and its mask."""
    frames = np.full((t, size, size, 3), 20, dtype=np.uint8)
    mask = np.zeros((t, size, size), dtype=bool)
    for i in range(t):
        x = 4 + (6 * i if moving else 0)
        frames[i, 6:16, x : x + 10] = 230
        mask[i, 6:16, x : x + 10] = True
    return frames, mask


def centroid(mask: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return torch.stack([ys.float().mean(), xs.float().mean()])


def test_eval_transform_shapes_and_values() -> None:
    frames, mask = square_clip()
    transform = video_eval_transform(32, MEAN, STD)
    clip = transform(frames)
    assert clip.shape == (3, 4, 32, 32) and clip.dtype == torch.float32
    assert torch.allclose(clip.amin(), torch.tensor((20 / 255 - 0.5) / 0.25), atol=0.02)
    clip_again, moved = transform(frames, mask)
    assert torch.equal(clip, clip_again) and moved.shape == (4, 32, 32) and moved.dtype == torch.bool


def test_train_transform_moves_the_mask_with_the_frames_and_treats_frames_alike() -> None:
    augment = AugmentConfig(min_crop_scale=0.3, color_jitter=0.0)
    transform = video_train_transform(32, MEAN, STD, augment)
    flipped = 0
    for seed in range(12):
        torch.manual_seed(seed)
        clip, moved = transform(*square_clip(moving=True))
        bright = denormalise(clip.permute(1, 0, 2, 3), MEAN, STD).mean(dim=1) > 0.5  # [T, H, W]
        for t in range(4):  # the square moves 6 px a frame; the mask sits on it (nearest resampling shifts edges ~1 px)
            assert (centroid(bright[t]) - centroid(moved[t])).norm() < 2.5
            assert (bright[t] & moved[t]).sum() > 0.5 * (bright[t] | moved[t]).sum()
        flipped += bool(centroid(moved[3])[1] < centroid(moved[0])[1])
        still, still_mask = transform(*square_clip())
        assert all(torch.equal(still_mask[0], m) for m in still_mask), "one crop and flip for every frame"
        assert torch.allclose(still[:, 0], still[:, 3])
    assert 0 < flipped < 12, "some clips are flipped, some not"
    crops = {tuple(transform(*square_clip())[1].sum(dim=(1, 2)).tolist()) for _ in range(6)}
    assert len(crops) > 1, "crops are random"


def test_colour_jitter_is_the_same_for_every_frame() -> None:
    transform = video_train_transform(32, MEAN, STD, AugmentConfig(color_jitter=0.8, min_crop_scale=1.0, hflip=False))
    frames = np.full((3, 40, 40, 3), 120, dtype=np.uint8)
    for seed in range(4):
        torch.manual_seed(seed)
        clip = transform(frames)
        assert torch.allclose(clip[:, 0], clip[:, 2], atol=1e-5)


def test_no_augmentation_is_the_eval_transform() -> None:
    frames, _ = square_clip()
    plain = video_train_transform(32, MEAN, STD, AugmentConfig(strength=0))
    assert torch.equal(plain(frames), video_eval_transform(32, MEAN, STD)(frames))


# --- VideoDataset --------------------------------------------------------------------------------


def test_video_dataset_items(video: Path) -> None:
    transform = video_eval_transform(24, MEAN, STD)
    one = VideoDataset([Sample(video, 2)], transform, clip_length=4, stride=2)
    clip, label = one[0]
    assert clip.shape == (3, 4, 24, 24) and label == 2
    assert shown_indices(clip) == [2, 4, 6, 8], "the centre clip, every second frame"
    three = VideoDataset([Sample(video, None)], transform, clip_length=4, clips=3)
    clips, label = three[0]
    assert clips.shape == (3, 3, 4, 24, 24) and label == -1
    assert [shown_indices(c) for c in clips] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    short = VideoDataset([Sample(video, 0)], transform, clip_length=16)
    assert shown_indices(short[0][0]) == [*range(12), 11, 11, 11, 11]


def test_video_dataset_evidence_follows_the_clip(tmp_path: Path, video: Path) -> None:
    mask = np.zeros((FRAMES, HEIGHT // 2, WIDTH // 2), dtype=bool)  # half resolution: resized to the frames
    for i in range(FRAMES):
        mask[i, :, i : i + 1] = True  # frame i marks column i: tells frames apart
    np.savez(tmp_path / "clip.npz", mask=mask)
    transform = video_eval_transform(24, MEAN, STD)
    dataset = VideoDataset([Sample(video, 1, tmp_path / "clip.npz")], transform, clip_length=4, with_evidence=True)
    clip, label, moved = dataset[0]
    assert clip.shape == (3, 4, 24, 24) and moved.shape == (4, 24, 24) and moved.dtype == torch.bool
    _, expected = transform(read_video(video, [4, 5, 6, 7]), np.repeat(np.repeat(mask[4:8], 2, axis=1), 2, axis=2))
    assert torch.equal(moved, expected)
    several = VideoDataset([Sample(video, 1)], transform, clip_length=4, clips=3, with_evidence=True)
    clips, _, masks = several[0]
    assert clips.shape == (3, 3, 4, 24, 24) and masks.shape == (3, 4, 24, 24) and not masks.any()


def test_random_training_clips_repeat_under_the_same_seed(video: Path) -> None:
    dataset = VideoDataset([Sample(video, 0)], video_train_transform(24, MEAN, STD), clip_length=4, mode="random")
    torch.manual_seed(5)
    first = dataset[0][0]
    torch.manual_seed(5)
    assert torch.equal(dataset[0][0], first)


def test_video_that_changed_after_checking_is_a_data_error(video: Path) -> None:
    dataset = VideoDataset([Sample(video, 0)], video_eval_transform(24, MEAN, STD), clip_length=4)
    video.write_text("overwritten")
    with pytest.raises(DataError, match=r"clip.avi: not a video .*changed after the dataset was checked"):
        dataset[0]


def test_video_dataset_over_a_loaded_ucf101_split(tmp_path: Path) -> None:
    index = load_dataset(make_ucf101(tmp_path / "UCF101", folds=1), progress=False)
    dataset = VideoDataset(
        index.splits["val"], video_eval_transform(24, MEAN, STD), clip_length=8, frame_counts=index.frame_counts
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=3)
    clips, labels = next(iter(loader))
    assert clips.shape == (3, 3, 8, 24, 24) and labels.tolist() == [s.label for s in index.splits["val"][:3]]

"""Image or video as one strategy (hartrace/runs/tasks.py): read, show and overlay an input the same way for both."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hartrace.data.pipeline import InputSpec
from hartrace.runs.tasks import IMAGE, VIDEO, task_of
from tests.conftest import make_image
from tests.test_video_layouts import make_video

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def test_an_image_is_read_as_one_picture_and_shown_as_one_frame(tmp_path) -> None:
    spec = InputSpec("image", 16, MEAN, STD)
    read = task_of(spec).read(make_image(tmp_path / "a.png", size=(40, 30), fmt="PNG"), spec)
    assert read.batch.shape == (1, 3, 16, 16) and read.frame_indices == [0]
    frames = IMAGE.frames(read.batch[0], spec)
    assert frames.shape == (1, 16, 16, 3) and frames.dtype == np.uint8
    overlaid = IMAGE.overlay(frames, np.ones((16, 16)))
    assert overlaid.shape == frames.shape and not np.array_equal(overlaid, frames)


def test_a_video_is_read_as_its_centre_clip_and_shown_as_its_frames(tmp_path) -> None:
    spec = InputSpec("video", 16, MEAN, STD, clip_length=4, clip_stride=2)
    video = make_video(tmp_path / "v.avi", frames=12, size=(24, 24))
    read = task_of("video").read(video, spec)
    assert read.batch.shape == (1, 3, 4, 16, 16) and read.frame_indices == [2, 4, 6, 8]
    frames = VIDEO.frames(read.batch[0], spec)
    assert frames.shape == (4, 16, 16, 3)
    # each frame shown is what the model saw: denormalised back to pixels
    torch.testing.assert_close(
        torch.from_numpy(frames[1]).permute(2, 0, 1).float() / 255,
        read.batch[0, :, 1] * 0.25 + 0.5,
        atol=1 / 255,
        rtol=0,
    )
    assert VIDEO.overlay(frames, np.zeros((4, 16, 16))).shape == (4, 16, 16, 3)


def test_tasks_say_what_they_count_and_batch() -> None:
    assert (IMAGE.nouns, VIDEO.nouns, IMAGE.input_rank, VIDEO.input_rank) == ("images", "videos", 4, 5)
    assert VIDEO.clips_per_item(InputSpec("video", 8, MEAN, STD, clip_length=2, test_clips=3)) == 3
    assert IMAGE.clips_per_item(InputSpec("image", 8, MEAN, STD)) == 1
    with pytest.raises(Exception, match="unknown task 'audio'"):
        task_of("audio")


def test_evidence_masks_take_the_shape_of_the_tasks_maps() -> None:
    masks = torch.zeros(2, 1, 8, 8, dtype=torch.bool)  # [B, T, H, W]: an image's evidence has one frame
    assert IMAGE.as_maps(masks).shape == (2, 8, 8)
    assert VIDEO.as_maps(torch.zeros(2, 4, 8, 8)).shape == (2, 4, 8, 8)

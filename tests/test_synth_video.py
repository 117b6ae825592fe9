"""The synthetic video set: the UCF101 layout, clips that decode, honest per-frame masks, motion that matters."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hartrace.base.errors import UsageError
from hartrace.synth import VIDEO_ACTIONS, generate, generate_video_set, render_video
from hartrace.synth.video import clip_names, sample_video, video_rng
from tests.conftest import run_cli

SMALL = dict(per_class=2, test_per_class=2, size=64, frames=8, seed=3, progress=False)
BACKGROUND = ("clutter", "distractor")  # what a frame shows without the action's figure and props


def _decode(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    capture.release()
    return np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("video") / "set"
    return root, generate_video_set(root, workers=2, **SMALL)


def test_writes_the_ucf101_layout(small_set) -> None:
    root, report = small_set
    assert (report.n_train, report.n_test, report.frames) == (12 * 2, 12 * 2, 8)
    assert report.seconds > 0 and report.frames_per_second == pytest.approx(report.videos_per_second * 8)

    splits = root / "ucfTrainTestlist"
    assert _lines(splits / "classInd.txt") == [f"{i} {a}" for i, a in enumerate(VIDEO_ACTIONS, start=1)]
    assert _lines(root / "classes.txt") == list(VIDEO_ACTIONS)
    train = [line.split(" ") for line in _lines(splits / "trainlist01.txt")]
    test = [line.split(" ") for line in _lines(splits / "testlist01.txt")]
    assert len(train) == 24 and all(len(row) == 2 for row in train)
    assert len(test) == 24 and all(len(row) == 1 for row in test), "testlist01 lines carry no label"
    assert train[0] == ["WaveArm/v_WaveArm_g08_c01.avi", "1"]
    assert test[:2] == [["WaveArm/v_WaveArm_g01_c01.avi"], ["WaveArm/v_WaveArm_g02_c01.avi"]]
    for rows, groups in ((train, range(8, 26)), (test, range(1, 8))):
        for row in rows:
            cls, name = row[0].split("/")
            assert name.startswith(f"v_{cls}_g") and name.endswith(".avi")
            assert int(name.split("_g")[1][:2]) in groups, f"{name} is in the wrong split for UCF101 fold 1"
            if len(row) == 2:
                assert int(row[1]) == VIDEO_ACTIONS.index(cls) + 1
            assert (root / "UCF-101" / row[0]).is_file()
            assert (root / "masks" / cls / (Path(name).stem + ".npz")).is_file()
    marker = json.loads((root / ".hartrace-synth.json").read_text())
    assert marker["format"] == "hartrace-synth-video" and marker["complete"] is True
    assert not [p for p in root.rglob("*") if p.name.startswith(".v_")], "no temporary files are left behind"


def test_videos_decode_to_the_rendered_frames_and_masks_fit_them(small_set) -> None:
    root, _ = small_set
    for i, line in enumerate(_lines(root / "ucfTrainTestlist" / "testlist01.txt")):
        frames = _decode(root / "UCF-101" / line)
        assert frames.shape == (8, 64, 64, 3), line
        mask = np.load(root / "masks" / line.replace(".avi", ".npz"))["mask"]
        assert mask.dtype == bool and mask.shape == (8, 64, 64)
        assert (mask.sum(axis=(1, 2)) >= 15).all(), f"{line}: a frame has an (almost) empty mask"
        if i % 2 == 0:  # the file holds what the generator drew (MJPG is lossy, so only close), in RGB order
            cls, stem = line.split("/")[0], Path(line).stem
            clip = clip_names("test", 2).index((int(stem[-6:-4]), int(stem[-2:])))  # ..._gGG_cCC
            raw, raw_mask = render_video(cls, video_rng(3, "test", VIDEO_ACTIONS.index(cls), clip), 64, 8)
            assert np.array_equal(raw_mask, mask)
            assert np.abs(frames.astype(int) - raw.astype(int)).mean() < 8


def test_same_seed_gives_the_same_frames_and_masks_whatever_the_worker_count(small_set, tmp_path: Path) -> None:
    root, _ = small_set
    again = tmp_path / "again"
    generate_video_set(again, workers=1, **SMALL)
    names = sorted(p.relative_to(root) for p in (root / "masks").rglob("*.npz"))
    assert names == sorted(p.relative_to(again) for p in (again / "masks").rglob("*.npz"))
    for name in names:
        assert np.array_equal(np.load(root / name)["mask"], np.load(again / name)["mask"]), name
    for line in _lines(root / "ucfTrainTestlist" / "testlist01.txt")[:6]:
        assert np.array_equal(_decode(root / "UCF-101" / line), _decode(again / "UCF-101" / line)), line
    a, b = render_video("Jump", np.random.default_rng(5), 64, 8), render_video("Jump", np.random.default_rng(5), 64, 8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = render_video("Jump", np.random.default_rng(6), 64, 8)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("action", VIDEO_ACTIONS)
def test_masks_lie_on_the_figure_and_move(action: str) -> None:
    for seed in range(2):
        clip = sample_video(action, np.random.default_rng([11, seed]), 64, 8)
        frames, masks = clip.render()
        bare, bare_masks = clip.render(roles=BACKGROUND)
        assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8 and masks.shape == (8, 64, 64)
        assert not bare_masks.any()
        diff = np.abs(frames.astype(int) - bare.astype(int)).max(axis=3)
        on = diff[masks]
        assert (masks.sum(axis=(1, 2)) >= 15).all(), f"{action}: a frame has an (almost) empty mask"
        assert (on > 0).all(), f"{action}: {(on == 0).sum()} mask pixels show untouched background"
        assert (on > 12).mean() > 0.95, f"{action}: mask pixels barely differ from the background"
        moved = [np.logical_xor(masks[0], m).sum() for m in masks[1:]]
        assert max(moved) >= 0.15 * masks[0].sum(), f"{action}: the evidence does not move"


def test_stand_up_is_a_sit_down_played_backwards() -> None:
    for seed in range(3):
        up, up_masks = render_video("StandUp", np.random.default_rng([4, seed]), 64, 10)
        down, down_masks = render_video("SitDown", np.random.default_rng([4, seed]), 64, 10)
        assert np.array_equal(up, down[::-1]) and np.array_equal(up_masks, down_masks[::-1])
        top = [np.nonzero(m.any(axis=1))[0][0] for m in down_masks]
        bottom = [np.nonzero(m.any(axis=1))[0][-1] for m in down_masks]
        assert top[-1] - top[0] >= 0.08 * (bottom[0] - top[0]), "sitting down lowers the head"


def _change(masks: np.ndarray) -> float:
    """How much the evidence changes between consecutive frames of the clip's second half, per evidence pixel."""
    half = masks[len(masks) // 2 :]
    return float(np.logical_xor(half[1:], half[:-1]).sum(axis=(1, 2)).mean() / half.sum(axis=(1, 2)).mean())


@pytest.mark.parametrize(
    ("moving", "held"), [("WaveArm", "RaiseArm"), ("WaveBothArms", "RaiseBothArms"), ("KickLeg", "RaiseLeg")]
)
def test_a_wave_keeps_moving_where_a_raise_holds_still(moving: str, held: str) -> None:
    keep = [_change(render_video(moving, np.random.default_rng([8, s]), 64, 16)[1]) for s in range(5)]
    still = [_change(render_video(held, np.random.default_rng([8, s]), 64, 16)[1]) for s in range(5)]
    assert min(keep) > 2 * max(still), (keep, still)


def test_writes_readable_mp4(tmp_path: Path) -> None:
    root = tmp_path / "mp4"
    generate_video_set(
        root, per_class=1, test_per_class=0, size=32, frames=6, video_format="mp4", workers=1, progress=False
    )
    lines = _lines(root / "ucfTrainTestlist" / "trainlist01.txt")
    assert len(lines) == 12 and all(line.split()[0].endswith(".mp4") for line in lines)
    assert _decode(root / "UCF-101" / lines[0].split()[0]).shape == (6, 32, 32, 3)


def test_refuses_foreign_folders_and_overwrites_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    with pytest.raises(UsageError, match="not empty"):
        generate_video_set(folder, **SMALL)
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"], "nothing was written"

    images = tmp_path / "images"
    generate(images, per_class=1, test_per_class=0, size=64, workers=1, progress=False)
    with pytest.raises(UsageError, match="not a synthetic video set"):
        generate_video_set(images, **SMALL)

    root = tmp_path / "set"
    generate_video_set(root, workers=1, **{**SMALL, "per_class": 2, "test_per_class": 1, "frames": 4, "size": 32})
    with pytest.raises(UsageError, match="--overwrite"):
        generate_video_set(root, workers=1, **{**SMALL, "per_class": 1, "test_per_class": 0, "frames": 4, "size": 32})
    report = generate_video_set(
        root, workers=1, overwrite=True, **{**SMALL, "per_class": 1, "test_per_class": 0, "frames": 4, "size": 32}
    )
    assert (report.n_train, report.n_test) == (12, 0)
    assert len(list((root / "UCF-101").rglob("*.avi"))) == 12 and len(list((root / "masks").rglob("*.npz"))) == 12
    assert _lines(root / "ucfTrainTestlist" / "testlist01.txt") == []


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(per_class=0),
        dict(test_per_class=-1),
        dict(size=16),
        dict(size=65),
        dict(frames=3),
        dict(fps=0),
        dict(video_format="mkv"),
        dict(workers=0),
        dict(seed=-1),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(UsageError) as info:
        generate_video_set(tmp_path / "out", **{**SMALL, **kwargs})
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError, match="Swimming"):
        render_video("Swimming", np.random.default_rng(0), 64, 8)


def test_cli_writes_a_video_set_and_rejects_bad_input_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    done = run_cli(
        "synth",
        "--video",
        "--out",
        str(out),
        "--per-class",
        "1",
        "--test-per-class",
        "0",
        "--size",
        "32",
        "--frames",
        "4",
        "--workers",
        "1",
        "-q",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "12 training and 0 test videos of 4 frames" in done.stdout
    assert len(list((out / "UCF-101").rglob("*.avi"))) == 12
    for args, fragment in (
        (("--video", "--frames", "2"), "frames"),
        (("--frames", "8"), "--video"),
        (("--video", "--video-format", "mkv"), "invalid choice"),
        (("--video", "--fps", "-1"), "fps"),
    ):
        result = run_cli("synth", "--out", str(tmp_path / "bad"), *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and fragment in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "bad").exists()

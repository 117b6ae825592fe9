"""``hartrace synth``: write the embedded synthetic action dataset (images, or videos with ``--video``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.base.errors import UsageError
from hartrace.cli.common import add_quiet, positive_int

DEFAULT_SYNTH_DIR = Path("data/synthetic")
DEFAULT_VIDEO_DIR = Path("data/synthetic-video")
_IMAGE_DEFAULTS = {"per_class": 60, "size": 128}
_VIDEO_DEFAULTS = {"per_class": 30, "size": 96, "frames": 24, "fps": 12.0, "video_format": "avi"}
_VIDEO_ONLY = {"frames": "--frames", "fps": "--fps", "video_format": "--video-format", "actions": "--actions"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "synth",
        help="generate the synthetic action dataset (Kaggle HAR layout, or UCF101 layout with --video)",
        description="Draw people doing the 15 Kaggle HAR actions, with a ground-truth evidence mask per image, "
        "into the Kaggle HAR layout; or, with --video, short clips of 12 actions (wave, raise, jump, sit down...) "
        "with per-frame evidence masks, into the UCF101 layout. Deterministic from --seed.",
    )
    parser.add_argument("--video", action="store_true", help="write the video set instead of the image set")
    parser.add_argument(
        "--out", type=Path, help=f"output folder (default {DEFAULT_SYNTH_DIR}, with --video {DEFAULT_VIDEO_DIR})"
    )
    parser.add_argument(
        "--per-class", type=positive_int, help="training images per class (default 60; with --video, videos: 30)"
    )
    parser.add_argument("--test-per-class", type=int, default=10, help="test images or videos per class (default 10)")
    parser.add_argument(
        "--size", type=positive_int, help="image side in pixels (default 128; with --video, frame side: 96)"
    )
    parser.add_argument("--frames", type=positive_int, help="frames per video (--video only; default 24)")
    parser.add_argument("--fps", type=float, help="frames per second stored in the videos (--video only; default 12)")
    parser.add_argument(
        "--video-format", choices=("avi", "mp4"), help="avi (MJPG) or mp4 (mp4v) (--video only; default avi)"
    )
    parser.add_argument(
        "--actions",
        metavar="NAME,NAME",
        help="draw only these of the 12 video actions (--video only; default all; an unknown name lists them). "
        "Two sets that share actions need different --seed values to share no clip",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=positive_int, help="processes (default: all cores)")
    parser.add_argument("--overwrite", action="store_true", help="replace a synthetic set already in --out")
    add_quiet(parser)
    parser.set_defaults(handler=run)


def _given(args: argparse.Namespace, defaults: dict[str, object]) -> dict[str, object]:
    return {name: default if getattr(args, name) is None else getattr(args, name) for name, default in defaults.items()}


def run(args: argparse.Namespace) -> int:
    if args.video:
        return _run_video(args)
    stray = [flag for name, flag in _VIDEO_ONLY.items() if getattr(args, name) is not None]
    if stray:
        raise UsageError(f"{', '.join(stray)} only applies to videos; add --video")
    from hartrace.synth import generate

    report = generate(
        args.out or DEFAULT_SYNTH_DIR,
        **_given(args, _IMAGE_DEFAULTS),
        test_per_class=args.test_per_class,
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {report.n_train} training and {report.n_test} test images to {report.root} "
        f"in {report.seconds:.1f} s ({report.images_per_second:.0f} images/s)"
    )
    return 0


def _run_video(args: argparse.Namespace) -> int:
    from hartrace.synth.video import generate_video_set

    report = generate_video_set(
        args.out or DEFAULT_VIDEO_DIR,
        **_given(args, _VIDEO_DEFAULTS),
        test_per_class=args.test_per_class,
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
        overwrite=args.overwrite,
        actions=None if args.actions is None else args.actions.split(","),
    )
    print(
        f"wrote {report.n_train} training and {report.n_test} test videos of {report.frames} frames to {report.root} "
        f"in {report.seconds:.1f} s ({report.frames_per_second:.0f} frames/s)"
    )
    return 0

"""``hartrace synth``: write the embedded synthetic action dataset (images, or videos with ``--video``),
or with ``--concepts`` folders of concept images for concept tests."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.base.errors import UsageError
from hartrace.cli.common import add_quiet, non_negative_int, positive_int

DEFAULT_SYNTH_DIR = Path("data/synthetic")
DEFAULT_VIDEO_DIR = Path("data/synthetic-video")
_IMAGE_DEFAULTS = {"per_class": 60, "size": 128}
_VIDEO_DEFAULTS = {"per_class": 30, "size": 96, "frames": 24, "fps": 12.0, "video_format": "avi"}
_VIDEO_ONLY = {"frames": "--frames", "fps": "--fps", "video_format": "--video-format", "actions": "--actions"}
_CONCEPTS_ONLY = {"per_concept": "--per-concept", "random_sets": "--random-sets", "placement": "--placement"}
_SET_ONLY = {
    "video": "--video",
    "out": "--out",
    "per_class": "--per-class",
    "test_per_class": "--test-per-class",
    "no_concept_maps": "--no-concept-maps",
}
_CONCEPT_DEFAULTS = {"per_concept": 200, "random_sets": 20, "size": 128, "placement": "scene"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "synth",
        help="generate the synthetic action dataset (Kaggle HAR layout, or UCF101 layout with --video)",
        description="Draw people doing the 15 Kaggle HAR actions, with a ground-truth evidence mask per image, "
        "into the Kaggle HAR layout; or, with --video, short clips of 12 actions (wave, raise, jump, sit down...) "
        "with per-frame evidence masks, into the UCF101 layout; or, with --concepts DIR, folders of concept images "
        "for concept tests: each prop alone on varied backgrounds, and random images. The image set comes with a "
        "concept map per image (parts/: which of background, head, torso, arms, legs, phone, bicycle... each "
        "pixel shows). Deterministic from --seed.",
    )
    parser.add_argument("--video", action="store_true", help="write the video set instead of the image set")
    parser.add_argument(
        "--out", type=Path, help=f"output folder (default {DEFAULT_SYNTH_DIR}, with --video {DEFAULT_VIDEO_DIR})"
    )
    parser.add_argument(
        "--per-class", type=positive_int, help="training images per class (default 60; with --video, videos: 30)"
    )
    parser.add_argument("--test-per-class", type=int, help="test images or videos per class (default 10)")
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
    parser.add_argument(
        "--no-concept-maps",
        action="store_true",
        help="leave out the image set's concept maps (parts/: the concept each pixel shows)",
    )
    parser.add_argument(
        "--concepts",
        type=Path,
        metavar="DIR",
        help="write concept image folders to DIR instead of a data set: DIR/<prop>/<n>.png (pictures with the "
        "prop), DIR/random_<k>/<n>.png (random images) and DIR/concepts.json listing them",
    )
    parser.add_argument(
        "--per-concept", type=positive_int, help="images per concept and per random folder (--concepts; default 200)"
    )
    parser.add_argument(
        "--random-sets",
        type=non_negative_int,
        help="random folders (--concepts only; default 20: a concept test makes one run per folder)",
    )
    parser.add_argument(
        "--placement",
        choices=("scene", "alone"),
        help="--concepts: draw each prop at a scene's size in a picture drawn like the random ones (scene, the "
        "default), or alone and large on a bare wall (alone)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=positive_int, help="processes (default: all cores)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a synthetic set already in --out (or in --concepts DIR)"
    )
    add_quiet(parser)
    parser.set_defaults(handler=run)


def _given(args: argparse.Namespace, defaults: dict[str, object]) -> dict[str, object]:
    return {name: default if getattr(args, name) is None else getattr(args, name) for name, default in defaults.items()}


def _refuse(args: argparse.Namespace, flags: dict[str, str], why: str) -> None:
    stray = [flag for name, flag in flags.items() if getattr(args, name) not in (None, False)]
    if stray:
        raise UsageError(f"{', '.join(stray)} {why}")


def run(args: argparse.Namespace) -> int:
    if args.concepts is not None:
        return _run_concepts(args)
    _refuse(args, _CONCEPTS_ONLY, "only applies to concept images; add --concepts DIR")
    if args.video:
        _refuse(args, {"no_concept_maps": "--no-concept-maps"}, "only applies to images (videos have no concept maps)")
        return _run_video(args)
    _refuse(args, _VIDEO_ONLY, "only applies to videos; add --video")
    from hartrace.synth import generate

    report = generate(
        args.out or DEFAULT_SYNTH_DIR,
        **_given(args, _IMAGE_DEFAULTS),
        test_per_class=10 if args.test_per_class is None else args.test_per_class,
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
        overwrite=args.overwrite,
        concept_maps=not args.no_concept_maps,
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
        test_per_class=10 if args.test_per_class is None else args.test_per_class,
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


def _run_concepts(args: argparse.Namespace) -> int:
    _refuse(args, {**_SET_ONLY, **_VIDEO_ONLY}, "does not apply to concept images (--concepts DIR)")
    from hartrace.synth.concept_sets import generate_concept_sets

    report = generate_concept_sets(
        args.concepts,
        **_given(args, _CONCEPT_DEFAULTS),
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    n = (len(report.concepts) + len(report.random)) * report.per_concept
    print(
        f"wrote {report.per_concept} images of each of {len(report.concepts)} concepts "
        f"({', '.join(report.concepts)}) and {len(report.random)} random folders, {n} images, to {report.root} "
        f"in {report.seconds:.1f} s ({report.images_per_second:.0f} images/s)"
    )
    return 0

"""``hartrace synth``: write the embedded synthetic action dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_quiet, positive_int

DEFAULT_SYNTH_DIR = Path("data/synthetic")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "synth",
        help="generate the synthetic action dataset (Kaggle HAR layout + evidence masks)",
        description="Draw people doing the 15 Kaggle HAR actions, with a ground-truth evidence mask per image, "
        "into the Kaggle HAR layout. Deterministic from --seed.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_SYNTH_DIR, help=f"output folder (default {DEFAULT_SYNTH_DIR})")
    parser.add_argument("--per-class", type=positive_int, default=60, help="training images per class (default 60)")
    parser.add_argument("--test-per-class", type=int, default=10, help="test images per class (default 10)")
    parser.add_argument("--size", type=positive_int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=positive_int, help="processes (default: all cores)")
    add_quiet(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.synth import generate

    report = generate(
        args.out,
        per_class=args.per_class,
        test_per_class=args.test_per_class,
        size=args.size,
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
    )
    print(
        f"wrote {report.n_train} training and {report.n_test} test images to {report.root} "
        f"in {report.seconds:.1f} s ({report.images_per_second:.0f} images/s)"
    )
    return 0

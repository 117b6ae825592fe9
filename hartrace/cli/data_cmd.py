"""``hartrace data summary DIR``."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_dataset_options, add_quiet


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("data", help="inspect a dataset")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True, parser_class=type(parser))
    summary = actions.add_parser(
        "summary",
        help="layout, splits, per-class counts, image/frame sizes, skipped files, charts",
        description="Read a dataset (Kaggle HAR, Stanford 40, ImageFolder, UCF101, HMDB51 or a folder of videos), "
        "check every image or video, and write summary.json, class_counts.csv, skipped.csv, "
        "class_distribution.png and samples.png.",
    )
    summary.add_argument("dir", type=Path, help="the dataset folder")
    summary.add_argument("--out", type=Path, help="where to write the report (default: summary/<dataset name>)")
    summary.add_argument(
        "--chart",
        choices=("bar", "pie"),
        default="bar",
        help="class_distribution.png as bars of counts or one pie of shares per split (default bar)",
    )
    add_dataset_options(summary)
    summary.add_argument(
        "--test-fraction",
        type=float,
        default=0.0,
        help="hold out this share of each class as a labelled test split, as `train --test-fraction` does, "
        "and count it (layouts without a labelled test split; default 0: none)",
    )
    add_quiet(summary)
    summary.set_defaults(handler=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    from hartrace.data import load_dataset
    from hartrace.data.summary import format_summary, summarize

    index = load_dataset(
        args.dir,
        format=args.format,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        classes=args.classes,
        split_file=args.split_file,
        fold=args.fold,
        progress=not args.quiet,
    )
    out = args.out or Path("summary") / (args.dir.resolve().name or "dataset")
    print(format_summary(summarize(index, out, chart=args.chart)))
    return 0

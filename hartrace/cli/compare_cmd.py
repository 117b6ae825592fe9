"""``hartrace compare``: a grid of backbones x input sizes x freeze policies, as a results table and a pivot."""

from __future__ import annotations

import argparse

from hartrace.cli.common import comma_list
from hartrace.cli.train_cmd import add_training_options, config_from_args


def _sizes(text: str) -> list[int | None]:
    try:
        return [None if item == "default" else int(item) for item in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers of pixels (or 'default'), got {text!r}") from None


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "compare",
        help="train + evaluate a grid of backbones x sizes x freeze policies; write a results table and a pivot",
        description="Every cell is an ordinary run under the compare folder, scored on one split (named in every "
        "output): results.md/.csv/.json hold model, pixels, freeze, split, accuracy, top-5, F1 and training "
        "images/s; pivot.md/.csv/.png the accuracy by backbone x size (x freeze); curves.png/.csv every cell's "
        "validation loss and accuracy by epoch. A cell keeps best.pt only, unless --keep-last.",
    )
    p.add_argument("--backbones", type=comma_list, required=True, help="comma-separated, e.g. resnet50,mobilenet_v2")
    p.add_argument(
        "--sizes", type=_sizes, default=[None], help="comma-separated pixels, e.g. 224,500 (default: each model's)"
    )
    p.add_argument(
        "--freezes", type=comma_list, default=[None], help="comma-separated: trunk,none,N (default: each model's)"
    )
    p.add_argument(
        "--split",
        metavar="val|test",
        help="the split every cell is scored on (default: test where the dataset has labelled test images, else val)",
    )
    p.add_argument(
        "--keep-last",
        action="store_true",
        help="keep each cell's last.pt (optimizer state, for train --resume); by default only best.pt is kept",
    )
    add_training_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.workflows.compare import compare, markdown_table, pivot_markdown

    base = config_from_args(args)
    result = compare(
        base,
        args.backbones,
        args.sizes,
        args.freezes,
        split=args.split,
        keep_last=args.keep_last,
        out=args.out,
        progress=not args.quiet,
    )
    print(markdown_table(result.rows, result.split))
    print(pivot_markdown(result.pivot))
    print(f"wrote {result.out_dir}/: results.md/.csv/.json, pivot.md/.csv/.png, curves.png/.csv")
    return 0

"""``hartrace compare``: a grid of backbones x input sizes x freeze policies, as one results table."""

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
        help="train + evaluate a grid of backbones x sizes x freeze policies; write a results table",
        description="Every cell is an ordinary run under the compare folder; results.md/.csv/.json "
        "hold model, pixels, freeze, accuracy, top-5, F1 and training images/s.",
    )
    p.add_argument("--backbones", type=comma_list, required=True, help="comma-separated, e.g. resnet50,mobilenet_v2")
    p.add_argument(
        "--sizes", type=_sizes, default=[None], help="comma-separated pixels, e.g. 224,500 (default: each model's)"
    )
    p.add_argument(
        "--freezes", type=comma_list, default=[None], help="comma-separated: trunk,none,N (default: each model's)"
    )
    add_training_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.workflows.compare import compare, markdown_table

    base = config_from_args(args)
    result = compare(base, args.backbones, args.sizes, args.freezes, out=args.out, progress=not args.quiet)
    print(markdown_table(result.rows), end="")
    print(f"wrote {result.out_dir}/results.md, results.csv, results.json")
    return 0

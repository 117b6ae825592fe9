"""``hartrace demo``: the main job end to end on the embedded synthetic dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_quiet
from hartrace.cli.synth_cmd import DEFAULT_SYNTH_DIR


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", help="generate the synthetic dataset and summarise it", description=__doc__
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_SYNTH_DIR, help=f"where the dataset goes (default {DEFAULT_SYNTH_DIR})")
    parser.add_argument("--seed", type=int, default=0)
    add_quiet(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.synth import generate

    report = generate(args.data, seed=args.seed, progress=not args.quiet)  # before torch is imported: workers fork

    from hartrace.data import load_dataset
    from hartrace.data.summary import format_summary, summarize

    print(f"[1/2] synthetic dataset: {report.n_train} train + {report.n_test} test images in {report.seconds:.1f} s")
    index = load_dataset(report.root, seed=args.seed, progress=not args.quiet)
    summary_dir = report.root.parent / f"{report.root.name}-summary"
    print(f"[2/2] dataset summary -> {summary_dir}")
    print(format_summary(summarize(index, summary_dir)))
    return 0

"""``hartrace demo``: the main job end to end on the embedded synthetic dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_quiet, positive_int
from hartrace.cli.synth_cmd import DEFAULT_SYNTH_DIR


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="generate the synthetic dataset, summarise it, train the quick CPU model, evaluate, explain and audit it",
        description="The main job on the embedded synthetic dataset, in a few minutes on a CPU.",
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_SYNTH_DIR, help=f"where the dataset goes (default {DEFAULT_SYNTH_DIR})"
    )
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("checkpoints"), help="where the run goes (default checkpoints)"
    )
    parser.add_argument("--epochs", type=positive_int, help="train for this many epochs instead of the demo's 16")
    parser.add_argument("--seed", type=int, default=0)
    add_quiet(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.workflows.demo import next_steps, run_demo

    result = run_demo(args.data, args.runs_dir, seed=args.seed, epochs=args.epochs, progress=not args.quiet)
    print(next_steps(result))
    return 0

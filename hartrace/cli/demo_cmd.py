"""``hartrace demo``: the main job end to end on the embedded synthetic dataset."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
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
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every step and output in under a minute (a small set, 2 epochs at 64 px): checks an install, "
        "but its accuracy means little",
    )
    parser.add_argument(
        "--epochs", type=positive_int, help="train for this many epochs instead of the demo's 16 (--quick: 2)"
    )
    parser.add_argument("--seed", type=int, default=0)
    add_quiet(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.workflows.demo import next_steps, run_demo

    result = run_demo(
        args.data, args.runs_dir, seed=args.seed, epochs=args.epochs, quick=args.quick, progress=not args.quiet
    )
    print(next_steps(result, command=command_name()))
    return 0


def command_name() -> str:
    """How to run this hartrace again from here, so the printed next steps work when pasted: ``hartrace`` when
    that is the command on PATH (an activated venv, a user install), else the script's own path
    (``.venv/bin/hartrace`` after ``make demo``)."""
    script = Path(sys.argv[0])
    if script.name != "hartrace":  # `python -m hartrace`, or called from Python
        return "hartrace"
    on_path = shutil.which("hartrace")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "hartrace"
    relative = os.path.relpath(script.absolute())
    return str(script.absolute()) if relative.startswith("..") else relative

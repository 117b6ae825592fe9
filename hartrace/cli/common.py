"""Arguments several commands share, so they read the same everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.data.formats import FORMATS


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only results and errors")


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """``--format``, ``--val-fraction``, ``--seed``, ``--classes``, ``--split-file``, ``--fold``:
    how to read a dataset."""
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="dataset layout (default: detect)")
    parser.add_argument(
        "--val-fraction", type=float, default=0.2, help="held-out fraction where the layout has no validation split"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the stratified split (default 0)")
    parser.add_argument(
        "--classes",
        type=Path,
        metavar="FILE",
        help="class names, one a line: labels must be among them, in this order (default: the dataset's classes.txt)",
    )
    parser.add_argument("--split-file", type=Path, help="reuse this saved split instead of the dataset's own")
    parser.add_argument(
        "--fold", type=int, default=1, choices=(1, 2, 3), help="UCF101 / HMDB51 official train/test split (default 1)"
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def port_number(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 1 to 65535, got {text}")
    return value


def comma_list(text: str) -> list[str]:
    """``a,b, c`` -> ``["a", "b", "c"]``; an empty list is a usage error."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def add_model_source(parser: argparse.ArgumentParser) -> None:
    """``--run``, ``--checkpoint``, ``--runs-dir``: which trained model a command uses."""
    parser.add_argument("--run", help="run folder or name (default: the latest run in --runs-dir)")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint file instead of a run")
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("checkpoints"), help="where runs are (default checkpoints)"
    )

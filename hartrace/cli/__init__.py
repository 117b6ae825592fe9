"""The ``hartrace`` command: thin shells that validate arguments and call one library function each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hartrace import __version__
from hartrace.base.errors import HartraceError

from . import (
    audit_cmd,
    compare_cmd,
    data_cmd,
    demo_cmd,
    evaluate_cmd,
    explore_cmd,
    inspect_cmd,
    models_cmd,
    synth_cmd,
    train_cmd,
)

COMMANDS = (
    synth_cmd,
    data_cmd,
    models_cmd,
    train_cmd,
    evaluate_cmd,
    compare_cmd,
    inspect_cmd,
    audit_cmd,
    explore_cmd,
    demo_cmd,
)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2) instead of the whole usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="hartrace",
        description="Train human-action-recognition CNNs, then see inside them.",
    )
    parser.add_argument("--version", action="version", version=f"hartrace {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for usage errors, 1 for other failures)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except HartraceError as exc:
        print(f"hartrace {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"hartrace {args.command}: interrupted", file=sys.stderr)
        return 130

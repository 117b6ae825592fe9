"""The ``hartrace`` command: thin shells that validate arguments and call one library function each."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from hartrace import __version__
from hartrace.base.errors import HartraceError, describe_os_error
from hartrace.base.io import require_writable_folder
from hartrace.base.network import offline

from . import (
    atlas_cmd,
    audit_cmd,
    compare_cmd,
    data_cmd,
    demo_cmd,
    evaluate_cmd,
    explore_cmd,
    featvis_cmd,
    inspect_cmd,
    models_cmd,
    synth_cmd,
    tcav_cmd,
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
    atlas_cmd,
    featvis_cmd,
    tcav_cmd,
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
    """Run the command line; returns the exit code (2 for usage errors, 1 for other failures, 130 interrupted).

    This is the one place a failure becomes what the user reads: every expected one (bad
    input, a broken checkpoint, a full disk, a read-only folder) is one line naming the
    path and what to do; anything else is a bug, shown with its traceback and a line saying so.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if getattr(args, "out", None) is not None:  # every command's --out is a folder it will write to
            require_writable_folder(args.out, "--out")
        with offline(getattr(args, "offline", False)):
            return int(args.handler(args) or 0)
    except HartraceError as exc:
        return _fail(args.command, str(exc), exc.exit_code)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # `hartrace ... | head` stopped reading: stop quietly, like other tools
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        return _fail(args.command, describe_os_error(exc), 1)
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted", 130, label="")
    except Exception:
        traceback.print_exc()
        return _fail(
            args.command,
            f"unexpected {sys.exc_info()[0].__name__}: this is a bug in hartrace {__version__}; "  # type: ignore[union-attr]
            "please report it with the traceback above and the command you ran (README: Reporting a bug)",
            1,
            label="internal error: ",
        )


def _fail(command: str, message: str, code: int, label: str = "error: ") -> int:
    line = " ".join(message.split())  # one line, whatever the message was built from
    print(f"hartrace {command}: {label}{line}", file=sys.stderr)
    return code

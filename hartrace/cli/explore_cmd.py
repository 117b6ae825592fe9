"""``hartrace explore``: the Dash explorer at localhost, over the runs in a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hartrace.cli.common import port_number

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "explore",
        help="browse runs, predictions, explanations and layers in the browser (localhost)",
        description="Serve the explorer: runs, images, predictions, CAMs, layers and the confusion matrix. "
        "Binds 127.0.0.1 unless --host says otherwise.",
    )
    parser.add_argument("--runs", type=Path, default=Path("checkpoints"), help="the runs folder (default checkpoints)")
    parser.add_argument("--run", help="open this run (default: the latest)")
    parser.add_argument("--data", type=Path, help="dataset folder (default: each run's own)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port_number, default=8050)
    parser.set_defaults(handler=run)


def explore_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}/"


def run(args: argparse.Namespace) -> int:
    from hartrace.base.errors import UsageError
    from hartrace.explorer import ExplorerService
    from hartrace.runs.discovery import list_runs

    if args.data is not None and not args.data.is_dir():
        raise UsageError(f"dataset folder not found: {args.data}")
    if not list_runs(args.runs):
        raise UsageError(f"no trained runs in {args.runs}/: train one first (`make demo` or `hartrace train`)")
    service = ExplorerService(args.runs, run=args.run, data=args.data)
    service.default_run()  # an unknown --run fails here, before the server starts
    try:
        from hartrace.explorer.app import create_app
    except ImportError as exc:
        raise UsageError(f"the explorer app is not installed ({exc}); reinstall hartrace with `make venv`") from None
    if args.host not in LOCAL_HOSTS:
        print(
            f"warning: serving on {args.host}: anyone who can reach this address can browse your runs and data",
            file=sys.stderr,
        )
    print(f"hartrace explorer: {explore_url(args.host, args.port)}  (Ctrl-C to stop)", flush=True)
    create_app(service).run(host=args.host, port=args.port, debug=False)
    return 0

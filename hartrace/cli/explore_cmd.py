"""``hartrace explore``: the Dash explorer at localhost, over the runs in a folder."""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hartrace.cli.common import port_number

if TYPE_CHECKING:
    import dash
    from werkzeug.serving import BaseWSGIServer

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
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def run(args: argparse.Namespace) -> int:
    from hartrace.base.errors import UsageError
    from hartrace.runs.discovery import list_runs

    if args.data is not None and not args.data.is_dir():
        raise UsageError(f"dataset folder not found: {args.data}")
    if not list_runs(args.runs):
        raise UsageError(f"no trained runs in {args.runs}/: train one first (`make demo` or `hartrace train`)")
    with ExitStack() as cleanup:
        listening = cleanup.enter_context(listen(args.host, args.port))  # a taken port fails now, before the imports
        from hartrace.explorer import ExplorerService

        try:
            import dash  # noqa: F401  (the app's own dependency: missing in a library-only install)

            from hartrace.explorer.app import create_app, hosts_for
        except ImportError as exc:
            raise UsageError(
                f"the explorer app is not installed ({exc}); reinstall hartrace with `make venv`"
            ) from None
        service = ExplorerService(args.runs, run=args.run, data=args.data)
        cleanup.callback(service.close)  # its uploads go with the server
        service.default_run()  # an unknown --run fails here, before the server starts
        server = serve(create_app(service, allowed_hosts=hosts_for(args.host)), listening)
        cleanup.callback(server.server_close)
        if args.host not in LOCAL_HOSTS:
            print(
                f"warning: serving on {args.host}: anyone who can reach this address can browse your runs and data",
                file=sys.stderr,
            )
        # the app is built and the socket listens: whoever opens the URL now is answered
        print(f"hartrace explorer: {explore_url(args.host, args.port)}  (Ctrl-C to stop)", flush=True)
        with sigterm_interrupts():
            server.serve_forever()  # werkzeug's returns on Ctrl-C instead of raising it
        raise KeyboardInterrupt


def serve(app: dash.Dash, listening: socket.socket) -> BaseWSGIServer:
    """A threaded server for ``app`` on a socket already listening (it answers once ``serve_forever`` runs).

    The socket is bound by :func:`listen`, not by werkzeug, which prints its own lines and exits when the
    port is taken.
    """
    from werkzeug.serving import make_server

    host, port = listening.getsockname()[:2]
    app.enable_dev_tools(debug=False)  # what Dash's app.run does before it serves
    return make_server(host, port, app.server, threaded=True, fd=listening.fileno())  # it serves a duplicate


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, or a one-line error saying why not."""
    from werkzeug.serving import get_sockaddr, select_address_family

    from hartrace.base.errors import HartraceError

    family = select_address_family(host, port)
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as every HTTP server does
        listening.bind(get_sockaddr(host, port, family))
        listening.listen(socket.SOMAXCONN)
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            raise HartraceError(
                f"port {port} is already in use on {host}: stop the program using it, or pick another with --port"
            ) from None
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise HartraceError(f"cannot serve on {host}:{port}: {reason} (check --host and --port)") from None
    return listening


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the server as Ctrl-C does (exit 130, uploads removed), as it stops training."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

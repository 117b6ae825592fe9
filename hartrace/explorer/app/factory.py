"""Builds the Dash app: pages, the frame around them, and every callback bound to one service."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dash

from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import failures, pages, shell
from hartrace.explorer.app.components import shell as frame
from hartrace.explorer.app.hosts import LOOPBACK_HOSTS, refuse_other_hosts
from hartrace.explorer.app.wiring import register

HERE = Path(__file__).resolve().parent
UPLOAD_LIMIT_META = "hartrace-max-upload-bytes"  # read by assets/upload-limit.js


def request_limit(service: ExplorerAPI) -> int:
    """The largest request body served: room for an upload twice the service's limit (as base64 in JSON),
    so a file somewhat too large still reaches the service and gets its message; anything bigger is refused."""
    return 2 * (4 * int(service.max_upload_bytes) // 3) + 2**20


def build(
    service: ExplorerAPI, *, title: str = "hartrace explorer", allowed_hosts: Iterable[str] = LOOPBACK_HOSTS
) -> dash.Dash:
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(HERE / "assets"),
        title=title,
        update_title=None,
        suppress_callback_exceptions=False,
        on_error=failures.report_callback_error,
        meta_tags=[{"name": UPLOAD_LIMIT_META, "content": str(int(service.max_upload_bytes))}],
    )
    app.server.config["MAX_CONTENT_LENGTH"] = request_limit(service)
    refuse_other_hosts(app.server, allowed_hosts)
    pages.register(app, service, title=title)
    register(app, service, shell.callback.specs)
    failures.register(app)
    app.layout = lambda: frame.layout(title)
    return app

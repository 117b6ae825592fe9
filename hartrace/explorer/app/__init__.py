"""The hartrace explorer: a Dash app over :class:`hartrace.explorer.ExplorerService`.

``create_app(service).run(host, port)`` serves it. The app holds no model code and no
per-user state: every answer comes from the service, every choice a user makes lives
in their browser (``dcc.Store``). Importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dash

    from hartrace.explorer.api import ExplorerAPI


def create_app(service: ExplorerAPI, *, title: str = "hartrace explorer") -> dash.Dash:
    """A Dash app over ``service`` (an ``ExplorerService``, or any ``ExplorerAPI``), with every page and callback."""
    from hartrace.explorer.app.factory import build

    return build(service, title=title)


__all__ = ["create_app"]

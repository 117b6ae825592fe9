"""The hartrace explorer: a Dash app over :class:`hartrace.explorer.ExplorerService`.

``create_app(service).run(host, port)`` serves it. The app holds no model code and no
per-user state: every answer comes from the service, every choice a user makes lives
in their browser (``dcc.Store``). Importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dash


def create_app(service: Any, *, title: str = "hartrace explorer") -> dash.Dash:
    """A Dash app over ``service`` (an ``ExplorerService``), with every page and callback registered."""
    from hartrace.explorer.app.factory import build

    return build(service, title=title)


__all__ = ["create_app"]

"""The hartrace explorer: a Dash app over :class:`hartrace.explorer.ExplorerService`.

``create_app(service).run(host, port)`` serves it. The app holds no model code and no
per-user state: every answer comes from the service, every choice a user makes lives
in their browser (``dcc.Store``). Importing this package imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hartrace.explorer.app.hosts import ANY_HOST, LOOPBACK_HOSTS, hosts_for

if TYPE_CHECKING:
    import dash

    from hartrace.explorer.api import ExplorerAPI


def create_app(
    service: ExplorerAPI, *, title: str = "hartrace explorer", allowed_hosts: Iterable[str] = LOOPBACK_HOSTS
) -> dash.Dash:
    """A Dash app over ``service`` (an ``ExplorerService``, or any ``ExplorerAPI``), with every page and callback.

    It answers only to requests whose ``Host`` is one of ``allowed_hosts`` (default: loopback names; ``"*"``,
    :data:`ANY_HOST`, for any): :func:`hosts_for` gives the names for the address a server binds.
    """
    from hartrace.explorer.app.factory import build

    return build(service, title=title, allowed_hosts=allowed_hosts)


__all__ = ["ANY_HOST", "LOOPBACK_HOSTS", "create_app", "hosts_for"]

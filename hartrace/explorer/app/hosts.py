"""Which ``Host`` names the explorer answers to: a guard against DNS rebinding.

A web page on ``evil.example`` can make its name resolve to 127.0.0.1 and then read a
loopback server as if it were its own site; the one thing it cannot fake is the ``Host``
header, which still says ``evil.example``. So a server bound to loopback (or to one
address) answers only to loopback names and that address; one bound to every address
(``0.0.0.0``, ``::``: the user chose to serve the network) answers to any name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import flask

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"
EVERY_ADDRESS = ("0.0.0.0", "::", "")


def hosts_for(bind: str) -> tuple[str, ...]:
    """The host names a server bound to ``bind`` answers to; ``(ANY_HOST,)`` when it serves every address."""
    if bind in EVERY_ADDRESS:
        return (ANY_HOST,)
    return tuple(dict.fromkeys((*LOOPBACK_HOSTS, host_name(bind))))


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lower case, without its port: ``[::1]:8050`` is ``::1``."""
    text = header.strip().lower()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def refuse_other_hosts(server: flask.Flask, allowed: Iterable[str]) -> None:
    """Answer 403, with one line saying why, to any request whose ``Host`` is not one of ``allowed``."""
    import flask

    names = frozenset(host_name(name) for name in allowed)
    if ANY_HOST in names:
        return
    shown = ", ".join(f"[{name}]" if ":" in name else name for name in sorted(names))

    @server.before_request
    def check_host() -> flask.Response | None:
        header = flask.request.headers.get("Host", "")
        if host_name(header) in names:
            return None
        message = (
            f"hartrace explorer: refused a request for host {header!r}: this server answers only to {shown}; "
            "open it by one of those names, or start `hartrace explore --host 0.0.0.0` to serve the network\n"
        )
        return flask.Response(message, status=403, mimetype="text/plain")

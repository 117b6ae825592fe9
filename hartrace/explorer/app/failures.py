"""No silent failure: whatever goes wrong on the server is a line in a banner at the top of the page.

Outside debug mode Dash shows nothing when a callback raises or a request fails; the page
just stops changing. Two reporters feed one banner instead:

- :func:`report_callback_error`, Dash's ``on_error``: an exception in any callback (its
  traceback goes to the server's log);
- ``assets/request-errors.js``: an answer that never came or was not OK (HTTP 413, 500,
  the server stopped), which no Python code sees.

The banner can be dismissed in the browser alone, so it still closes when the server is gone.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, html

from hartrace.base.errors import HartraceError
from hartrace.explorer.app import ids

log = logging.getLogger("hartrace.explorer")

MAX_DETAIL = 200  # characters of an exception's own text shown on the page; the log has all of it


def banner() -> html.Div:
    """The banner, hidden until something fails."""
    return html.Div(
        [
            html.Span(id=ids.ERROR_MESSAGE, className="error-banner-text"),
            html.Button("dismiss", id=ids.ERROR_DISMISS, n_clicks=0, className="button error-banner-dismiss"),
        ],
        id=ids.ERROR_BANNER,
        className="error-banner",
        role="alert",
        hidden=True,
    )


def failure_message(error: Exception, failed: str) -> str:
    """One line: what failed and why; an error hartrace did not expect is called a bug, to be reported."""
    if isinstance(error, HartraceError):
        return _one_line(f"{failed} failed: {error}")
    detail = _one_line(str(error))
    if len(detail) > MAX_DETAIL:
        detail = detail[: MAX_DETAIL - 1] + "…"
    reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return (
        f"{failed} failed with an unexpected {reason}. This is a bug in hartrace, please report it "
        "(the server's log has the details)."
    )


def report_callback_error(error: Exception) -> None:
    """Dash's ``on_error``: show the failure in the banner (the callback's own outputs stay as they were)."""
    failed = f"Updating {_outputs()}"
    if not isinstance(error, HartraceError):
        log.error("%s failed", failed, exc_info=error)
    dash.set_props(ids.ERROR_MESSAGE, {"children": failure_message(error, failed)})
    dash.set_props(ids.ERROR_BANNER, {"hidden": False})


def register(app: dash.Dash) -> None:
    """The dismiss button, answered in the browser."""
    app.clientside_callback(
        "function () { return true; }",
        Output(ids.ERROR_BANNER, "hidden"),
        Input(ids.ERROR_DISMISS, "n_clicks"),
        prevent_initial_call=True,
    )


def _outputs() -> str:
    """The component ids a callback was updating, for a person to tell which part of the page failed."""
    try:
        outputs: Any = dash.ctx.outputs_list
    except Exception:  # outside a callback there is nothing to name
        return "the page"
    groups = outputs if isinstance(outputs, list) else [outputs]
    flat = [o for group in groups for o in (group if isinstance(group, list) else [group])]
    names = list(dict.fromkeys(_id_text(o.get("id")) for o in flat if isinstance(o, dict)))
    if len(names) > 3:
        names = [*names[:3], "…"]
    return ", ".join(names) or "the page"


def _id_text(component_id: Any) -> str:
    if isinstance(component_id, dict):
        return str(component_id.get("type", component_id))
    return str(component_id)


def _one_line(text: str) -> str:
    return " ".join(text.split())

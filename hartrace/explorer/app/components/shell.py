"""The frame around every page: the session stores, the navigation bar with the run picker, the selection."""

from __future__ import annotations

import dash
from dash import dcc, html

from hartrace.explorer.app import failures, ids

SESSION = "session"  # per browser tab, survives reloads; never shared between users


def stores() -> list[dcc.Store]:
    """Every piece of per-session state; the server keeps none."""
    return [
        dcc.Store(id=ids.SESSION_ID, storage_type=SESSION),
        dcc.Store(id=ids.URL_SHARED, storage_type="memory"),
        dcc.Store(id=ids.EVALUATED, storage_type="memory"),
        dcc.Store(id=ids.EVALUATION_JOB, storage_type="memory"),
        dcc.Store(id=ids.RUN_STORE, storage_type=SESSION),
        dcc.Store(id=ids.IMAGE_STORE, storage_type=SESSION),
        dcc.Store(id=ids.TARGET_STORE, storage_type=SESSION),
        dcc.Store(id=ids.METHOD_STORE, storage_type=SESSION),
        dcc.Store(id=ids.LAYER_STORE, storage_type=SESSION),
        dcc.Store(id=ids.PROBE_STORE, storage_type=SESSION),
        dcc.Store(id=ids.IMAGES_STATE, storage_type=SESSION),
        dcc.Store(id=ids.COMPARE_STORE, storage_type=SESSION),
    ]


def nav_bar(title: str) -> html.Header:
    links = [
        dcc.Link(page["name"], href=page["relative_path"], id=ids.nav_link(page["path"]), className="nav-link")
        for page in dash.page_registry.values()
    ]
    run_picker = html.Div(
        [
            html.Label("run", htmlFor=ids.RUN_DROPDOWN, className="run-label"),
            dcc.Dropdown(id=ids.RUN_DROPDOWN, clearable=False, placeholder="no runs found", className="run-dropdown"),
        ],
        className="run-picker",
    )
    return html.Header(
        [html.Div(title, className="brand"), html.Nav(links, id=ids.NAV, className="nav"), run_picker],
        className="topbar",
    )


def evaluation_bar() -> html.Div:
    """A run's first evaluation, under way in the background: how far, and a way to stop it."""
    return html.Div(
        [
            html.Span(id=ids.EVALUATION_TEXT, className="job-text"),
            html.Button("cancel", id=ids.EVALUATION_CANCEL, n_clicks=0, className="button button-small"),
            dcc.Interval(id=ids.EVALUATION_POLL, interval=500, disabled=True),
        ],
        id=ids.EVALUATION_BOX,
        className="job evaluation-bar",
        hidden=True,
    )


def layout(title: str = "hartrace explorer") -> html.Div:
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh="callback-nav"),
            *stores(),
            nav_bar(title),
            failures.banner(),
            html.Div(id=ids.SELECTION, className="selection"),
            evaluation_bar(),
            html.Main(dash.page_container, className="page"),
        ],
        className="shell",
    )

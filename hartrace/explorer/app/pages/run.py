"""Run: the selected run's headline metrics, training curves and configuration, and every run in the folder."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, dcc, html

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.widgets import (
    card,
    empty_figure,
    graph,
    key_value_table,
    metric,
    notice,
    percent,
    table,
)
from hartrace.explorer.app.wiring import Callbacks

PATH = "/"
NAME = "Run"
ORDER = 0

callback = Callbacks()

HEADLINE = (
    ("accuracy", "accuracy"),
    ("top5_accuracy", "top-5 accuracy"),
    ("weighted_f1", "weighted F1"),
    ("weighted_precision", "weighted precision"),
    ("weighted_recall", "weighted recall"),
)


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Run"),
            dcc.Loading(
                [
                    html.Div(id=ids.RUN_SUMMARY, className="summary"),
                    html.Div(id=ids.RUN_METRICS, className="metrics"),
                    card("Training curves", graph(ids.RUN_CURVES, zoom=True)),
                ],
                type="circle",
            ),
            html.Div(
                [
                    card("Configuration", html.Div(id=ids.RUN_CONFIG), className="grow"),
                    card("All runs", html.Div(id=ids.RUN_LIST), className="grow"),
                ],
                className="row",
            ),
        ]
    )


@callback(
    Output(ids.RUN_SUMMARY, "children"),
    Output(ids.RUN_METRICS, "children"),
    Output(ids.RUN_CURVES, "figure"),
    Output(ids.RUN_CONFIG, "children"),
    Output(ids.RUN_LIST, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.EVALUATED, "data"),
)
def show_run(run: str | None, evaluated: str | None = None, *, service: ExplorerAPI):
    """The run's summary, curves and config at once; its evaluation's headline once ``evaluated`` names it."""
    from hartrace.render import training_curves_plotly

    runs = service.list_runs()
    listing = table(
        ("run", "backbone", "epochs", "best val accuracy"),
        [(r["name"], r.get("backbone"), r.get("epochs"), percent(r.get("best_val_accuracy"))) for r in runs],
    )
    if not run:
        message = notice("No run found in the runs folder: train one with `hartrace train`.", "warning")
        return message, [], empty_figure("no run"), [], listing
    try:
        details = service.run_details(run)
    except HartraceError as exc:
        return notice(str(exc), "error"), [], empty_figure("no details"), [], listing
    evaluation = details.get("evaluation") or {}
    rows = details.get("metrics") or []
    config = details.get("config") or {}
    summary = html.P(
        [
            html.B(run),
            f" · {config.get('backbone', '?')} · {len(rows)} epochs · {len(details.get('classes', []))} classes"
            f" · {config.get('image_size', '?')} px · data {config.get('data', '?')}",
        ]
    )
    headline = [metric(label, percent(evaluation.get(key))) for key, label in HEADLINE if key in evaluation]
    if not evaluation:
        headline = [
            html.P("Evaluating on the validation split: its progress is at the top of the page.", className="muted")
        ]
    if "images" in evaluation:
        headline.append(metric("validation images", evaluation["images"]))
    curves = training_curves_plotly(rows) if rows else empty_figure("no metrics.jsonl in this run")
    return summary, headline, curves, key_value_table(config), listing

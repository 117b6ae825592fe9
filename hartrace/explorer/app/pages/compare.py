"""Compare: two runs on the same image, side by side (prediction and explanation of each).

Run A is the run chosen at the top (so every page speaks of the same run); run B is picked here.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.figures import prediction_bars
from hartrace.explorer.app.components.widgets import GRAPH_CONFIG, image_label, missing_selection, notice, run_label
from hartrace.explorer.app.wiring import Callbacks

PATH = "/compare"
NAME = "Compare"
ORDER = 6
DEFAULT_METHOD = "gradcam"

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    def side(picker_id: str, panel_id: str, label: str, *, disabled: bool = False) -> html.Div:
        picker = dcc.Dropdown(id=picker_id, clearable=False, disabled=disabled)
        return html.Div(
            [
                html.Div([html.Label(label), picker], className="field wide"),
                dcc.Loading(html.Div(id=panel_id, className="compare-panel"), type="circle"),
            ],
            className="card grow",
        )

    return html.Div(
        [
            html.H2("Compare"),
            html.P(
                "The selected image through two runs, explained with the method chosen on Explain, "
                "for the selected target class where both runs know it.",
                className="muted",
            ),
            html.Div(
                [
                    side(ids.COMPARE_RUN_A, ids.COMPARE_PANEL_A, "run A: the run chosen at the top", disabled=True),
                    side(ids.COMPARE_RUN_B, ids.COMPARE_PANEL_B, "run B"),
                ],
                className="row",
            ),
        ]
    )


@callback(
    Output(ids.COMPARE_RUN_A, "options"),
    Output(ids.COMPARE_RUN_A, "value"),
    Output(ids.COMPARE_RUN_B, "options"),
    Output(ids.COMPARE_RUN_B, "value"),
    Input(ids.RUN_STORE, "data"),
    State(ids.COMPARE_STORE, "data"),
)
def compare_controls(run: str | None, stored: dict[str, Any] | None, *, service: ExplorerAPI):
    """Run A is the selected run; run B the session's pick, else the run before A (or A itself when it is alone)."""
    stored = stored or {}
    runs = service.list_runs()
    names = [row["name"] for row in runs]
    options = [{"label": run_label(row), "value": row["name"]} for row in runs]
    a = run if run in names else (names[-1] if names else None)
    others = [name for name in names if name != a]
    b = stored.get("b") if stored.get("b") in names else (others[-1] if others else a)
    return options, a, options, b


@callback(
    Output(ids.COMPARE_STORE, "data"),
    Input(ids.COMPARE_RUN_B, "value"),
    prevent_initial_call=True,
)
def remember_compare(b: str | None):
    """Only run B is the user's to keep: run A follows the top run picker."""
    return {"b": b}


def compare_panel(
    service: ExplorerAPI, run: str | None, image_id: str | None, target: str | None, method: str | None
) -> Any:
    """One run's prediction and explanation of the image."""
    from hartrace.render import cam_overlay_plotly

    why = missing_selection(run, image_id)
    if why:
        return notice(why, "info")
    method = method or DEFAULT_METHOD
    if method in service.methods().get("slow", []):  # two runs at once: a slow map would hold the page
        method = DEFAULT_METHOD
    try:
        classes = service.classes(run)
        probabilities = service.probabilities(run, image_id)
        explained = target if target in classes else None
        cam = service.cam(run, image_id, method=method, target=explained)
        overlay = cam_overlay_plotly(service.image(run, image_id), cam, alpha=0.5)
    except HartraceError as exc:
        return notice(f"{run}: {exc}", "error")
    best = max(range(len(classes)), key=probabilities.__getitem__)
    shown = explained or classes[best]
    overlay.update_layout(title=f"{method} · {shown}", height=340)
    bars = prediction_bars(probabilities, classes, 5, explained)
    bars.update_layout(title="top 5", height=260)
    return [
        html.P(
            [html.B(run), f" predicts {classes[best]} ({100 * probabilities[best]:.1f}%) for {image_label(image_id)}"]
        ),
        dcc.Graph(figure=overlay, config=GRAPH_CONFIG, className="compare-overlay"),
        dcc.Graph(figure=bars, config=GRAPH_CONFIG, className="compare-bars"),
    ]


@callback(
    Output(ids.COMPARE_PANEL_A, "children"),
    Input(ids.COMPARE_RUN_A, "value"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    State(ids.METHOD_STORE, "data"),
)
def show_compare_a(
    run: str | None, image_id: str | None, target: str | None, method: str | None, *, service: ExplorerAPI
):
    return compare_panel(service, run, image_id, target, method)


@callback(
    Output(ids.COMPARE_PANEL_B, "children"),
    Input(ids.COMPARE_RUN_B, "value"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    State(ids.METHOD_STORE, "data"),
)
def show_compare_b(
    run: str | None, image_id: str | None, target: str | None, method: str | None, *, service: ExplorerAPI
):
    return compare_panel(service, run, image_id, target, method)

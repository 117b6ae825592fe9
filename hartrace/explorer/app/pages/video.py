"""Video: one video of a video run, frame by frame: the frame and its map, the frames that matter, the prediction.

The selected video is the session's selection (``IMAGE_STORE``), the class explained its
target (``TARGET_STORE``), so the Images and Evaluation pages of a video run lead here.
A new video or class redraws the slider, the curve and the bars (:func:`show_clip`); a
slider move only redraws the frame and moves the curve's marker (:func:`show_frame`),
both from the service's cached analysis.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import frame_from_click, target_from_click
from hartrace.explorer.app.components.figures import prediction_bars
from hartrace.explorer.app.components.video import frame_figure, importance_figure, move_marker
from hartrace.explorer.app.components.widgets import card, empty_figure, graph, notice
from hartrace.explorer.app.wiring import Callbacks
from hartrace.explorer.rows import ItemRow

PATH = "/video"
NAME = "Video"
ORDER = 3.5  # after Explain: the image pages keep their numbers
DEFAULT_ALPHA = 0.5
PLAY_MS = 400  # one clip frame per step while playing
MAX_MARKS = 9
PLAY, PAUSE = "▶ play", "❚❚ pause"
VIDEO_RUNS_ONLY = (
    "The Video page is for video runs: {run} is an image run. "
    "Pick a video run in the run menu, or see this run's images on the Images page."
)

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    controls = html.Div(
        [
            html.Div(
                [
                    html.Label("video (validation: true → predicted)"),
                    dcc.Dropdown(id=ids.VIDEO_PICKER, clearable=False),
                ],
                className="field wide",
            ),
            html.Div(
                [
                    html.Label("overlay opacity"),
                    dcc.Slider(
                        id=ids.VIDEO_ALPHA,
                        min=0,
                        max=1,
                        step=0.05,
                        value=DEFAULT_ALPHA,
                        marks={0: "0", 0.5: "0.5", 1: "1"},
                        updatemode="mouseup",
                        allow_direct_input=False,
                    ),
                ],
                className="field slider",
            ),
            html.Button("explain the prediction", id=ids.VIDEO_RESET, n_clicks=0, className="button"),
        ],
        className="filters",
    )
    player = html.Div(
        [
            html.Button(PLAY, id=ids.VIDEO_PLAY, n_clicks=0, className="button", disabled=True),
            html.Div(
                dcc.Slider(
                    id=ids.VIDEO_SLIDER,
                    min=0,
                    max=0,
                    step=1,
                    value=0,
                    marks=None,
                    updatemode="drag",
                    disabled=True,
                    allow_direct_input=False,
                ),
                className="player-slider",
            ),
            dcc.Interval(id=ids.VIDEO_TIMER, interval=PLAY_MS, disabled=True),
        ],
        className="player",
    )
    return html.Div(
        [
            html.H2("Video"),
            notice(None, "warning", id=ids.VIDEO_NOTICE),
            card(None, controls),
            html.Div(
                [
                    card(
                        "Frame",
                        graph(ids.VIDEO_FRAME, zoom=True),
                        player,
                        html.P(id=ids.VIDEO_CAPTION, className="caption"),
                        className="grow",
                    ),
                    card(
                        "Prediction (the clip shown)", dcc.Loading(graph(ids.VIDEO_BARS), type="dot"), className="side"
                    ),
                ],
                className="row",
            ),
            card("Temporal importance", graph(ids.VIDEO_CURVE)),
        ]
    )


def page_for(item_id: str | None) -> str:
    """The page that explains a selected item: Video for a video file's id, Explain for anything else."""
    from hartrace.data.video import VIDEO_EXTENSIONS

    return PATH if item_id and PurePosixPath(item_id).suffix.lower() in VIDEO_EXTENSIONS else "/explain"


def video_label(row: ItemRow) -> str:
    verdict = "" if row["correct"] else " ✗"
    return f"{row['name']} · {row['true'] or '?'} → {row['predicted']} ({100 * row['probability']:.0f}%){verdict}"


def explained_class(service: ExplorerAPI, run: str, video_id: str, target: str | None) -> int:
    """The class index to explain: the session's target where this run knows it, else the clip's prediction."""
    return service.video_target(run, video_id, target if target in service.classes(run) else None)


def slider_marks(frame_numbers: list[int]) -> dict[int, str]:
    """At most MAX_MARKS marks, labelled with the video's own frame numbers."""
    count = len(frame_numbers)
    step = max(1, -(-count // MAX_MARKS))
    return {t: str(frame_numbers[t]) for t in range(0, count, step)} | {count - 1: str(frame_numbers[-1])}


@callback(
    Output(ids.VIDEO_PICKER, "options"),
    Output(ids.VIDEO_PICKER, "value"),
    Output(ids.VIDEO_NOTICE, "children"),
    Output(ids.VIDEO_NOTICE, "hidden"),
    Input(ids.RUN_STORE, "data"),
    State(ids.IMAGE_STORE, "data"),
)
def video_picker(run: str | None, selected: str | None, *, service: ExplorerAPI):
    """The run's validation videos; the session's selection when it is one of them, else the first."""
    if not run:
        return [], None, "No run selected: train a video model with `hartrace train`, then reload.", False
    from hartrace.runs.tasks import task_of

    try:
        if not task_of(service.task(run)).is_video:
            return [], None, VIDEO_RUNS_ONLY.format(run=run), False
        rows = service.videos(run)
    except HartraceError as exc:
        return [], None, str(exc), False
    options = [{"label": video_label(row), "value": row["id"]} for row in rows]
    names = [row["id"] for row in rows]
    if not names:
        return [], None, f"{run} has no validation videos.", False
    return options, selected if selected in names else names[0], "", True


@callback(
    Output(ids.IMAGE_STORE, "data", allow_duplicate=True),
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.VIDEO_PICKER, "value"),
    State(ids.IMAGE_STORE, "data"),
    prevent_initial_call=True,
)
def pick_video(video_id: str | None, selected: str | None):
    """A newly picked video becomes the selection, explained for its prediction."""
    if not video_id or video_id == selected:
        return no_update, no_update
    return video_id, None


@callback(
    Output(ids.VIDEO_SLIDER, "max"),
    Output(ids.VIDEO_SLIDER, "marks"),
    Output(ids.VIDEO_SLIDER, "value"),
    Output(ids.VIDEO_SLIDER, "disabled"),
    Output(ids.VIDEO_PLAY, "disabled"),
    Output(ids.VIDEO_CURVE, "figure"),
    Output(ids.VIDEO_BARS, "figure"),
    Output(ids.VIDEO_CAPTION, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.VIDEO_PICKER, "value"),
    Input(ids.TARGET_STORE, "data"),
    State(ids.VIDEO_SLIDER, "value"),
)
def show_clip(run: str | None, video_id: str | None, target: str | None, frame: int | None, *, service: ExplorerAPI):
    """For a new video or class: the slider over the clip's frames, the importance curve, the bars and the caption."""
    if not run or not video_id:
        why = "no run selected" if not run else "no video selected"
        return 0, {}, 0, True, True, empty_figure(why), empty_figure(why), ""
    try:
        analysis = service.video(run, video_id)
        classes = service.classes(run)
        k = explained_class(service, run, video_id, target)
        importance = service.video_importance(run, video_id, k)
        row = next((r for r in service.videos(run) if r["id"] == video_id), None)
    except HartraceError as exc:
        return 0, {}, 0, True, True, empty_figure(str(exc)), empty_figure(str(exc)), ""
    count = len(analysis.frame_indices)
    frame = int(frame) if isinstance(frame, (int, float)) and 0 <= frame < count else 0
    explained = classes[k]
    probabilities = analysis.probabilities
    best = max(range(len(classes)), key=probabilities.__getitem__)
    curve = importance_figure(importance, frame, analysis.frame_indices, explained)
    bars = prediction_bars(probabilities, classes, 5, explained)
    bars.update_layout(title="top 5 · click a bar to explain it", height=300)
    evaluated = (
        f" The evaluation (over several clips) predicts {row['predicted']}; true class {row['true'] or 'unknown'}."
        if row
        else ""
    )
    caption = (
        f"Explaining '{explained}' (p = {100 * probabilities[k]:.1f}% on this clip"
        f"{', its prediction' if k == best else f'; it predicts {classes[best]}'}) by Grad-CAM at {analysis.layer}, "
        f"over {count} frames (video frames {analysis.frame_indices[0]}–{analysis.frame_indices[-1]}).{evaluated}"
    )
    return count - 1, slider_marks(analysis.frame_indices), frame, count < 2, count < 2, curve, bars, caption


@callback(
    Output(ids.VIDEO_FRAME, "figure"),
    Output(ids.VIDEO_CURVE, "figure", allow_duplicate=True),
    Input(ids.VIDEO_SLIDER, "value"),
    Input(ids.VIDEO_ALPHA, "value"),
    State(ids.RUN_STORE, "data"),
    State(ids.VIDEO_PICKER, "value"),
    State(ids.TARGET_STORE, "data"),
    prevent_initial_call=True,
)
def show_frame(
    frame: int | None,
    alpha: float | None,
    run: str | None,
    video_id: str | None,
    target: str | None,
    *,
    service: ExplorerAPI,
):
    """The frame at the slider beside its overlay, and the curve's marker moved there: cached maps, no model pass."""
    from hartrace.render import cam_overlay

    if not run or not video_id:
        return empty_figure("no video selected"), no_update
    try:
        analysis = service.video(run, video_id)
        k = explained_class(service, run, video_id, target)
        cams = service.video_cam(run, video_id, k)
        importance = service.video_importance(run, video_id, k)
    except HartraceError as exc:
        return empty_figure(str(exc)), no_update
    t = min(max(0, int(frame or 0)), len(analysis.frames) - 1)
    overlay = cam_overlay(analysis.frames[t], cams[t], alpha=DEFAULT_ALPHA if alpha is None else float(alpha))
    number = analysis.frame_indices[t]
    when = f", {number / analysis.fps:.2f} s" if analysis.fps else ""
    title = (
        f"video frame {number}{when} · {t + 1} of the {len(analysis.frames)} frames the model sees"
        f" · {100 * importance[t]:.1f}% of the map"
    )
    return frame_figure(analysis.frames[t], overlay, title), move_marker(importance, t)


@callback(
    Output(ids.VIDEO_SLIDER, "value", allow_duplicate=True),
    Input(ids.VIDEO_CURVE, "clickData"),
    prevent_initial_call=True,
)
def pick_frame(click: dict[str, Any] | None):
    """A clicked point of the importance curve shows its frame."""
    frame = frame_from_click(click)
    return no_update if frame is None else frame


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.VIDEO_BARS, "clickData"),
    prevent_initial_call=True,
)
def pick_video_target(click: dict[str, Any] | None):
    """A clicked bar explains its class (from the cached capture: no new model pass)."""
    target = target_from_click(click)
    return no_update if target is None else target


@callback(
    Output(ids.TARGET_STORE, "data", allow_duplicate=True),
    Input(ids.VIDEO_RESET, "n_clicks"),
    prevent_initial_call=True,
)
def reset_video_target(clicks: int | None):
    return None if clicks else no_update


@callback(
    Output(ids.VIDEO_TIMER, "disabled"),
    Output(ids.VIDEO_PLAY, "children"),
    Input(ids.VIDEO_PLAY, "n_clicks"),
    State(ids.VIDEO_TIMER, "disabled"),
    prevent_initial_call=True,
)
def toggle_play(clicks: int | None, paused: bool | None):
    """Play starts stepping through the clip; pressing again pauses."""
    if not clicks:
        return no_update, no_update
    playing = bool(paused)  # paused now: this press plays
    return not playing, PAUSE if playing else PLAY


@callback(
    Output(ids.VIDEO_SLIDER, "value", allow_duplicate=True),
    Input(ids.VIDEO_TIMER, "n_intervals"),
    State(ids.VIDEO_SLIDER, "value"),
    State(ids.VIDEO_SLIDER, "max"),
    prevent_initial_call=True,
)
def step_frame(_ticks: int | None, frame: int | None, last: int | None):
    """The next frame while playing, round to the first after the last."""
    if not last:
        return no_update
    return (int(frame or 0) + 1) % (int(last) + 1)

"""Atlas: what one channel of a layer responds to, across the run's validation images.

`hartrace atlas` saves, per layer, each channel's most activating images with the region
that fired, and (where the data has concept maps) the concept its firing region overlaps
best, with that overlap's IoU. This page lists a layer's units ranked by IoU and opens one:
its top images (the region framed, the rest dimmed), its best concept, and its feature
visualisation, made in the background the first time a channel is opened.

``/atlas?run=..&layer=..&channel=..`` opens a channel directly (the Inside page links
here); the page keeps the URL's query in step with what it shows (``assets/url-state.js``).
A run without an atlas gets the command that makes one, and a button that makes it here.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import clicked_tile
from hartrace.explorer.app.components.progress import RUNNING, job_progress
from hartrace.explorer.app.components.widgets import card, metric, notice
from hartrace.explorer.app.wiring import Callbacks
from hartrace.explorer.rows import JobRow
from hartrace.workflows.atlas import AtlasLayer, UnitRow

PATH = "/atlas"
NAME = "Atlas"
ORDER = 4.5  # after Inside the network: from one image's channel to what the channel does everywhere
POLL_MS = 500
LISTED = 64  # units in the ranked list; the channel picker offers every one
RUNNERS_UP = 4  # concepts shown under the best one
PICK_A_CHANNEL = "Pick a channel in the list or the picker."

callback = Callbacks()


def asked_view(layer: str | None = None, channel: str | None = None) -> dict[str, Any] | None:
    """The layer and channel a link's query names (``channel`` must be a number), or None."""
    number = int(channel) if channel is not None and str(channel).isdigit() else None
    return {"layer": layer, "channel": number} if layer else None


def layout(layer: str | None = None, channel: str | None = None, **_: Any) -> html.Div:
    """Dash passes the URL's query here: ``/atlas?layer=layer3&channel=5`` opens that channel (the run is the
    session's: the frame reads ``run`` from the URL)."""
    controls = html.Div(
        [
            html.Div(
                [html.Label("layer", htmlFor=ids.ATLAS_LAYER), dcc.Dropdown(id=ids.ATLAS_LAYER, clearable=False)],
                className="field",
            ),
            html.Div(
                [
                    html.Label("channel", htmlFor=ids.ATLAS_CHANNEL),
                    dcc.Dropdown(id=ids.ATLAS_CHANNEL, clearable=False, placeholder="pick a channel"),
                ],
                className="field wide",
            ),
            html.Button("compute the atlas", id=ids.ATLAS_START, n_clicks=0, className="button", hidden=True),
        ],
        className="filters",
    )
    making = html.Div(html.Span(id=ids.ATLAS_PROGRESS, className="job-text"), className="job")
    channel_card = card(
        None,
        html.H3(PICK_A_CHANNEL, id=ids.ATLAS_TITLE, className="card-title"),
        html.Div(id=ids.ATLAS_SUMMARY),
        html.Div(
            [
                html.Div(
                    [
                        html.H4("Top images · the region that fired is framed", className="atlas-heading"),
                        html.Div(id=ids.ATLAS_TOP, className="atlas-top"),
                    ],
                    className="grow",
                ),
                html.Div(
                    [
                        html.H4("Feature visualisation", className="atlas-heading"),
                        html.Div(id=ids.ATLAS_FEATVIS, className="atlas-featvis"),
                        html.Div(html.Span(id=ids.ATLAS_FEATVIS_PROGRESS, className="job-text"), className="job"),
                    ],
                    className="atlas-featvis-box",
                ),
            ],
            className="row",
        ),
        className="grow",
    )
    return html.Div(
        [
            html.H2("Atlas"),
            html.P(
                [
                    "What each channel of a layer responds to across the validation images: its most activating "
                    "images, the concept its firing region overlaps best (IoU against the data's concept maps), "
                    "and the input that drives it most. Made by ",
                    html.Code("hartrace atlas"),
                    ".",
                ],
                className="muted",
            ),
            dcc.Store(id=ids.ATLAS_ASKED, storage_type="memory", data=asked_view(layer, channel)),
            dcc.Store(id=ids.ATLAS_URL, storage_type="memory"),
            dcc.Store(id=ids.ATLAS_JOB, storage_type="memory"),
            dcc.Store(id=ids.ATLAS_READY, storage_type="memory", data=0),
            dcc.Store(id=ids.ATLAS_FEATVIS_JOB, storage_type="memory"),
            dcc.Store(id=ids.ATLAS_FEATVIS_READY, storage_type="memory", data=0),
            dcc.Interval(id=ids.ATLAS_POLL, interval=POLL_MS, disabled=True),
            dcc.Interval(id=ids.ATLAS_FEATVIS_POLL, interval=POLL_MS, disabled=True),
            card(None, controls, notice(None, id=ids.ATLAS_NOTICE), making),
            html.Div(  # the row inside: a flex box would show through its own ``hidden``
                html.Div(
                    [
                        card(
                            "Units, best IoU first · click one",
                            html.Div(id=ids.ATLAS_UNITS, className="atlas-units"),
                            className="side",
                        ),
                        channel_card,
                    ],
                    className="row",
                ),
                id=ids.ATLAS_BODY,
                hidden=True,
            ),
        ]
    )


# -- the unit list -------------------------------------------------------------------------


def ranked(units: list[UnitRow]) -> list[UnitRow]:
    """Units by IoU, highest first (units without a score last), then by their strongest activation."""

    def key(unit: UnitRow) -> tuple[bool, float, float]:
        strongest = max((top.activation for top in unit.top), default=0.0)
        return unit.iou is None, -(unit.iou or 0.0), -strongest

    return sorted(units, key=key)


def detected(unit: UnitRow) -> str | None:
    """The concept a unit detects: its best one, where its firing region overlaps it at all (IoU above 0)."""
    return unit.best_concept if (unit.iou or 0.0) > 0 else None


def concept_text(unit: UnitRow) -> str:
    return detected(unit) or "—"


def iou_text(unit: UnitRow) -> str:
    return "—" if unit.iou is None else f"{unit.iou:.3f}"


def unit_label(unit: UnitRow) -> str:
    """A channel as the picker lists it: its number, and its best concept where the atlas scored one."""
    if unit.iou is None:
        return f"channel {unit.channel}"
    return f"channel {unit.channel} · {detected(unit) or 'no concept'} (IoU {iou_text(unit)})"


def unit_rows(units: list[UnitRow], limit: int = LISTED) -> html.Div:
    """The ranked units as clickable rows: channel, best concept, IoU, strongest activation."""
    head = html.Div(
        [html.Span(name) for name in ("channel", "best concept", "IoU", "max act.")],
        className="atlas-row atlas-head",
    )
    rows = [
        html.Button(
            [
                html.Span(str(unit.channel)),
                html.Span(concept_text(unit), className="atlas-concept"),
                html.Span(iou_text(unit), className="atlas-number"),
                html.Span(f"{max((t.activation for t in unit.top), default=0.0):.3g}", className="atlas-number"),
            ],
            id=ids.atlas_unit(unit.channel),
            n_clicks=0,
            className="atlas-row atlas-unit",
            title=f"open channel {unit.channel}",
        )
        for unit in units[:limit]
    ]
    more = len(units) - limit
    tail = [html.P(f"{more} more: pick them in the channel picker.", className="muted")] if more > 0 else []
    return html.Div([head, *rows, *tail], className="atlas-table")


# -- callbacks -------------------------------------------------------------------------------


@callback(
    Output(ids.ATLAS_LAYER, "options"),
    Output(ids.ATLAS_LAYER, "value"),
    Output(ids.ATLAS_NOTICE, "children"),
    Output(ids.ATLAS_NOTICE, "className"),
    Output(ids.ATLAS_NOTICE, "hidden"),
    Output(ids.ATLAS_START, "hidden"),
    Output(ids.ATLAS_BODY, "hidden"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.ATLAS_READY, "data"),
    State(ids.ATLAS_ASKED, "data"),
    State(ids.ATLAS_LAYER, "value"),
)
def atlas_layers(
    run: str | None, _ready: int | None, asked: dict[str, Any] | None, current: str | None, *, service: ExplorerAPI
):
    """The run's layers with an atlas: the one shown stays, else the one a link asked for, else the first.
    No atlas: the command that makes one, and the button that makes it here."""
    if not run:
        return [], None, "no run selected", "notice notice-info", False, True, True
    wanted = (asked or {}).get("layer")
    try:
        layers = service.atlas_layers(run)
        if not layers:
            command: str | None = service.atlas_command(run)
        elif current not in layers and wanted and wanted not in layers:  # a link asked for a layer without one
            command = service.atlas_command(run, [wanted])
        else:
            command = None
    except HartraceError as exc:
        return [], None, str(exc), "notice notice-error", False, True, True
    if not layers:
        message = [f"No atlas of {run} yet: make one with ", html.Code(command), " (then reload), or compute it here."]
        return [], None, message, "notice notice-info", False, False, True
    options = [{"label": name, "value": name} for name in layers]
    if command is not None:
        message = [f"{wanted} has no atlas (this run has one of {', '.join(layers)}): make one with "]
        message.append(html.Code(command))
        return options, layers[0], message, "notice notice-warning", False, True, False
    if current in layers:
        return options, current, "", "notice", True, True, False
    return options, wanted or layers[0], "", "notice", True, True, False


@callback(
    Output(ids.ATLAS_UNITS, "children"),
    Output(ids.ATLAS_CHANNEL, "options"),
    Output(ids.ATLAS_CHANNEL, "value"),
    Output(ids.ATLAS_ASKED, "data"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.ATLAS_LAYER, "value"),
    State(ids.ATLAS_ASKED, "data"),
)
def atlas_units(run: str | None, layer: str | None, asked: dict[str, Any] | None, *, service: ExplorerAPI):
    """The layer's units ranked, and the channel opened: the one a link asked for (once), else the best unit."""
    if not run or not layer:
        return [], [], None, no_update
    try:
        units = ranked(service.atlas(run, layer).units)
    except HartraceError as exc:
        return html.P(str(exc), className="notice-inline"), [], None, no_update
    options = [{"label": unit_label(unit), "value": unit.channel} for unit in units]
    channels = {unit.channel for unit in units}
    wanted = (asked or {}).get("channel") if (asked or {}).get("layer") == layer else None
    channel = wanted if wanted in channels else (units[0].channel if units else None)
    return unit_rows(units), options, channel, None  # the link's view is applied: later picks are the user's


@callback(
    Output(ids.ATLAS_CHANNEL, "value", allow_duplicate=True),
    Input(ids.atlas_unit(ALL), "n_clicks"),
    State(ids.atlas_unit(ALL), "id"),
    prevent_initial_call=True,
)
def pick_unit(clicks: list[int | None], row_ids: list[dict[str, Any]], *, triggered_id: Any = None):
    """A click on a row of the list opens that channel (rows that just appeared do nothing)."""
    channel = clicked_tile(clicks, row_ids, triggered_id)
    return no_update if channel is None else int(channel)


def summary(atlas: AtlasLayer, unit: UnitRow) -> list[Any]:
    """The channel's best concept and IoU, and the next best concepts; or why there are none."""
    if atlas.concepts is None or unit.iou is None:
        return [html.P("No concept scores: the data this atlas was made on has no concept maps.", className="muted")]
    concept = detected(unit)
    shown = [metric("best concept", concept or "none"), metric("IoU", iou_text(unit))]
    if concept is not None and concept in atlas.ceilings:
        shown.append(metric("a perfect unit here", f"{atlas.ceilings[concept]:.3f}"))
    if concept is not None and concept in unit.shares:
        shown.append(metric("top images with it", f"{unit.shares[concept]:.0%}"))
    best = html.Div(shown, className="metrics")
    others = sorted(((name, iou) for name, iou in unit.ious.items() if name != detected(unit)), key=lambda x: -x[1])
    fires = "" if unit.threshold is None else f"fires above {unit.threshold:.3g}; "
    if detected(unit) is None:
        return [best, html.P(f"{fires}its firing region overlaps no concept of the data", className="caption")]
    after = ", ".join(f"{name} {iou:.3f}" for name, iou in others[:RUNNERS_UP] if iou > 0)
    return [best, html.P(f"{fires}next: {after or 'none'}", className="caption")]


@callback(
    Output(ids.ATLAS_TITLE, "children"),
    Output(ids.ATLAS_SUMMARY, "children"),
    Output(ids.ATLAS_TOP, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.ATLAS_LAYER, "value"),
    Input(ids.ATLAS_CHANNEL, "value"),
    prevent_initial_call=True,
)
def atlas_channel(run: str | None, layer: str | None, channel: int | None, *, service: ExplorerAPI):
    """One channel: its best concept and IoU, and its top images with the region that fired."""
    if not run or not layer or channel is None:
        return PICK_A_CHANNEL, [], []
    try:
        atlas = service.atlas(run, layer)
        unit = next((u for u in atlas.units if u.channel == channel), None)
        if unit is None:
            return f"{layer} has no channel {channel} in its atlas", [], []
        tiles = service.atlas_tiles(run, layer, channel)
    except HartraceError as exc:
        return f"{layer} · channel {channel}", [html.P(str(exc), className="notice-inline")], []
    top = [
        html.Figure(
            [
                html.Img(src=src, alt=image.item_id, title=image.item_id),
                html.Figcaption(f"#{rank} · {image.activation:.3g}"),
            ],
            className="atlas-tile",
        )
        for rank, (src, image) in enumerate(zip(tiles, unit.top, strict=True), start=1)
    ]
    title = f"{layer} · channel {channel} · its {len(top)} most activating of the {atlas.split} images"
    return title, summary(atlas, unit), top


def featvis_view(row: JobRow | None, key: str | None) -> tuple[Any, bool, Any]:
    """(the job key followed, poll disabled, its progress) for a feature visualisation job."""
    if row is None:
        return None, True, ""
    if row["state"] in RUNNING:
        return row["key"], False, job_progress(row)
    return key, True, row["message"]


@callback(
    Output(ids.ATLAS_FEATVIS, "children"),
    Output(ids.ATLAS_FEATVIS_JOB, "data"),
    Output(ids.ATLAS_FEATVIS_POLL, "disabled"),
    Output(ids.ATLAS_FEATVIS_PROGRESS, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.ATLAS_LAYER, "value"),
    Input(ids.ATLAS_CHANNEL, "value"),
    Input(ids.ATLAS_FEATVIS_READY, "data"),
    State(ids.ATLAS_FEATVIS_JOB, "data"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def atlas_featvis(
    run: str | None,
    layer: str | None,
    channel: int | None,
    _ready: int | None,
    previous: str | None,
    session: str | None,
    *,
    service: ExplorerAPI,
):
    """The channel's feature visualisation; one not made yet is made in the background (this tab stops waiting
    for the channel it showed before)."""
    if not run or not layer or channel is None:
        return [], None, True, ""
    try:
        row = service.feature_visualisation_job(run, layer, channel, session or "")
        if previous and previous != (row["key"] if row else None):
            service.cancel_job(previous, session or "")
        if row is not None:
            waiting = html.P("the picture appears here once it is made", className="muted atlas-waiting")
            key, disabled, progress = featvis_view(row, None)
            return waiting, key, disabled, progress
        src = service.feature_visualisation(run, layer, channel)
    except HartraceError as exc:
        return html.P(str(exc), className="notice-inline"), None, True, ""
    picture = html.Img(src=src, alt=f"feature visualisation of {layer} channel {channel}", className="atlas-picture")
    return picture, None, True, ""


@callback(
    Output(ids.ATLAS_FEATVIS_PROGRESS, "children", allow_duplicate=True),
    Output(ids.ATLAS_FEATVIS_POLL, "disabled", allow_duplicate=True),
    Output(ids.ATLAS_FEATVIS_READY, "data"),
    Input(ids.ATLAS_FEATVIS_POLL, "n_intervals"),
    State(ids.ATLAS_FEATVIS_JOB, "data"),
    State(ids.ATLAS_FEATVIS_READY, "data"),
    prevent_initial_call=True,
)
def poll_featvis(_: int | None, key: str | None, ready: int | None, *, service: ExplorerAPI):
    """How the picture is doing; once made, the channel's picture is asked for again."""
    row = service.job(key) if key else None
    if row is None or row["state"] == "done":
        return "", True, (ready or 0) + 1
    _, disabled, progress = featvis_view(row, key)
    return progress, disabled, no_update


@callback(
    Output(ids.ATLAS_JOB, "data"),
    Output(ids.ATLAS_POLL, "disabled"),
    Output(ids.ATLAS_PROGRESS, "children"),
    Output(ids.ATLAS_START, "disabled"),
    Input(ids.ATLAS_START, "n_clicks"),
    State(ids.RUN_STORE, "data"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def start_atlas(clicks: int | None, run: str | None, session: str | None, *, service: ExplorerAPI):
    """Make the run's atlas in the background (the command's default layers); the page follows it."""
    if not clicks or not run:
        return no_update, no_update, no_update, no_update
    try:
        row = service.atlas_job(run, session or "")
    except HartraceError as exc:
        return None, True, str(exc), False
    if row is None:  # made meanwhile (by another tab, or the command): one poll tick lists the layers again
        return None, False, "", True
    return row["key"], False, job_progress(row), True


@callback(
    Output(ids.ATLAS_PROGRESS, "children", allow_duplicate=True),
    Output(ids.ATLAS_POLL, "disabled", allow_duplicate=True),
    Output(ids.ATLAS_START, "disabled", allow_duplicate=True),
    Output(ids.ATLAS_READY, "data"),
    Input(ids.ATLAS_POLL, "n_intervals"),
    State(ids.ATLAS_JOB, "data"),
    State(ids.ATLAS_READY, "data"),
    prevent_initial_call=True,
)
def poll_atlas(_: int | None, key: str | None, ready: int | None, *, service: ExplorerAPI):
    """How the atlas is doing; once made, the layers are listed again."""
    row = service.job(key) if key else None
    if row is None or row["state"] == "done":
        return "", True, False, (ready or 0) + 1
    if row["state"] in RUNNING:
        return job_progress(row), False, True, no_update
    return f"{row['message']}: press the button to try again", True, False, no_update


callback.clientside(
    "hartrace",
    "shareAtlas",
    Output(ids.ATLAS_URL, "data"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.ATLAS_LAYER, "value"),
    Input(ids.ATLAS_CHANNEL, "value"),
)

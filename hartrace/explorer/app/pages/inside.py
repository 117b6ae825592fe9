"""Inside the network: walk the model's layer tree; see a layer's activations, a channel, kernels, and the flow."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import Input, Output, State, dcc, html, no_update

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.clicks import channel_from_click
from hartrace.explorer.app.components.figures import channel_figure, channel_histogram
from hartrace.explorer.app.components.widgets import card, empty_figure, graph, missing_selection
from hartrace.explorer.app.wiring import Callbacks
from hartrace.explorer.rows import LayerRow

PATH = "/inside"
NAME = "Inside the network"
ORDER = 4
INDENT = "\u2003"  # an em space: HTML does not collapse it, so the tree keeps its shape
FLOW_DEFAULT = 4
PICK_A_CHANNEL = "click a channel in the activation grid to enlarge it"

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    picker = html.Div(
        [html.Label("layer (the model's tree)"), dcc.Dropdown(id=ids.INSIDE_LAYER, clearable=False, maxHeight=420)],
        className="field wide",
    )
    flow = card(
        "Layer flow",
        html.Div(
            [
                html.Div(
                    [html.Label("layers, in model order"), dcc.Dropdown(id=ids.INSIDE_FLOW_LAYERS, multi=True)],
                    className="field wide",
                ),
                html.Button("draw the flow", id=ids.INSIDE_FLOW_BUTTON, n_clicks=0, className="button"),
            ],
            className="filters",
        ),
        html.P(
            "Pick layers and press the button: one picture from the input through them to the prediction.",
            id=ids.INSIDE_FLOW_NOTE,
            className="muted",
        ),
        dcc.Loading(html.Img(id=ids.INSIDE_FLOW, className="flow", alt=""), type="circle"),
    )
    return html.Div(
        [
            html.H2("Inside the network"),
            card(None, html.Div([picker], className="filters"), html.P(id=ids.INSIDE_NOTE, className="muted")),
            html.Div(
                [
                    card(
                        "Activations (the 16 most active channels)",
                        dcc.Loading(graph(ids.INSIDE_GRID, zoom=True), type="dot"),
                        className="grow",
                    ),
                    card(
                        "Channel",
                        graph(ids.INSIDE_CHANNEL, empty_figure(PICK_A_CHANNEL)),
                        graph(ids.INSIDE_CHANNEL_HISTOGRAM, empty_figure("", height=120)),
                        html.Div(id=ids.INSIDE_ATLAS, className="caption"),
                        className="side wide-side",
                    ),
                ],
                className="row",
            ),
            html.Div(
                [
                    card(
                        "Activation histogram (every value of the layer)", graph(ids.INSIDE_HISTOGRAM), className="grow"
                    ),
                    card("Kernels", graph(ids.INSIDE_KERNELS), className="grow"),
                ],
                className="row",
            ),
            flow,
        ]
    )


def tree_options(tree: list[LayerRow]) -> list[dict[str, str]]:
    """Dropdown options that follow the model's tree: indented by depth, with type and output shape."""
    top = min((row["depth"] for row in tree), default=0)
    options = []
    for row in tree:
        shape = "×".join(str(s) for s in row.get("shape", [])[1:])
        label = f"{INDENT * 2 * (row['depth'] - top)}{row['name']} · {row['kind']}" + (f" · {shape}" if shape else "")
        options.append({"label": label, "value": row["name"]})
    return options


def spatial(row: LayerRow) -> bool:
    return len(row.get("shape", [])) == 4


def default_layer(tree: list[LayerRow]) -> str | None:
    """The first layer with feature maps (usually the stem convolution)."""
    return next((row["name"] for row in tree if spatial(row)), tree[0]["name"] if tree else None)


def is_classifier_output(tree: list[LayerRow], layer: str, classes: list[str]) -> bool:
    """Whether ``layer`` gives the model's class scores: one value per class, and the model's last layer (or the
    block that holds it, like a ``classifier`` Sequential), so its outputs can be named by class."""
    row = next((row for row in tree if row["name"] == layer), None)
    if row is None or list(row.get("shape", []))[1:] != [len(classes)]:
        return False
    last = tree[-1]["name"]
    return last == layer or last.startswith(layer + ".")


def default_flow(tree: list[LayerRow], count: int = FLOW_DEFAULT) -> list[str]:
    """A few top-level layers with maps, spread from input to output."""
    top = min((row["depth"] for row in tree), default=0)
    candidates = [
        row["name"]
        for row in tree
        if row["depth"] == top and spatial(row) and row["parameters"] > 0 and "Norm" not in row["kind"]
    ]
    if len(candidates) <= count:
        return candidates
    step = (len(candidates) - 1) / (count - 1)
    return [candidates[round(i * step)] for i in range(count)]


@callback(
    Output(ids.INSIDE_LAYER, "options"),
    Output(ids.INSIDE_LAYER, "value"),
    Output(ids.INSIDE_FLOW_LAYERS, "options"),
    Output(ids.INSIDE_FLOW_LAYERS, "value"),
    Input(ids.RUN_STORE, "data"),
    State(ids.PROBE_STORE, "data"),
)
def inside_controls(run: str | None, probe: dict[str, Any] | None, *, service: ExplorerAPI):
    probe = probe or {}
    try:
        tree = service.layer_tree(run) if run else []
    except HartraceError:
        tree = []
    names = [row["name"] for row in tree]
    layer = probe.get("layer") if probe.get("layer") in names else default_layer(tree)
    kept = [name for name in probe.get("flow") or [] if name in names]
    flow = kept or default_flow(tree)
    plain = [{"label": name, "value": name} for name in names]
    return tree_options(tree), layer, plain, flow


@callback(
    Output(ids.PROBE_STORE, "data"),
    Input(ids.INSIDE_LAYER, "value"),
    Input(ids.INSIDE_FLOW_LAYERS, "value"),
    prevent_initial_call=True,
)
def remember_probe(layer: str | None, flow: list[str] | None):
    return {"layer": layer, "flow": list(flow or [])}


@callback(
    Output(ids.INSIDE_GRID, "figure"),
    Output(ids.INSIDE_GRID, "clickData"),
    Output(ids.INSIDE_HISTOGRAM, "figure"),
    Output(ids.INSIDE_KERNELS, "figure"),
    Output(ids.INSIDE_NOTE, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.INSIDE_LAYER, "value"),
)
def show_layer(run: str | None, image_id: str | None, layer: str | None, *, service: ExplorerAPI):
    """The layer's most active channels, its value histogram and its kernels (clears the picked channel)."""
    from hartrace.render import activation_grid_plotly, histogram_plotly, kernel_grid_plotly

    why = missing_selection(run, image_id) or (None if layer else "no layer selected")
    if why:
        return empty_figure(why), None, empty_figure(why), empty_figure(why), ""
    try:
        activation = service.activation(run, image_id, layer)
        stats = service.layer_stats(run, image_id, layer)
        weight = service.kernel(run, layer)
        classes = service.classes(run)
        scores = is_classifier_output(service.layer_tree(run), layer, classes)
    except HartraceError as exc:
        return empty_figure(str(exc)), None, empty_figure(str(exc)), empty_figure(str(exc)), ""
    grid = activation_grid_plotly(activation, labels=classes if scores else None)
    grid.update_layout(plot_bgcolor="rgba(0,0,0,0)")  # no grey bands beside square maps
    if scores:
        grid.update_layout(title=f"{layer}: the model's score (logit) for each class, largest magnitude first")
    histogram = histogram_plotly(stats)
    if weight is not None:
        kernels = kernel_grid_plotly(weight)
        kernels.update_layout(plot_bgcolor="rgba(0,0,0,0)")
    else:
        kernels = empty_figure(f"{layer} has no convolution kernels")
    shape = "×".join(str(s) for s in activation.shape)
    note = f"{layer}: output {shape} for this image; click a channel to enlarge it."
    if scores:
        note = f"{layer}: output {shape} for this image, one score per class (the prediction is the largest)."
    return grid, None, histogram, kernels, note


@callback(
    Output(ids.INSIDE_CHANNEL, "figure"),
    Output(ids.INSIDE_CHANNEL_HISTOGRAM, "figure"),
    Input(ids.INSIDE_GRID, "clickData"),
    State(ids.RUN_STORE, "data"),
    State(ids.IMAGE_STORE, "data"),
    State(ids.INSIDE_LAYER, "value"),
    prevent_initial_call=True,
)
def show_channel(
    click: dict[str, Any] | None, run: str | None, image_id: str | None, layer: str | None, *, service: ExplorerAPI
):
    """The clicked channel, enlarged, and the histogram of its values."""
    channel = channel_from_click(click)
    if channel is None or missing_selection(run, image_id) or not layer:
        return empty_figure(PICK_A_CHANNEL), empty_figure("", height=120)
    try:
        activation = service.activation(run, image_id, layer)
    except HartraceError as exc:
        return empty_figure(str(exc)), empty_figure("", height=120)
    if activation.dim() < 2 or channel >= activation.shape[0]:
        return empty_figure(f"{layer} has no channel maps"), empty_figure("", height=120)
    maps = activation[channel].float().numpy()
    if maps.ndim > 2:  # a video-like [T, H, W] channel: its mean over time
        maps = maps.mean(axis=0)
    return channel_figure(maps, channel, layer), channel_histogram(maps, channel)


def atlas_href(run: str, layer: str, channel: int) -> str:
    """The Atlas page, opened on one channel of a run's layer."""
    return "/atlas?" + urlencode({"run": run, "layer": layer, "channel": channel})


@callback(
    Output(ids.INSIDE_ATLAS, "children"),
    Input(ids.INSIDE_GRID, "clickData"),
    State(ids.RUN_STORE, "data"),
    State(ids.INSIDE_LAYER, "value"),
    prevent_initial_call=True,
)
def atlas_link(click: dict[str, Any] | None, run: str | None, layer: str | None, *, service: ExplorerAPI):
    """The clicked channel, opened across the whole dataset on the Atlas page; or why its layer has no atlas.
    A layer without channel maps (the classifier's scores) has no atlas to offer."""
    channel = channel_from_click(click)
    if channel is None or not run or not layer:
        return []
    try:
        if not any(row["name"] == layer and spatial(row) for row in service.layer_tree(run)):
            return []
        if layer not in service.atlas_layers(run):
            return [f"{layer} has no atlas yet: make one with ", html.Code(service.atlas_command(run, [layer]))]
    except HartraceError as exc:
        return html.Span(str(exc), className="notice-inline")
    return dcc.Link(
        f"open channel {channel} of {layer} in the atlas", href=atlas_href(run, layer, channel), className="atlas-link"
    )


@callback(
    Output(ids.INSIDE_FLOW, "src"),
    Output(ids.INSIDE_FLOW_NOTE, "children"),
    Input(ids.INSIDE_FLOW_BUTTON, "n_clicks"),
    State(ids.RUN_STORE, "data"),
    State(ids.IMAGE_STORE, "data"),
    State(ids.INSIDE_FLOW_LAYERS, "value"),
    prevent_initial_call=True,
)
def draw_flow(
    clicks: int | None, run: str | None, image_id: str | None, layers: list[str] | None, *, service: ExplorerAPI
):
    """input → the chosen layers in model order → prediction, as one picture."""
    if not clicks or missing_selection(run, image_id) or not layers:
        return no_update, "Choose an image and at least one layer first."
    try:
        tree = [row["name"] for row in service.layer_tree(run)]
        ordered = sorted(layers, key=lambda name: tree.index(name) if name in tree else len(tree))
        return service.flow_png(run, image_id, ordered), "input → " + " → ".join(ordered) + " → prediction"
    except HartraceError as exc:
        return no_update, str(exc)

"""Methods: one image, every fast method side by side for the chosen class, and each slow one already made.

Seeing Grad-CAM, Grad-CAM++, LayerCAM... of one class next to each other shows at once
where they agree (trust it more) and where one method alone lights up. Slow methods
appear once computed on the Explain page (they run in the background there).
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, html

from hartrace.base.errors import HartraceError
from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.app import ids
from hartrace.explorer.app.components.widgets import card, image_label, missing_selection
from hartrace.explorer.app.wiring import Callbacks

PATH = "/methods"
NAME = "Methods"
ORDER = 3.5

callback = Callbacks()


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Every method, side by side"),
            html.P(id=ids.METHODS_NOTE, className="muted"),
            colour_scale(),
            html.Div(id=ids.METHODS_GRID, className="methods-grid"),
        ]
    )


def colour_scale() -> html.Div:
    """The overlays' colour scale once for the whole grid (the colours of Explain's colour bar)."""
    from hartrace.render import cam_colorscale

    stops = ", ".join(f"{colour} {100 * level:.0f}%" for level, colour in cam_colorscale())
    return html.Div(
        [
            html.Span("low", className="muted"),
            html.Span(className="colour-scale-bar", style={"background": f"linear-gradient(to right, {stops})"}),
            html.Span("high importance", className="muted"),
        ],
        className="colour-scale",
        title="the overlays' colours: where the map is low (blue) to high (red)",
    )


def method_tile(name: str, picture: str | None, detail: str) -> html.Div:
    body = html.Img(src=picture, alt=name, className="methods-img") if picture else html.Div(detail, className="muted")
    return card(name, body, html.Div(detail if picture else "", className="thumb-detail"), className="methods-tile")


@callback(
    Output(ids.METHODS_GRID, "children"),
    Output(ids.METHODS_NOTE, "children"),
    Input(ids.RUN_STORE, "data"),
    Input(ids.IMAGE_STORE, "data"),
    Input(ids.TARGET_STORE, "data"),
    Input(ids.LAYER_STORE, "data"),
)
def show_methods(run: str | None, image_id: str | None, target: str | None, layer: str | None, *, service: ExplorerAPI):
    """One overlay per method (the same colours and scale as Explain's), for the class being explained."""
    from hartrace.render import cam_overlay, png_data_uri

    why = missing_selection(run, image_id)
    if why:
        return [], why
    try:
        classes = service.classes(run)
        probabilities = service.probabilities(run, image_id)
        picture = service.image(run, image_id)
        methods = service.methods()
    except HartraceError as exc:
        return [], str(exc)
    explained = target if target in classes else classes[max(range(len(classes)), key=probabilities.__getitem__)]
    tiles = [method_tile("image", png_data_uri(picture), image_label(image_id))]
    layerless = set(methods.get("layerless", []))
    for name in [*methods.get("fast", []), *methods.get("slow", [])]:
        where = "input pixels" if name in layerless else layer or "default layer"
        try:
            if name in methods.get("slow", []) and not service.cam_ready(
                run, image_id, method=name, layer=layer, target=explained
            ):
                tiles.append(method_tile(name, None, "slow: not computed yet (pick it on Explain)"))
                continue
            cam = service.cam(run, image_id, method=name, layer=layer, target=explained)
        except HartraceError as exc:
            tiles.append(method_tile(name, None, str(exc)))
            continue
        tiles.append(method_tile(name, png_data_uri(cam_overlay(picture, cam, alpha=0.5)), where))
    note = (
        f"'{explained}' (p = {100 * probabilities[classes.index(explained)]:.1f}%) in {image_label(image_id)}; "
        "colours as on Explain: blue is low, red is high. Pick another class on Explain or Prediction."
    )
    return tiles, note

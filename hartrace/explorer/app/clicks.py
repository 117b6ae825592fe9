"""What a click means: plain parsers of Dash's clickData and n_clicks, shared by the pages."""

from __future__ import annotations

from typing import Any


def target_from_click(click: dict[str, Any] | None) -> str | None:
    """The class name carried by a clicked probability bar (its ``customdata``, else its ``y``)."""
    points = (click or {}).get("points") or []
    if not points:
        return None
    point = points[0]
    name = point.get("customdata", point.get("y"))
    if isinstance(name, list):
        name = name[0] if name else None
    return str(name) if name is not None else None


def channel_from_click(click: dict[str, Any] | None) -> int | None:
    """The channel index a clicked activation heatmap carries in its ``customdata``."""
    return index_from_click(click)


def frame_from_click(click: dict[str, Any] | None) -> int | None:
    """The clip frame a clicked point of the temporal-importance curve carries in its ``customdata``."""
    return index_from_click(click)


def index_from_click(click: dict[str, Any] | None) -> int | None:
    """The integer a clicked point carries in its ``customdata``, or None."""
    points = (click or {}).get("points") or []
    if not points:
        return None
    value = points[0].get("customdata")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def cell_from_click(click: dict[str, Any] | None) -> tuple[str, str] | None:
    """(true class, predicted class) of a clicked confusion-matrix cell (y is true, x is predicted)."""
    points = (click or {}).get("points") or []
    if not points or "x" not in points[0] or "y" not in points[0]:
        return None
    return str(points[0]["y"]), str(points[0]["x"])


def clicked_tile(clicks: list[int | None], component_ids: list[dict[str, str]], triggered_id: Any) -> str | None:
    """The image id of the tile that was really clicked (not one that just appeared)."""
    if not triggered_id or not isinstance(triggered_id, dict):
        return None
    for count, component_id in zip(clicks or [], component_ids or [], strict=False):
        if component_id.get("index") == triggered_id.get("index"):
            return component_id["index"] if count else None
    return None

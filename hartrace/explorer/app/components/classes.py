"""The class list: every class a row that is one click to explain, however small its probability.

A plotly bar of 0.4 % is under a pixel wide and its class name is not clickable; here
each row is a button the width of the card, sorted by probability, with the prediction,
the true label and the class being explained marked on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html

from hartrace.explorer.app import ids


def class_list(
    page: str,
    probabilities: Sequence[float],
    classes: Sequence[str],
    *,
    explained: str | None,
    true_class: str | None = None,
    limit: int | None = None,
) -> html.Div:
    """Rows for the ``limit`` most probable classes (all by default), each a button that picks its class."""
    order = sorted(range(len(classes)), key=lambda i: -probabilities[i])
    predicted = classes[order[0]] if order else None
    explained = explained if explained in classes else predicted
    shown = order[: limit or len(order)]
    rows = [
        _row(
            page,
            classes[i],
            probabilities[i],
            predicted=classes[i] == predicted,
            true=classes[i] == true_class,
            explained=classes[i] == explained,
        )
        for i in shown
    ]
    hidden = len(order) - len(shown)
    more = [html.Div(f"{hidden} more classes: show all to pick them", className="muted class-more")] if hidden else []
    return html.Div([*rows, *more], className="class-list", role="list")


def _row(page: str, name: str, probability: float, *, predicted: bool, true: bool, explained: bool) -> html.Button:
    tags = [
        html.Span(tag, className=f"class-tag class-tag-{tag}")
        for tag, on in (("predicted", predicted), ("true", true))
        if on
    ]
    state = " class-row-explained" if explained else ""
    return html.Button(
        [
            html.Span([html.Span(name, className="class-name"), *tags], className="class-label"),
            html.Span(
                html.Span(className="class-bar-fill", style={"width": f"{100 * probability:.2f}%"}),
                className="class-bar",
            ),
            html.Span(f"{100 * probability:.1f}%", className="class-p"),
        ],
        id=ids.class_pick(page, name),
        n_clicks=0,
        className=f"class-row{state}",
        title=f"explain '{name}' ({100 * probability:.2f}%)",
        role="listitem",
    )


def picked_class(clicks: list[int | None], component_ids: list[dict[str, Any]], triggered_id: Any) -> str | None:
    """The class of the row that was really clicked (not one that was just drawn, with no clicks yet)."""
    if not isinstance(triggered_id, dict):
        return None
    for count, component_id in zip(clicks or [], component_ids or [], strict=False):
        if component_id.get("index") == triggered_id.get("index"):
            return str(component_id["index"]) if count else None
    return None

"""The shapes of the explorer's answers: plain dicts (they go to the browser as JSON), typed here once.

The service builds them, the Dash app reads them and the tests' fake service returns
them, so a renamed or missing key is a type error in all three instead of a blank cell.
"""

from __future__ import annotations

from typing import Any, TypedDict


class RunRow(TypedDict):
    """One run of ``runs_dir``, as the run pickers list it."""

    name: str
    path: str
    backbone: str
    epochs: int
    best_val_accuracy: float | None


class RunDetails(TypedDict):
    """A run's configuration, training curves and validation report."""

    name: str
    config: dict[str, Any]
    metrics: list[dict[str, Any]]
    evaluation: dict[str, Any]
    classes: list[str]


class ItemRow(TypedDict):
    """One validation image (or video) with the run's evaluated prediction; ``id`` is dataset-relative, never a path."""

    id: str
    name: str
    true: str
    predicted: str
    probability: float
    correct: bool


class ItemPage(TypedDict):
    """One page of items; ``page`` is the page really shown (an out-of-range request is clamped)."""

    total: int
    page: int
    pages: int
    rows: list[ItemRow]


class Confusion(TypedDict):
    """The normalised confusion matrix: rows are true classes, columns predicted ones."""

    classes: list[str]
    matrix: list[list[float]]


class LayerRow(TypedDict):
    """One named layer of a model, with its output shape for one input."""

    name: str
    kind: str
    depth: int
    shape: list[int]
    parameters: int


# "class" is a keyword, so this one is spelled the functional way.
ClassScore = TypedDict("ClassScore", {"class": str, "index": int, "probability": float})

#: A checked audit (see :func:`hartrace.explorer.audits.check_audit`): nested, so kept as a plain mapping.
Audit = dict[str, Any]

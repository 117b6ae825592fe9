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


class ClassMetrics(TypedDict):
    """One row of scikit-learn's classification report: a class, or an average (its support: every item)."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


class Confusion(TypedDict):
    """The evaluation's confusion matrix (rows are true classes, columns predicted ones) and per-class report."""

    classes: list[str]
    matrix: list[list[float]]  # each row's fractions: a row sums to 1 (0 for a class with no item)
    counts: list[list[int]]
    per_class: list[ClassMetrics]  # in the order of ``classes``
    macro_avg: ClassMetrics
    weighted_avg: ClassMetrics
    accuracy: float


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


class JobRow(TypedDict):
    """Where a piece of slow background work stands (a slow map, a first evaluation, an embedding)."""

    key: str
    label: str
    state: str  # queued | running | done | failed | cancelled
    fraction: float | None  # share done, None while unknown
    message: str  # one line for the page


class EmbeddingPoint(TypedDict):
    """One item of the Embedding page: where the projection put it, and its true and predicted class."""

    id: str
    x: float
    y: float
    true: str
    predicted: str


class Embedding(TypedDict):
    """A run's evaluated split as 2-D points: the input of its final classifier, projected by ``method``."""

    method: str  # "umap" or "t-sne"
    layer: str  # the final classifier, whose input (the penultimate features) was projected
    points: list[EmbeddingPoint]

"""The Embedding page's callbacks, called as plain functions on the fake service (no browser, no model)."""

from __future__ import annotations

from typing import Any

from dash import no_update

from hartrace.explorer.app import ids
from hartrace.explorer.app.pages import embedding as page
from hartrace.explorer.rows import JobRow
from tests.conftest_app import CLASSES, FakeService, figure_message

RUN, SESSION, KEY = "new", "tab-1", "embedding:new"


class JobService(FakeService):
    """The fake whose embedding job is in whatever state a test sets."""

    def __init__(self, state: str = "running") -> None:
        super().__init__()
        self.state = state

    def _row(self) -> JobRow:
        messages = {"running": "Embedding of new (features, then UMAP): 40%", "failed": "Embedding of new failed: why"}
        message = messages.get(self.state, f"Embedding of new: {self.state}")
        return {"key": KEY, "label": "Embedding of new", "state": self.state, "fraction": 0.4, "message": message}

    def start_embedding(self, run: str, owner: str = "") -> JobRow:
        self._log("start_embedding", run, owner)
        return self._row()

    def job(self, key: str) -> JobRow | None:
        self._log("job", key)
        return self._row()

    def cancel_job(self, key: str, owner: str = "") -> JobRow | None:
        self._log("cancel_job", key, owner)
        return self._row()


def follow(
    service: FakeService, trigger: str | None = None, key: str | None = None, ready: str | None = None
) -> dict[str, Any]:
    """The page's job callback as Dash calls it; returns its outputs by name."""
    answer = page.follow_job(RUN, SESSION, 0, 0, 0, key, ready, service=service, triggered_id=trigger)
    names = ("key", "ready", "poll_disabled", "message", "kind", "message_hidden", "cancel_hidden", "start_hidden")
    return dict(zip(names, answer, strict=True))


def calls(service: FakeService, name: str) -> list[tuple[Any, ...]]:
    return [args for called, args, _ in service.calls if called == name]


def test_a_saved_embedding_is_drawn_at_once_with_nothing_to_follow() -> None:
    service = FakeService()
    shown = follow(service)
    assert calls(service, "start_embedding") == [(RUN, SESSION)]  # the tab owns the job it starts
    assert shown["ready"] == RUN and shown["poll_disabled"] and shown["message_hidden"]
    assert shown["cancel_hidden"] and shown["start_hidden"]


def test_a_running_job_is_followed_with_its_progress_and_a_cancel_button() -> None:
    service = JobService("running")
    shown = follow(service, ready="old")
    assert shown["key"] == KEY and shown["ready"] is None  # the other run's plot is cleared
    assert shown["poll_disabled"] is False
    assert shown["message"].endswith("UMAP): 40%") and not shown["message_hidden"]
    assert shown["cancel_hidden"] is False and shown["start_hidden"]
    follow(service, ids.EMBEDDING_POLL, KEY)
    assert calls(service, "job") == [(KEY,)] and len(calls(service, "start_embedding")) == 1  # a tick only looks
    service.state = "done"
    shown = follow(service, ids.EMBEDDING_POLL, KEY)
    assert shown["ready"] == RUN and shown["poll_disabled"] and shown["cancel_hidden"]
    assert follow(service, ids.EMBEDDING_POLL, KEY, ready=RUN)["ready"] is no_update  # drawn once, not every tick


def test_cancel_stops_following_and_offers_to_compute_again() -> None:
    service = JobService("running")
    shown = follow(service, ids.EMBEDDING_CANCEL, KEY)
    assert calls(service, "cancel_job") == [(KEY, SESSION)]
    assert shown["poll_disabled"] and shown["cancel_hidden"] and shown["start_hidden"] is False
    assert shown["message"] == page.STOPPED
    follow(service, ids.EMBEDDING_START, KEY)
    assert calls(service, "start_embedding") == [(RUN, SESSION)]


def test_a_failed_job_shows_its_message_as_an_error() -> None:
    shown = follow(JobService("failed"), ready="old")
    assert shown["message"] == "Embedding of new failed: why" and shown["kind"] == "notice notice-error"
    assert shown["poll_disabled"] and shown["start_hidden"] is False and shown["ready"] is None


def test_nothing_starts_before_the_tab_has_its_id_or_without_a_run() -> None:
    service = FakeService()
    assert page.follow_job(RUN, None, 0, 0, 0, None, None, service=service) == (no_update,) * 8
    assert "no run selected" in page.follow_job(None, SESSION, 0, 0, 0, None, None, service=service)
    assert calls(service, "start_embedding") == []


def test_points_are_coloured_by_true_or_predicted_class_and_mistakes_are_crosses() -> None:
    service = FakeService()
    by_true, note = page.show_embedding(RUN, page.TRUE, service=service)
    assert [trace.name for trace in by_true.data] == CLASSES
    points = {p["id"]: p for p in service.embedding(RUN)["points"]}
    for trace in by_true.data:
        assert {points[c[0]]["true"] for c in trace.customdata} == {trace.name}
        crosses = ["x" if true != predicted else "circle" for _, true, predicted in trace.customdata]
        assert list(trace.marker.symbol) == crosses
    by_predicted, _ = page.show_embedding(RUN, page.PREDICTED, service=service)
    for trace in by_predicted.data:
        assert {points[c[0]]["predicted"] for c in trace.customdata} == {trace.name}
    wrong = sum(p["true"] != p["predicted"] for p in points.values())
    assert note.startswith(f"30 evaluated items ({wrong} misclassified") and "by UMAP" in note
    blank, _ = page.show_embedding("gone", page.TRUE, service=service)
    assert figure_message(blank) == "unknown run 'gone'"


def test_hovering_shows_the_thumbnail_and_clicking_opens_the_item() -> None:
    service = FakeService()
    point = {"points": [{"customdata": ["train/Image_1.jpg", "clapping", "running"], "bbox": {"x0": 1, "x1": 2}}]}
    show, bbox, tip = page.show_hovered(point, RUN, service=service)
    assert show and bbox == {"x0": 1, "x1": 2}
    image, name, true, predicted = tip.children
    assert image.src.startswith("data:image/png") and name.children == "Image_1.jpg"
    assert (true.children, predicted.children) == ("true clapping", "predicted running ✗")
    assert page.show_hovered(None, RUN, service=service)[0] is False
    assert page.open_clicked(point) == ("train/Image_1.jpg", None, "/explain")
    video = {"points": [{"customdata": ["clips/v_01.avi", "clapping", "clapping"]}]}
    assert page.open_clicked(video) == ("clips/v_01.avi", None, "/video")
    assert page.open_clicked({"points": []}) == (no_update, no_update, no_update)

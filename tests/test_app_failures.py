"""A callback that raises fills the page's failure banner (and the server log), instead of leaving the page silent."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hartrace.base.errors import UsageError
from hartrace.explorer.app import create_app, ids
from tests.conftest_app import FakeService


def post_callback(app: Any, output: str, values: dict[str, Any]) -> Any:
    """The request the browser sends for the callback that updates ``output`` (``"component.property"``):
    every input and state it declares, valued from ``values`` (``{"component.property": value}``) or None."""
    key = next(key for key in app.callback_map if output in key)
    parts = [part.split("@")[0].split(".") for part in key.strip(".").split("...")]

    def valued(kind: str) -> list[dict[str, Any]]:
        return [{**dep, "value": values.get(f"{dep['id']}.{dep['property']}")} for dep in app.callback_map[key][kind]]

    inputs = valued("inputs")
    body = {
        "output": key,
        "outputs": [{"id": component, "property": prop} for component, prop in parts],
        "inputs": inputs,
        "state": valued("state"),
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }
    return app.server.test_client().post("/_dash-update-component", json=body)


def banner_of(answer: Any) -> tuple[str, bool]:
    assert answer.status_code == 200, "a failing callback is answered, not a 500"
    side = answer.get_json()["sideUpdate"]
    return side[ids.ERROR_MESSAGE]["children"], side[ids.ERROR_BANNER]["hidden"]


def raising(error: Exception) -> Any:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    return fail


def test_an_unexpected_error_is_a_bug_to_report_with_its_traceback_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    service = FakeService()
    service.images = raising(ZeroDivisionError("division by zero"))  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="hartrace.explorer"):
        answer = post_callback(create_app(service), f"{ids.IMAGES_GRID}.children", {f"{ids.EVALUATED}.data": "new"})
    message, hidden = banner_of(answer)
    assert hidden is False and "\n" not in message
    assert message.startswith(f"Updating {ids.IMAGES_GRID}, ")
    assert "unexpected ZeroDivisionError: division by zero" in message
    assert "This is a bug in hartrace, please report it" in message
    assert any(record.exc_info and record.exc_info[0] is ZeroDivisionError for record in caplog.records)


def test_a_hartrace_error_nobody_caught_is_shown_as_it_is() -> None:
    service = FakeService()
    service.list_runs = raising(UsageError("the runs folder is gone: start hartrace explore again"))  # type: ignore[method-assign]
    answer = post_callback(create_app(service), f"{ids.RUN_DROPDOWN}.options", {})
    message, hidden = banner_of(answer)
    assert hidden is False and "bug" not in message
    assert message.startswith(f"Updating {ids.RUN_DROPDOWN}")
    assert message.endswith(" failed: the runs folder is gone: start hartrace explore again")

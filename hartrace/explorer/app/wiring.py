"""Callbacks as plain functions: declare them with :class:`Callbacks`, bind them to an app later.

``callback = Callbacks()`` at the top of a page module, then ``@callback(Output(...), Input(...))``
above a plain function records the dependencies and returns the function unchanged, so
tests call it directly. :func:`register` adds every recorded callback to one app, passing
two keyword-only arguments where the function asks for them:

- ``service``: the app's :class:`~hartrace.explorer.api.ExplorerAPI` (the only shared object);
- ``triggered_id``: ``dash.ctx.triggered_id``, the id of the input that fired the callback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hartrace.explorer.api import ExplorerAPI


@dataclass(frozen=True)
class Spec:
    function: Callable[..., Any] | Any  # a Python function, or a ``ClientsideFunction`` run in the browser
    dependencies: tuple[Any, ...]
    options: dict[str, Any]
    clientside: bool = False


class Callbacks:
    """Records callback declarations of one module; recording happens once, at import."""

    def __init__(self) -> None:
        self.specs: list[Spec] = []

    def __call__(self, *dependencies: Any, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def record(function: Callable[..., Any]) -> Callable[..., Any]:
            self.specs.append(Spec(function, dependencies, options))
            return function

        return record

    def clientside(self, namespace: str, function: str, *dependencies: Any, **options: Any) -> None:
        """Record a callback run in the browser: ``window.dash_clientside[namespace][function]`` from ``assets/``."""
        from dash import ClientsideFunction

        self.specs.append(Spec(ClientsideFunction(namespace, function), dependencies, options, clientside=True))


def bind(function: Callable[..., Any], service: ExplorerAPI) -> Callable[..., Any]:
    """``function`` with ``service`` and ``triggered_id`` filled in when it declares them."""
    parameters = inspect.signature(function).parameters
    wants_service = "service" in parameters
    wants_trigger = "triggered_id" in parameters
    if not (wants_service or wants_trigger):
        return function

    def bound(*args: Any) -> Any:
        extra: dict[str, Any] = {}
        if wants_service:
            extra["service"] = service
        if wants_trigger:
            import dash

            extra["triggered_id"] = dash.ctx.triggered_id
        return function(*args, **extra)

    bound.__name__ = function.__name__
    bound.__qualname__ = function.__qualname__
    bound.__module__ = function.__module__
    bound.__doc__ = function.__doc__
    return bound


def register(app: Any, service: ExplorerAPI, specs: Iterable[Spec]) -> None:
    for spec in specs:
        if spec.clientside:
            app.clientside_callback(spec.function, *spec.dependencies, **spec.options)
        else:
            app.callback(*spec.dependencies, **spec.options)(bind(spec.function, service))

"""The explorer's views, one module each, in navigation order.

Each module has ``PATH``, ``NAME``, ``ORDER``, a ``layout()`` factory and ``callback``
(a :class:`~hartrace.explorer.app.wiring.Callbacks` recording its callbacks). :func:`register` adds them
to an app with ``dash.register_page``; importing a page module has no side effect.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from hartrace.explorer.api import ExplorerAPI

MODULES = (
    "run",
    "images",
    "prediction",
    "explain",
    "methods",
    "video",
    "inside",
    "atlas",
    "evaluation",
    "embedding",
    "audit",
    "compare",
)


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULES]


def register(app: Any, service: ExplorerAPI, title: str = "hartrace explorer") -> None:
    """Register every page with Dash's page registry and its callbacks with ``app``."""
    import dash

    from hartrace.explorer.app.wiring import register as register_callbacks

    for module in modules():
        dash.register_page(
            module.__name__,
            path=module.PATH,
            name=module.NAME,
            title=f"{module.NAME} · {title}",
            order=module.ORDER,
            layout=module.layout,
        )
        register_callbacks(app, service, module.callback.specs)

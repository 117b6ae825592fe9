"""One interface between the Dash app and its service: the real service, the tests' fake and the app agree on it."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from hartrace.explorer import ExplorerAPI, ExplorerService
from tests.conftest_app import FakeService

EXPLORER = Path(__file__).resolve().parents[1] / "hartrace" / "explorer"
MEMBERS = sorted(name for name in vars(ExplorerAPI) if not name.startswith("_"))
METHODS = [name for name in MEMBERS if inspect.isfunction(vars(ExplorerAPI)[name])]
PROPERTIES = [name for name in MEMBERS if isinstance(vars(ExplorerAPI)[name], property)]


def serve(api: ExplorerAPI) -> ExplorerAPI:
    """What the app does with a service: a type checker rejects anything that is not a whole ExplorerAPI."""
    return api


def parameters(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    """Each parameter's name, kind (positional, keyword-only...) and default."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.fixture
def services(tmp_path: Path) -> list[ExplorerAPI]:
    return [serve(ExplorerService(tmp_path)), serve(FakeService())]


def test_the_api_lists_methods_and_the_upload_limit() -> None:
    assert len(METHODS) >= 28 and PROPERTIES == ["max_upload_bytes"]
    assert set(METHODS) | set(PROPERTIES) == set(MEMBERS)


@pytest.mark.parametrize("implementation", [ExplorerService, FakeService], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_every_service_has_every_api_method_with_the_same_parameters(implementation: type, name: str) -> None:
    method = getattr(implementation, name, None)
    assert callable(method), f"{implementation.__name__} has no {name}()"
    assert parameters(method) == parameters(getattr(ExplorerAPI, name)), f"{implementation.__name__}.{name}"


def test_every_service_has_the_upload_limit(services: list[ExplorerAPI]) -> None:
    for service in services:
        assert isinstance(service.max_upload_bytes, int) and service.max_upload_bytes > 0


def test_the_app_calls_exactly_what_the_api_lists() -> None:
    called = set()
    for path in (EXPLORER / "app").rglob("*.py"):
        called |= set(re.findall(r"\bservice\.(\w+)", path.read_text(encoding="utf-8")))
    assert called == set(MEMBERS), f"not in the API: {called - set(MEMBERS)}; never called: {set(MEMBERS) - called}"


def test_the_service_is_parts_over_one_run_store(tmp_path: Path) -> None:
    service = ExplorerService(tmp_path, max_upload_bytes=1000)
    parts = (service.gallery, service.image_views, service.video_views, service.audit_views)
    assert all(part.store is service.store for part in parts)
    assert service.runs_dir == tmp_path and service.max_upload_bytes == 1000 and service.forward_passes == 0
    assert service.list_runs() == [] and service.default_run() is None


def test_no_part_of_the_explorer_reaches_into_another_ones_private_members() -> None:
    """``x._name`` only on ``self``: the parts talk through their public methods."""
    reaching = []
    for path in sorted(EXPLORER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}):
                    reaching.append(f"{path.relative_to(EXPLORER)}:{node.lineno} .{node.attr}")
    assert not reaching, reaching

"""Every action's drawing recipe by name: the single-figure ones and the two-figure and seated ones."""

from __future__ import annotations

from collections.abc import Callable

from hartrace.synth import actions_more as more
from hartrace.synth.actions import (
    Ctx,
    Group,
    calling,
    clapping,
    dancing,
    drinking,
    laughing,
    listening_to_music,
    running,
    texting,
)


def _recipes() -> dict[str, Callable[[Ctx], Group]]:
    return {
        "calling": calling,
        "clapping": clapping,
        "cycling": more.cycling,
        "dancing": dancing,
        "drinking": drinking,
        "eating": more.eating,
        "fighting": more.fighting,
        "hugging": more.hugging,
        "laughing": laughing,
        "listening_to_music": listening_to_music,
        "running": running,
        "sitting": more.sitting,
        "sleeping": more.sleeping,
        "texting": texting,
        "using_laptop": more.using_laptop,
    }


RECIPES: dict[str, Callable[[Ctx], Group]] = {}


def recipe(action: str) -> Callable[[Ctx], Group]:
    """The drawing recipe for ``action`` (a name from :data:`ACTIONS`)."""
    if not RECIPES:
        RECIPES.update(_recipes())
    return RECIPES[action]

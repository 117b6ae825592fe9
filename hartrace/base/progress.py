"""One way to show progress: a tqdm bar on an interactive terminal, nothing in logs and pipes.

A redrawn bar is useful on a terminal but turns a CI log or a ``> file`` into
megabytes of carriage returns; there, the per-epoch and per-step summary lines
hartrace prints already say how far it got.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


def interactive() -> bool:
    return sys.stderr.isatty()


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    unit: str = "img",
) -> tqdm:
    """A transient tqdm bar on stderr, disabled when ``enabled`` is False or stderr is not a terminal."""
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        leave=False,
        file=sys.stderr,
        disable=not (enabled and interactive()),
        dynamic_ncols=True,
    )

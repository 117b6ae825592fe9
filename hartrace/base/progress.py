"""One way to show progress: a tqdm bar on an interactive terminal, nothing in logs and pipes.

A redrawn bar is useful on a terminal but turns a CI log or a ``> file`` into
megabytes of carriage returns; there, the per-epoch and per-step summary lines
hartrace prints already say how far it got.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm

#: How a long call shows progress: a bar on the terminal (True), none (False), or a function told
#: ``(done, total)`` after each step (the explorer's background jobs report to the page this way).
Progress = bool | Callable[[int, int | None], None]


class ReportingBar(tqdm):  # type: ignore[type-arg]
    """A silent bar that tells ``report(done, total)`` after each update, for a program instead of a person."""

    def __init__(self, iterable: Iterable[Any] | None, total: int | None, report: Callable[[int, int | None], None]):
        super().__init__(iterable, total=total, disable=True)
        self.report = report
        self.done = 0
        report(0, total)

    def update(self, n: float | None = 1) -> bool | None:
        self.done += int(n or 0)
        self.report(self.done, self.total)
        return None

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable:
            yield item
            self.update()


def interactive() -> bool:
    return sys.stderr.isatty()


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    enabled: Progress = True,
    unit: str = "img",
) -> tqdm:  # type: ignore[type-arg]
    """A transient tqdm bar on stderr, disabled when ``enabled`` is False or stderr is not a terminal;
    when ``enabled`` is a function, a silent bar that reports to it (:class:`ReportingBar`)."""
    if callable(enabled):
        return ReportingBar(iterable, total, enabled)
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

"""How a background job looks on a page: a progress bar and its one line."""

from __future__ import annotations

from typing import Any

from dash import html

from hartrace.explorer.rows import JobRow

RUNNING = ("queued", "running")


def job_progress(row: JobRow) -> list[Any]:
    """A bar (indeterminate while the total is unknown) and the job's message."""
    share = row["fraction"]
    bar = html.Progress(value=str(share) if share is not None else None, max="1", className="job-bar")
    return [bar, html.Span(row["message"], className="job-message")]

"""What ``audit()`` returns: where the report is and its summary, and how it shows itself in a notebook."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hartrace.render.notebook import figure_png, html_card
from hartrace.workflows.audit.report import all_problems, curves_figure, table_header, table_rows


@dataclass
class AuditResult:
    """Where the report is, and its summary (``audit.json``'s content)."""

    out_dir: Path
    summary: dict[str, Any]

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"AuditResult({str(self.out_dir)!r}: {', '.join(s['methods'])} on {s['images']} {s['split']} images, "
            f"{len(all_problems(s))} problems)"
        )

    def _repr_html_(self) -> str:
        """In a notebook: what was audited, every failed check in words, the method table and the curves."""
        s = self.summary
        problems = all_problems(s) or ["every method passes every check"]
        return html_card(
            f"Audit of {Path(s['run']).name}, {s['split']} split: {s['images']} images "
            f"({s['with_evidence']} with evidence), maps at {s['layer']}; the report is in {self.out_dir}",
            lines=problems,
            tables=[("methods", table_header(s), table_rows(s))],
            pictures=[("deletion and insertion curves", figure_png(curves_figure(s)))],
        )

"""One self-contained HTML page of figures, tables and a summary: a report that survives being emailed."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; background: #fff; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2rem; font-size: 1.15rem; }
figure { margin: 0 0 1.5rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem 0; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
th { background: #f4f4f4; }
tr:nth-child(even) td { background: #fafafa; }
pre { background: #f6f8fa; padding: 1rem; overflow-x: auto; font-size: .85rem; }
""".strip()

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"<svg", "image/svg+xml"),
    (b"<?xml", "image/svg+xml"),
)


def figure_png_bytes(fig: Any, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes, rendered in memory by Agg whatever the backend (pyplot is never involved)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _mime(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return "image/png"


def data_uri(image: bytes | Path | str) -> str:
    """``data:<mime>;base64,...`` for image bytes or a file, so the page needs nothing beside it."""
    data = Path(image).read_bytes() if isinstance(image, (str, Path)) else bytes(image)
    return f"data:{_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def _table(caption: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return html.escape(f"{value:.4g}")
        return html.escape(str(value))

    head = "".join(f"<th>{cell(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return (
        f"<table>\n<caption>{html.escape(caption)}</caption>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{body}\n</tbody>\n</table>"
    )


def html_report(
    title: str,
    images: Sequence[tuple[str, bytes | Path]],
    summary: Mapping[str, Any] | None = None,
    tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] | None = None,
) -> str:
    """A single HTML page: each image under its heading (embedded as a data URI), then tables, then the summary.

    Every piece of text is escaped, so layer or class names can never inject markup.
    """
    safe_title = html.escape(title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{safe_title}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{safe_title}</h1>",
    ]
    for heading, image in images:
        safe = html.escape(heading)
        parts.append(
            f'<section>\n<h2>{safe}</h2>\n<figure><img src="{data_uri(image)}" alt="{safe}"></figure>\n</section>'
        )
    if tables:
        parts.append("<section>")
        parts.extend(_table(caption, header, rows) for caption, header, rows in tables)
        parts.append("</section>")
    if summary is not None:
        text = json.dumps(summary, indent=2, ensure_ascii=False, default=str)
        parts.append(f"<section>\n<h2>summary</h2>\n<pre>{html.escape(text)}</pre>\n</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)

"""Atomic file output: a reader never sees half a file, and a crash loses nothing.

Every file hartrace writes goes through :func:`atomic_path`: the content lands in a
temporary file in the destination folder and is renamed over the target only
once it is complete (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hartrace.base.errors import UsageError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` on success.

    ``suffix`` ends the temporary name: writers that pick the format from the
    extension (OpenCV's video writer) need ``dest``'s own, e.g. ``".avi"``.
    """
    dest = Path(dest)
    tmp: Path | None = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private (0600); outputs are ordinary files
        yield tmp
        os.replace(tmp, dest)
    except OSError as exc:
        if exc.filename is None or str(exc.filename).startswith(str(dest.parent / f".{dest.name}.")):
            raise OSError(exc.errno, exc.strerror or str(exc), str(dest)) from exc  # name the file being written
        raise
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


def write_bytes(dest: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def write_text(dest: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(dest, text.encode("utf-8"))


def write_json(dest: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(dest, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_csv(dest: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text(dest, buf.getvalue())


def save_figure(fig: Any, dest: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically as PNG (rendered by Agg whatever the backend; pyplot is never involved)."""
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(dest)


def require_writable_folder(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Refuse, before any work, an output folder that cannot be made or written to.

    ``path`` may not exist yet: then its nearest existing parent must be a writable folder.
    A file in the way, or a read-only place, is a one-line :class:`UsageError` naming the option.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "is a file" if existing == path else f"cannot be made: {existing} is a file"
        raise UsageError(f"{option} {path} {where}, not a folder: choose another {option}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: {existing} is not writable (permission denied): choose another {option}")
    return path

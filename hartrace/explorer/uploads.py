"""Uploaded images: judged from their bytes, kept in a bounded private folder that goes away with the process.

A dropped file is refused before anything is decoded when its header says it is not a
PNG, JPEG or WebP, or holds more pixels than :data:`~hartrace.data.decode.MAX_PIXELS` (a
decompression bomb: a few KB that decode to gigabytes). What is kept lives in
``<tmp>/hartrace-uploads-<pid>-<random>``, at most ``max_total_bytes`` together (the oldest
upload goes first), and is removed when its :class:`UploadFolder` is closed, collected or
the process exits. Folders left behind by processes that were killed are removed when the
next explorer starts.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from hartrace.base.errors import UsageError

UPLOAD_TYPES = frozenset({"PNG", "JPEG", "WEBP"})
FOLDER_PREFIX = "hartrace-uploads-"
_FOLDER_NAME = re.compile(rf"^{FOLDER_PREFIX}(\d+)-")


def size_text(size: int) -> str:
    """A byte count as people read it: ``5 MB``, ``6.5 MB``, ``900 KB`` (the browser's refusal uses the same)."""
    if size >= 2**20:
        return f"{size / 2**20:.3g} MB"
    if size >= 2**10:
        return f"{size / 2**10:.3g} KB"
    return f"{size} bytes"


def too_large(filename: str, size: int, limit: int) -> str:
    return f"{filename}: too large ({size_text(size)}; the limit is {size_text(limit)}): pick a smaller image"


def image_type(data: bytes, filename: str, *, max_pixels: int) -> str:
    """The format of an uploaded image, read from its header alone: a wrong type or too many pixels is
    refused here, before a decoder allocates anything."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        counted = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's message counts them; the header is not kept
        shown = f"{int(counted.group(1)) / 1e6:.0f} megapixels" if counted else "a decompression bomb"
        raise UsageError(_too_many_pixels(filename, shown, max_pixels)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise UsageError(f"{filename}: not a readable PNG, JPEG or WebP image") from None
    if kind not in UPLOAD_TYPES:
        raise UsageError(f"{filename}: {kind} images are not accepted; upload PNG, JPEG or WebP")
    if width * height > max_pixels:
        raise UsageError(_too_many_pixels(filename, f"{width}x{height} px", max_pixels))
    return kind


def _too_many_pixels(filename: str, shown: str, max_pixels: int) -> str:
    return (
        f"{filename}: the image is too large in pixels ({shown}; the limit is {max_pixels / 1e6:g} megapixels): "
        "upload a smaller image"
    )


class UploadFolder:
    """Kept uploads by key, oldest first; the folder is made at the first upload and removed at :meth:`close`."""

    def __init__(self, *, max_total_bytes: int = 64 * 2**20, root: str | Path | None = None) -> None:
        self.max_total_bytes = max_total_bytes
        self.root = Path(root) if root is not None else Path(tempfile.gettempdir())
        self._path: Path | None = None
        self._removal: Callable[[], object] | None = None  # a weakref.finalize: runs once, at close or exit
        self._kept: OrderedDict[str, tuple[Path, int]] = OrderedDict()
        self._lock = threading.Lock()
        remove_leftovers(self.root)

    @property
    def path(self) -> Path | None:
        """The folder, once something was uploaded (``None`` before, and after :meth:`close`)."""
        return self._path

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._kept.values())

    def add(self, key: str, data: bytes, check: Callable[[Path], None]) -> Path:
        """Write ``data``, let ``check`` read the file (it raises to refuse it), then keep it under ``key``.

        Keeping it may drop the oldest uploads, never the one just added; a refused file is deleted at once.
        """
        with self._lock:
            folder = self._folder()
            if key in self._kept:  # the same image again: it becomes the newest
                self._kept.move_to_end(key)
                return self._kept[key][0]
        name = re.sub(r"[^A-Za-z0-9_-]", "_", key)
        path = folder / f"{name}.img"
        partial = folder / f"{name}.{threading.get_ident()}.part"
        partial.write_bytes(data)
        try:
            check(partial)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        with self._lock:
            self._kept[key] = (path, len(data))
            self._kept.move_to_end(key)
            total = sum(size for _, size in self._kept.values())
            while total > self.max_total_bytes and len(self._kept) > 1:
                _, (old, size) = self._kept.popitem(last=False)
                old.unlink(missing_ok=True)
                total -= size
        return path

    def get(self, key: str) -> Path | None:
        with self._lock:
            kept = self._kept.get(key)
        return kept[0] if kept else None

    def close(self) -> None:
        """Remove the folder and forget every upload (also done at exit, or when this object is collected)."""
        with self._lock:
            self._kept.clear()
            removal, self._removal, self._path = self._removal, None, None
        if removal is not None:
            removal()

    def _folder(self) -> Path:
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=self.root))
            self._removal = weakref.finalize(self, shutil.rmtree, self._path, ignore_errors=True)
        return self._path


def remove_leftovers(root: Path) -> list[Path]:
    """Remove this user's upload folders in ``root`` whose process no longer runs (it was killed); returns them."""
    if os.name != "posix":  # no cheap, safe "is this pid alive" elsewhere: leave them
        return []
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _FOLDER_NAME.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or _process_runs(int(match.group(1))):
            continue
        try:
            if entry.is_symlink() or not entry.is_dir() or entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return True
    return True

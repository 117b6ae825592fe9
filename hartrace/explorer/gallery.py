"""What a person picks from: a run's validation images (or videos), their thumbnails, and checked uploads.

An item id is a key, never a path: a dataset-relative path looked up in the run's index,
or ``upload:<digest>`` for an image someone dropped in (kept only after it decodes as a
PNG, JPEG or WebP; see :mod:`hartrace.explorer.uploads`). :meth:`Gallery.path` is the one
place an id becomes a file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from pathlib import Path

from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.data import load_rgb
from hartrace.data.decode import MAX_PIXELS, ImageDecodeError
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.rows import ItemPage, ItemRow
from hartrace.explorer.store import RunStore
from hartrace.explorer.uploads import UploadFolder, image_type, too_large

UPLOAD_PREFIX = "upload:"
GONE = "that upload is no longer available: upload the image again"


class Gallery:
    """Browsing a run's items (paged, filtered), their thumbnails (cached), and uploads (kept in a private folder
    of at most ``max_kept_bytes``, removed by :meth:`close` or at exit)."""

    def __init__(
        self,
        store: RunStore,
        *,
        max_upload_bytes: int = 5 * 2**20,
        max_upload_pixels: int = MAX_PIXELS,
        max_kept_bytes: int = 64 * 2**20,
        uploads_root: str | Path | None = None,
    ) -> None:
        self.store = store
        self.max_upload_bytes = max_upload_bytes
        self.max_upload_pixels = max_upload_pixels
        self._thumbnails: LRUCache[str] = LRUCache(1024)
        self.uploads = UploadFolder(max_total_bytes=max_kept_bytes, root=uploads_root)

    def close(self) -> None:
        """Delete every upload and their folder; their ids then say to upload again."""
        self.uploads.close()

    def images(
        self,
        run: str,
        *,
        split: str = "val",
        label: str | None = None,
        predicted: str | None = None,
        misclassified_first: bool = False,
        page: int = 0,
        per_page: int = 24,
    ) -> ItemPage:
        """A page of the validation images with their predictions, filtered and ordered."""
        if split != "val":
            raise UsageError("the explorer browses the run's validation split")
        rows = [
            r
            for r in self.store.predictions(run)
            if (label is None or r["true"] == label) and (predicted is None or r["predicted"] == predicted)
        ]
        if misclassified_first:
            rows = sorted(rows, key=lambda r: (r["correct"], -r["probability"]))
        pages = max(1, -(-len(rows) // per_page))
        page = min(max(0, page), pages - 1)
        return {"total": len(rows), "page": page, "pages": pages, "rows": rows[page * per_page : (page + 1) * per_page]}

    def cell_images(self, run: str, true_class: str, predicted_class: str) -> list[ItemRow]:
        return [r for r in self.store.predictions(run) if r["true"] == true_class and r["predicted"] == predicted_class]

    def path(self, run: str, image_id: str) -> Path:
        """The file behind an image id: an upload, or an image of the run's indexed dataset (nothing else)."""
        if image_id.startswith(UPLOAD_PREFIX):
            path = self.uploads.get(image_id)
            if path is None:
                raise UsageError(GONE)
            return path
        files = self.store.run(run).files
        if image_id not in files:
            raise UsageError(f"unknown image {image_id!r}")
        return files[image_id]

    def thumbnail(self, run: str, image_id: str, size: int = 128) -> str:
        """A JPEG data URI of an image, or of a video's middle frame."""

        def make() -> str:
            from hartrace.data.video import VideoDecodeError
            from hartrace.workflows.evaluate import preview_picture

            try:
                image = Image.fromarray(preview_picture(self.path(run, image_id), size))
            except (ImageDecodeError, VideoDecodeError) as exc:
                raise UsageError(f"cannot read {image_id}: {exc}") from None
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=85)
            return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()

        return self._thumbnails.get_or_compute((run, image_id, size), make)

    def upload(self, run: str, contents: str, filename: str) -> str:
        """Check and keep an uploaded image (PNG, JPEG or WebP, judged by content); return its id.

        Every refusal is a :class:`UsageError` naming the file: too large (bytes or pixels), not an image
        of those types, or damaged; nothing is decoded before its header has passed.
        """
        if self.store.task(run).is_video:
            raise UsageError(f"{filename}: {run} is a video run, which explains its own videos (see the Video page)")
        header, _, payload = (contents or "").partition(",")
        if not header.startswith("data:") or ";base64" not in header:
            raise UsageError(f"{filename}: not an uploaded file")
        if len(payload) * 3 // 4 > self.max_upload_bytes:
            raise UsageError(too_large(filename, len(payload) * 3 // 4, self.max_upload_bytes))
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise UsageError(f"{filename}: the upload is corrupt") from None
        image_type(data, filename, max_pixels=self.max_upload_pixels)

        def decodes(path: Path) -> None:
            try:
                load_rgb(path)
            except ImageDecodeError as exc:
                raise UsageError(f"{filename}: the image is damaged ({exc}): export it again or pick another") from None

        image_id = UPLOAD_PREFIX + hashlib.sha256(data).hexdigest()[:16]
        self.uploads.add(image_id, data, decodes)
        return image_id

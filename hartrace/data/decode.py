"""Decode any image a user's dataset may hold into plain RGB, or say why not.

Real HAR datasets are scraped from the web: phone photos with EXIF rotation,
CMYK and palette JPEGs, PNGs renamed to ``.jpg``, zero-byte and half-downloaded
files. The format is judged from the file's bytes (Pillow sniffs the header),
never from its extension.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# A truncated file is an error to report, not something to pad with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

#: Largest image (in pixels) hartrace will decode; guards against decompression bombs.
MAX_PIXELS = 64_000_000

#: Extensions listed when walking a folder; the content still decides the format.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)


class ImageDecodeError(Exception):
    """A file that cannot be used as an image; ``str()`` is the reason shown to the user."""


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise ImageDecodeError("missing")
    if path.is_dir():
        raise ImageDecodeError("is a directory")
    if path.stat().st_size == 0:
        raise ImageDecodeError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ImageDecodeError("not an image") from None
        raise ImageDecodeError("too large (decompression bomb guard)") from None
    except OSError as exc:
        raise ImageDecodeError(f"unreadable ({exc})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageDecodeError(f"too large ({width}x{height} px > {MAX_PIXELS} px; decompression bomb guard)")
    return image


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except OSError as exc:
        reason = "truncated" if "truncated" in str(exc) else f"corrupt ({exc})"
        raise ImageDecodeError(reason) from None
    except (ValueError, SyntaxError, EOFError) as exc:  # Pillow's plugins raise these on garbage
        raise ImageDecodeError(f"corrupt ({exc})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited onto white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: str | Path) -> Image.Image:
    """Fully decode ``path`` as an upright RGB image, or raise :class:`ImageDecodeError`."""
    image = _open(Path(path))
    with image:
        _load(image)
        upright = ImageOps.exif_transpose(image)
        return to_rgb(upright).copy()


def probe(path: str | Path) -> tuple[int, int]:
    """Check that ``path`` decodes to the end and return its upright ``(width, height)``.

    JPEGs are decoded at reduced scale (``draft``): every byte is still read, so a
    truncated file is still caught, at a fraction of the cost.
    """
    image = _open(Path(path))
    with image:
        width, height = image.size
        if image.format == "JPEG":
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        _load(image)
        orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)

"""Robust decoding: every awkward file a scraped HAR dataset holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hartrace.data import decode
from hartrace.data.decode import ImageDecodeError, load_rgb, probe
from tests.conftest import make_image, truncate


def _half_red_half_blue(width: int = 40, height: int = 20) -> Image.Image:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    return Image.fromarray(pixels)


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    _half_red_half_blue().save(path, exif=exif, quality=95)
    image = load_rgb(path)
    assert image.size == (20, 40)
    assert probe(path) == (20, 40)
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[0] > 200 and top[2] < 60, "the stored left (red) half should be on top"
    assert bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "1", "I;16"])
def test_any_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    path = make_image(tmp_path / f"img_{mode.replace(';', '')}.img", fmt=fmt, mode=mode)
    image = load_rgb(path)
    assert image.mode == "RGB" and image.size == (40, 30)


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:, 5:, 3] = 255  # left half fully transparent, right half opaque red
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    pixels = np.asarray(load_rgb(path))
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    assert tuple(pixels[0, 9]) == (255, 0, 0)


def test_format_is_judged_from_content_not_extension(tmp_path: Path) -> None:
    path = make_image(tmp_path / "actually_a_png.jpg", fmt="PNG")
    assert load_rgb(path).size == (40, 30)
    assert Image.open(path).format == "PNG"


def test_unicode_file_name(tmp_path: Path) -> None:
    path = make_image(tmp_path / "café_日本_ü.jpg")
    assert probe(path) == (40, 30)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("not an image at all"), "not an image"),
        (lambda p: truncate(make_image(p, size=(200, 150))), "truncated"),
        (lambda p: None, "missing"),
    ],
    ids=["empty", "text", "truncated", "missing"],
)
def test_bad_files_raise_with_reason(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "bad.jpg"
    make(path)
    for read in (probe, load_rgb):
        with pytest.raises(ImageDecodeError, match=reason):
            read(path)


def test_truncated_png_is_caught(tmp_path: Path) -> None:
    path = truncate(make_image(tmp_path / "cut.png", size=(200, 150), fmt="PNG"))
    with pytest.raises(ImageDecodeError):
        probe(path)


def test_decompression_bomb_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_image(tmp_path / "big.png", size=(300, 200), fmt="PNG")
    monkeypatch.setattr(decode, "MAX_PIXELS", 300 * 200 - 1)
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        load_rgb(path)
    with pytest.raises(ImageDecodeError, match="too large"):
        probe(path)


def test_pillow_bomb_error_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_image(tmp_path / "big.png", size=(300, 200), fmt="PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own guard fires first, at open
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        probe(path)

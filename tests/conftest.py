"""Small on-disk fixtures in each dataset layout, with every kind of awkward file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hartrace.base.network import OFFLINE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]

# No test touches the network: published weights are never downloaded here (and the
# commands the tests start inherit this). The tests of downloading replace the download.
os.environ[OFFLINE_VARIABLE] = "1"


def make_image(
    path: Path, size: tuple[int, int] = (40, 30), seed: int = 0, fmt: str = "JPEG", mode: str = "RGB"
) -> Path:
    """A small random image written as ``fmt`` (whatever ``path``'s extension says)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return path


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def kaggle_dir(tmp_path: Path) -> Path:
    """Kaggle HAR layout: 3 classes x 5 training images, 2 test images, BOM + CRLF + stray spaces in the CSV."""
    root = tmp_path / "Human Action Recognition"
    rows = []
    n = 0
    for label in ("calling", "running", "sitting"):
        for _ in range(5):
            n += 1
            make_image(root / "train" / f"Image_{n}.jpg", seed=n)
            rows.append(f" Image_{n}.jpg , {label} ")
    (root / "Training_set.csv").write_bytes(("\ufefffilename,label\r\n" + "\r\n".join(rows) + "\r\n").encode())
    make_image(root / "test" / "Image_1.jpg", seed=100)
    make_image(root / "test" / "Image_2.jpg", seed=101)
    (root / "Testing_set.csv").write_text("filename\nImage_1.jpg\nImage_2.jpg\n")
    return root


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``hartrace ARGS`` in a child process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hartrace", *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300
    )


def colour_folder(root: Path, per_class: int = 12, size: int = 32) -> Path:
    """An ImageFolder of three classes a small net learns in an epoch or two: red, green, blue noise."""
    rng = np.random.default_rng(0)
    for name, colour in (("red", (200, 30, 30)), ("green", (30, 200, 30)), ("blue", (30, 30, 200))):
        for i in range(per_class):
            noise = rng.integers(0, 80, size=(size, size, 3))
            pixels = np.clip(noise + np.array(colour) * 0.7, 0, 255).astype(np.uint8)
            path = root / name / f"{name}_{i:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    return root


@pytest.fixture
def colours(tmp_path: Path) -> Path:
    return colour_folder(tmp_path / "colours")


@pytest.fixture(scope="session")
def video_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding one small trained video run, ``c3d``: made once, shared by the explorer's video tests."""
    from tests.conftest_app import make_video_run

    return make_video_run(tmp_path_factory.mktemp("video-explorer"))


@pytest.fixture(scope="session")
def atlas_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding one small trained run, ``tiny``, with an atlas of layer3 and layer4: made once,
    shared by the explorer's Atlas tests."""
    from tests.conftest_app import make_atlas_run

    return make_atlas_run(tmp_path_factory.mktemp("atlas-explorer"))


def quick_config(data: Path, out: Path, **overrides):
    """A seconds-long training config on a tiny dataset (scratch net, 32 px, no workers)."""
    from hartrace.workflows.train import resolve_config

    options = dict(
        data=str(data),
        backbone="resnet_small",
        weights="none",
        image_size=32,
        epochs=2,
        batch_size=8,
        workers=0,
        out=str(out),
        lr=3e-3,
    )
    options.update(overrides)
    return resolve_config(None, **options)

"""Uploads a user drops in, and who may ask the server at all.

Every refused upload is one line naming the file (a decompression bomb is refused from its
header, never a 500); kept uploads stay under a size bound, in a folder that is gone when
the process exits (and, if it was killed, when the next explorer starts); a request for
another host name than the server's own is refused (DNS rebinding).
"""

from __future__ import annotations

import base64
import io
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.explorer.app import create_app, hosts_for, ids
from hartrace.explorer.gallery import Gallery
from hartrace.explorer.uploads import UploadFolder
from hartrace.runs.tasks import Task, task_of
from tests.conftest import ROOT
from tests.conftest_app import FakeService
from tests.test_app_failures import post_callback

RUN = "new"  # a FakeService run


class ImageRuns:
    """The one thing an upload asks of the run store: the run's task (an image run here)."""

    def task(self, run: str) -> Task:
        return task_of("image")


class UploadingService(FakeService):
    """The fake service, but uploads go through a real :class:`Gallery` (its checks and its folder)."""

    def __init__(self, **gallery: Any) -> None:
        super().__init__()
        self.gallery = Gallery(ImageRuns(), **gallery)  # type: ignore[arg-type]
        self.max_upload_bytes = self.gallery.max_upload_bytes

    def upload(self, run: str, contents: str, filename: str) -> str:
        self._check(run)
        image_id = self.gallery.upload(run, contents, filename)
        self.uploads[image_id] = contents
        return image_id


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG built row by row: 15000x15000 px is 27 KB of file (a decompression bomb)."""
    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def noise_png(size: int = 64, seed: int = 0, fmt: str = "PNG") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[Gallery]:
    gallery = Gallery(ImageRuns(), uploads_root=tmp_path)  # type: ignore[arg-type]
    yield gallery
    gallery.close()


# -- refusals ----------------------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_from_its_header(gallery: Gallery) -> None:
    bomb = blank_png(15000, 15000)
    assert len(bomb) < 32 * 2**10, "a small file, 225 megapixels once decoded"
    with pytest.raises(
        UsageError, match=r"^bomb.png: the image is too large in pixels \(225 megapixels; the limit is 64 megapixels\)"
    ):
        gallery.upload(RUN, data_uri(bomb), "bomb.png")
    # under Pillow's own bomb guard but over hartrace's: refused with its size
    with pytest.raises(
        UsageError, match=r"^wide.png: the image is too large in pixels \(9000x8000 px; the limit is 64 megapixels\)"
    ):
        gallery.upload(RUN, data_uri(blank_png(9000, 8000)), "wide.png")
    assert gallery.uploads.path is None or not list(gallery.uploads.path.iterdir()), "nothing refused is kept"


def test_a_bomb_upload_answers_with_its_message_not_a_server_error(tmp_path: Path) -> None:
    service = UploadingService(uploads_root=tmp_path)
    values = {
        f"{ids.UPLOAD}.contents": data_uri(blank_png(15000, 15000)),
        f"{ids.UPLOAD}.filename": "bomb.png",
        f"{ids.RUN_STORE}.data": RUN,
    }
    answer = post_callback(create_app(service), f"{ids.UPLOAD_ERROR}.children", values)  # a file dropped on Images
    assert answer.status_code == 200
    error = answer.get_json()["response"][ids.UPLOAD_ERROR]
    assert error["hidden"] is False and error["children"].startswith("bomb.png: the image is too large in pixels")


def test_corrupt_truncated_wrong_type_and_too_large_uploads_say_why(gallery: Gallery) -> None:
    png = noise_png()
    with pytest.raises(UsageError, match=r"^half.png: the image is damaged \(truncated\)"):
        gallery.upload(RUN, data_uri(png[: len(png) // 2]), "half.png")
    with pytest.raises(UsageError, match="^garbage.png: not a readable PNG, JPEG or WebP image$"):
        gallery.upload(RUN, data_uri(png[:40] + b"x" * 400), "garbage.png")
    with pytest.raises(UsageError, match="^notes.txt: not a readable PNG, JPEG or WebP image$"):
        gallery.upload(RUN, data_uri(b"just some text\n", "text/plain"), "notes.txt")
    with pytest.raises(UsageError, match="^photo.bmp: BMP images are not accepted; upload PNG, JPEG or WebP$"):
        gallery.upload(RUN, data_uri(noise_png(fmt="BMP"), "image/bmp"), "photo.bmp")
    small = Gallery(ImageRuns(), max_upload_bytes=2**20, uploads_root=gallery.uploads.root)  # type: ignore[arg-type]
    big = os.urandom(3 * 2**20)
    with pytest.raises(UsageError, match=r"^big.png: too large \(3 MB; the limit is 1 MB\): pick a smaller image$"):
        small.upload(RUN, data_uri(big), "big.png")
    assert gallery.upload(RUN, data_uri(png), "fine.png").startswith("upload:")


def test_the_drop_zone_states_the_services_limit() -> None:
    from hartrace.explorer.app.pages import images

    assert images.upload_limit(ids.UPLOAD, service=FakeService()) == ("PNG, JPEG or WebP, up to 5 MB", 5 * 2**20)
    smaller = UploadingService(max_upload_bytes=512 * 2**10)
    assert images.upload_limit(ids.UPLOAD, service=smaller) == ("PNG, JPEG or WebP, up to 512 KB", 512 * 2**10)


# -- the folder: bounded, and gone with the process ---------------------------------------------


def test_the_upload_folder_is_bounded_and_an_evicted_upload_asks_to_upload_again(tmp_path: Path) -> None:
    sizes = [len(noise_png(seed=seed)) for seed in range(3)]
    bounded = Gallery(ImageRuns(), max_kept_bytes=sizes[0] + sizes[1] + 100, uploads_root=tmp_path)  # type: ignore[arg-type]
    first, second, third = (bounded.upload(RUN, data_uri(noise_png(seed=s)), f"{s}.png") for s in range(3))
    with pytest.raises(UsageError, match="^that upload is no longer available: upload the image again$"):
        bounded.path(RUN, first)
    assert bounded.path(RUN, second).is_file() and bounded.path(RUN, third).is_file()
    folder = bounded.uploads.path
    assert folder is not None and len(list(folder.iterdir())) == 2
    assert sum(f.stat().st_size for f in folder.iterdir()) <= bounded.uploads.max_total_bytes
    assert bounded.upload(RUN, data_uri(noise_png(seed=0)), "0.png") == first, "uploaded again, it is back"
    with pytest.raises(UsageError, match="upload the image again"):
        bounded.path(RUN, second)  # now the oldest
    assert folder.name.startswith(f"hartrace-uploads-{os.getpid()}-")
    bounded.close()
    assert not folder.exists()
    with pytest.raises(UsageError, match="upload the image again"):
        bounded.path(RUN, third)


CHILD = """
import base64, io, sys
from PIL import Image
from hartrace.explorer.gallery import Gallery
from hartrace.runs.tasks import task_of

class ImageRuns:
    def task(self, run):
        return task_of("image")

gallery = Gallery(ImageRuns(), uploads_root=sys.argv[1])
buffer = io.BytesIO()
Image.new("RGB", (32, 32), (200, 40, 40)).save(buffer, format="PNG")
gallery.upload("new", "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), "a.png")
print(gallery.uploads.path)
"""


def test_the_upload_folder_is_removed_when_the_process_exits(tmp_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path)], cwd=ROOT, text=True, capture_output=True
    )
    assert child.returncode == 0, child.stderr
    folder = Path(child.stdout.strip())
    assert folder.parent == tmp_path and folder.name.startswith("hartrace-uploads-")
    assert not folder.exists() and not list(tmp_path.iterdir())


def test_folders_of_killed_processes_are_removed_at_the_next_start(tmp_path: Path) -> None:
    killed = subprocess.Popen(["sleep", "60"])
    killed.send_signal(signal.SIGKILL)  # no exit handler runs: its folder stays behind
    killed.wait(timeout=60)
    alive = subprocess.Popen(["sleep", "60"])
    try:
        folders = {}
        for name, pid in (("killed", killed.pid), ("alive", alive.pid), ("mine", os.getpid())):
            folders[name] = tmp_path / f"hartrace-uploads-{pid}-x1y2z3"
            folders[name].mkdir()
            (folders[name] / "upload_0123.img").write_bytes(noise_png())
        folders["unrelated"] = tmp_path / "hartrace-uploads-notapid"
        folders["unrelated"].mkdir()
        UploadFolder(root=tmp_path)  # the next explorer starting
        assert not folders["killed"].exists(), "the killed process's folder is removed"
        assert all(folders[name].is_dir() for name in ("alive", "mine", "unrelated")), "the others stay"
    finally:
        alive.kill()
        alive.wait(timeout=60)


# -- Host header ---------------------------------------------------------------------------------


def test_only_the_servers_own_host_names_are_answered() -> None:
    client = create_app(FakeService()).server.test_client()
    for host in ("localhost", "localhost:8050", "127.0.0.1:8050", "[::1]:8050"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    refused = client.get("/_dash-layout", headers={"Host": "evil.example:8050"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403 and text.count("\n") == 1
    assert "refused a request for host 'evil.example:8050'" in text and "--host 0.0.0.0" in text
    assert client.get("/", headers={"Host": "127.0.0.1.evil.example"}).status_code == 403

    lan = create_app(FakeService(), allowed_hosts=hosts_for("192.168.1.5")).server.test_client()
    assert lan.get("/", headers={"Host": "192.168.1.5:8050"}).status_code == 200
    assert lan.get("/", headers={"Host": "localhost:8050"}).status_code == 200
    assert lan.get("/", headers={"Host": "evil.example"}).status_code == 403

    network = create_app(FakeService(), allowed_hosts=hosts_for("0.0.0.0")).server.test_client()
    assert network.get("/", headers={"Host": "evil.example"}).status_code == 200, "serving the network: any name"

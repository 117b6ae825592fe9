"""Published weights download on first use, through torchvision's weights API, unless downloads are off.

The download itself is replaced by a copy of a local file (``file://`` through torch.hub's
own downloader, so its progress bar, hash check and partial-file handling all run); no
test touches the network.
"""

from __future__ import annotations

import os
import socket
import urllib.error
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision

from hartrace.base.errors import WeightsNotFoundError
from hartrace.base.network import OFFLINE_VARIABLE
from hartrace.cli import main
from hartrace.models import get_model, imagenet_weights_file
from tests.conftest import colour_folder

MODEL = "mobilenet_v2"  # the smallest zoo model with ImageNet weights (14 MB)
REAL_DOWNLOAD = torch.hub.download_url_to_file


@pytest.fixture(scope="module")
def published_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the download would fetch: a randomly initialised torchvision MobileNet-v2 state dict (1000-way)."""
    path = tmp_path_factory.mktemp("published") / "mobilenet_v2.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.mobilenet_v2().state_dict(), path)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache, with downloads allowed."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    monkeypatch.delenv(OFFLINE_VARIABLE)
    return tmp_path / "torch" / "hub" / "checkpoints"


def _serve(monkeypatch: pytest.MonkeyPatch, source: Path, *, check_hash: bool) -> list[str]:
    """torch.hub fetches ``source`` instead of the URL; returns the URLs it was asked for."""
    asked: list[str] = []

    def download(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        asked.append(url)
        REAL_DOWNLOAD(source.as_uri(), dst, hash_prefix if check_hash else None, progress=progress)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    return asked


def _fail_with(monkeypatch: pytest.MonkeyPatch, error: Callable[[], Exception]) -> None:
    def download(*args: object, **kwargs: object) -> None:
        raise error()

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)


def test_missing_weights_download_once_then_load_from_the_cache(
    cache: Path, published_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _serve(monkeypatch, published_copy, check_hash=False)
    model = get_model(MODEL, 3, weights="imagenet")
    out, err = capsys.readouterr()
    assert asked == ["https://download.pytorch.org/models/" + imagenet_weights_file(MODEL).name]
    assert imagenet_weights_file(MODEL).is_file() and imagenet_weights_file(MODEL).parent == cache
    assert sorted(p.name for p in cache.iterdir()) == [imagenet_weights_file(MODEL).name], "no partial file left"
    published = torch.load(published_copy, weights_only=True)
    assert torch.equal(model.features[0][0].weight, published["features.0.0.weight"])
    assert model.classifier[1].out_features == 3
    assert out == "", "stdout stays the command's own"
    assert "Downloading" in err and "100%" in err, "torchvision's progress bar, on stderr"

    with pytest.warns(
        UserWarning, match="does not match the sha256 prefix in its name"
    ):  # a stand-in, not the real file
        get_model(MODEL, 3, weights="imagenet", progress=False)
    assert len(asked) == 1, "the second build reads the cache"
    assert capsys.readouterr().err == ""


def test_a_download_with_the_wrong_hash_is_refused_and_leaves_nothing(
    cache: Path, published_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(monkeypatch, published_copy, check_hash=True)  # a random state dict is not the published file
    with pytest.raises(WeightsNotFoundError) as err:
        get_model(MODEL, 3, weights="imagenet", progress=False)
    message = str(err.value)
    assert "downloading them failed (invalid hash value" in message and "\n" not in message
    assert f"put {imagenet_weights_file(MODEL).name} in {cache}" in message
    assert not any(cache.iterdir()), "neither the bad file nor a partial one is kept"


def test_without_a_network_the_error_says_what_to_put_where(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_with(monkeypatch, lambda: urllib.error.URLError(socket.gaierror(-2, "Name or service not known")))
    with pytest.raises(WeightsNotFoundError) as err:
        get_model(MODEL, 3, weights="pretrained", progress=False)
    message = str(err.value)
    assert "downloading them failed ([Errno -2] Name or service not known)" in message and "\n" not in message
    assert f"it comes from https://download.pytorch.org/models/{imagenet_weights_file(MODEL).name}" in message
    assert "--weights none" in message and "--weights PATH" in message


def test_offline_never_touches_the_network(
    cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fail_with(monkeypatch, lambda: AssertionError("the network was touched"))
    monkeypatch.setenv(OFFLINE_VARIABLE, "1")
    with pytest.raises(WeightsNotFoundError, match=r"downloads are off \(HARTRACE_OFFLINE=1 or --offline\)"):
        get_model(MODEL, 3, weights="imagenet")

    monkeypatch.delenv(OFFLINE_VARIABLE)
    data = colour_folder(tmp_path / "colours", per_class=4)
    argv = ["train", "--data", str(data), "--backbone", MODEL, "--weights", "imagenet", "--runs-dir", str(tmp_path)]
    assert main([*argv, "--offline", "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "downloads are off" in lines[0], lines
    assert OFFLINE_VARIABLE not in os.environ, "--offline lasts for its command only"


def test_train_downloads_the_weights_it_names(
    cache: Path,
    published_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked = _serve(monkeypatch, published_copy, check_hash=False)
    data = colour_folder(tmp_path / "colours", per_class=4)
    argv = ["train", "--data", str(data), "--backbone", MODEL, "--weights", "imagenet", "--epochs", "1"]
    argv += ["--max-batches", "1", "--image-size", "32", "--workers", "0", "--runs-dir", str(tmp_path / "runs")]
    assert main([*argv, "--quiet"]) == 0
    assert len(asked) == 1 and imagenet_weights_file(MODEL).is_file()
    assert "Downloading" not in capsys.readouterr().err, "--quiet hides the progress bar"

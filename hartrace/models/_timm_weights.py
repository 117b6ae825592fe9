"""timm's pretrained weights for ``--weights imagenet|pretrained`` on a ``timm/<name>`` model.

timm keeps them where it downloads them: the Hugging Face cache (``$HF_HUB_CACHE``, by default
``~/.cache/huggingface/hub``), or for the few models published only at a URL, the torch hub cache.
A file already there is read through timm from that path, with no network; otherwise timm
downloads it there (its progress bar, on stderr) unless downloads are off (``HARTRACE_OFFLINE=1``,
``--offline``). Missing and offline, or a failed download, is one line naming the repo and file.

Either way timm loads them into its own model first (its key fixes and its readers, which load
torch files with ``weights_only=True``) and hartrace takes that model's state dict, so the head of
another width is skipped the way every published weight file's is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from hartrace.base.errors import WeightsNotFoundError
from hartrace.base.network import OFFLINE_VARIABLE, downloads_allowed
from hartrace.models._registry import ModelInfo
from hartrace.models._weights import download_messages, first_line, hub_cache_file
from hartrace.models.timm_zoo import timm_architecture

__all__ = ["read_timm_weights", "timm_weights_file"]

# timm's names for the file a Hugging Face repo holds (timm/models/_hub.py), safetensors first as timm reads them.
_HF_BIN = "pytorch_model.bin"
_SAFE_NAMES = {_HF_BIN: "model.safetensors", "open_clip_pytorch_model.bin": "open_clip_model.safetensors"}


def _pretrained_cfg(info: ModelInfo) -> dict[str, Any]:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(timm_architecture(info.name))
    return {} if cfg is None else dict(cfg.to_dict())  # type: ignore[no-untyped-call]


def _hub_files(cfg: dict[str, Any]) -> list[str]:
    """The files timm looks for in the model's Hugging Face repo, in its order."""
    name = cfg.get("hf_hub_filename") or _HF_BIN
    safe = _SAFE_NAMES.get(name) or (name[: -len(".bin")] + ".safetensors" if name.endswith(".bin") else None)
    return [n for n in (safe, name) if n]


def timm_weights_file(info: ModelInfo) -> Path | None:
    """The file of a timm model's pretrained weights on this machine; None if it is not there (or has none)."""
    cfg = _pretrained_cfg(info)
    if cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = str(cfg["hf_hub_id"]).partition("@")
        for filename in _hub_files(cfg):
            found = try_to_load_from_cache(repo, filename, revision=revision or None)
            if isinstance(found, str):
                return Path(found)
        return None
    if cfg.get("url"):
        path = hub_cache_file(str(cfg["url"]))
        return path if path.is_file() else None
    return None


def _where(info: ModelInfo, cfg: dict[str, Any]) -> str:
    """Which file, where it goes, and how to get it there: for the one-line refusal."""
    if cfg.get("hf_hub_id"):
        from huggingface_hub import constants

        repo, filename = str(cfg["hf_hub_id"]).partition("@")[0], _hub_files(cfg)[0]
        return (
            f"they are {filename} of the Hugging Face repo {repo}; put it in the Hugging Face cache "
            f"{constants.HF_HUB_CACHE} (`hf download {repo} {filename}` where there is internet, then copy that "
            "cache here)"
        )
    path = hub_cache_file(str(cfg["url"]))
    return f"put {path.name} in {path.parent} (it comes from {cfg['url']})"


def read_timm_weights(info: ModelInfo, *, progress: bool = True) -> dict[str, torch.Tensor]:
    """The state dict of timm's pretrained weights for ``info``'s model (with timm's own classifier).

    From the file in timm's cache when it is there; otherwise downloaded there through timm, unless
    downloads are off. ``progress``: show the download's progress bar.
    """
    import timm

    cfg = _pretrained_cfg(info)
    label = f"timm's pretrained weights for {info.name}"
    otherwise = "or pass a weights file with --weights PATH, or use --weights none (random init)"
    cached = timm_weights_file(info)
    if cached is None and not downloads_allowed():
        raise WeightsNotFoundError(
            f"{label} are not on this machine and downloads are off ({OFFLINE_VARIABLE}=1 or --offline): "
            f"{_where(info, cfg)}, {otherwise}"
        )
    # A cached file is read as a plain file: timm's custom readers are for the original (.npz) releases.
    overlay = {"file": str(cached), "custom_load": False} if cached is not None else None
    try:
        with _download_output(progress and cached is None):
            model = timm.create_model(timm_architecture(info.name), pretrained=True, pretrained_cfg_overlay=overlay)
    except Exception as exc:  # noqa: BLE001 - no network, a proxy, a bad file: the same advice
        said = first_line(exc) or type(exc).__name__
        how = f"reading {cached} failed" if cached is not None else "downloading them failed"
        raise WeightsNotFoundError(f"{label}: {how} ({said}); {_where(info, cfg)}, {otherwise}") from exc
    return {key: value for key, value in model.state_dict().items()}


@contextlib.contextmanager
def _download_output(progress: bool) -> Iterator[None]:
    """Progress bars on stderr or none; anything the download prints goes to stderr, so stdout stays the
    command's own output."""
    from huggingface_hub.utils import (  # type: ignore[attr-defined]
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    were_disabled = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    try:
        with download_messages(progress):
            yield
    finally:
        if not progress and not were_disabled:
            enable_progress_bars()

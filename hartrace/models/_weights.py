"""Loading weights: published ones from the torch hub cache (downloaded on first use), or a file the user names.

Published weights (ImageNet for image models, Kinetics-400 for the torchvision video
models) live in ``$TORCH_HOME/hub/checkpoints`` under torchvision's file name, as
torchvision keeps them. A missing file is downloaded through torchvision's weights
API (its progress bar, its sha256 check, a partial file never left behind) unless
downloads are off (``--offline``, ``HARTRACE_OFFLINE=1``) or fail; then the user gets
one line saying which file, where to put it and where it comes from.
Files are read with ``weights_only=True`` so a checkpoint cannot run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import get_weight

from hartrace.base.errors import UsageError, WeightsNotFoundError
from hartrace.base.network import OFFLINE_VARIABLE, downloads_allowed
from hartrace.models._registry import ModelInfo

__all__ = [
    "DATASET_LABELS",
    "LoadReport",
    "WEIGHTS_KEYWORDS",
    "imagenet_weights_file",
    "published_weights",
    "published_weights_file",
    "read_published_state_dict",
    "read_weights_file",
    "apply_state_dict",
    "imagenet_preset",
    "hub_cache_file",
    "download_messages",
    "first_line",
]

log = logging.getLogger(__name__)

# torch.hub's naming convention: name-<first hex digits of the sha256>.ext
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")
# Old torchvision DenseNet files say "norm.1" where the modules say "norm1"
# (the same fix torchvision's densenet builder applies).
_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)
# Wrappers that prefix every key: DistributedDataParallel, torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


# What ``weights=<keyword>`` may name, besides a file: the published weights by the data
# they were trained on, or "pretrained" for whichever the model has.
DATASET_LABELS = {"imagenet": "ImageNet", "kinetics": "Kinetics-400"}
WEIGHTS_KEYWORDS = ("none", "pretrained", *DATASET_LABELS)


def published_weights(info: ModelInfo, dataset: str | None = None) -> tuple[str, str]:
    """``(dataset, torchvision weights name)`` that ``weights=dataset`` loads into ``info``'s model.

    ``dataset`` None means "pretrained": Kinetics weights where the model has them, else
    ImageNet's. A model without the asked-for weights is a :class:`UsageError` naming
    the keyword that does work for it.
    """
    if dataset is None:
        dataset = "kinetics" if info.kinetics_weights else "imagenet"
    if dataset not in DATASET_LABELS:
        raise UsageError(f"no published weights are known for {dataset!r}; choose one of {', '.join(DATASET_LABELS)}")
    name = info.kinetics_weights if dataset == "kinetics" else info.imagenet_weights
    if name is not None:
        return dataset, name
    if info.pretrained_weights is None:
        raise UsageError(
            f"{info.name} is trained from scratch and has no {DATASET_LABELS[dataset]} (or other published) "
            "weights; use --weights none or --weights PATH"
        )
    other = "kinetics" if info.kinetics_weights else "imagenet"
    raise UsageError(
        f"{info.name} has no {DATASET_LABELS[dataset]} weights: its published weights are "
        f"{DATASET_LABELS[other]} ({info.pretrained_weights}); use --weights {other} (or pretrained), "
        "--weights none or --weights PATH"
    )


def hub_cache_file(url: str) -> Path:
    """Where torch hub (and timm, for a file published only at a URL) keeps the file downloaded from ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def published_weights_file(info: ModelInfo, dataset: str | None = None) -> Path:
    """Where torch hub keeps the weights ``weights=dataset`` means (the file may not exist)."""
    return hub_cache_file(get_weight(published_weights(info, dataset)[1]).url)


def imagenet_weights_file(info: ModelInfo) -> Path:
    """Where torch hub keeps this model's ImageNet weights (the file may not exist)."""
    return published_weights_file(info, "imagenet")


_hash_ok_cache: dict[tuple[str, int, int], bool] = {}


def _hash_matches_name(path: Path) -> bool | None:
    """Whether the file's sha256 starts with the digits in its name (None: no digits).

    torch.hub only checks the hash when it downloads; a file already in the cache
    (put there by hand, or by another tool) is loaded unchecked, so we check it here.
    """
    match = _HASH_IN_NAME.search(path.name)
    if match is None:
        return None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_ok_cache:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _hash_ok_cache[key] = digest.hexdigest().startswith(match.group(1))
    return _hash_ok_cache[key]


def read_published_state_dict(
    info: ModelInfo, dataset: str | None = None, *, progress: bool = True
) -> dict[str, torch.Tensor]:
    """The published state dict ``weights=dataset`` means for ``info``, downloaded into the hub cache if missing.

    ``progress``: show the download's progress bar (on stderr). Keys are prefixed with
    ``info.weights_under`` so they name the model's own modules.
    """
    dataset, name = published_weights(info, dataset)
    weights = get_weight(name)
    path = published_weights_file(info, dataset)
    label = f"{DATASET_LABELS[dataset]} weights for {info.name}"
    put_it_there = (
        f"put {path.name} in {path.parent} (it comes from {weights.url}), "
        "or use --weights none (random init) or --weights PATH (a file you have)"
    )
    if not path.is_file():
        if not downloads_allowed():
            raise WeightsNotFoundError(
                f"{label} are not on this machine and downloads are off ({OFFLINE_VARIABLE}=1 or --offline): "
                + put_it_there
            )
        _download(weights, path, label, put_it_there, progress)
    elif _hash_matches_name(path) is False:
        # A warning, not an error: the file may be a legitimate re-save, and a
        # truncated download fails below anyway.
        warnings.warn(
            f"{path} does not match the sha256 prefix in its name, so it is not the file "
            f"published at {weights.url}; loading it anyway",
            stacklevel=3,
        )
    try:
        # The file is in the cache now, so torch.hub only loads it.
        state = weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the same to the user
        raise WeightsNotFoundError(
            f"cannot read {path} ({type(exc).__name__}: {first_line(exc)}); delete it and put "
            f"a fresh copy of {weights.url} there, or use --weights none or --weights PATH"
        ) from exc
    state = _normalise_keys(_as_state_dict(state, path))
    prefix = f"{info.weights_under}." if info.weights_under else ""
    return {prefix + key: value for key, value in state.items()}


def _download(weights: Any, path: Path, label: str, put_it_there: str, progress: bool) -> None:
    """Fetch ``weights`` into the hub cache as torchvision does: progress bar, sha256 check, atomic move.

    torch.hub announces the download on stdout; it goes to stderr here, so stdout stays
    the command's own output.
    """
    try:
        with download_messages(progress):
            weights.get_state_dict(progress=progress, check_hash=True, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - no network, a proxy, a bad hash: the same advice
        # urllib wraps the socket's error: "Name or service not known" says more than "<urlopen error ...>".
        reason = exc.reason if isinstance(exc, URLError) else exc
        detail = first_line(reason) if isinstance(reason, BaseException) else str(reason)
        raise WeightsNotFoundError(
            f"{label} are not on this machine and downloading them failed ({detail}): {put_it_there}"
        ) from exc
    log.info("downloaded %s to %s", weights.url, path)


@contextlib.contextmanager
def download_messages(show: bool) -> Iterator[None]:
    """What a downloader prints goes to stderr (``show``) or nowhere: stdout stays the command's own output."""
    with contextlib.redirect_stdout(sys.stderr if show else io.StringIO()):
        yield


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def read_weights_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a state dict (``torch.save`` or ``.safetensors``) or a hartrace checkpoint: (state dict, metadata).

    A checkpoint is a dict with a ``"state_dict"`` (or ``"model_state_dict"``) entry;
    its other entries are returned as metadata.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"weights file not found: {path}")
    if not path.is_file():
        raise UsageError(f"weights path is not a file: {path}")
    if path.suffix == ".safetensors":
        return _normalise_keys(_read_safetensors(path)), {}
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise UsageError(
            f"cannot read weights file {path}: it is not a state dict saved with torch.save "
            f"({type(exc).__name__}: {first_line(exc)})"
        ) from exc
    meta: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                meta = {k: v for k, v in obj.items() if k != key}
                obj = obj[key]
                break
    return _normalise_keys(_as_state_dict(obj, path)), meta


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A ``.safetensors`` file (timm's and Hugging Face's format): tensors only, so it is safe to read."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise UsageError(f"cannot read weights file {path} as safetensors ({first_line(exc)})") from exc
    return _as_state_dict(state, path)


def _as_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise UsageError(
            f"weights file {path} is not a state dict (a mapping of names to tensors) nor a "
            "checkpoint with a 'state_dict' entry"
        )
    return dict(obj)


def _normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in _WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return {_DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in state.items()}


@dataclass
class LoadReport:
    """What :func:`apply_state_dict` did, for messages and tests."""

    loaded: list[str] = field(default_factory=list)
    head_skipped: list[str] = field(default_factory=list)  # head keys with another shape
    head_missing: list[str] = field(default_factory=list)  # head keys not in the file
    unexpected: list[str] = field(default_factory=list)  # file keys the model lacks

    def summary(self) -> str:
        parts = []
        if self.head_skipped:
            parts.append(f"skipped head tensors of another shape: {', '.join(self.head_skipped)}")
        if self.head_missing:
            parts.append(f"head tensors not in the file (left random): {', '.join(self.head_missing)}")
        if self.unexpected:
            shown = ", ".join(self.unexpected[:8]) + (" ..." if len(self.unexpected) > 8 else "")
            parts.append(f"ignored {len(self.unexpected)} tensors the model does not have: {shown}")
        return "; ".join(parts)


def _in(key: str, paths: tuple[str, ...]) -> bool:
    return any(key.startswith(p + ".") for p in paths)


def apply_state_dict(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    info: ModelInfo,
    source: str,
    *,
    expect_new_head: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> LoadReport:
    """Load ``state`` into ``model``: the whole trunk must fit, the head may not.

    The head may be missing or of another shape (an ImageNet 1000-way classifier
    into an N-way model): those tensors are skipped and said so -- with
    ``warnings.warn`` for a user's file, at INFO level when a new head is the
    expected outcome (``expect_new_head``, published weights).
    """
    own = model.state_dict()
    report = LoadReport()
    to_load: dict[str, torch.Tensor] = {}
    missing: list[str] = []
    wrong: list[str] = []
    for key, tensor in own.items():
        in_head = _in(key, info.head)
        if key not in state:
            if key.endswith("num_batches_tracked"):
                continue  # absent from old files; BatchNorm does not need it
            (report.head_missing if in_head else missing).append(key)
        elif state[key].shape != tensor.shape:
            if in_head:
                report.head_skipped.append(key)
            else:
                wrong.append(f"{key} {list(state[key].shape)} vs {list(tensor.shape)}")
        else:
            to_load[key] = state[key]
    report.unexpected = [k for k in state if k not in own]
    if missing or wrong:
        n_trunk = sum(1 for k in own if not _in(k, info.head) and not k.endswith("num_batches_tracked"))
        problems = []
        if missing:
            problems.append(f"{len(missing)} of its {n_trunk} trunk tensors are missing (e.g. {missing[0]})")
        if wrong:
            problems.append(f"{len(wrong)} have another shape (e.g. {wrong[0]})")
        claimed = next(
            (meta[k] for k in ("model", "model_name", "arch") if meta and isinstance(meta.get(k), str)), None
        )
        hint = f"; the checkpoint says it is for {claimed!r}" if claimed else ""
        raise UsageError(
            f"{source} does not fit model {info.name}: {' and '.join(problems)}{hint}; was it saved from another model?"
        )
    model.load_state_dict(to_load, strict=False)
    report.loaded = list(to_load)
    message = report.summary()
    if message:
        if expect_new_head:
            log.info("%s into %s: %s", source, info.name, message)
        else:
            warnings.warn(f"{source} into {info.name}: {message}", stacklevel=3)
    return report


def imagenet_preset(weights_name: str) -> tuple[int, tuple[float, float, float], tuple[float, float, float]]:
    """(crop size, mean, std) from a torchvision weights entry's eval transforms.

    Works for the video entries too: their ``VideoClassification`` presets have the same fields.
    """
    tf = get_weight(weights_name).transforms()
    mean = tuple(float(v) for v in tf.mean)
    std = tuple(float(v) for v in tf.std)
    return int(tf.crop_size[0]), mean, std  # type: ignore[return-value]

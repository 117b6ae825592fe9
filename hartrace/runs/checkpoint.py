"""Self-describing checkpoints: one file rebuilds the model, loaded with ``weights_only=True``.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts. Nothing in
it is a pickled Python object, so loading one never runs code; a file that would is
refused with a clear message instead of being trusted.

Every way a checkpoint can be broken or mismatched (missing, empty, cut short, not a
torch file, unsafe, not hartrace's, metadata without a model, weights or classes that do
not fit that model) is its own one-line :class:`UsageError` naming the file. torch's own
(multi-line, sometimes coloured) messages are never passed on: they are read, not shown.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hartrace import __version__
from hartrace.base.errors import UsageError
from hartrace.base.io import atomic_path

CHECKPOINT_FORMAT = "hartrace-checkpoint/1"

_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since torch 1.6
_LEGACY_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)[:-1]  # the older format's first bytes
_UNSAFE_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")  # how the weights-only unpickler names what it refused to import
_FIX = "retrain, or pass the matching --checkpoint"
_TORCH_WRITE_FAILURE = re.compile(r"inline_container|PytorchStreamWriter|file write failed|unexpected pos")


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any], **extra: Any) -> Path:
    """Write ``model``'s weights and ``meta`` (plus resume state in ``extra``) atomically."""
    wrapped = getattr(model, "module", None)
    module = wrapped if isinstance(wrapped, nn.Module) else model  # unwrap DDP
    payload = {
        "format": CHECKPOINT_FORMAT,
        "hartrace_version": __version__,
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "meta": meta,
        **extra,
    }
    with atomic_path(path) as tmp:
        try:
            with open(tmp, "wb") as file:
                torch.save(payload, file)
        except RuntimeError as exc:  # torch's writer reports a short write as "[enforce fail ...] unexpected pos"
            if not _TORCH_WRITE_FAILURE.search(str(exc)):
                raise
            raise _write_failure(exc, tmp, payload["state_dict"]) from exc
    return Path(path)


def _write_failure(exc: RuntimeError, tmp: Path, state_dict: dict[str, torch.Tensor]) -> OSError:
    """torch's failed write as the OSError it is: no space left if the disk is (nearly) full, else an I/O error."""
    needed = sum(t.numel() * t.element_size() for t in state_dict.values())
    if shutil.disk_usage(tmp.parent).free < max(needed, 2**20):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return OSError(errno.EIO, f"the checkpoint could not be written ({said})", str(tmp))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict, loaded safely; any problem is a one-line :class:`UsageError`."""
    path = Path(path)
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(_not_hartrace(path, payload))
    return payload


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint describes, with its weights, in eval mode: ``(model, meta)``."""
    from hartrace.models import get_model

    path = Path(path)
    payload = read_checkpoint(path)
    name, outputs, options = model_arguments(path, payload)
    meta = payload["meta"]
    state = payload.get("state_dict")
    if not isinstance(state, Mapping):
        raise UsageError(f"checkpoint {path} holds no weights (no 'state_dict'): {_FIX}")
    try:  # no init: the saved weights replace whatever it would draw
        model = get_model(name, outputs, weights="none", **options)
    except UsageError as exc:  # e.g. a freeze setting this hartrace does not take
        raise UsageError(f"checkpoint {path}: {exc}") from None
    misfit = _misfit(model.state_dict(), state)
    if misfit:
        raise UsageError(
            f"checkpoint {path}: its weights do not fit the {name} with {outputs} outputs its metadata names "
            f"({misfit}): {_FIX} (a model saved from your own code must be one hartrace.models.get_model builds "
            "from the metadata's model name, num_classes, freeze and dropout)"
        )
    model.load_state_dict(state)
    _check_classes(path, meta, outputs)
    return model.to(device).eval(), meta


def _torch_load(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True``; a file it cannot read says why in one line."""
    if not path.exists():
        raise UsageError(f"checkpoint not found: {path} (check the path, or train a run with `hartrace train`)")
    if path.is_dir():
        raise UsageError(f"checkpoint {path} is a folder, not a file: pass the .pt file in it, e.g. {path / 'best.pt'}")
    if path.stat().st_size == 0:
        raise UsageError(f"checkpoint {path} is empty (0 bytes): it holds no model; {_FIX}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise UsageError(f"cannot read checkpoint {path}: {exc.strerror or type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 -- torch raises many kinds; each only means "not readable as saved"
        raise UsageError(_unreadable(path, exc)) from None


def _unreadable(path: Path, exc: Exception) -> str:
    """Why torch could not read ``path``: from the file's own first bytes, and the one name torch's refusal gives."""
    unsafe = _UNSAFE_GLOBAL.search(str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
    if unsafe:
        return (
            f"refusing to load {path}: it holds Python objects ({unsafe[1]}) that would run code when unpickled; "
            "only checkpoints saved by hartrace (weights and metadata) are loaded"
        )
    with path.open("rb") as f:
        head = f.read(len(_LEGACY_MAGIC))
    size = f"{path.stat().st_size:,} bytes"
    whole_zip = head.startswith(_ZIP_MAGIC) and zipfile.is_zipfile(path)  # a cut-short zip has no central directory
    if whole_zip:
        return f"{path} is a zip archive but not a PyTorch checkpoint ({size}): pass a .pt file from `hartrace train`"
    if head.startswith(_ZIP_MAGIC) or head == _LEGACY_MAGIC:
        return (
            f"checkpoint {path} is cut short or corrupt ({size}): it was not saved or copied whole; "
            "copy it again, or retrain"
        )
    return f"{path} is not a PyTorch checkpoint ({size} of something else): pass a .pt file from `hartrace train`"


def _not_hartrace(path: Path, payload: Any) -> str:
    """What a readable torch file that is not a hartrace checkpoint holds instead."""
    if isinstance(payload, Mapping) and str(payload.get("format", "")).startswith("hartrace-checkpoint/"):
        return (
            f"checkpoint {path} is in format {payload['format']} (hartrace {payload.get('hartrace_version', '?')}); "
            f"this hartrace ({__version__}) reads {CHECKPOINT_FORMAT}: use a matching hartrace"
        )
    if isinstance(payload, Mapping) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        return f"{path} is not a hartrace checkpoint (a bare state dict? pass it as --weights instead)"
    kind = type(payload).__name__
    return f"{path} is not a hartrace checkpoint (it holds a {kind}): pass a .pt file from `hartrace train`"


def model_arguments(path: str | Path, payload: Mapping[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """What ``get_model`` rebuilds a checkpoint's model from: ``(name, outputs, {freeze, dropout})``.

    Checked against the zoo before anything is built, so a checkpoint of a model this hartrace cannot
    build (another version's, or one registered by the user's own code) is one line saying what to do.
    A checkpoint saved before dropout was recorded rebuilds with the model's own.
    """
    path = Path(path)
    meta = payload.get("meta")
    if not isinstance(meta, Mapping):
        raise UsageError(f"checkpoint {path} has no metadata ('meta'), so it does not say which model it holds: {_FIX}")
    saved_by = payload.get("hartrace_version")
    spec = meta.get("model")
    if not isinstance(spec, Mapping):
        raise UsageError(f"checkpoint {path} does not say which model it holds: its metadata has no 'model'; {_FIX}")
    name, outputs = spec.get("name"), spec.get("num_classes")
    if not isinstance(name, str) or isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
        raise UsageError(
            f"checkpoint {path} does not say which model it holds: its metadata's model has name={name!r} "
            f"and num_classes={outputs!r} (a model name and a positive count are needed); {_FIX}"
        )
    if not _in_zoo(name):
        own_code = "a model registered by your own code reopens only in Python, once that code has registered it"
        if saved_by == __version__:
            raise UsageError(
                f"checkpoint {path} is for model {name!r}, which is not in this hartrace's zoo although this version "
                f"saved it (`hartrace models` lists the models there are): {own_code}; for a zoo model with another "
                "dropout or initialisation, train it with --dropout and --init instead"
            )
        raise UsageError(
            f"checkpoint {path} is for model {name!r}, which this hartrace ({__version__}) does not have (it was "
            f"saved by hartrace {saved_by or '?'}; `hartrace models` lists the models there are): use that version; "
            f"{own_code}"
        )
    return name, outputs, {"freeze": spec.get("freeze"), "dropout": spec.get("dropout")}


def _in_zoo(name: str) -> bool:
    """Whether this hartrace builds ``name``: a registered model, or one of timm's (``timm/<name>``)."""
    from hartrace.models import model_info

    try:
        model_info(name)
    except UsageError:
        return False
    return True


def _misfit(own: Mapping[str, torch.Tensor], state: Mapping[str, Any]) -> str | None:
    """How ``state`` does not fit a model whose own state dict is ``own`` (what strict loading checks), or None."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        lists = {"missing": missing, "unexpected": unexpected}
        firsts = ", ".join(f"first {kind}: {keys[0]}" for kind, keys in lists.items() if keys)
        return f"{len(missing)} missing and {len(unexpected)} unexpected weights, {firsts}"
    wrong = [k for k in own if tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)]
    if wrong:
        more = f", and {len(wrong) - 1} more" if len(wrong) > 1 else ""
        return f"size mismatch for {wrong[0]}: checkpoint {_dims(state[wrong[0]])}, model {_dims(own[wrong[0]])}{more}"
    return None


def _dims(value: Any) -> str:
    shape = tuple(getattr(value, "shape", ()))
    return "x".join(map(str, shape)) if shape else "a scalar"


def _check_classes(path: Path, meta: Mapping[str, Any], outputs: int) -> None:
    """The class list must match the head: one score per class, or, zero-shot, one embedding row per class."""
    classes = meta.get("classes")
    if not isinstance(classes, (list, tuple)):
        return  # nothing to compare; RunSpec.from_meta names what is missing for those that need it
    zero_shot = meta.get("zero_shot")
    if zero_shot is None:
        if len(classes) != outputs:
            raise UsageError(f"checkpoint {path} lists {len(classes)} classes but its model outputs {outputs}: {_FIX}")
        return
    embeddings = zero_shot.get("embeddings") if isinstance(zero_shot, Mapping) else None
    if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2:
        raise UsageError(f"zero-shot checkpoint {path} has no class-name embeddings (zero_shot.embeddings): {_FIX}")
    rows, width = embeddings.shape
    if rows != len(classes) or width != outputs:
        raise UsageError(
            f"zero-shot checkpoint {path} does not add up: {len(classes)} classes and a model that outputs {outputs} "
            f"values, but class-name embeddings of {rows}x{width} (one row per class, as wide as the output): {_FIX}"
        )

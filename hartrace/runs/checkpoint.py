"""Self-describing checkpoints: one file rebuilds the model, loaded with ``weights_only=True``.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts. Nothing in
it is a pickled Python object, so loading one never runs code; a file that would is
refused with a clear message instead of being trusted.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hartrace import __version__
from hartrace.base.errors import UsageError
from hartrace.base.io import atomic_path

CHECKPOINT_FORMAT = "hartrace-checkpoint/1"


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
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict, loaded safely; any problem is a one-line :class:`UsageError`."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"refusing to load {path}: it holds Python objects that would run code when unpickled ({first})"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise UsageError(f"{path} is not a readable checkpoint ({str(exc).splitlines()[0]})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"{path} is not a hartrace checkpoint (a bare state dict? pass it as --weights instead)")
    return payload


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint describes, with its weights, in eval mode: ``(model, meta)``."""
    from hartrace.models import get_model

    payload = read_checkpoint(path)
    meta = payload["meta"]
    spec = meta["model"]
    model = get_model(spec["name"], spec["num_classes"], weights="none", freeze=spec.get("freeze"))
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), meta

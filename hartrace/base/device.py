"""Where training runs and in which precision: CUDA when present, bf16 autocast where it is fast."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from hartrace.base.errors import UsageError


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True on CPUs with AVX512-BF16 or AMX, where bf16 autocast is faster than fp32, not slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_device(local_rank: int | None = None) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank or 0)
    return torch.device("cpu")


def autocast_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """The autocast dtype for ``--amp`` on ``device``; None means full fp32."""
    if amp == "off":
        return None
    if device.type == "cuda":
        if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
            return torch.float16
        return torch.bfloat16
    if amp == "fp16":
        raise UsageError("--amp fp16 needs a CUDA GPU; on the CPU use --amp bf16 or --amp off")
    if amp == "bf16" or (amp == "auto" and cpu_has_native_bf16()):
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_memory_format(inputs: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Images ``[B, C, H, W]`` in channels_last and clips ``[B, C, T, H, W]`` in channels_last_3d, when asked.

    The layouts oneDNN (CPU) and cuDNN convolutions run fastest in; other ranks pass through.
    """
    if channels_last and inputs.dim() == 4:
        return inputs.contiguous(memory_format=torch.channels_last)
    if channels_last and inputs.dim() == 5:
        return inputs.contiguous(memory_format=torch.channels_last_3d)
    return inputs


def model_memory_format(model: torch.nn.Module) -> torch.memory_format | None:
    """The layout matching a model's convolutions: channels_last (2-D), channels_last_3d (3-D), None if it has none."""
    ranks = {m.weight.dim() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))}
    if ranks == {4}:
        return torch.channels_last
    if ranks == {5}:
        return torch.channels_last_3d
    return None

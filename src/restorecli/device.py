"""Device and precision selection.

``auto`` prefers CUDA, then Apple's MPS, then the CPU. Half precision is only offered where the
device runs it natively; on the CPU fp16 convolutions are slow or missing, so asking for them is
an error rather than a silent fallback.
"""

from __future__ import annotations

import torch

from restorecli.errors import DeviceError

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def select_device(name: str | torch.device | None = "auto") -> torch.device:
    """Resolve ``auto``/``cpu``/``cuda[:N]``/``mps`` to an available ``torch.device``."""
    if isinstance(name, torch.device):
        name = str(name)  # checked like a string: torch.device("cuda") exists without CUDA
    if name is None or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA device is available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"cuda:{device.index} requested but only {torch.cuda.device_count()} "
                "device(s) exist"
            )
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("MPS was requested but is not available on this machine")
    return device


def select_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Map ``fp32``/``fp16``/``bf16``/``auto`` to a dtype the device supports."""
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision {precision!r}: use fp32, fp16, bf16 or auto")
    dtype = PRECISIONS[precision]
    if dtype is torch.float32:
        return dtype
    if device.type == "cpu":
        raise DeviceError(f"{precision} is not supported on the CPU here: use --precision fp32")
    if device.type == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise DeviceError("this CUDA device has no bf16 support: use --precision fp16")
    if device.type == "mps" and dtype is torch.bfloat16:
        raise DeviceError("MPS runs fp16, not bf16: use --precision fp16")
    return dtype

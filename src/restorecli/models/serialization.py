"""Save and load models as safetensors, with the model's config in the file's metadata.

No pickles anywhere: a weights file is tensors plus a string-to-string metadata header, so it can
be inspected and loaded without executing code.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from restorecli.errors import WeightsError
from restorecli.models.autoencoder import AutoencoderConfig, VQAutoencoder
from restorecli.models.detector import DegradationDetector, DetectorConfig
from restorecli.models.fidelity import FidelityConfig, FidelityNet
from restorecli.models.unet import LatentUNet, UNetConfig
from restorecli.models.vector_regression import VectorRegression, VRConfig

FORMAT_VERSION = "1"
MODEL_CLASSES: dict[str, tuple[type[torch.nn.Module], type]] = {
    "autoencoder": (VQAutoencoder, AutoencoderConfig),
    "denoiser": (LatentUNet, UNetConfig),
    "fidelity": (FidelityNet, FidelityConfig),
    "requantizer": (VectorRegression, VRConfig),
    "detector": (DegradationDetector, DetectorConfig),
}
# Buffers only training needs; inference files leave them out.
TRAINING_ONLY = ("quantizer.ema_count", "quantizer.ema_sum", "quantizer.initialized")


def save_model(
    model: torch.nn.Module,
    path: str | os.PathLike[str],
    *,
    dtype: torch.dtype | None = None,
    metadata: dict[str, Any] | None = None,
    inference_only: bool = False,
) -> Path:
    """Write ``model`` to ``path`` atomically; ``dtype`` casts floating tensors (e.g. fp16)."""
    path = Path(path)
    state = {}
    for key, value in model.state_dict().items():
        if inference_only and key in TRAINING_ONLY:
            continue
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        state[key] = value.contiguous()
    meta = {
        "restorecli.format": FORMAT_VERSION,
        "restorecli.kind": model.kind,
        "restorecli.config": json.dumps(dataclasses.asdict(model.config)),
    }
    for key, value in (metadata or {}).items():
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(state, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata header of a weights file (raises WeightsError if it is not one of ours)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for bad headers
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    if "restorecli.kind" not in meta or meta["restorecli.kind"] not in MODEL_CLASSES:
        raise WeightsError(f"{path}: not a restorecli weights file (no restorecli.kind metadata)")
    return meta


def load_model(
    path: str | os.PathLike[str],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    kind: str | None = None,
) -> torch.nn.Module:
    """Build the model described by the file's metadata and load its tensors (eval mode)."""
    meta = read_metadata(path)
    if kind is not None and meta["restorecli.kind"] != kind:
        article = "an" if kind[0] in "aeiou" else "a"
        held = meta["restorecli.kind"]
        raise WeightsError(
            f"{path}: holds {'an' if held[0] in 'aeiou' else 'a'} {held}, expected {article} {kind}"
        )
    model_cls, config_cls = MODEL_CLASSES[meta["restorecli.kind"]]
    try:
        model = model_cls(config_cls(**json.loads(meta["restorecli.config"])))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        # Missing or foreign config, or values no model can be built from.
        raise WeightsError(f"{path}: config in metadata does not match this version") from exc
    state = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                tensor = f.get_tensor(key)
                state[key] = tensor.float() if tensor.is_floating_point() else tensor
    except Exception as exc:  # safetensors raises several types for damaged data
        raise WeightsError(
            f"{path}: its tensor data cannot be read ({exc}); the file is damaged"
        ) from exc
    for key, tensor in state.items():
        # Flipped bytes that still parse show up as NaN or infinity, later as odd errors.
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(
                f"{path}: tensor {key} holds NaN or infinite values; the file is damaged"
            )
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatch: the tensors disagree with the metadata config
        raise WeightsError(f"{path}: tensor shapes do not match the model config") from exc
    missing = [k for k in missing if k not in TRAINING_ONLY]
    if missing or unexpected:
        raise WeightsError(
            f"{path}: tensors do not match the model (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})"
        )
    if isinstance(model, VQAutoencoder):
        quantizer = model.quantizer
        if "quantizer.ema_sum" not in state or "quantizer.ema_count" not in state:
            # Inference-only file: rebuild EMA statistics that agree with the loaded codebook,
            # so fine-tuning does not pull the codes towards the random init's sums.
            quantizer.ema_count.fill_(1.0)
            quantizer.ema_sum.copy_(quantizer.codebook)
        quantizer.initialized.fill_(True)
    model = model.to(device=device, dtype=dtype).eval()
    if isinstance(model, VQAutoencoder):
        # Nearest-code search stays in fp32 even in half precision: codes sit close together.
        model.quantizer.float()
    return model

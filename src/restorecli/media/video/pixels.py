"""Integer RGB frames to the float batches ``process`` sees, and back."""

from __future__ import annotations

import numpy as np

from restorecli.media.video.options import ProcessFn


def rgb_format(high_bit: bool) -> str:
    """The packed RGB pixel format frames travel in between the stages (48 or 24 bits)."""
    return "rgb48le" if high_bit else "rgb24"


def to_float(frames: np.ndarray) -> np.ndarray:
    """uint8/uint16 frames as float32 in [0, 1]."""
    scale = 1.0 / (65535.0 if frames.dtype == np.uint16 else 255.0)
    return np.multiply(frames, np.float32(scale), dtype=np.float32)


def from_float(frames: np.ndarray, high_bit: bool) -> np.ndarray:
    """Float frames in [0, 1] rounded to uint16 (``high_bit``) or uint8; NaN and overflow clip."""
    peak, dtype = (np.float32(65535.0), np.uint16) if high_bit else (np.float32(255.0), np.uint8)
    out = np.multiply(frames, peak, dtype=np.float32)
    out += np.float32(0.5)
    # fmax/fmin also map NaN to the bound (np.nan_to_num is several times slower)
    np.fmax(out, np.float32(0.0), out=out)
    np.fmin(out, peak, out=out)
    return out.astype(dtype)


def apply_process(process: ProcessFn, frames: np.ndarray, high_bit: bool) -> np.ndarray:
    """Run ``process`` on one batch of integer RGB frames; return integer frames again."""
    result = process(to_float(frames))
    if np.shape(result) != frames.shape:
        raise ValueError(f"process() returned shape {np.shape(result)}, expected {frames.shape}")
    return from_float(result, high_bit)

"""JPEG compression artefacts (blocking, ringing, chroma bleeding)."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from restorecli.degrade.base import Degraded, Span


@dataclass(frozen=True)
class JpegConfig:
    """Parameter ranges for :func:`jpeg`."""

    # libjpeg quality, 1..100
    quality: Span = field(default_factory=lambda: Span(92.0, 8.0, jitter=0.1))
    subsample_444_prob: float = 0.2  # most cameras and encoders use 4:2:0 chroma


def jpeg_roundtrip(image: np.ndarray, quality: int, subsample_444: bool = False) -> np.ndarray:
    """Encode ``image`` (float in [0, 1], RGB) as JPEG and decode it back (float32)."""
    u8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(np.clip(quality, 1, 100))]
    params += [
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444
        if subsample_444
        else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ]
    # OpenCV encodes BGR: swap so chroma subsampling acts on the right channels.
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(u8[..., ::-1]), params)
    if not ok:  # pragma: no cover - OpenCV only fails here on invalid arguments
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return decoded[..., ::-1].astype(np.float32) / 255.0


def jpeg(
    image: np.ndarray,
    rng: np.random.Generator,
    severity: float,
    config: JpegConfig = JpegConfig(),
) -> Degraded:
    """Compress with a severity-driven quality; no aux maps."""
    quality = round(config.quality.sample(rng, severity))
    s444 = bool(rng.random() < config.subsample_444_prob)
    out = jpeg_roundtrip(image, quality, s444)
    return Degraded(out, params={"quality": quality, "subsampling": "444" if s444 else "420"})

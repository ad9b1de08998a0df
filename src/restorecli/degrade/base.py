"""Shared pieces of the degradation library: the result type, input checks, severity spans.

Every degradation is a pure function ``f(image, rng, severity, config) -> Degraded`` where
``image`` is a float32 HxWx3 array in [0, 1], ``rng`` a ``numpy.random.Generator`` (the only
source of randomness, so a seed fixes the output) and ``severity`` in [0, 1] (0 = lightest,
1 = heaviest end of the ranges in the config).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class Degraded:
    """A degraded image with its by-products.

    ``image``: float32 HxWx3 in [0, 1]. ``aux``: maps that explain the degradation (for example
    ``rain_layer``, ``transmission``, ``kernel``). ``params``: the sampled parameters, for logs.
    """

    image: np.ndarray
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """A parameter driven by severity: ``light`` at severity 0, ``heavy`` at severity 1.

    ``sample`` draws around the interpolated value: the severity is jittered by up to
    ``jitter`` before interpolating, so values stay within [light, heavy] and grow with
    severity on average. ``log`` interpolates geometrically (for scales such as density).
    """

    light: float
    heavy: float
    jitter: float = 0.15
    log: bool = False

    def at(self, severity: float) -> float:
        """The value at ``severity`` without jitter."""
        s = min(max(severity, 0.0), 1.0)
        if self.log:
            return math.exp((1 - s) * math.log(self.light) + s * math.log(self.heavy))
        return (1 - s) * self.light + s * self.heavy

    def sample(self, rng: np.random.Generator, severity: float) -> float:
        """A random value near ``at(severity)``."""
        if self.jitter <= 0:
            return self.at(severity)
        return self.at(severity + rng.uniform(-self.jitter, self.jitter))


def uniform(rng: np.random.Generator, interval: tuple[float, float]) -> float:
    """One uniform draw from a closed ``(low, high)`` interval."""
    return float(rng.uniform(interval[0], interval[1]))


def pick_kind(
    what: str,
    kind: str | None,
    kinds: tuple[str, ...],
    weights: tuple[float, ...],
    rng: np.random.Generator,
) -> str:
    """The configured ``kind`` (checked), or one drawn from ``kinds`` with ``weights``."""
    if kind is not None:
        if kind not in kinds:
            raise ValueError(f"unknown {what} kind {kind!r}; expected one of {kinds}")
        return kind
    p = np.asarray(weights, np.float64)
    return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]


def as_image(image: np.ndarray) -> np.ndarray:
    """Check an HxWx3 image and return it as contiguous float32 (uint8 is scaled to [0, 1])."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"empty image of shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"expected a float32 image in [0, 1] (or uint8), got {image.dtype}")
    return np.ascontiguousarray(image, dtype=np.float32)


def check_severity(severity: float) -> float:
    """Return ``severity`` as float, refusing values outside [0, 1]."""
    s = float(severity)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"severity must be in [0, 1], got {severity}")
    return s


def finish(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] as float32: the common last step of every degradation."""
    return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an HxWx3 image (HxW float32)."""
    return (image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """Approximate sRGB decoding (gamma 2.2): cheap and accurate enough for blending."""
    # cv2.pow is several times faster than np.power on float32.
    return cv2.pow(np.clip(image, 0.0, 1.0).astype(np.float32, copy=False), 2.2)


def linear_to_srgb(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_to_linear`."""
    return cv2.pow(np.clip(image, 0.0, 1.0).astype(np.float32, copy=False), 1 / 2.2)

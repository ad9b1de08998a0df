"""Sensor noise: additive Gaussian, Poisson-Gaussian, and a small camera pipeline.

The camera model runs the image backwards to a raw Bayer mosaic (gamma decoding, inverse
white balance), adds signal-dependent shot noise and read noise there, demosaics with OpenCV,
and goes forwards again (white balance, gamma, JPEG). Demosaicing and JPEG make the noise
spatially correlated and chroma-blotchy, as in real photos (PolyU, SIDD), which plain i.i.d.
Gaussian noise is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from restorecli.degrade.base import (
    Degraded,
    Span,
    finish,
    linear_to_srgb,
    pick_kind,
    srgb_to_linear,
    uniform,
)
from restorecli.degrade.jpeg import jpeg_roundtrip

KINDS = ("gaussian", "poisson_gaussian", "camera")


@dataclass(frozen=True)
class NoiseConfig:
    """Parameter ranges for :func:`noise` (noise levels on the [0, 1] scale)."""

    kind_weights: tuple[float, float, float] = (0.4, 0.2, 0.4)  # same order as KINDS
    kind: str | None = None  # force one kind
    # Gaussian std (FFDNet tests 15, 25, 50)
    sigma: Span = field(default_factory=lambda: Span(2.0 / 255, 55.0 / 255))
    grey_prob: float = 0.15  # Gaussian noise shared by the three channels
    # Poisson peak: photons at white
    photons: Span = field(default_factory=lambda: Span(600.0, 6.0, log=True))
    # read noise std (Poisson-Gaussian and camera)
    read: Span = field(default_factory=lambda: Span(0.002, 0.04, log=True))
    # camera: shot variance per unit raw signal
    shot: Span = field(default_factory=lambda: Span(0.0004, 0.05, log=True))
    wb_red: tuple[float, float] = (1.6, 2.4)  # camera white-balance gains
    wb_blue: tuple[float, float] = (1.3, 2.0)
    camera_jpeg: tuple[int, int] = (70, 97)  # quality of the camera's JPEG


def gaussian_noise(
    image: np.ndarray, rng: np.random.Generator, sigma: float, grey: bool = False
) -> np.ndarray:
    """Add i.i.d. Gaussian noise of std ``sigma`` (not clipped)."""
    shape = (*image.shape[:2], 1) if grey else image.shape
    return image + rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)


def poisson_gaussian_noise(
    image: np.ndarray, rng: np.random.Generator, photons: float, read: float
) -> np.ndarray:
    """Shot noise with ``photons`` at white plus Gaussian read noise (not clipped)."""
    lam = np.clip(image, 0.0, 1.0) * np.float32(photons)
    z = rng.standard_normal((2, *image.shape), dtype=np.float32)
    # Poisson(lam) is Gaussian to within sampling error for lam >= 30, and drawing true
    # Poisson variates is ~10x slower: draw them only where the count is low.
    counts = lam + np.sqrt(lam) * z[0]
    low = lam < 30.0
    if low.any():
        counts[low] = rng.poisson(lam[low])
    return counts / np.float32(photons) + z[1] * np.float32(read)


def camera_noise(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    shot: float,
    read: float,
    wb: tuple[float, float],
    quality: int,
) -> np.ndarray:
    """Noise added on a synthetic raw mosaic, then demosaic, white balance, gamma, JPEG."""
    h, w = image.shape[:2]
    lin = srgb_to_linear(image)
    gains = np.array([wb[0], 1.0, wb[1]], np.float32)
    raw_rgb = lin / gains
    # Random CFA phase: pad by 0/1 pixel before an RGGB mosaic, crop after demosaicing.
    dy, dx = int(rng.integers(0, 2)), int(rng.integers(0, 2))
    padded = cv2.copyMakeBorder(raw_rgb, dy, 2 - dy, dx, 2 - dx, cv2.BORDER_REFLECT_101)
    mosaic = np.empty(padded.shape[:2], np.float32)
    mosaic[0::2, 0::2] = padded[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = padded[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = padded[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = padded[1::2, 1::2, 2]
    # Shot noise variance grows with the signal; read noise is constant.
    std = np.sqrt(np.float32(shot) * np.clip(mosaic, 0.0, None) + np.float32(read * read))
    mosaic = mosaic + rng.standard_normal(mosaic.shape, dtype=np.float32) * std
    raw16 = np.clip(mosaic * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    # OpenCV names Bayer patterns from the second row/column: RGGB data is "BayerBG".
    rgb = cv2.cvtColor(raw16, cv2.COLOR_BayerBG2RGB).astype(np.float32) / 65535.0
    rgb = rgb[dy : dy + h, dx : dx + w] * gains
    return jpeg_roundtrip(linear_to_srgb(rgb), quality)


def noise(
    image: np.ndarray,
    rng: np.random.Generator,
    severity: float,
    config: NoiseConfig = NoiseConfig(),
) -> Degraded:
    """Add noise of a random (or configured) kind; no aux maps."""
    kind = pick_kind("noise", config.kind, KINDS, config.kind_weights, rng)
    params: dict[str, float | int | str] = {"kind": kind}
    if kind == "gaussian":
        sigma = config.sigma.sample(rng, severity)
        out = gaussian_noise(image, rng, sigma, grey=bool(rng.random() < config.grey_prob))
        params["sigma"] = sigma
    elif kind == "poisson_gaussian":
        photons = config.photons.sample(rng, severity)
        read = config.read.sample(rng, severity)
        out = poisson_gaussian_noise(image, rng, photons, read)
        params.update(photons=photons, read=read)
    else:
        shot = config.shot.sample(rng, severity)
        read = config.read.sample(rng, severity)
        quality = int(rng.integers(config.camera_jpeg[0], config.camera_jpeg[1] + 1))
        wb = (uniform(rng, config.wb_red), uniform(rng, config.wb_blue))
        out = camera_noise(image, rng, shot=shot, read=read, wb=wb, quality=quality)
        params.update(shot=shot, read=read, quality=quality)
    return Degraded(finish(out), params=params)

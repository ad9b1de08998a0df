"""Falling snow: flakes at several sizes and blurs, optional motion and a whitish veil.

Each layer scatters seed points on a canvas at 1/scale resolution (so big flakes stay cheap),
convolves them with a small flake kernel (disk * Gaussian, optionally smeared along the wind
direction) normalised so a lone flake reaches its opacity, and upsamples. Layers are
alpha-composited in white-ish over the image: fine sharp specks, medium flakes, and a few large
out-of-focus flakes close to the lens, as in the CSD / Snow100K test images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from restorecli.degrade.base import Degraded, Span, finish, uniform
from restorecli.degrade.fields import odd
from restorecli.degrade.haze import airlight_colour, scatter


@dataclass(frozen=True)
class FlakeLayer:
    """One class of flakes (sizes in image pixels)."""

    radius: tuple[float, float]  # flake radius before blur
    blur: tuple[float, float]  # Gaussian sigma (defocus)
    opacity: tuple[float, float]  # peak alpha of a lone flake
    share: float  # fraction of the flake count in this layer


@dataclass(frozen=True)
class SnowConfig:
    """Parameter ranges for :func:`snow`."""

    # flakes per pixel, all layers together
    density: Span = field(default_factory=lambda: Span(0.001, 0.015, log=True))
    layers: tuple[FlakeLayer, ...] = (
        FlakeLayer(radius=(0.7, 1.5), blur=(0.3, 0.7), opacity=(0.6, 1.0), share=0.64),
        FlakeLayer(radius=(1.5, 2.8), blur=(0.6, 1.4), opacity=(0.45, 0.9), share=0.3),
        FlakeLayer(radius=(3.0, 7.0), blur=(1.5, 4.0), opacity=(0.2, 0.6), share=0.06),
    )
    # all flake sizes grow a little with severity
    size_scale: Span = field(default_factory=lambda: Span(0.85, 1.3))
    motion_prob: float = 0.5  # chance of wind/exposure smear
    # smear length of the medium layer
    motion_px: Span = field(default_factory=lambda: Span(1.0, 8.0, jitter=0.5))
    angle_deg: tuple[float, float] = (-45.0, 45.0)  # smear direction from vertical
    colour: tuple[float, float] = (0.85, 1.0)
    veil_prob: Span = field(default_factory=lambda: Span(0.2, 0.8, jitter=0.0))
    veil: Span = field(default_factory=lambda: Span(0.03, 0.35))  # 1 - transmission of the veil


def flake_kernel(radius: float, sigma: float, smear: float, angle_deg: float) -> np.ndarray:
    """Kernel of one flake with peak 1 (before smear), in canvas pixels."""
    r = max(radius, 0.3)
    half = math.ceil(r + 3 * sigma + smear / 2) + 1
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    k = np.clip(r + 0.5 - np.sqrt(x * x + y * y), 0.0, 1.0)
    if sigma > 0.25:
        k = cv2.GaussianBlur(k, (0, 0), sigma)
    k /= max(float(k.max()), 1e-6)
    if smear >= 1.0:
        # A smeared flake is fainter, but less than energy conservation would say (the eye
        # and the benchmarks show smeared flakes as clearly visible streaks).
        n = odd(smear)
        line = np.zeros((n, n), np.float32)
        line[n // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D((n // 2, n // 2), 90.0 + angle_deg, 1.0)
        line = cv2.warpAffine(line, rot, (n, n), flags=cv2.INTER_LINEAR)
        line /= max(float(line.sum()), 1e-6)
        k = cv2.filter2D(k, -1, line, borderType=cv2.BORDER_CONSTANT)
        peak = 1.0 / math.sqrt(max(1.0, smear / (2.0 * r + 1.0)))
        k *= peak / max(float(k.max()), 1e-6)
    return k


def flake_layer(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    density: float,
    radius: float,
    sigma: float,
    opacity: tuple[float, float],
    smear: float,
    angle_deg: float,
) -> np.ndarray:
    """Alpha map (HxW float32 in [0, 1]) of one layer of flakes."""
    h, w = shape
    # Keep the flake about 2 px in radius on the canvas so the kernel stays small.
    scale = max(1.0, (radius + 2 * sigma) / 2.0)
    ch, cw = math.ceil(h / scale), math.ceil(w / scale)
    canvas = np.zeros((ch, cw), np.float32)
    n = int(rng.poisson(density * h * w))
    if n > 0:
        canvas[rng.integers(0, ch, n), rng.integers(0, cw, n)] = rng.uniform(
            opacity[0], opacity[1], n
        ).astype(np.float32)
    k = flake_kernel(radius / scale, sigma / scale, smear / scale, angle_deg)
    alpha = cv2.filter2D(canvas, -1, k, borderType=cv2.BORDER_CONSTANT)
    if scale > 1.0:
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(alpha, 0.0, 1.0)


def snow(
    image: np.ndarray,
    rng: np.random.Generator,
    severity: float,
    config: SnowConfig = SnowConfig(),
) -> Degraded:
    """Add snow; aux: ``snow_mask`` (HxW alpha of the flakes), ``transmission`` of the veil."""
    h, w = image.shape[:2]
    density = config.density.sample(rng, severity)
    size = config.size_scale.sample(rng, severity)
    moving = rng.random() < config.motion_prob
    smear = config.motion_px.sample(rng, severity) if moving else 0.0
    angle = uniform(rng, config.angle_deg)
    base = image
    t = np.ones((h, w), np.float32)
    params: dict[str, float | int | str] = {"density": density, "smear": smear}
    if rng.random() < config.veil_prob.at(severity):
        strength = config.veil.sample(rng, severity)
        # Thicker towards the top (farther), like falling snow seen over a distance.
        ramp = np.linspace(1.0, 0.5, h, dtype=np.float32)[:, None]
        t = np.broadcast_to(1.0 - strength * ramp, (h, w)).astype(np.float32)
        base = scatter(image, t, airlight_colour(rng, uniform(rng, (0.8, 0.97)), 0.02))
        params["veil"] = strength
    keep = np.ones((h, w), np.float32)  # product of (1 - alpha) over layers
    for i, layer in enumerate(config.layers):
        a = flake_layer(
            rng,
            (h, w),
            density=density * layer.share,
            radius=uniform(rng, layer.radius) * size,
            sigma=uniform(rng, layer.blur) * size,
            opacity=layer.opacity,
            # The smear grows with flake size (nearer flakes move faster across the image).
            smear=smear * (0.5 + 0.5 * i),
            angle_deg=angle + rng.normal(0.0, 5.0),
        )
        keep *= 1.0 - a
    alpha = 1.0 - keep
    colour = np.float32(uniform(rng, config.colour))
    out = base * keep[..., None] + colour * alpha[..., None]
    return Degraded(finish(out), aux={"snow_mask": alpha, "transmission": t}, params=params)

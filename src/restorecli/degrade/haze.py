"""Haze by the atmospheric scattering model over a smooth synthetic depth.

I = J t + A (1 - t), t = exp(-beta d). No depth sensor here, so d is made up from cues that
hold for most photos: farther towards the top, low-frequency variation, bright flat regions
(sky) far away. ``beta`` is applied to depth normalised to [d_near, 1], so ``exp(-beta)`` is
the transmission of the farthest point.

Real hazy photos clip: the sunlit veil is often brighter than the camera's white point (a
white sky, a glow round a hidden sun). So the airlight may exceed 1 and is brightest round an
optional glow, and the result is clipped like any exposure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from restorecli.degrade.base import Degraded, Span, finish, luminance, uniform
from restorecli.degrade.fields import smooth_noise


@dataclass(frozen=True)
class DepthConfig:
    """How the synthetic depth map is composed (weights are drawn per image)."""

    vertical_weight: tuple[float, float] = (0.15, 1.0)  # 0 = no top-far gradient (indoor-like)
    tilt: tuple[float, float] = (-0.3, 0.3)  # slope of the horizon across the width
    noise_weight: tuple[float, float] = (0.05, 0.35)
    noise_scale: tuple[float, float] = (0.25, 0.8)  # coarsest noise cell, fraction of size
    luminance_weight: tuple[float, float] = (0.0, 0.4)  # bright (sky-like) regions are far
    near: tuple[float, float] = (0.0, 0.4)  # depth of the nearest point after normalising


@dataclass(frozen=True)
class GlowConfig:
    """A brighter patch of veil round a hidden sun (forward scattering peaks towards it)."""

    probability: float = 0.35
    gain: tuple[float, float] = (0.1, 0.5)  # airlight x (1 + gain) at the centre
    radius: tuple[float, float] = (0.15, 0.6)  # Gaussian sigma, fraction of the longer side
    centre_y: tuple[float, float] = (-0.3, 0.45)  # fraction of the height; < 0 is above the frame


@dataclass(frozen=True)
class HazeConfig:
    """Parameter ranges for :func:`haze`."""

    # exp(-beta) = transmission at the farthest point
    beta: Span = field(default_factory=lambda: Span(0.35, 3.2, log=True))
    # The veil's brightness depends on the light and the camera's exposure, not on how dense
    # the haze is: real smog is often exposed as a mid-grey veil (0.7-0.8), a sunlit mist as
    # white. Levels above 1 are a veil brighter than the white point, so far parts clip.
    airlight: tuple[float, float] = (0.66, 1.0)
    airlight_ceiling: float = 1.05
    cast: tuple[float, float] = (0.0, 0.07)  # strength of the colour cast of the airlight
    glow: GlowConfig = GlowConfig()
    depth: DepthConfig = DepthConfig()


def _coarse_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Wide Gaussian blur computed at low resolution (the result is smooth anyway)."""
    h, w = x.shape[:2]
    f = max(1, int(sigma // 4))
    if f == 1:
        return cv2.GaussianBlur(x, (0, 0), sigma)
    small = cv2.resize(x, (max(w // f, 1), max(h // f, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def synthetic_depth(
    image: np.ndarray, rng: np.random.Generator, config: DepthConfig = DepthConfig()
) -> np.ndarray:
    """A smooth depth map in [0, 1] (HxW float32, 1 = farthest)."""
    h, w = image.shape[:2]
    yy = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None]  # top = far
    xx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    vertical = np.clip(yy + uniform(rng, config.tilt) * xx, 0.0, 1.0)
    d = uniform(rng, config.vertical_weight) * vertical
    d = d + uniform(rng, config.noise_weight) * smooth_noise(
        rng, (h, w), uniform(rng, config.noise_scale) * max(h, w)
    )
    lw = uniform(rng, config.luminance_weight)
    if lw > 0:
        d = d + lw * _coarse_blur(luminance(image), 0.04 * max(h, w) + 1.0)
    d = np.broadcast_to(d, (h, w)).astype(np.float32)
    lo, hi = float(d.min()), float(d.max())
    d = (d - lo) / (hi - lo) if hi - lo > 1e-6 else np.full((h, w), 0.5, np.float32)
    near = uniform(rng, config.near)
    return (near + (1.0 - near) * d).astype(np.float32)


def airlight_colour(
    rng: np.random.Generator, level: float, cast: float, ceiling: float = 1.0
) -> np.ndarray:
    """Airlight RGB around ``level`` with a random warm/cool/neutral cast of size ``cast``."""
    # Hazy photos are mostly grey-white, sometimes yellow-brown (smog, dust) or blue-grey.
    direction = rng.choice(
        np.array([[1.0, 0.6, -0.6], [-0.5, 0.0, 0.8], [0.0, 0.0, 0.0]]), p=[0.45, 0.3, 0.25]
    )
    a = level + cast * direction + rng.normal(0.0, 0.01, 3)
    return np.clip(a, 0.3, ceiling).astype(np.float32)


def glow_gain(
    shape: tuple[int, int], rng: np.random.Generator, config: GlowConfig = GlowConfig()
) -> np.ndarray | None:
    """HxW factor (>= 1) that brightens the airlight round a hidden sun, or None (no glow)."""
    if rng.uniform() >= config.probability:
        return None
    h, w = shape
    side = max(h, w)
    cx, cy = rng.uniform(0.0, 1.0) * w, uniform(rng, config.centre_y) * h
    sigma = uniform(rng, config.radius) * side
    gain = uniform(rng, config.gain)
    yy = (np.arange(h, dtype=np.float32)[:, None] - cy) / sigma
    xx = (np.arange(w, dtype=np.float32)[None, :] - cx) / sigma
    return (1.0 + gain * np.exp(-0.5 * (xx * xx + yy * yy))).astype(np.float32)


def scatter(image: np.ndarray, transmission: np.ndarray, airlight: np.ndarray) -> np.ndarray:
    """Apply I = J t + A (1 - t) (float32, not clipped); ``airlight`` is (3,), 1x1x3 or HxWx3."""
    out = (airlight if airlight.ndim == 3 else airlight.reshape(1, 1, 3)) - image
    out *= (1.0 - transmission)[..., None]
    out += image
    return out


def haze(
    image: np.ndarray,
    rng: np.random.Generator,
    severity: float,
    config: HazeConfig = HazeConfig(),
) -> Degraded:
    """Add haze.

    Aux maps: ``transmission`` and ``depth`` (HxW), ``airlight`` (the veil's colour, (3,)) and
    ``airlight_map`` (HxWx3: that colour times the glow, the airlight each pixel really got).
    """
    depth = synthetic_depth(image, rng, config.depth)
    beta = config.beta.sample(rng, severity)
    level = uniform(rng, config.airlight)
    a = airlight_colour(rng, level, uniform(rng, config.cast), config.airlight_ceiling)
    glow = glow_gain(image.shape[:2], rng, config.glow)
    # Without a glow the airlight stays one colour: scatter broadcasts it, no HxWx3 copy.
    a_map = a.reshape(1, 1, 3) if glow is None else a.reshape(1, 1, 3) * glow[..., None]
    t = np.exp(-beta * depth).astype(np.float32)
    out = finish(scatter(image, t, a_map))
    a_map = np.broadcast_to(a_map, image.shape)  # the aux map: a read-only view
    return Degraded(
        out,
        aux={"transmission": t, "depth": depth, "airlight": a, "airlight_map": a_map},
        params={
            "beta": beta,
            "airlight": float(a.mean()),
            "glow": 0.0 if glow is None else float(glow.max() - 1.0),
        },
    )

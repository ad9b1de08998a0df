"""Rain streaks in several layers, optionally over a haze veil ("rain with a haze veil").

Each layer is drawn in its own rotated, downscaled frame where streaks are vertical: random
seed points are stretched into tapered lines by two box filters (O(1) per pixel whatever the
length), softened across by a small Gaussian, then one affine warp rotates and upsamples the
layer to the image. Coarser layers give wider, longer, blurrier streaks (closer to the camera).
Layers are screen/additively composited over the (possibly veiled) image, as in the Rain100
family of benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from restorecli.degrade.base import Degraded, Span, finish, uniform
from restorecli.degrade.fields import odd, smooth_noise
from restorecli.degrade.haze import airlight_colour, scatter


@dataclass(frozen=True)
class RainConfig:
    """Parameter ranges for :func:`rain` (lengths and widths in pixels of the image)."""

    # number of layers (rounded down)
    layers: Span = field(default_factory=lambda: Span(1.0, 4.4, jitter=0.3))
    # streak area / image area, summed over layers
    coverage: Span = field(default_factory=lambda: Span(0.05, 0.75, log=True))
    # streak length of the finest layer
    length: Span = field(default_factory=lambda: Span(10.0, 55.0, jitter=0.3))
    scale: tuple[float, float] = (1.0, 1.6)  # downscale of the coarsest layer (width, blur)
    # peak intensity of a streak
    brightness: Span = field(default_factory=lambda: Span(0.28, 0.65, jitter=0.25))
    angle_deg: tuple[float, float] = (-25.0, 25.0)  # from vertical, shared by the layers
    angle_spread_deg: float = 6.0  # per-layer deviation from the shared angle
    cross_prob: float = 0.25  # chance that a layer takes its own, independent angle
    softness: tuple[float, float] = (0.35, 0.7)  # Gaussian sigma across streaks (layer px)
    additive: tuple[float, float] = (0.0, 1.0)  # 0 = screen blend, 1 = add and clip
    veil_prob: Span = field(default_factory=lambda: Span(0.1, 0.9, jitter=0.0))
    # 1 - mean transmission of the veil
    veil: Span = field(default_factory=lambda: Span(0.03, 0.16))
    veil_level: tuple[float, float] = (0.75, 1.0)  # brightness of the veil's airlight


def streak_layer(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    density: float,
    length: float,
    angle_deg: float,
    scale: float,
    brightness: float,
    softness: float,
) -> np.ndarray:
    """One layer of parallel streaks (HxW float32, 0 = no rain).

    ``density``: streaks per image pixel; ``length`` in image pixels; ``angle_deg`` from
    vertical; ``scale`` >= 1 draws the layer at 1/scale resolution (wider, blurrier streaks).
    """
    h, w = shape
    theta = math.radians(angle_deg)
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    seg = max(length / scale, 1.0)
    # Canvas in the streak frame, big enough to cover the rotated image, plus one streak
    # length top and bottom so streaks enter from outside.
    cw = math.ceil((w * c + h * s) / scale) + 4
    ch = math.ceil((h * c + w * s) / scale + 2 * seg) + 4
    canvas = np.zeros((ch, cw), np.float32)
    n = int(rng.poisson(density * ch * cw * scale * scale))
    if n > 0:
        ys = rng.integers(0, ch, n)
        xs = rng.integers(0, cw, n)
        canvas[ys, xs] = rng.uniform(0.25, 1.0, n).astype(np.float32)
    # Box(a) then box(b) turns a point into a trapezoid a+b-1 long, plateau = value / a.
    a = max(round(seg * 0.8), 1)
    b = max(round(seg * 0.35), 1)
    canvas = cv2.blur(canvas, (1, a), borderType=cv2.BORDER_CONSTANT)
    if b > 1:
        canvas = cv2.blur(canvas, (1, b), borderType=cv2.BORDER_CONSTANT)
    # Across the streak: Gaussian, scaled so a lone streak keeps its peak.
    sigma = max(softness, 0.3)
    canvas = cv2.GaussianBlur(canvas, (odd(6 * sigma), 1), sigma, sigmaY=0.01)
    gain = a * math.sqrt(2 * math.pi) * sigma if sigma > 0.5 else a
    canvas *= gain * brightness
    # Inverse map: image pixel -> canvas pixel (rotate about the centres, then downscale).
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    m = np.array([[cos_t, sin_t, 0.0], [-sin_t, cos_t, 0.0]], dtype=np.float64) / scale
    m[:, 2] = np.array([cw / 2, ch / 2]) - m[:, :2] @ np.array([w / 2, h / 2])
    return cv2.warpAffine(
        canvas,
        m,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )


def rain_layer(
    rng: np.random.Generator, shape: tuple[int, int], severity: float, config: RainConfig
) -> tuple[np.ndarray, dict[str, float]]:
    """All streak layers summed (HxW float32, may exceed 1) and the sampled parameters."""
    n_layers = max(1, int(config.layers.sample(rng, severity)))
    coverage = config.coverage.sample(rng, severity)
    length = config.length.sample(rng, severity)
    brightness = config.brightness.sample(rng, severity)
    base_angle = uniform(rng, config.angle_deg)
    max_scale = uniform(rng, config.scale)
    total = np.zeros(shape, np.float32)
    # Fine layers get most of the streaks; coarse ones are fewer, longer, wider, brighter.
    shares = rng.dirichlet(np.full(n_layers, 2.0)) if n_layers > 1 else np.ones(1)
    for i in range(n_layers):
        frac = i / (n_layers - 1) if n_layers > 1 else 0.0
        scale = 1.0 + frac * (max_scale - 1.0)
        if rng.random() < config.cross_prob and i > 0:
            angle = uniform(rng, config.angle_deg)
        else:
            angle = base_angle + rng.normal(0.0, config.angle_spread_deg)
        layer_length = length * (1.0 + 0.6 * frac) * rng.uniform(0.6, 1.4)
        softness = uniform(rng, config.softness)
        width = scale * max(1.0, 2.0 * softness)
        total += streak_layer(
            rng,
            shape,
            density=coverage * shares[i] / (layer_length * width),
            length=layer_length,
            angle_deg=angle,
            scale=scale,
            brightness=brightness * (0.8 + 0.3 * frac) * rng.uniform(0.85, 1.1),
            softness=softness,
        )
    params = {
        "layers": n_layers,
        "coverage": coverage,
        "length": length,
        "brightness": brightness,
        "angle_deg": base_angle,
    }
    return total, params


def rain(
    image: np.ndarray,
    rng: np.random.Generator,
    severity: float,
    config: RainConfig = RainConfig(),
) -> Degraded:
    """Add rain streaks (and maybe a veil); aux: ``rain_layer`` (HxW), ``transmission``."""
    h, w = image.shape[:2]
    streaks, params = rain_layer(rng, (h, w), severity, config)
    streaks = np.clip(streaks, 0.0, 1.0)
    base = image
    t = np.ones((h, w), np.float32)
    if rng.random() < config.veil_prob.at(severity):
        # Rain accumulated along the line of sight: a nearly uniform, bright veil.
        strength = config.veil.sample(rng, severity)
        wobble = smooth_noise(rng, (h, w), 0.6 * max(h, w), octaves=2) - 0.5
        t = np.clip(1.0 - strength * (1.0 + 0.5 * wobble), 0.0, 1.0).astype(np.float32)
        a = airlight_colour(rng, uniform(rng, config.veil_level), 0.02)
        base = scatter(image, t, a)
        params["veil"] = strength
    # Blend between screen (J + R (1 - J)) and additive (J + R) per image:
    # J + R (1 - (1 - k) J) = J (1 - (1 - k) R) + R, two full-size passes.
    k = uniform(rng, config.additive)
    out = base * (1.0 - (1.0 - k) * streaks)[..., None]
    out += streaks[..., None]
    params["additive"] = k
    return Degraded(finish(out), aux={"rain_layer": streaks, "transmission": t}, params=params)

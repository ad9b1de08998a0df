"""Raindrops on a window or lens in front of the camera.

A drop is a small convex lens out of the focal plane: inside it one sees a blurred, inverted
and minified view of the scene around it (mostly what lies above, often brighter), with a dark
rim where light is refracted away and sometimes a specular highlight; its edge is soft because
it is out of focus. Drops are outlined as polygons into a label map, their spherical-cap height is
computed for all covered pixels at once, and one ``cv2.remap`` fetches the refracted view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from restorecli.degrade.base import Degraded, Span, finish, uniform


@dataclass(frozen=True)
class RaindropConfig:
    """Parameter ranges for :func:`raindrop` (sizes in image pixels)."""

    # drops per 512x512 pixels
    count: Span = field(default_factory=lambda: Span(25.0, 420.0, log=True))
    radius: tuple[float, float] = (2.0, 17.0)  # drop radius range (log-uniform-ish)
    radius_power: float = 1.6  # > 1 favours small drops, as on real windows
    size_scale: Span = field(default_factory=lambda: Span(0.8, 1.25))
    aspect: tuple[float, float] = (0.7, 1.3)  # ellipse axis ratio
    wobble: tuple[float, float] = (0.0, 0.25)  # irregular outline amplitude
    magnify: tuple[float, float] = (2.0, 7.0)  # field of view inside a drop, in radii
    lift: tuple[float, float] = (0.5, 4.0)  # view shifted upwards, in radii
    # Gaussian sigma of the refracted view
    inner_blur: Span = field(default_factory=lambda: Span(1.0, 3.5))
    brighten: tuple[float, float] = (0.03, 0.25)
    rim: tuple[float, float] = (0.1, 0.45)  # darkening at the edge, strongest on top
    highlight: tuple[float, float] = (0.0, 0.5)
    edge_blur: Span = field(default_factory=lambda: Span(0.8, 2.2))  # defocus of the drop outline
    mist: Span = field(default_factory=lambda: Span(0.0, 0.15))  # haze-like scatter of a wet window


@dataclass(frozen=True)
class _Drops:
    """Drop pixels (row, column), their drop's centre and radius, and the cap height there."""

    ys: np.ndarray
    xs: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    radius: np.ndarray
    height: np.ndarray  # 1 at a drop's apex, 0 at its outline


_VERTICES = 24  # polygon vertices per drop outline


def _cos_sin(angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.cos(angle), np.sin(angle)


def _drops(
    rng: np.random.Generator, shape: tuple[int, int], n: int, config: RaindropConfig, size: float
) -> _Drops:
    """Place ``n`` drops and measure them at every pixel they cover.

    Outlines are filled as polygons into a label map (C++ per drop, painter's order); the
    spherical-cap height is then computed for all covered pixels at once.
    """
    h, w = shape
    r_lo, r_hi = config.radius
    # Power-law radii: many small drops, few large ones.
    radii = size * (r_lo + (r_hi - r_lo) * rng.random(n) ** config.radius_power)
    cxs = rng.uniform(-0.5 * r_hi, w + 0.5 * r_hi, n)
    cys = rng.uniform(-0.5 * r_hi, h + 0.5 * r_hi, n)
    aspects = rng.uniform(*config.aspect, n)
    angles = rng.uniform(0.0, math.pi, n)
    wobbles = rng.uniform(*config.wobble, n)
    phases = rng.uniform(0.0, 2 * math.pi, (n, 2))
    rx, ry = radii * np.sqrt(aspects), radii / np.sqrt(aspects)
    ca, sa = np.cos(angles), np.sin(angles)

    # Irregular outline: in the drop's own frame the radius at polar angle phi is
    # 1 + wob/2 (sin(2 phi + p0) + sin(3 phi + p1)).
    phi = np.linspace(0.0, 2 * math.pi, _VERTICES, endpoint=False)
    bound = 1.0 + 0.5 * wobbles[:, None] * (
        np.sin(2 * phi + phases[:, :1]) + np.sin(3 * phi + phases[:, 1:])
    )
    u, v = np.cos(phi) * bound * rx[:, None], np.sin(phi) * bound * ry[:, None]
    px = cxs[:, None] + u * ca[:, None] - v * sa[:, None]
    py = cys[:, None] + u * sa[:, None] + v * ca[:, None]
    shift = 4  # sub-pixel vertex precision for fillPoly
    pts = np.round(np.stack([px, py], -1) * (1 << shift)).astype(np.int32)
    label = np.full((h, w), -1, np.int32)
    for i in range(n):
        cv2.fillPoly(label, [pts[i]], int(i), lineType=cv2.LINE_8, shift=shift)

    ys, xs = np.nonzero(label >= 0)
    i = label[ys, xs]
    # Per-drop values gathered per pixel, in float32 (the pixel arrays are the big ones).
    p0, p1 = phases[:, 0], phases[:, 1]
    per_drop = np.stack(
        [cxs, cys, ca, sa, 1 / rx, 1 / ry, radii, 0.5 * wobbles, *_cos_sin(p0), *_cos_sin(p1)],
        1,
    ).astype(np.float32)[i]
    cx, cy, c, s, irx, iry, rad, half_wob, cp0, sp0, cp1, sp1 = per_drop.T
    dx, dy = xs.astype(np.float32) - cx, ys.astype(np.float32) - cy
    uu = (dx * c + dy * s) * irx
    vv = (dy * c - dx * s) * iry
    rho2 = uu * uu + vv * vv
    # The same outline at each pixel's polar angle, written without trig calls.
    inv = 1.0 / np.maximum(rho2, np.float32(1e-6))
    c1, s1 = uu * np.sqrt(inv), vv * np.sqrt(inv)
    s2, c2 = 2.0 * uu * vv * inv, (uu * uu - vv * vv) * inv
    s3, c3 = s1 * (3.0 - 4.0 * s1 * s1), c1 * (4.0 * c1 * c1 - 3.0)
    b = 1.0 + half_wob * (s2 * cp0 + c2 * sp0 + s3 * cp1 + c3 * sp1)
    height = np.sqrt(np.clip(1.0 - rho2 / (b * b), 0.0, 1.0))
    return _Drops(ys, xs, cx, cy, rad, height)


def _remap_points(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at points (x, y): an (N, 3) array."""
    # cv2.remap wants 2-D maps under 32767 on a side: fold the N points into rows.
    n = x.shape[0]
    cols = 1024
    rows = -(-n // cols)
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n], my[:n] = x, y
    out = cv2.remap(
        image,
        mx.reshape(rows, cols),
        my.reshape(rows, cols),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    return out.reshape(rows * cols, 3)[:n]


def raindrop(
    image: np.ndarray,
    rng: np.random.Generator,
    severity: float,
    config: RaindropConfig = RaindropConfig(),
) -> Degraded:
    """Add raindrops; aux: ``drop_mask`` (HxW soft alpha of the drops)."""
    h, w = image.shape[:2]
    size = config.size_scale.sample(rng, severity)
    n = int(rng.poisson(config.count.sample(rng, severity) * h * w / (512.0 * 512.0)))
    drops = _drops(rng, (h, w), n, config, size)
    ys, xs = drops.ys, drops.xs
    mag = uniform(rng, config.magnify)
    lift = uniform(rng, config.lift)
    sigma = config.inner_blur.sample(rng, severity)
    rim = uniform(rng, config.rim)
    brighten = uniform(rng, config.brighten)
    hl = uniform(rng, config.highlight)
    edge_sigma = config.edge_blur.sample(rng, severity)
    mist = config.mist.sample(rng, severity)
    view = image.copy()
    if len(ys):
        # Work on the drop pixels only. Refracted view: inverted about the drop centre,
        # minified (a wider field of view), shifted upwards, blurred (out of focus).
        cx, cy, rad = drops.cx, drops.cy, drops.radius
        fx, fy = xs.astype(np.float32), ys.astype(np.float32)
        src_x = cx - mag * (fx - cx)
        src_y = cy - mag * (fy - cy) - lift * rad
        # Blur at half resolution when the blur is wide: 4x cheaper, same look.
        k = 2.0 if sigma > 1.5 else 1.0
        small = (
            image
            if k == 1.0
            else cv2.resize(image, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA)
        )
        small = cv2.GaussianBlur(small, (0, 0), sigma / k)
        inner = _remap_points(small, (src_x + 0.5) / k - 0.5, (src_y + 0.5) / k - 0.5)
        # Shading: brighter body, dark rim near the edge, small highlight up-left of centre.
        inner = inner + brighten * (1.0 - inner)
        edge = (1.0 - drops.height) ** 3
        top = np.clip(1.0 - 0.6 * (fy - cy) / rad, 0.4, 1.6)  # light comes from above
        inner = inner * np.clip(1.0 - rim * edge * top, 0.0, 1.0)[:, None]
        if hl > 0:
            d2 = ((fx - cx + 0.35 * rad) ** 2 + (fy - cy + 0.4 * rad) ** 2) / (0.12 * rad) ** 2
            inner = inner + (hl * np.exp(-d2))[:, None]
        view[ys, xs] = inner
    # Soft, out-of-focus outline.
    alpha = np.zeros((h, w), np.float32)
    alpha[ys, xs] = np.clip(drops.height * 4.0, 0.0, 1.0)
    alpha = cv2.GaussianBlur(alpha, (0, 0), edge_sigma)
    view = cv2.GaussianBlur(view, (0, 0), edge_sigma) if len(ys) else view
    a3 = alpha[..., None]
    out = image * (1.0 - a3) + view * a3
    if mist > 0:
        # A wet window also scatters a little light evenly over the whole frame.
        out = out * (1.0 - mist) + mist * out.mean((0, 1))
    return Degraded(finish(out), aux={"drop_mask": alpha}, params={"drops": n, "blur": sigma})

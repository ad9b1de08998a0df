"""Blur: camera-shake motion (random trajectories), defocus disks, and plain Gaussian.

Motion kernels follow the spirit of Boracchi and Foi (2012): a particle with inertia and random
kicks traces a path, which is splatted sub-pixel into the kernel. Blurring can happen in linear
light, which is how a sensor integrates (bright lights smear into bright streaks, as in GoPro's
frame-averaged blur).
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
)
from restorecli.degrade.fields import disk_kernel, odd

KINDS = ("motion", "defocus", "gaussian")


@dataclass(frozen=True)
class BlurConfig:
    """Parameter ranges for :func:`blur` (sizes in pixels)."""

    kind_weights: tuple[float, float, float] = (0.6, 0.3, 0.1)  # same order as KINDS
    kind: str | None = None  # force one kind
    # extent of the trajectory
    motion_length: Span = field(default_factory=lambda: Span(2.5, 45.0, jitter=0.15, log=True))
    motion_steps: int = 64
    motion_inertia: tuple[float, float] = (0.75, 0.98)  # 1 = straight line, low = jittery
    defocus_radius: Span = field(default_factory=lambda: Span(0.7, 10.0, jitter=0.15, log=True))
    gaussian_sigma: Span = field(default_factory=lambda: Span(0.4, 5.0, jitter=0.15, log=True))
    linear_light_prob: float = 0.5


def motion_kernel(
    rng: np.random.Generator, length: float, steps: int = 64, inertia: float = 0.9
) -> np.ndarray:
    """A random camera-shake kernel whose trajectory spans about ``length`` pixels (sum 1)."""
    # Velocity keeps its heading with weight ``inertia`` and gets random kicks otherwise.
    heading = rng.uniform(0.0, 2 * np.pi)
    v = np.array([np.cos(heading), np.sin(heading)])
    pts = np.zeros((steps, 2))
    for i in range(1, steps):
        kick = rng.standard_normal(2)
        v = inertia * v + (1.0 - inertia) * kick * 2.0
        if rng.random() < 0.02:  # occasional abrupt jerk
            v = v + rng.standard_normal(2) * 1.5
        pts[i] = pts[i - 1] + v
    pts -= pts.mean(0)
    extent = float(np.max(np.ptp(pts, axis=0)))
    if extent > 1e-6:
        pts *= max(length, 1.0) / extent
    size = odd(np.max(np.abs(pts)) * 2 + 3)
    pts += size // 2
    # Exposure per step varies (the camera slows and speeds up); then resample the path every
    # ~0.3 px so the splatted kernel is a continuous curve, not a dotted one.
    step_weight = rng.uniform(0.5, 1.5, steps)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, arc[-1], max(int(arc[-1] / 0.3), steps))
    pts = np.stack([np.interp(t, arc, pts[:, 0]), np.interp(t, arc, pts[:, 1])], 1)
    # Time spent per unit length ~ step weight / local speed.
    dens = np.interp(t, arc, step_weight / np.maximum(np.append(seg, seg[-1]), 1e-3))
    weight = dens / dens.sum()
    x0, y0 = np.floor(pts[:, 0]).astype(int), np.floor(pts[:, 1]).astype(int)
    fx, fy = pts[:, 0] - x0, pts[:, 1] - y0
    k = np.zeros((size, size))
    for dx, dy, wgt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(k, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), wgt * weight)
    k = cv2.GaussianBlur(k.astype(np.float32), (3, 3), 0.5)
    return (k / k.sum()).astype(np.float32)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Isotropic Gaussian kernel (sum 1)."""
    g = cv2.getGaussianKernel(odd(6 * sigma + 1), sigma).astype(np.float32)
    return g @ g.T


def apply_kernel(image: np.ndarray, kernel: np.ndarray, linear_light: bool = False) -> np.ndarray:
    """Convolve each channel with ``kernel`` (reflect borders), optionally in linear light."""
    x = srgb_to_linear(image) if linear_light else image
    # filter2D correlates; flipping the kernel makes it a true convolution.
    y = cv2.filter2D(x, -1, cv2.flip(kernel, -1), borderType=cv2.BORDER_REFLECT)
    return linear_to_srgb(y) if linear_light else y


def blur(
    image: np.ndarray,
    rng: np.random.Generator,
    severity: float,
    config: BlurConfig = BlurConfig(),
) -> Degraded:
    """Blur with a random (or configured) kind of kernel; aux: ``kernel``."""
    kind = pick_kind("blur", config.kind, KINDS, config.kind_weights, rng)
    params: dict[str, float | int | str] = {"kind": kind}
    if kind == "motion":
        length = config.motion_length.sample(rng, severity)
        inertia = float(rng.uniform(*config.motion_inertia))
        kernel = motion_kernel(rng, length, config.motion_steps, inertia)
        params.update(length=length, inertia=inertia)
    elif kind == "defocus":
        radius = config.defocus_radius.sample(rng, severity)
        kernel = disk_kernel(radius)
        params["radius"] = radius
    else:
        sigma = config.gaussian_sigma.sample(rng, severity)
        kernel = gaussian_kernel(sigma)
        params["sigma"] = sigma
    linear = bool(rng.random() < config.linear_light_prob)
    params["linear_light"] = int(linear)
    out = apply_kernel(image, kernel, linear)
    return Degraded(finish(out), aux={"kernel": kernel}, params=params)

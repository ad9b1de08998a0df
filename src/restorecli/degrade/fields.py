"""Smooth random fields and kernels shared by several degradations."""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scale_px: float,
    octaves: int = 3,
    persistence: float = 0.5,
) -> np.ndarray:
    """Low-frequency fractal noise in [0, 1] (HxW float32).

    Sums ``octaves`` bicubically upsampled random grids; the coarsest grid has one cell per
    ``scale_px`` pixels and each octave halves the cell size and scales the amplitude by
    ``persistence``. Cost is a few resizes, independent of ``scale_px``.
    """
    h, w = shape
    cell = max(float(scale_px), 2.0)
    finest = max(cell / 2 ** (octaves - 1), 2.0)
    # The field is smooth down to ``finest`` pixels: build it at a lower resolution where the
    # finest cell is ~4 pixels, then upsample linearly (cheap whatever the image size).
    f = max(1.0, finest / 4.0)
    sh, sw = max(int(np.ceil(h / f)), 1), max(int(np.ceil(w / f)), 1)
    out = np.zeros((sh, sw), np.float32)
    amp, cell = 1.0, cell / f
    for _ in range(octaves):
        gh, gw = int(np.ceil(sh / cell)) + 4, int(np.ceil(sw / cell)) + 4
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        # Map pixels straight onto grid coordinates (one cell per ``cell`` pixels) at a
        # random sub-cell offset, so the lattice does not line up with the image border.
        ox, oy = rng.uniform(1.0, 2.0, 2)
        m = np.array([[1.0 / cell, 0.0, ox], [0.0, 1.0 / cell, oy]])
        out += amp * cv2.warpAffine(
            grid,
            m,
            (sw, sh),
            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        amp *= persistence
        cell /= 2.0
        if cell * f < 2.0:
            break
    if (sh, sw) != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / (hi - lo) if hi > lo else np.full((h, w), 0.5, np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased filled disk (sum 1), odd size, for defocus-like blur."""
    r = max(float(radius), 0.5)
    n = int(np.ceil(r)) * 2 + 1
    c = n // 2
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) - c
    k = np.clip(r + 0.5 - np.sqrt(x * x + y * y), 0.0, 1.0)
    return (k / k.sum()).astype(np.float32)


def odd(n: float) -> int:
    """Smallest odd integer >= ``n`` and >= 1 (OpenCV kernel sizes)."""
    k = max(int(np.ceil(n)), 1)
    return k if k % 2 else k + 1

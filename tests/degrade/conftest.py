"""Shared fixtures for the degradation tests: small textured images made on the fly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful float32 image in [0.1, 0.9] with some edges (no clipping at 0 or 1)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(
        rng.random((6, 6, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = (((xx + yy) // 8) % 2).astype(np.float32)[..., None]
    img = 0.6 * np.clip(base, 0, 1) + 0.25 * stripes
    return (0.1 + 0.8 * (img - img.min()) / (img.max() - img.min())).astype(np.float32)


@pytest.fixture
def image64() -> np.ndarray:
    return textured(64, 64)


@pytest.fixture
def image96() -> np.ndarray:
    return textured(96, 80, seed=1)

from __future__ import annotations

import cv2
import numpy as np

from restorecli.degrade.base import Span
from restorecli.degrade.rain import RainConfig, rain, streak_layer

NO_VEIL = RainConfig(veil_prob=Span(0.0, 0.0, jitter=0.0))


def test_rain_only_brightens_without_veil(image64):
    out = rain(image64, np.random.default_rng(0), 0.8, NO_VEIL)
    assert (out.image >= image64 - 1e-6).all()
    layer = out.aux["rain_layer"]
    assert layer.shape == image64.shape[:2]
    assert layer.min() >= 0.0 and layer.max() <= 1.0 and layer.max() > 0.2


def test_vertical_streaks_vary_across_not_along():
    layer = streak_layer(
        np.random.default_rng(0),
        (96, 96),
        density=0.005,
        length=40.0,
        angle_deg=0.0,
        scale=1.0,
        brightness=1.0,
        softness=0.5,
    )
    gx = np.abs(cv2.Sobel(layer, cv2.CV_32F, 1, 0)).mean()
    gy = np.abs(cv2.Sobel(layer, cv2.CV_32F, 0, 1)).mean()
    assert gx > 4 * gy


def test_streak_layer_rotates_with_angle():
    kw = dict(density=0.005, length=60.0, scale=1.0, brightness=1.0, softness=0.5)
    layer = streak_layer(np.random.default_rng(0), (96, 96), angle_deg=90.0, **kw)
    gx = np.abs(cv2.Sobel(layer, cv2.CV_32F, 1, 0)).mean()
    gy = np.abs(cv2.Sobel(layer, cv2.CV_32F, 0, 1)).mean()
    assert gy > 4 * gx  # horizontal streaks now


def test_veil_lowers_transmission(image64):
    cfg = RainConfig(veil_prob=Span(1.0, 1.0, jitter=0.0))
    out = rain(image64, np.random.default_rng(0), 1.0, cfg)
    assert out.aux["transmission"].mean() < 0.95
    assert "veil" in out.params

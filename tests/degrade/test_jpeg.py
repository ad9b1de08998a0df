from __future__ import annotations

import numpy as np

from restorecli.degrade.base import Span
from restorecli.degrade.jpeg import JpegConfig, jpeg, jpeg_roundtrip


def test_lower_quality_more_error(image64):
    errs = [float(np.mean((jpeg_roundtrip(image64, q) - image64) ** 2)) for q in (95, 50, 10)]
    assert errs[0] < errs[1] < errs[2]


def test_output_is_8bit_quantised(image64):
    out = jpeg(image64, np.random.default_rng(0), 0.5).image
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-3)


def test_channel_order_is_kept():
    red = np.zeros((16, 16, 3), np.float32)
    red[..., 0] = 0.9
    out = jpeg_roundtrip(red, 90)
    assert out[..., 0].mean() > 0.8 and out[..., 2].mean() < 0.1


def test_quality_follows_config(image64):
    cfg = JpegConfig(quality=Span(30.0, 30.0, jitter=0.0))
    assert jpeg(image64, np.random.default_rng(0), 0.9, cfg).params["quality"] == 30

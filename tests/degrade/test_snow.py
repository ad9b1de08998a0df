from __future__ import annotations

import numpy as np

from restorecli.degrade.base import Span
from restorecli.degrade.snow import SnowConfig, flake_kernel, snow

NO_VEIL = SnowConfig(veil_prob=Span(0.0, 0.0, jitter=0.0))


def test_pixels_without_flakes_are_untouched(image64):
    out = snow(image64, np.random.default_rng(0), 0.5, NO_VEIL)
    mask = out.aux["snow_mask"]
    assert mask.min() >= 0.0 and mask.max() <= 1.0 and mask.max() > 0.3
    clear = mask == 0
    assert clear.any()
    np.testing.assert_allclose(out.image[clear], image64[clear], atol=1e-6)


def test_flakes_are_bright(image64):
    dark = image64 * 0.2
    out = snow(dark, np.random.default_rng(0), 0.8, NO_VEIL)
    assert out.image.mean() > dark.mean()


def test_flake_kernel_peaks_at_one_and_smear_dims_it():
    still = flake_kernel(1.5, 0.5, 0.0, 0.0)
    smeared = flake_kernel(1.5, 0.5, 9.0, 20.0)
    assert abs(still.max() - 1.0) < 1e-6
    assert 0.2 < smeared.max() < 1.0

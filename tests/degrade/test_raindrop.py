from __future__ import annotations

import numpy as np

from restorecli.degrade.base import Span
from restorecli.degrade.raindrop import RaindropConfig, raindrop

NO_MIST = RaindropConfig(mist=Span(0.0, 0.0, jitter=0.0))


def test_outside_drops_is_untouched(image96):
    out = raindrop(image96, np.random.default_rng(0), 0.7, NO_MIST)
    mask = out.aux["drop_mask"]
    assert mask.shape == image96.shape[:2]
    assert mask.min() >= 0.0 and mask.max() <= 1.0 and mask.max() > 0.5
    clear = mask < 1e-6
    assert clear.mean() > 0.05
    np.testing.assert_allclose(out.image[clear], image96[clear], atol=1e-4)


def test_drop_count_grows_with_severity(image96):
    light = raindrop(image96, np.random.default_rng(1), 0.0).params["drops"]
    heavy = raindrop(image96, np.random.default_rng(1), 1.0).params["drops"]
    assert heavy > light


def test_no_drops_is_identity_when_count_is_zero(image64):
    cfg = RaindropConfig(count=Span(0.0001, 0.0001, jitter=0.0), mist=Span(0.0, 0.0, jitter=0.0))
    out = raindrop(image64, np.random.default_rng(0), 0.5, cfg)
    np.testing.assert_allclose(out.image, image64, atol=1e-6)

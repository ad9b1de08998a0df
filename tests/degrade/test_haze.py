from __future__ import annotations

import numpy as np

from restorecli.degrade.haze import HazeConfig, haze, scatter, synthetic_depth


def test_haze_follows_the_scattering_model(image64):
    out = haze(image64, np.random.default_rng(0), 0.5)
    t, a = out.aux["transmission"], out.aux["airlight"]
    assert t.min() > 0.0 and t.max() <= 1.0
    np.testing.assert_allclose(out.image, np.clip(scatter(image64, t, a), 0, 1), atol=1e-6)
    # Invert the model: J = (I - A (1 - t)) / t gives the clean image back.
    clean = (out.image - a * (1 - t[..., None])) / t[..., None]
    np.testing.assert_allclose(clean, image64, atol=2e-3)


def test_depth_is_smooth_and_in_unit_range(image64):
    d = synthetic_depth(image64, np.random.default_rng(1))
    assert d.shape == (64, 64) and d.min() >= 0.0 and d.max() <= 1.0
    assert np.abs(np.diff(d, axis=0)).max() < 0.1


def test_heavier_haze_means_lower_transmission(image64):
    light = haze(image64, np.random.default_rng(2), 0.0).aux["transmission"].mean()
    heavy = haze(image64, np.random.default_rng(2), 1.0).aux["transmission"].mean()
    assert heavy < light


def test_airlight_stays_bright_and_nearly_grey(image64):
    for seed in range(10):
        a = haze(image64, np.random.default_rng(seed), 0.5, HazeConfig()).aux["airlight"]
        assert a.min() > 0.55 and a.max() - a.min() < 0.2

from __future__ import annotations

import numpy as np

from restorecli.degrade.haze import (
    GlowConfig,
    HazeConfig,
    airlight_colour,
    glow_gain,
    haze,
    scatter,
    synthetic_depth,
)


def test_haze_follows_the_scattering_model(image64):
    out = haze(image64, np.random.default_rng(0), 0.5)
    t, a = out.aux["transmission"], out.aux["airlight_map"]
    assert t.min() > 0.0 and t.max() <= 1.0
    np.testing.assert_allclose(out.image, np.clip(scatter(image64, t, a), 0, 1), atol=1e-6)
    # Invert the model: J = (I - A (1 - t)) / t gives the clean image back where nothing clipped.
    clean = (out.image - a * (1 - t[..., None])) / t[..., None]
    unclipped = out.image < 1.0
    assert unclipped.mean() > 0.5
    np.testing.assert_allclose(clean[unclipped], image64[unclipped], atol=2e-3)


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


def test_glow_brightens_the_veil_round_its_centre():
    on = GlowConfig(probability=1.0, gain=(0.4, 0.4), radius=(0.2, 0.2), centre_y=(0.5, 0.5))
    g = glow_gain((64, 96), np.random.default_rng(0), on)
    assert g is not None and g.shape == (64, 96)
    assert g.min() >= 1.0 and abs(float(g.max()) - 1.4) < 0.02
    y, x = np.unravel_index(int(g.argmax()), g.shape)
    assert abs(y - 32) <= 1  # the centre's height was fixed; its column is random
    assert g[y, 0] < g[y, x] or g[y, -1] < g[y, x]
    assert glow_gain((64, 96), np.random.default_rng(0), GlowConfig(probability=0.0)) is None


def test_a_veil_brighter_than_white_clips_like_a_real_sky(image64):
    no_glow = GlowConfig(probability=0.0)
    bright = HazeConfig(airlight=(1.05, 1.05), cast=(0.0, 0.0), glow=no_glow)
    out = haze(image64, np.random.default_rng(3), 1.0, bright)
    assert np.all(out.image <= 1.0)
    assert (out.image.min(axis=2) >= 1.0).mean() > 0.01  # blown-out pixels, as in real haze
    dull = HazeConfig(airlight=(0.8, 0.8), cast=(0.0, 0.0), glow=no_glow)
    assert (haze(image64, np.random.default_rng(3), 1.0, dull).image >= 1.0).mean() == 0.0


def test_other_veils_keep_their_airlight_below_white():
    # Rain and snow veils share airlight_colour; only haze raises its ceiling.
    for seed in range(20):
        a = airlight_colour(np.random.default_rng(seed), 1.2, 0.07)
        assert a.max() <= 1.0

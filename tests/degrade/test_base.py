from __future__ import annotations

import numpy as np
import pytest

from restorecli.degrade.base import Span, as_image, check_severity


def test_span_interpolates_between_light_and_heavy():
    s = Span(2.0, 10.0)
    assert s.at(0.0) == 2.0 and s.at(1.0) == 10.0 and s.at(0.5) == pytest.approx(6.0)


def test_log_span_interpolates_geometrically():
    assert Span(1.0, 100.0, log=True).at(0.5) == pytest.approx(10.0)


def test_span_sample_stays_in_range_and_tracks_severity():
    rng = np.random.default_rng(0)
    s = Span(100.0, 0.0, jitter=0.15)  # decreasing spans are allowed (e.g. JPEG quality)
    low = [s.sample(rng, 0.1) for _ in range(200)]
    high = [s.sample(rng, 0.9) for _ in range(200)]
    assert all(0.0 <= v <= 100.0 for v in low + high)
    assert min(low) > max(high)


def test_as_image_converts_uint8_and_float64():
    u8 = np.full((2, 3, 3), 255, np.uint8)
    np.testing.assert_allclose(as_image(u8), 1.0)
    assert as_image(np.zeros((2, 3, 3))).dtype == np.float32


def test_as_image_refuses_integers_other_than_uint8():
    with pytest.raises(TypeError):
        as_image(np.zeros((2, 2, 3), np.int32))


def test_check_severity():
    assert check_severity(1) == 1.0
    with pytest.raises(ValueError):
        check_severity(1.01)


def test_pick_kind_checks_the_configured_kind_and_draws_by_weight() -> None:
    from restorecli.degrade.base import pick_kind

    rng = np.random.default_rng(0)
    assert pick_kind("blur", "motion", ("motion", "defocus"), (1.0, 1.0), rng) == "motion"
    with pytest.raises(ValueError, match="unknown blur kind 'bogus'"):
        pick_kind("blur", "bogus", ("motion", "defocus"), (1.0, 1.0), rng)
    drawn = {pick_kind("noise", None, ("a", "b"), (0.0, 1.0), rng) for _ in range(20)}
    assert drawn == {"b"}

from __future__ import annotations

import numpy as np

from restorecli.degrade.fields import disk_kernel, odd, smooth_noise


def test_smooth_noise_is_normalised_smooth_and_seeded():
    a = smooth_noise(np.random.default_rng(0), (50, 70), 30.0)
    b = smooth_noise(np.random.default_rng(0), (50, 70), 30.0)
    assert a.shape == (50, 70) and a.dtype == np.float32
    assert a.min() == 0.0 and a.max() == 1.0
    np.testing.assert_array_equal(a, b)
    # Low frequency: neighbouring pixels differ far less than the full range.
    assert np.abs(np.diff(a, axis=1)).max() < 0.2


def test_disk_kernel_is_normalised_and_round():
    k = disk_kernel(3.0)
    assert k.shape == (7, 7)
    assert abs(k.sum() - 1.0) < 1e-5
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    assert k[0, 0] == 0.0 and k[3, 3] > 0


def test_odd():
    assert [odd(0), odd(1), odd(2), odd(2.1), odd(5)] == [1, 1, 3, 3, 5]

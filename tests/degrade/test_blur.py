from __future__ import annotations

import numpy as np
import pytest

from restorecli.degrade.blur import KINDS, BlurConfig, apply_kernel, blur, motion_kernel


def test_motion_kernel_is_normalised_and_spans_its_length():
    k = motion_kernel(np.random.default_rng(0), 21.0, inertia=0.95)
    assert abs(k.sum() - 1.0) < 1e-5 and k.min() >= 0
    ys, xs = np.nonzero(k > k.max() * 0.05)
    extent = max(np.ptp(xs), np.ptp(ys))
    assert 15 <= extent <= 25


@pytest.mark.parametrize("kind", KINDS)
def test_blur_keeps_flat_images_flat(kind):
    flat = np.full((40, 40, 3), 0.3, np.float32)
    out = blur(flat, np.random.default_rng(0), 0.8, BlurConfig(kind=kind))
    np.testing.assert_allclose(out.image, flat, atol=1e-4)
    assert abs(out.aux["kernel"].sum() - 1.0) < 1e-5


def test_blur_smooths_edges(image64):
    out = blur(image64, np.random.default_rng(0), 0.8, BlurConfig(kind="defocus")).image
    assert np.abs(np.diff(out, axis=1)).mean() < np.abs(np.diff(image64, axis=1)).mean()


def test_apply_kernel_is_a_convolution():
    # An impulse convolved with an asymmetric kernel reproduces the kernel, not its mirror.
    img = np.zeros((9, 9, 3), np.float32)
    img[4, 4] = 1.0
    k = np.zeros((3, 3), np.float32)
    k[0, 2] = 1.0
    out = apply_kernel(img, k)
    assert out[3, 5, 0] == 1.0

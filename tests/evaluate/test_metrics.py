"""Metrics agree with scikit-image (the reference implementation) on RGB and Y."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restorecli.evaluate.metrics import (
    Metrics,
    gaussian_window,
    image_metrics,
    mean_metrics,
    psnr,
    quantize,
    rgb_to_y,
    ssim,
)


def pair(shape, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An 8-bit-valued target and a noisy version, both in [0, 1]."""
    rng = np.random.default_rng(seed)
    # Smooth structure plus texture, so SSIM is not trivially near 0 or 1.
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 0.5 + 0.4 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]
    target = quantize(np.clip(base + rng.normal(0, 0.05, shape), 0, 1))
    output = quantize(np.clip(target + rng.normal(0, noise, shape), 0, 1))
    return output, target


def sk_ssim(a: np.ndarray, b: np.ndarray, **kw) -> float:
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        **kw,
    )


@pytest.mark.parametrize(("shape", "noise"), [((32, 48, 3), 0.02), ((41, 29, 3), 0.2)])
def test_rgb_metrics_match_skimage(shape, noise) -> None:
    out, tgt = pair(shape, noise)
    assert abs(psnr(out, tgt) - peak_signal_noise_ratio(tgt, out, data_range=1.0)) < 0.01
    assert abs(ssim(out, tgt) - sk_ssim(out, tgt, channel_axis=2)) < 0.001


@pytest.mark.parametrize(("shape", "noise"), [((32, 48, 3), 0.02), ((41, 29, 3), 0.2)])
def test_y_metrics_match_skimage(shape, noise) -> None:
    out, tgt = pair(shape, noise, seed=1)
    y_out, y_tgt = rgb_to_y(out), rgb_to_y(tgt)
    assert abs(psnr(y_out, y_tgt) - peak_signal_noise_ratio(y_tgt, y_out, data_range=1.0)) < 0.01
    assert abs(ssim(y_out, y_tgt) - sk_ssim(y_out, y_tgt)) < 0.001
    m = image_metrics(out, tgt)
    assert m.psnr_y == pytest.approx(psnr(y_out, y_tgt))
    assert m.ssim_y == pytest.approx(sk_ssim(y_out, y_tgt), abs=0.001)
    assert m.psnr != pytest.approx(m.psnr_y)  # Y is really another channel


def test_luma_is_matlab_bt601() -> None:
    rgb = np.random.default_rng(2).random((5, 7, 3))
    np.testing.assert_allclose(rgb_to_y(rgb) * 255, rgb2ycbcr(rgb)[..., 0], atol=1e-9)
    assert rgb_to_y(np.ones((1, 1, 3)))[0, 0] * 255 == pytest.approx(235.0, abs=1e-3)
    assert rgb_to_y(np.zeros((1, 1, 3)))[0, 0] * 255 == pytest.approx(16.0)


def test_window_is_11_taps_sigma_1_5() -> None:
    w = gaussian_window()
    assert w.shape == (11,)
    assert w.sum() == pytest.approx(1.0)
    assert w[5] / w[6] == pytest.approx(math.exp(1 / (2 * 1.5**2)))


def test_identical_images() -> None:
    _, tgt = pair((20, 20, 3), 0.0)
    m = image_metrics(tgt, tgt)
    assert math.isinf(m.psnr) and math.isinf(m.psnr_y)
    assert m.ssim == pytest.approx(1.0) and m.ssim_y == pytest.approx(1.0)


def test_crop_border_scores_the_inside_only() -> None:
    out, tgt = pair((40, 40, 3), 0.05)
    spoiled = out.copy()
    spoiled[:3] = 1 - spoiled[:3]  # damage only the top border
    assert image_metrics(spoiled, tgt).psnr < image_metrics(out, tgt).psnr
    inner = image_metrics(spoiled, tgt, crop_border=3)
    assert inner == image_metrics(out[3:-3, 3:-3], tgt[3:-3, 3:-3])
    with pytest.raises(ValueError, match="crop_border"):
        image_metrics(out, tgt, crop_border=20)


def test_errors_and_helpers() -> None:
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="at least"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    assert quantize(np.array([0.5 / 255, 1.2, -1])).tolist() == [0.0, 1.0, 0.0]
    a, b = Metrics(10.0, 0.5, 12.0, 0.6), Metrics(20.0, 0.7, 14.0, 0.8)
    assert mean_metrics([a, b]) == Metrics(15.0, 0.6, 13.0, 0.7)
    assert math.isnan(mean_metrics([]).psnr)

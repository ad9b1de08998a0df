"""Full-reference image metrics: PSNR and SSIM on RGB and on the luma (Y) channel.

Conventions (the ones deraining and dehazing papers report, so our numbers compare with theirs):

- Images are float arrays H x W x 3 with RGB in [0, 1]; the data range is 1 (255 on the 8-bit
  scale). The restored image is rounded to the target's bit depth first (``quantize``), because
  that is the file a user gets and the file other papers score.
- Y is ITU-R BT.601 luma as MATLAB's ``rgb2ycbcr`` computes it for RGB in [0, 1]:
  ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` (so Y lies in [16, 235]); it is used divided by
  255 with data range 1, i.e. peak 255 on the 8-bit scale, as MATLAB evaluations do. Y is kept
  unrounded (BasicSR's convention); MATLAB on uint8 images rounds it, which moves PSNR by a few
  hundredths of a dB at most.
- Full image by default; ``crop_border=N`` drops N pixels on every side of both images first
  (super-resolution papers crop the scale factor; restoration papers usually do not crop).
- PSNR = 10 log10(range^2 / MSE), MSE over all pixels and channels; identical images give inf.
- SSIM (Wang, Bovik, Sheikh and Simoncelli, 2004): 11 x 11 Gaussian window with sigma 1.5,
  K1 = 0.01, K2 = 0.03, population (not sample) variances, the mean of the SSIM map over the
  positions where the whole window fits (``valid``, 5 pixels lost on each side); for RGB, the
  mean of the three channels' SSIM. This matches ``skimage.metrics.structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import correlate1d

__all__ = [
    "METRIC_NAMES",
    "Metrics",
    "gaussian_window",
    "image_metrics",
    "mean_metrics",
    "psnr",
    "quantize",
    "rgb_to_y",
    "ssim",
]

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11 x 11 window
SSIM_K1, SSIM_K2 = 0.01, 0.03
METRIC_NAMES = ("psnr", "ssim", "psnr_y", "ssim_y")

# BT.601 luma weights for RGB in [0, 1] giving Y on the 8-bit scale (MATLAB rgb2ycbcr).
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])
_Y_OFFSET = 16.0


@dataclass(frozen=True)
class Metrics:
    """PSNR (dB) and SSIM of one image pair, on RGB and on Y."""

    psnr: float
    ssim: float
    psnr_y: float
    ssim_y: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def quantize(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """Round an image in [0, 1] to ``bits`` per channel, as writing it to a file would."""
    peak = float(2**bits - 1)
    return np.rint(np.clip(image, 0.0, 1.0) * peak) / peak


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB in [0, 1], divided by 255 (so in [16/255, 235/255]), float64 H x W."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return (rgb @ _Y_WEIGHTS + _Y_OFFSET) / 255.0


def psnr(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (inf when equal)."""
    _check_pair(a, b)
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def gaussian_window(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    """The normalised 1-D Gaussian (2 radius + 1 taps); SSIM uses it along both axes."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0) -> float:
    """Mean SSIM of two H x W or H x W x C images (channels averaged), conventions above."""
    _check_pair(a, b)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim == 3:
        return float(
            np.mean([_ssim_2d(a[..., c], b[..., c], data_range) for c in range(a.shape[2])])
        )
    return _ssim_2d(a, b, data_range)


def image_metrics(output: np.ndarray, target: np.ndarray, *, crop_border: int = 0) -> Metrics:
    """PSNR and SSIM of ``output`` against ``target`` (both H x W x 3 in [0, 1])."""
    _check_pair(output, target)
    if output.ndim != 3 or output.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 images, got shape {output.shape}")
    if crop_border:
        h, w = output.shape[:2]
        if 2 * crop_border >= min(h, w):
            raise ValueError(f"crop_border {crop_border} leaves nothing of a {w}x{h} image")
        output = output[crop_border:-crop_border, crop_border:-crop_border]
        target = target[crop_border:-crop_border, crop_border:-crop_border]
    y_out, y_tgt = rgb_to_y(output), rgb_to_y(target)
    return Metrics(
        psnr=psnr(output, target),
        ssim=ssim(output, target),
        psnr_y=psnr(y_out, y_tgt),
        ssim_y=ssim(y_out, y_tgt),
    )


def mean_metrics(items: list[Metrics]) -> Metrics:
    """Mean of each metric over images (PSNR averaged in dB, as papers do)."""
    if not items:
        return Metrics(math.nan, math.nan, math.nan, math.nan)
    return Metrics(*(float(np.mean([getattr(m, k) for m in items])) for k in METRIC_NAMES))


def _ssim_2d(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    r = SSIM_RADIUS
    if min(a.shape) < 2 * r + 1:
        raise ValueError(f"SSIM needs images of at least {2 * r + 1} x {2 * r + 1} pixels")
    window = gaussian_window()

    def blur(x: np.ndarray) -> np.ndarray:
        # Separable Gaussian; the border mode does not matter, since only the valid part is kept.
        return correlate1d(
            correlate1d(x, window, axis=0, mode="reflect"), window, 1, mode="reflect"
        )

    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return float(np.mean((num / den)[r:-r, r:-r]))


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"images differ in shape: {np.shape(a)} vs {np.shape(b)}")

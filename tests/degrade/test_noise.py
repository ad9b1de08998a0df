from __future__ import annotations

import numpy as np
import pytest

from restorecli.degrade.base import Span
from restorecli.degrade.noise import KINDS, NoiseConfig, camera_noise, noise


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_runs(kind, image64):
    out = noise(image64, np.random.default_rng(0), 0.5, NoiseConfig(kind=kind))
    assert out.params["kind"] == kind
    assert out.image.shape == image64.shape and out.image.dtype == np.float32


def test_gaussian_std_matches_sigma():
    grey = np.full((128, 128, 3), 0.5, np.float32)
    cfg = NoiseConfig(kind="gaussian", sigma=Span(0.05, 0.05, jitter=0.0), grey_prob=0.0)
    out = noise(grey, np.random.default_rng(0), 0.5, cfg).image
    assert abs(float((out - grey).std()) - 0.05) < 0.003


def test_camera_pipeline_keeps_colours():
    # Nearly noiseless raw: mosaic + demosaic + white balance must give the colour back
    # (catches a wrong Bayer pattern, which would swap red and blue).
    img = np.empty((32, 32, 3), np.float32)
    img[...] = (0.8, 0.4, 0.15)
    out = camera_noise(
        img, np.random.default_rng(0), shot=1e-9, read=1e-9, wb=(2.0, 1.6), quality=100
    )
    np.testing.assert_allclose(out[4:-4, 4:-4].mean((0, 1)), (0.8, 0.4, 0.15), atol=0.02)


def test_unknown_kind_is_refused(image64):
    with pytest.raises(ValueError):
        noise(image64, np.random.default_rng(0), 0.5, NoiseConfig(kind="salt"))

"""The dark-channel transmission estimate: its parts, its accuracy on known haze, its windows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restorecli.models.dark_prior import (
    DarkPrior,
    airlight,
    dark_channel,
    transmission,
    transmission_at_latents,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _frames(images: np.ndarray) -> torch.Tensor:
    """N x H x W x 3 in [0, 1] -> N x 3 x H x W in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2) * 2 - 1


def _scene(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """Coloured blocks, each with dark pixels every 8 px: the prior holds everywhere."""
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(0.2, 0.8, (h // 16 + 1, w // 16 + 1, 3)).astype(np.float32)
    scene = np.kron(blocks, np.ones((16, 16, 1), np.float32))[:h, :w].copy()
    scene[::8, ::8] = 0.02
    return scene


@pytest.mark.parametrize(("h", "w", "patch"), [(37, 50, 15), (20, 9, 7), (5, 5, 15), (64, 64, 1)])
def test_dark_channel_is_the_patch_minimum_of_the_rgb_minimum(h, w, patch) -> None:
    images = np.random.default_rng(h).random((2, h, w, 3), dtype=np.float32)
    got = dark_channel(torch.from_numpy(images).permute(0, 3, 1, 2), patch)[:, 0].numpy()
    kernel = np.ones((patch, patch), np.uint8)
    # cv2.erode treats pixels beyond the border as +inf too (BORDER_CONSTANT, max value).
    want = np.stack(
        [
            cv2.erode(im.min(axis=2), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=9.0)
            for im in images
        ]
    )
    np.testing.assert_array_equal(got, want)


def test_an_even_patch_is_refused() -> None:
    with pytest.raises(ValueError, match="odd"):
        dark_channel(torch.zeros(1, 3, 8, 8), 4)


def test_airlight_is_the_colour_where_the_dark_channel_is_brightest() -> None:
    image = _scene()
    image[:24, :40] = [0.95, 0.9, 0.8]  # a flat veil, wider than the patch
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    a = airlight(x, dark_channel(x, 15), 0.001)
    np.testing.assert_allclose(a[0].numpy(), [0.95, 0.9, 0.8], atol=1e-6)


def test_the_estimate_recovers_a_known_veil() -> None:
    scene = _scene()
    depth_t = np.linspace(0.3, 0.8, scene.shape[0], dtype=np.float32)[:, None]  # denser on top
    a = np.array([0.9, 0.88, 0.85], np.float32)
    hazy = scene * depth_t[..., None] + a * (1 - depth_t[..., None])
    hazy[:24, :40] = a  # a patch of sky, where the airlight is read
    native = DarkPrior(size=128)  # the frame's own size: no resampling
    t = transmission(_frames(hazy[None]), native)[0, 0].numpy()
    rows = slice(32, None)  # away from the sky patch
    # omega = 0.95 keeps a trace of haze: t_est ~ 1 - 0.95 (1 - t); the scene's dark pixels
    # are 0.02, not 0, which lowers it by ~0.02 more.
    expected = 1 - 0.95 * (1 - depth_t[rows]) - 0.02
    assert np.abs(t[rows] - expected).mean() < 0.03
    clear = transmission(_frames(scene[None]), native)[0, 0].numpy()
    assert clear.mean() > 0.9  # no haze: nearly full transmission


def test_a_large_frame_is_judged_on_its_shrunk_copy() -> None:
    big = cv2.resize(_scene(96, 128), (512, 384), interpolation=cv2.INTER_NEAREST)
    t = transmission(_frames(big[None]), DarkPrior(size=128))
    assert t.shape == (1, 1, 96, 128)
    assert float(t.min()) >= 1 - 0.95 - 1e-6 and float(t.max()) <= 1.0


def test_a_window_of_latents_reads_the_map_where_it_sits() -> None:
    # Training reads a crop at its origin; the pipeline reads the whole frame and cuts the
    # tile's window: the two must agree.
    hazy = np.stack([_scene(64, 96, s) * 0.5 + 0.4 for s in (1, 2)])
    frames = _frames(hazy)
    whole = transmission_at_latents(frames, (16, 24), 4)
    crop = transmission_at_latents(frames, (8, 8), 4, origin=torch.tensor([[16, 32], [0, 64]]))
    assert whole.shape == (2, 1, 16, 24)
    torch.testing.assert_close(crop[0], whole[0, :, 4:12, 8:16])
    torch.testing.assert_close(crop[1], whole[1, :, 0:8, 16:24])

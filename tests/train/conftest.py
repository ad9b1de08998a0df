"""Fixtures for the training tests: a few small photos written on the fly, tiny model configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.models import AutoencoderConfig
from restorecli.train.autoencoder import AutoencoderTrainConfig
from restorecli.train.data import CropConfig


def write_photos(root: Path, n: int = 6, seed: int = 0) -> Path:
    """``n`` PNG photos of 64-96 px (colour gradients plus noise), some in a sub-folder."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = 64 + (i * 7) % 33, 96 - (i * 5) % 33
        yy, xx = np.mgrid[0:h, 0:w]
        ramp = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1)
        img = 200 * ramp + rng.uniform(0, 55, (h, w, 3))
        folder = root / "sub" if i % 2 else root
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.astype(np.uint8)).save(folder / f"photo{i}.png")
    return root


def tiny_autoencoder_config() -> AutoencoderConfig:
    return AutoencoderConfig(codebook_size=64, channels=8, num_blocks=1, half_channels=8)


def autoencoder_run_config(data: Path, out: Path, **overrides) -> AutoencoderTrainConfig:
    """A run small enough for a test: 32 px crops, batch 2, log and check every few steps."""
    options = {
        "steps": 6,
        "batch_size": 2,
        "crop": CropConfig(size=32),
        "model": tiny_autoencoder_config(),
        "log_every": 1,
        "val_every": 3,
        "ckpt_every": 3,
        "val_crops": 2,
        "val_size": 32,
        "device": "cpu",
        "progress": False,
        # Two continuous warm-up steps, then k-means codes: both phases run in every test.
        "vq_start": 2,
        "kmeans_batches": 2,
        **overrides,
    }
    return AutoencoderTrainConfig(data=str(data), out=str(out), **options)


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 6 small photos (read-only for the tests that use it)."""
    return write_photos(tmp_path_factory.mktemp("photos"))


# Test modules reach the helpers through fixtures: importing a conftest by name is fragile when
# several exist.


@pytest.fixture(scope="session")
def make_photos():
    """``write_photos(root, n=6, seed=0)``."""
    return write_photos


@pytest.fixture(scope="session")
def run_config():
    """``autoencoder_run_config(data, out, **overrides)``."""
    return autoencoder_run_config


@pytest.fixture(scope="session")
def tiny_ae_config():
    """``tiny_autoencoder_config()``."""
    return tiny_autoencoder_config

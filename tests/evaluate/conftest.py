"""Fixtures for the evaluation tests: tiny paired folders and a restorer on tiny weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_pairs(root: Path, n: int = 3, size: tuple[int, int] = (24, 32), seed: int = 0) -> Path:
    """``root/input`` and ``root/target`` with ``n`` noisy/clean PNG pairs (H x W = size)."""
    rng = np.random.default_rng(seed)
    for sub in ("input", "target"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        clean = (rng.random((*size, 3)) * 255).astype(np.uint8)
        noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(clean).save(root / "target" / f"{i}.png")
        Image.fromarray(noisy).save(root / "input" / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def make_pairs():
    """``write_pairs`` for test modules (importing a conftest.py by name is fragile)."""
    return write_pairs


@pytest.fixture
def paired_dir(tmp_path: Path) -> Path:
    return write_pairs(tmp_path / "pairs")


@pytest.fixture
def restorer(make_tiny_models):
    """A Restorer on the conftest tiny models, untiled, on the CPU."""
    from restorecli.pipeline import RestoreConfig, Restorer

    ae, unet = make_tiny_models()
    return Restorer(ae, unet, config=RestoreConfig(tile=0, steps=2), device="cpu")

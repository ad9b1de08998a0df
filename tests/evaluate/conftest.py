"""Fixtures for the evaluation tests: tiny paired folders and a restorer on tiny weights."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def paired_dir(tmp_path: Path, make_pairs) -> Path:
    return make_pairs(tmp_path / "pairs")


@pytest.fixture
def restorer(make_tiny_models):
    """A Restorer on the conftest tiny models, untiled, on the CPU."""
    from restorecli.pipeline import RestoreConfig, Restorer

    ae, unet = make_tiny_models()
    return Restorer(ae, unet, config=RestoreConfig(tile=0, steps=2), device="cpu")

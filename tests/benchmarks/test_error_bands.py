"""benchmarks/error_bands.py: the two oracle corrections and a run on a tiny paired folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def bands(load_repo_script):
    return load_repo_script("benchmarks/error_bands.py")


def _image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 0.8, (h, w, 3)).astype(np.float32)


def test_a_global_colour_error_is_removed_by_the_affine_fit(bands) -> None:
    target = _image()
    out = target * np.array([0.5, 0.8, 1.1], np.float32) + np.array([0.1, -0.05, 0.0], np.float32)
    assert bands.psnr(out, target) < 25
    assert bands.psnr(bands.affine_fit(out, target), target) > 60


def test_a_smooth_error_is_removed_by_the_low_band_swap_but_detail_errors_stay(bands) -> None:
    target = _image(160, 200)
    yy = np.linspace(0, np.pi, target.shape[0], dtype=np.float32)[:, None, None]
    veiled = target + 0.2 * np.cos(yy)  # a smooth veil, no detail error
    assert bands.psnr(veiled, target) < 20
    assert bands.psnr(bands.swap_low_band(veiled, target, 16.0), target) > 35
    noise = np.random.default_rng(1).normal(0, 0.05, target.shape).astype(np.float32)
    noisy = target + noise
    swapped = bands.swap_low_band(noisy, target, 16.0)
    assert bands.psnr(swapped, target) == pytest.approx(bands.psnr(noisy, target), abs=0.5)


def test_main_reports_every_pair_and_the_mean(bands, tiny_weights: Path, tmp_path: Path, capsys):
    for sub in ("input", "target"):
        (tmp_path / sub).mkdir()
    for i in range(2):
        clean = (_image(seed=i) * 255).astype(np.uint8)
        Image.fromarray(clean).save(tmp_path / "target" / f"{i}.png")
        # One heavily and one lightly degraded input.
        degraded = 255 - clean if i else np.clip(clean.astype(int) + 20, 0, 255).astype(np.uint8)
        Image.fromarray(degraded).save(tmp_path / "input" / f"{i}.png")
    assert bands.main([str(tmp_path), "--weights", str(tiny_weights), "--steps", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("image |") and len(lines) == 4
    values = [float(v) for v in lines[-1].split("|")[1:]]
    assert lines[-1].startswith("mean of 2 (2)") and len(values) == 4
    assert values[2] >= values[1]  # the affine fit never scores below the output itself
    rows = [[float(v) for v in line.split("|")[1:]] for line in lines[1:3]]

    # --split groups the pairs by how degraded their input is.
    assert abs(rows[0][0] - rows[1][0]) > 5
    threshold = (rows[0][0] + rows[1][0]) / 2
    assert (
        bands.main([str(tmp_path), "--weights", str(tiny_weights), "--split", str(threshold)]) == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith(f"input >= {threshold:g} dB (1)")
    assert lines[-1].startswith(f"input < {threshold:g} dB (1)")
    light = [float(v) for v in lines[-2].split("|")[1:]]
    assert light[0] == pytest.approx(max(r[0] for r in rows), abs=0.01)

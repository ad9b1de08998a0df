"""benchmarks/sky_banding.py: the step energy sees steps, and a run on a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def banding(load_repo_script):
    return load_repo_script("benchmarks/sky_banding.py")


def _gradient(h: int = 64, w: int = 96) -> np.ndarray:
    ramp = np.linspace(0.6, 0.9, w, dtype=np.float32)[None, :, None]
    return np.broadcast_to(ramp, (h, w, 3)).copy()


def test_steps_have_more_energy_than_a_smooth_gradient(banding) -> None:
    smooth = _gradient()
    steps = np.round(smooth * 20) / 20  # the same ramp held in 0.05 steps
    rows = slice(0, 32)
    # The blur's border makes a little energy even on a pure ramp; steps make several times more.
    assert banding.step_energy(smooth, rows) < 2e-3
    assert banding.step_energy(steps, rows) > 5 * banding.step_energy(smooth, rows)


def test_stretch_keeps_the_band_and_centres_it(banding) -> None:
    out = banding.stretch(_gradient(), slice(0, 10), 8.0)
    assert out.shape == (10, 96, 3) and out.min() >= 0.0 and out.max() <= 1.0
    assert abs(float(out.mean()) - 0.5) < 0.05


def test_main_prints_three_rows_and_writes_the_sheet(
    banding, tiny_weights: Path, tmp_path: Path, capsys
) -> None:
    src = tmp_path / "sky.png"
    Image.fromarray((_gradient() * 255).astype(np.uint8)).save(src)
    sheet = tmp_path / "bands.png"
    assert banding.main([str(src), "--weights", str(tiny_weights), "--sheet", str(sheet)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "image | step energy" and len(lines) == 4
    assert [line.split(" | ")[0].split(" ")[0] for line in lines[1:]] == [
        "input",
        "autoencoder",
        "restored",
    ]
    assert all(float(line.split(" | ")[1]) >= 0 for line in lines[1:])
    with Image.open(sheet) as im:
        assert im.size == (3 * 96, round(64 / 3))
